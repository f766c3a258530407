//! wkg 0.16's verbs for a WIT project (a `wit/` directory holding a package): `fetch` and
//! `update` mean what `wkg fetch` and `wkg update` mean there, unless the command line
//! names dependencies of its own (in a `wkg.toml` workspace root, `fetch` is `fetch
//! --workspace`); `build` is `wit build` (in `mod.rs`).

use std::path::{Path, PathBuf};

use anyhow::Result;
use registry_client::wkg_workspace::holds_wit;
use registry_client::{Client, LockFile, LockMode};
use registry_wit::{self as wit, WitRequest};

use super::locked::{Change, Pin, Updated, named_packages};
use super::{LockSession, usage};
use crate::cli::{DepsType, FetchArgs, Global, UpdateArgs, WitFetchArgs, WitLockArgs};
use crate::output::{self, Channel};

/// The WIT directory of a WIT project, as wkg finds it: `./wit`.
const WIT_DIR: &str = "wit";

/// What a `wreg fetch` command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum FetchMode {
    /// The dependencies given (or `--wit`'s imports), as binaries in the output directory.
    Deps,
    /// `wit fetch` of this directory; `said` when the command line did not name it, so
    /// the user is told.
    Wit { dir: PathBuf, said: bool },
    /// Every member of the workspace; `said` as for `Wit`.
    Workspace { said: bool },
}

fn fetch_mode(args: &FetchArgs) -> Result<FetchMode> {
    let deps = &args.deps;
    let has_source = !deps.deps.is_empty() || deps.deps_file.is_some() || deps.wit.is_some();
    if args.workspace {
        if has_source || args.dir.is_some() || args.output.is_some() {
            return Err(usage(
                "--workspace fetches the WIT of every workspace member into <root>/wkg/deps; give no DIR, --dep, --deps, --wit or -o with it",
            ));
        }
        return Ok(FetchMode::Workspace { said: false });
    }
    if let Some(dir) = &args.dir {
        if has_source || args.output.is_some() {
            return Err(usage(format!(
                "`wreg fetch {dir}` is wkg's `fetch {dir}`: the whole graph of {dir} into \
                 {dir}/deps, with no --dep, --deps, --wit or -o; for the packages {dir} \
                 imports as binaries in a directory, run `wreg fetch --wit {dir} -o DIR`",
                dir = dir.display()
            )));
        }
        return Ok(FetchMode::Wit {
            dir: dir.clone(),
            said: false,
        });
    }
    if has_source {
        if args.output_type.is_some() {
            return Err(usage(
                "--type is for a WIT project's `wit/deps` (`wreg wit fetch --type`, `wreg \
                 fetch --type` with no --dep, --deps or --wit); with those, `wreg fetch` \
                 writes binaries",
            ));
        }
        return Ok(FetchMode::Deps);
    }
    if super::workspace::here() {
        if args.output.is_some() {
            return Err(usage(
                "this is a wkg.toml workspace root, where `wreg fetch` is `wkg fetch`: every member's WIT into ./wkg/deps (`wreg fetch --workspace`); -o asks for binaries in a directory: give the dependencies (--dep, --deps, --wit DIR)",
            ));
        }
        return Ok(FetchMode::Workspace { said: true });
    }
    if holds_wit(Path::new(WIT_DIR)) {
        if args.output.is_some() {
            return Err(usage(
                "./wit is a WIT project, where `wreg fetch` is `wkg fetch` (`wreg wit \
                 fetch`): its whole graph into wit/deps; -o asks for binaries in a \
                 directory: for the packages ./wit imports, run `wreg fetch --wit wit -o \
                 DIR`, for the graph, `wreg wit fetch`",
            ));
        }
        return Ok(FetchMode::Wit {
            dir: PathBuf::from(WIT_DIR),
            said: true,
        });
    }
    Ok(FetchMode::Deps)
}

