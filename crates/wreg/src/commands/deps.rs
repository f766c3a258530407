//! `wreg fetch` and `wreg lock`: many dependencies, resolved with the lock file.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use registry_client::dependency_table::DependencyFile;
use registry_client::{Client, Dependency, Resolution};
use registry_core::PackageReq;
use registry_wit as wit;
use serde::Serialize;

use super::{LockSession, usage};
use crate::cli::{DepsArgs, Global};
use crate::output::{self, Channel};

/// One resolved dependency and where its bytes are.
#[derive(Serialize)]
struct Row {
    package: String,
    version: Option<String>,
    digest: Option<String>,
    registry: Option<String>,
    path: String,
}

#[derive(Serialize)]
#[serde(transparent)]
struct Rows(Vec<Row>);

impl Rows {
    fn new(rows: impl IntoIterator<Item = (Resolution, PathBuf)>) -> Self {
        Self(
            rows.into_iter()
                .map(|(r, path)| {
                    let registry = match &r {
                        Resolution::Registry { registry, .. } => Some(registry.to_string()),
                        _ => None,
                    };
                    Row {
                        package: r.package().to_string(),
                        version: r.version().map(ToString::to_string),
                        digest: r.digest().map(ToString::to_string),
                        registry,
                        path: path.display().to_string(),
                    }
                })
                .collect(),
        )
    }
}

impl fmt::Display for Rows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for row in &self.0 {
            match (&row.version, &row.digest) {
                (Some(v), Some(d)) => writeln!(f, "{}@{v} {d} -> {}", row.package, row.path)?,
                _ => writeln!(f, "{} (local) -> {}", row.package, row.path)?,
            }
        }
        Ok(())
    }
}

/// `wreg fetch` with a dependency source: the packages, as binaries, into `output`.
pub(super) async fn fetch(
    client: &Client,
    global: &Global,
    args: &DepsArgs,
    output: &Path,
) -> Result<()> {
    // The project stays locked while `deps/` is written: what it holds is what the lock
    // file says.
    let (resolved, _session) = resolve(client, global, args).await?;
    let mut rows = Vec::new();
    for resolution in resolved {
        let package = resolution.package();
        let dest = output
            .join(package.namespace())
            .join(format!("{}.wasm", package.name()));
        write_resolution(client, &resolution, &dest).await?;
        rows.push((resolution, dest));
    }
    output::print(global, &Rows::new(rows), Channel::Status)
}

pub(super) async fn lock(client: &Client, global: &Global, args: &DepsArgs) -> Result<()> {
    let (resolved, session) = resolve(client, global, args).await?;
    drop(session);
    let rows = resolved.into_iter().map(|r| {
        let path = r.path().clone();
        (r, path)
    });
    output::print(global, &Rows::new(rows), Channel::Status)
}

/// The dependencies from `--dep` flags, a `--deps` file and a WIT directory.
fn dependencies(args: &DepsArgs) -> Result<Vec<Dependency>> {
    let mut deps = Vec::new();
    for dep in &args.deps {
        // A dependency's bare version means the compatible releases, as in every file.
        let req: PackageReq = dep.parse().map_err(usage)?;
        deps.push(Dependency::new(req.package, req.requirement));
    }
    if let Some(path) = &args.deps_file {
        deps.extend(DependencyFile::from_path(path)?.dependencies);
    }
    let wit = match &args.wit {
        Some(dir) => Some(dir.clone()),
        None if deps.is_empty() && Path::new("wit").is_dir() => Some(PathBuf::from("wit")),
        None => None,
    };
    if let Some(dir) = wit {
        deps.extend(wit::dependencies(&dir)?);
    }
    if deps.is_empty() {
        return Err(usage(
            "no dependencies: give --dep ns:name@req, --deps FILE or --wit DIR (or run where \
             ./wit is)",
        ));
    }
    Ok(deps)
}

/// The dependencies resolved with the lock file (saved when it changed), and the session,
/// which keeps the project locked until it is dropped.
async fn resolve(
    client: &Client,
    global: &Global,
    args: &DepsArgs,
) -> Result<(Vec<Resolution>, LockSession)> {
    let mut session = LockSession::open(&args.lock, args.locked, global)?;
    // `wkg.toml` next to the lock file, as wkg reads it: its `[overrides]` apply.
    let deps = session.overrides()?.apply(&dependencies(args)?);
    let mode = session.mode();
    let resolved = client
        .resolve_all(&deps, Some(session.lock()), mode)
        .await?;
    session.save()?;
    Ok((resolved, session))
}

async fn write_resolution(client: &Client, resolution: &Resolution, dest: &Path) -> Result<()> {
    if let Some(dir) = dest.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    match resolution {
        Resolution::Registry {
            package,
            registry,
            release,
            ..
        } => {
            // The cache entry verified while resolving is copied (hashed again unless its
            // stamp vouches for it); a route is worked out only if that entry has gone.
            let cache = client.cache();
            if !cache
                .copy_verified(&release.digest, release.size, dest)
                .await?
            {
                let route = client.route_to(package, registry).await?;
                route.fetch_open(release).await?.copy_to(dest).await?;
            }
        }
        // A local WIT directory is written as the package it encodes.
        _ if resolution.path().is_dir() => {
            let bytes = wit::encode_dir(resolution.path())?;
            tokio::fs::write(dest, bytes)
                .await
                .with_context(|| format!("cannot write {}", dest.display()))?;
        }
        _ => {
            tokio::fs::copy(resolution.path(), dest)
                .await
                .with_context(|| format!("cannot copy {}", resolution.path().display()))?;
        }
    }
    Ok(())
}
