//! `wreg compose` and `wreg plug`: wac compositions, resolved through the client and
//! pinned by the lock file.

use std::fmt;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use crate::compose::{self, ComposeOptions, Composition, PlugSource};
use anyhow::{Context as _, Result};
use registry_adapters::wac::WacResolver;
use registry_client::{Client, Resolution};
use registry_core::ContentDigest;
use serde::Serialize;

use super::{LockSession, usage};
use crate::cli::{ComposeArgs, Global, PlugArgs};
use crate::output::{self, Channel};

/// What a composition was made of and where it went.
#[derive(Serialize)]
struct Composed {
    /// `None` when written to stdout.
    path: Option<String>,
    digest: String,
    size: usize,
    packages: Vec<Used>,
}

#[derive(Serialize)]
struct Used {
    package: String,
    version: Option<String>,
    registry: Option<String>,
    digest: Option<String>,
}

impl fmt::Display for Composed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for used in &self.packages {
            match (&used.version, &used.registry) {
                (Some(v), Some(r)) => writeln!(f, "  {}@{v} from {r}", used.package)?,
                _ => writeln!(f, "  {} (local)", used.package)?,
            }
        }
        let to = self.path.as_deref().unwrap_or("stdout");
        writeln!(f, "composed {} bytes ({}) -> {to}", self.size, self.digest)
    }
}

impl Composed {
    fn new(composition: &Composition, path: Option<&Path>) -> Self {
        Self {
            path: path.map(|p| p.display().to_string()),
            digest: ContentDigest::sha256(&composition.bytes).to_string(),
            size: composition.bytes.len(),
            packages: composition
                .packages
                .iter()
                .map(|(key, _, resolution)| match resolution {
                    Some(Resolution::Registry {
                        registry, release, ..
                    }) => Used {
                        package: key.name.to_string(),
                        version: Some(release.version.to_string()),
                        registry: Some(registry.to_string()),
                        digest: Some(release.digest.to_string()),
                    },
                    _ => Used {
                        package: key.to_string(),
                        version: None,
                        registry: None,
                        digest: None,
                    },
                })
                .collect(),
        }
    }
}

/// Writes the component to `output` (atomically) or to stdout, which must not be a
/// terminal; then reports.
fn finish(global: &Global, composition: &Composition, output: Option<&PathBuf>) -> Result<()> {
    match output {
        Some(path) => crate::output::write_file(path, &composition.bytes)?,
        None => {
            let mut stdout = std::io::stdout();
            if stdout.is_terminal() {
                return Err(usage(
                    "will not write a binary component to a terminal; give -o FILE or redirect \
                     stdout",
                ));
            }
            stdout.write_all(&composition.bytes)?;
            stdout.flush()?;
        }
    }
    let channel = if output.is_some() {
        Channel::Status
    } else {
        Channel::Aside
    };
    output::print(
        global,
        &Composed::new(composition, output.map(PathBuf::as_path)),
        channel,
    )
}

pub(super) async fn compose(client: &Client, global: &Global, args: &ComposeArgs) -> Result<()> {
    let source = std::fs::read_to_string(&args.path)
        .map_err(|err| registry_core::Error::io(&args.path, err))
        .with_context(|| format!("cannot read the wac document {}", args.path.display()))?;
    let mut resolver = WacResolver::new(client.clone()).with_deps_dir(&args.deps_dir);
    for dep in &args.deps {
        let Some((key, path)) = dep.split_once('=') else {
            return Err(usage(format!(
                "--dep {dep}: write the package and its file as `ns:name=path/to/file.wasm`"
            )));
        };
        resolver = resolver.with_dep(key.trim(), path.trim()).map_err(usage)?;
    }
    let mut session = LockSession::open(&args.lock.lock, args.lock.locked, global)?;
    let mode = session.mode();
    let options = ComposeOptions {
        import_dependencies: args.import_dependencies,
        validate: !args.no_validate,
    };
    let composition = compose::compose(
        &resolver,
        &args.path,
        &source,
        Some(session.lock()),
        mode,
        options,
    )
    .await?;
    session.save()?;
    finish(global, &composition, args.output.as_ref())
}

pub(super) async fn plug(client: &Client, global: &Global, args: &PlugArgs) -> Result<()> {
    let resolver = WacResolver::new(client.clone());
    let socket = PlugSource::parse(&args.socket);
    let plugs: Vec<PlugSource> = args.plugs.iter().map(|p| PlugSource::parse(p)).collect();
    let mut session = LockSession::open(&args.lock.lock, args.lock.locked, global)?;
    let mode = session.mode();
    let composition = compose::plug(&resolver, &socket, &plugs, Some(session.lock()), mode).await?;
    session.save()?;
    finish(global, &composition, args.output.as_ref())
}