/// `wreg fetch`.
pub(super) async fn fetch(client: &Client, global: &Global, args: &FetchArgs) -> Result<()> {
    match fetch_mode(args)? {
        FetchMode::Deps => {
            let output = args.output.as_deref().unwrap_or(Path::new("deps"));
            super::deps::fetch(client, global, &args.deps, output).await
        }
        FetchMode::Wit { dir, said } => {
            if said && !global.quiet {
                eprintln!(
                    "./wit is a WIT project: fetching its whole graph into wit/deps, as `wkg \
                     fetch` and `wreg wit fetch` do (`wreg fetch --wit wit` writes the \
                     packages it imports as binaries in ./deps)"
                );
            }
            let args = WitFetchArgs {
                dir,
                output_type: args.output_type.unwrap_or(DepsType::Wit),
                lock: WitLockArgs {
                    lock: args.deps.lock.clone(),
                    locked: args.deps.locked,
                },
            };
            super::wit::fetch(client, global, &args).await
        }
        FetchMode::Workspace { said } => {
            if said && !global.quiet {
                eprintln!(
                    "./wkg.toml is a workspace root: fetching for every member into ./wkg/deps, as `wkg fetch` does (`wreg fetch --workspace`)"
                );
            }
            super::workspace::fetch(client, global, args).await
        }
    }
}

/// `wreg update`: in a WIT project (`--wit-dir`, else `./wit` when it holds WIT), as `wkg
/// update`; elsewhere the lock file's pins are moved.
pub(super) async fn update(client: &Client, global: &Global, args: &UpdateArgs) -> Result<()> {
    let dir = match &args.wit_dir {
        Some(dir) => dir.clone(),
        None if holds_wit(Path::new(WIT_DIR)) => {
            if !global.quiet {
                eprintln!(
                    "./wit is a WIT project: resolving its graph again and writing wit/deps \
                     and the lock file, as `wkg update` does"
                );
            }
            PathBuf::from(WIT_DIR)
        }
        None => {
            if args.output_type.is_some() {
                return Err(usage(
                    "--type is for a WIT project's `deps`; there is no ./wit here (give \
                     --wit-dir DIR)",
                ));
            }
            return super::locked::update(client, global, args).await;
        }
    };
    let path = &args.lock.lock;
    let mut session = LockSession::open(path, false, global)?;
    let before = session.lock().clone();
    let only = named_packages(&args.packages, &before, path)?;
    // wkg clears the lock file and resolves the graph afresh; with packages named, only
    // their pins go, and the rest of the graph keeps its pins.
    let mut base = before.clone();
    if only.is_empty() {
        base = LockFile::new();
    } else {
        base.packages.retain(|p| !only.contains(&p.name));
    }
    *session.lock() = base;
    let request = WitRequest::for_dir(&dir, session.overrides()?)?;
    let graph = wit::resolve(client, &request, Some(session.lock()), LockMode::Update).await?;
    let changes = changes(&before, session.lock());
    let after = session.lock().clone();
    if !args.dry_run {
        session.save()?;
        let format = super::wit::deps_format(args.output_type.unwrap_or(DepsType::Wit));
        wit::write_deps(client, &graph, &dir, format).await?;
    }
    drop(session);
    let report = Updated {
        dry_run: args.dry_run,
        changes,
        added: pins_only_in(&after, &before),
        removed: pins_only_in(&before, &after),
    };
    output::print(global, &report, Channel::Status)
}

/// The pins of `of` whose package, registry and requirement `other` has no pin for.
fn pins_only_in(of: &LockFile, other: &LockFile) -> Vec<Pin> {
    let mut pins = Vec::new();
    for package in &of.packages {
        let there = other
            .packages
            .iter()
            .find(|p| p.name == package.name && p.registry == package.registry);
        for pin in &package.versions {
            if !there.is_some_and(|p| p.versions.iter().any(|v| v.requirement == pin.requirement)) {
                pins.push(Pin {
                    package: package.name.to_string(),
                    registry: package.registry.clone(),
                    requirement: pin.requirement.to_string(),
                    version: pin.version.to_string(),
                    digest: pin.digest.to_string(),
                });
            }
        }
    }
    pins
}

/// The pins of `before` that `after` moves (same package, registry and requirement).
fn changes(before: &LockFile, after: &LockFile) -> Vec<Change> {
    let mut changes = Vec::new();
    for new in &after.packages {
        let Some(old) = before
            .packages
            .iter()
            .find(|p| p.name == new.name && p.registry == new.registry)
        else {
            continue;
        };
        for pin in &new.versions {
            let Some(was) = old
                .versions
                .iter()
                .find(|v| v.requirement == pin.requirement)
            else {
                continue;
            };
            if was.version != pin.version || was.digest != pin.digest {
                changes.push(Change {
                    package: new.name.to_string(),
                    registry: new.registry.clone(),
                    requirement: pin.requirement.to_string(),
                    old_version: was.version.to_string(),
                    old_digest: was.digest.to_string(),
                    new_version: pin.version.to_string(),
                    new_digest: pin.digest.to_string(),
                });
            }
        }
    }
    changes
}
