//! A `wkg.toml` workspace (`[workspace] members = [...]`), as wkg 0.16 works with one:
//! `fetch --workspace` resolves every member's WIT with one lock file at the root and writes
//! what they use, members left out, into `<root>/wkg/deps`; `publish --workspace` publishes
//! every member, each after the members whose packages it uses.

use std::path::Path;

use anyhow::Result;
use registry_client::wkg_manifest::WkgManifest;
use registry_client::{Client, Override, Resolution};
use registry_wit::{self as wit, WitGraph, WitRequest};

use super::plan::{self, Item};
use super::wit::FetchReport;
use super::{LockSession, usage};
use crate::cli::{DepsType, FetchArgs, Global, PublishArgs};
use crate::output::{self, Channel};

/// Where wkg writes a workspace's dependencies, under the root.
const OUT_DIR: &str = "wkg";

/// The workspace root above `.` and its members, ordered for publishing.
fn members() -> Result<(WkgManifest, Vec<Item>)> {
    let Some(root) = WkgManifest::find_workspace_root(Path::new("."))? else {
        return Err(usage(
            "--workspace: there is no wkg.toml with a `[workspace]` table here or in a parent \
             directory (`[workspace] members = [\"*/wit\"]` makes one)",
        ));
    };
    let items = root
        .workspace_members()?
        .iter()
        .map(|dir| Item::new(dir, Some(dir.clone())))
        .collect::<Result<Vec<_>>>()?;
    let ordered = plan::order(items).map_err(|err| {
        usage(format!(
            "the workspace in {}: {}",
            root.path.display(),
            output::describe(&err)
        ))
    })?;
    Ok((root, ordered))
}

/// `wreg fetch --workspace` (and `wreg fetch` in a workspace root).
pub(super) async fn fetch(client: &Client, global: &Global, args: &FetchArgs) -> Result<()> {
    let (root, members) = members()?;
    let root_dir = root.root_dir().to_owned();
    let local = plan::local_packages(&members);
    // One lock file, at the root, as wkg keeps it.
    let lock_path = root_dir.join(&args.deps.lock);
    let mut session = LockSession::open(&lock_path, args.deps.locked, global)?;
    let mut overrides = session.overrides()?;
    for (package, dir) in &local {
        overrides.insert(&package.to_string(), Override::path(dir))?;
    }
    let mode = session.mode();
    let mut merged = WitGraph::default();
    let is_member = |r: &Resolution| local.iter().any(|(p, _)| p == r.package());
    let same =
        |a: &Resolution, b: &Resolution| a.package() == b.package() && a.version() == b.version();
    for member in &members {
        let dir = member
            .wit_dir
            .as_ref()
            .expect("members are WIT directories");
        let request = WitRequest::for_dir(dir, overrides.clone())?;
        let graph = wit::resolve(client, &request, Some(session.lock()), mode).await?;
        for node in graph.nodes {
            if !is_member(&node.resolution)
                && !merged
                    .nodes
                    .iter()
                    .any(|n| same(&n.resolution, &node.resolution))
            {
                merged.nodes.push(node);
            }
        }
        for named in graph.named {
            if !is_member(&named) && !merged.named.iter().any(|n| same(n, &named)) {
                merged.named.push(named);
            }
        }
    }
    session.save()?;
    let out = root_dir.join(OUT_DIR);
    std::fs::create_dir_all(&out).map_err(|e| registry_core::Error::io(&out, e))?;
    let format = super::wit::deps_format(args.output_type.unwrap_or(DepsType::Wit));
    let written = wit::write_deps(client, &merged, &out, format).await?;
    drop(session);
    let report = FetchReport::new(format!("{}/", out.display()), &merged, &written);
    output::print(global, &report, Channel::Status)
}

/// `wreg publish --workspace`.
pub(super) async fn publish(client: &Client, global: &Global, args: &PublishArgs) -> Result<()> {
    if args.package.is_some() {
        return Err(usage(
            "--package (or WKG_PACKAGE) names one package; a workspace's members name \
             themselves",
        ));
    }
    let (_root, members) = members()?;
    super::publish::many(client, global, args, members).await
}

/// Whether `.` is a workspace root (its `wkg.toml` has a `[workspace]` table).
pub(super) fn here() -> bool {
    matches!(WkgManifest::find(Path::new(".")), Ok(Some(m)) if m.is_workspace_root())
}
