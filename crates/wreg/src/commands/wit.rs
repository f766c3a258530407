//! `wreg wit fetch` and `wreg wit build`: a WIT directory's whole dependency graph.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use registry_client::{Client, Override, Resolution};
use registry_core::{ContentDigest, PackageRef};
use registry_wit::{self as wit, BuiltPackage, DepsFormat, WitGraph, WitRequest};
use serde::Serialize;

use super::{LockSession, usage};
use crate::cli::{DepsType, Global, WitBuildArgs, WitCommand, WitFetchArgs, WitLockArgs};
use crate::output::{self, Channel};

pub(super) async fn run(command: WitCommand, client: &Client, global: &Global) -> Result<()> {
    match command {
        WitCommand::Fetch(args) => fetch(client, global, &args).await,
        WitCommand::Build(args) => build_command(client, global, &args).await,
        WitCommand::Update(mut args) => {
            args.wit_dir.get_or_insert_with(|| PathBuf::from("wit"));
            super::project::update(client, global, &args).await
        }
    }
}

/// `wit build` (and `build`): the package written to a file.
pub(super) async fn build_command(
    client: &Client,
    global: &Global,
    args: &WitBuildArgs,
) -> Result<()> {
    let built = build(client, global, &args.dir, &args.lock).await?;
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(built.file_name()));
    crate::output::write_file(&path, &built.bytes)?;
    let report = Built::new(&built, &path);
    output::print(global, &report, Channel::Status)
}

/// One package of the graph, as `wit fetch` reports it.
#[derive(Serialize)]
struct Fetched {
    package: String,
    version: Option<String>,
    registry: Option<String>,
    digest: Option<String>,
    /// Who needs it: `wit/` or `ns:name@version`, with the requirement.
    required_by: Vec<String>,
}

#[derive(Serialize)]
pub(super) struct FetchReport {
    wit: String,
    /// The graph, each package after the packages it uses.
    packages: Vec<Fetched>,
    /// Other releases the WIT names exactly (`ns:name@version`), written beside the graph's.
    named: Vec<String>,
    /// The entries written under `deps/`, relative to the WIT directory (WIT text can hold
    /// more packages than the graph: the versions a package refers to, merged in).
    written: Vec<String>,
}

impl FetchReport {
    /// The report of `graph` written under `wit` (`wit/`, `wkg/`) as `written`.
    pub(super) fn new(wit: String, graph: &WitGraph, written: &[PathBuf]) -> Self {
        let packages = graph
            .nodes
            .iter()
            .map(|node| {
                let r = &node.resolution;
                let registry = match r {
                    Resolution::Registry { registry, .. } => Some(registry.to_string()),
                    _ => None,
                };
                Fetched {
                    package: r.package().to_string(),
                    version: r.version().map(ToString::to_string),
                    registry,
                    digest: r.digest().map(ToString::to_string),
                    required_by: node
                        .required_by
                        .iter()
                        .map(|(by, req)| format!("{by} ({req})"))
                        .collect(),
                }
            })
            .collect();
        Self {
            wit,
            packages,
            named: graph
                .named
                .iter()
                .map(|r| {
                    let version = r.version().map(|v| format!("@{v}")).unwrap_or_default();
                    format!("{}{version}", r.package())
                })
                .collect(),
            written: written.iter().map(|p| p.display().to_string()).collect(),
        }
    }
}

impl fmt::Display for FetchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.packages {
            match (&p.version, &p.registry) {
                (Some(v), Some(r)) => write!(f, "{}@{v} from {r}", p.package)?,
                _ => write!(f, "{} (local)", p.package)?,
            }
            writeln!(f, " <- {}", p.required_by.join(", "))?;
        }
        for named in &self.named {
            writeln!(f, "{named} (named by {})", self.wit)?;
        }
        writeln!(
            f,
            "wrote {} entries under {}deps",
            self.written.len(),
            self.wit
        )
    }
}

/// The graph of `dir`, resolved with the lock file (saved when it changed), and the
/// session, which keeps the project locked until it is dropped.
async fn resolve(
    client: &Client,
    global: &Global,
    dir: &Path,
    lock: &WitLockArgs,
    local: &[(PackageRef, PathBuf)],
) -> Result<(WitGraph, LockSession)> {
    if !dir.is_dir() {
        return Err(usage(format!(
            "{} is not a directory; give the WIT directory (it holds the `.wit` files of your \
             package)",
            dir.display()
        )));
    }
    let mut session = LockSession::open(&lock.lock, lock.locked, global)?;
    let mut overrides = session.overrides()?;
    for (package, path) in local {
        overrides.insert(&package.to_string(), Override::path(path))?;
    }
    let request = WitRequest::for_dir(dir, overrides)?;
    let mode = session.mode();
    let graph = wit::resolve(client, &request, Some(session.lock()), mode).await?;
    session.save()?;
    Ok((graph, session))
}

pub(super) async fn fetch(client: &Client, global: &Global, args: &WitFetchArgs) -> Result<()> {
    // `wit/deps` is written under the same lock as `wkg.lock`: a second `wit fetch` waits
    // for both, so the two always agree.
    let (graph, session) = resolve(client, global, &args.dir, &args.lock, &[]).await?;
    let format = deps_format(args.output_type);
    let written = wit::write_deps(client, &graph, &args.dir, format).await?;
    drop(session);
    let report = FetchReport::new(format!("{}/", args.dir.display()), &graph, &written);
    output::print(global, &report, Channel::Status)
}

/// The `deps` format a `--type` asks for.
pub(super) fn deps_format(output_type: DepsType) -> DepsFormat {
    match output_type {
        DepsType::Wit => DepsFormat::Wit,
        DepsType::Wasm => DepsFormat::Wasm,
    }
}

/// The WIT directory `dir` built with its resolved graph.
pub(super) async fn build(
    client: &Client,
    global: &Global,
    dir: &Path,
    lock: &WitLockArgs,
) -> Result<BuiltPackage> {
    build_with(client, global, dir, lock, &[]).await
}

/// [`build`], with the packages in `local` taken from those WIT directories rather than a
/// registry (the other packages of one publish, as wkg builds them).
pub(super) async fn build_with(
    client: &Client,
    global: &Global,
    dir: &Path,
    lock: &WitLockArgs,
    local: &[(PackageRef, PathBuf)],
) -> Result<BuiltPackage> {
    let (graph, _session) = resolve(client, global, dir, lock, local).await?;
    Ok(wit::build(&graph, dir)?)
}

/// What `wit build` wrote.
#[derive(Serialize)]
struct Built {
    package: String,
    version: Option<String>,
    digest: String,
    size: usize,
    path: String,
}

impl Built {
    fn new(built: &BuiltPackage, path: &Path) -> Self {
        Self {
            package: built.package.to_string(),
            version: built.version.as_ref().map(ToString::to_string),
            digest: ContentDigest::sha256(&built.bytes).to_string(),
            size: built.bytes.len(),
            path: path.display().to_string(),
        }
    }
}

impl fmt::Display for Built {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "built {}", self.package)?;
        if let Some(version) = &self.version {
            write!(f, "@{version}")?;
        }
        writeln!(
            f,
            " ({} bytes, {}) -> {}",
            self.size, self.digest, self.path
        )
    }
}
