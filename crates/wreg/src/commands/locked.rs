//! `wreg tree`, `why`, `outdated` and `update`: the lock file's packages, seen, and moved
//! only on purpose.

use std::fmt;
use std::path::Path;

use anyhow::Result;
use registry_client::{Client, LockFile, LockedVersion, Resolution};
use registry_core::{ContentDigest, PackageRef, Release, Version, VersionInfo};
use registry_wit as wit;
use serde::Serialize;

use super::{route, usage};
use crate::cli::{Global, LockViewArgs, UpdateArgs, WhyArgs};
use crate::output::{self, Channel};

fn load(path: &Path) -> Result<LockFile> {
    LockFile::load(path)?.ok_or_else(|| {
        usage(format!(
            "there is no lock file at {}; `wreg wit fetch`, `fetch`, `lock` or `compose` \
             writes one (or give --lock FILE)",
            path.display()
        ))
    })
}

/// One locked release and the locked releases it uses.
#[derive(Serialize)]
struct Node {
    package: String,
    version: Version,
    registry: Option<String>,
    digest: ContentDigest,
    /// The requirements pinned to this release.
    requirements: Vec<String>,
    /// `ns:name@version` of each locked release it uses.
    dependencies: Vec<String>,
    #[serde(skip)]
    edges: Vec<usize>,
}

impl Node {
    fn label(&self) -> String {
        format!("{}@{}", self.package, self.version)
    }
}

/// The lock file as a graph: each distinct release a node, its edges found by decoding its
/// content (from the cache, fetched when missing; `--offline` allows only the cache).
async fn graph(client: &Client, lock: &LockFile) -> Result<Vec<Node>> {
    let mut nodes: Vec<(PackageRef, Node)> = Vec::new();
    for locked in &lock.packages {
        for pin in &locked.versions {
            let existing = nodes.iter_mut().find(|(p, n)| {
                p == &locked.name && n.registry == locked.registry && n.version == pin.version
            });
            match existing {
                Some((_, node)) => node.requirements.push(pin.requirement.to_string()),
                None => nodes.push((
                    locked.name.clone(),
                    Node {
                        package: locked.name.to_string(),
                        version: pin.version.clone(),
                        registry: locked.registry.clone(),
                        digest: pin.digest,
                        requirements: vec![pin.requirement.to_string()],
                        dependencies: Vec::new(),
                        edges: Vec::new(),
                    },
                )),
            }
        }
    }
    let mut uses: Vec<Vec<registry_client::Dependency>> = Vec::with_capacity(nodes.len());
    for (package, node) in &nodes {
        let route = route(client, package, node.registry.as_deref()).await?;
        let release = Release::new(node.version.clone(), node.digest);
        let content = route.fetch_open(&release).await?;
        let resolution = Resolution::Registry {
            package: package.clone(),
            registry: route.registry().clone(),
            requirement: registry_core::VersionReq::STAR,
            release,
            path: content.path().to_owned(),
            provenance: None,
        };
        uses.push(wit::dependencies_of(&resolution)?);
    }
    for (i, deps) in uses.iter().enumerate() {
        for dep in deps {
            // The newest locked release of the package that the reference accepts.
            let target = (0..nodes.len())
                .filter(|&j| {
                    nodes[j].0 == dep.package && dep.requirement.matches(&nodes[j].1.version)
                })
                .max_by(|&a, &b| nodes[a].1.version.cmp(&nodes[b].1.version));
            if let Some(j) = target
                && !nodes[i].1.edges.contains(&j)
            {
                nodes[i].1.edges.push(j);
            }
        }
    }
    let mut nodes: Vec<Node> = nodes.into_iter().map(|(_, n)| n).collect();
    for i in 0..nodes.len() {
        nodes[i].dependencies = nodes[i].edges.iter().map(|&j| nodes[j].label()).collect();
    }
    Ok(nodes)
}

/// The nodes nothing in the lock file uses.
fn roots(nodes: &[Node]) -> Vec<usize> {
    (0..nodes.len())
        .filter(|i| !nodes.iter().any(|n| n.edges.contains(i)))
        .collect()
}

#[derive(Serialize)]
struct Tree {
    /// Every locked release.
    packages: Vec<Node>,
    /// `ns:name@version` of the releases nothing else in the lock file uses.
    roots: Vec<String>,
}

impl fmt::Display for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn line(f: &mut fmt::Formatter<'_>, node: &Node, prefix: &str, seen: bool) -> fmt::Result {
            let registry = node.registry.as_deref().unwrap_or("default registry");
            let digest = node.digest.to_string();
            let short = digest.get(..19).unwrap_or(&digest);
            let mark = if seen && !node.edges.is_empty() {
                " (*)"
            } else {
                ""
            };
            writeln!(f, "{prefix}{} ({registry}, {short}){mark}", node.label())
        }
        fn walk(
            f: &mut fmt::Formatter<'_>,
            nodes: &[Node],
            at: usize,
            indent: &str,
            seen: &mut Vec<usize>,
        ) -> fmt::Result {
            let edges = &nodes[at].edges;
            for (k, &child) in edges.iter().enumerate() {
                let last = k + 1 == edges.len();
                let (branch, next) = if last {
                    ("└── ", "    ")
                } else {
                    ("├── ", "│   ")
                };
                let repeated = seen.contains(&child);
                line(f, &nodes[child], &format!("{indent}{branch}"), repeated)?;
                if !repeated {
                    seen.push(child);
                    walk(f, nodes, child, &format!("{indent}{next}"), seen)?;
                }
            }
            Ok(())
        }
        let mut seen = Vec::new();
        for root in roots(&self.packages) {
            line(f, &self.packages[root], "", false)?;
            seen.push(root);
            walk(f, &self.packages, root, "", &mut seen)?;
        }
        Ok(())
    }
}

pub(super) async fn tree(client: &Client, global: &Global, args: &LockViewArgs) -> Result<()> {
    let lock = load(&args.lock)?;
    let packages = graph(client, &lock).await?;
    let roots = roots(&packages)
        .into_iter()
        .map(|i| packages[i].label())
        .collect();
    output::print(global, &Tree { packages, roots }, Channel::Data)
}

#[derive(Serialize)]
struct Why {
    package: String,
    /// Each path from a root to a release of the package, as `ns:name@version` steps.
    paths: Vec<Vec<String>>,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for path in &self.paths {
            writeln!(f, "{}", path.join(" -> "))?;
        }
        Ok(())
    }
}

pub(super) async fn why(client: &Client, global: &Global, args: &WhyArgs) -> Result<()> {
    let package: PackageRef = args.package.parse().map_err(usage)?;
    let lock = load(&args.lock.lock)?;
    let nodes = graph(client, &lock).await?;
    let targets: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].package == package.to_string())
        .collect();
    if targets.is_empty() {
        return Err(usage(format!(
            "{package} is not in {}; `wreg tree` lists what is",
            args.lock.lock.display()
        )));
    }
    fn walk(
        nodes: &[Node],
        at: usize,
        targets: &[usize],
        path: &mut Vec<usize>,
        out: &mut Vec<Vec<String>>,
    ) {
        path.push(at);
        if targets.contains(&at) {
            out.push(path.iter().map(|&i| nodes[i].label()).collect());
        }
        for &child in &nodes[at].edges {
            if !path.contains(&child) {
                walk(nodes, child, targets, path, out);
            }
        }
        path.pop();
    }
    let mut paths = Vec::new();
    for root in roots(&nodes) {
        walk(&nodes, root, &targets, &mut Vec::new(), &mut paths);
    }
    let report = Why {
        package: package.to_string(),
        paths,
    };
    output::print(global, &report, Channel::Data)
}

/// One pin against what its registry has now.
#[derive(Serialize)]
struct Outdated {
    package: String,
    registry: Option<String>,
    requirement: String,
    locked: String,
    /// The locked release has been yanked.
    locked_yanked: bool,
    /// The newest release the requirement accepts (not yanked).
    compatible: Option<String>,
    /// The newest release (not yanked).
    latest: Option<String>,
}

#[derive(Serialize)]
#[serde(transparent)]
struct OutdatedRows(Vec<Outdated>);

impl fmt::Display for OutdatedRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "package\trequirement\tlocked\tcompatible\tlatest")?;
        for row in &self.0 {
            let yanked = if row.locked_yanked { " (yanked)" } else { "" };
            writeln!(
                f,
                "{}\t{}\t{}{yanked}\t{}\t{}",
                row.package,
                row.requirement,
                row.locked,
                row.compatible.as_deref().unwrap_or("-"),
                row.latest.as_deref().unwrap_or("-"),
            )?;
        }
        Ok(())
    }
}

fn newest(versions: &[VersionInfo], accept: impl Fn(&Version) -> bool) -> Option<Version> {
    versions
        .iter()
        .filter(|v| !v.yanked && accept(&v.version))
        .map(|v| v.version.clone())
        .max()
}

pub(super) async fn outdated(client: &Client, global: &Global, args: &LockViewArgs) -> Result<()> {
    let lock = load(&args.lock)?;
    let mut rows = Vec::new();
    for locked in &lock.packages {
        let route = route(client, &locked.name, locked.registry.as_deref()).await?;
        let versions = route.list_versions().await?;
        for pin in &locked.versions {
            rows.push(Outdated {
                package: locked.name.to_string(),
                registry: locked.registry.clone(),
                requirement: pin.requirement.to_string(),
                locked: pin.version.to_string(),
                locked_yanked: versions
                    .iter()
                    .any(|v| v.version == pin.version && v.yanked),
                compatible: newest(&versions, |v| pin.requirement.matches(v))
                    .map(|v| v.to_string()),
                latest: newest(&versions, |_| true).map(|v| v.to_string()),
            });
        }
    }
    output::print(global, &OutdatedRows(rows), Channel::Data)
}

/// One pin moved (or, with `--dry-run`, that would move).
#[derive(Serialize)]
pub(super) struct Change {
    pub(super) package: String,
    pub(super) registry: Option<String>,
    pub(super) requirement: String,
    pub(super) old_version: String,
    pub(super) old_digest: String,
    pub(super) new_version: String,
    pub(super) new_digest: String,
}

/// A pin an update added or dropped (a WIT project's graph asks for it, or no longer).
#[derive(Serialize)]
pub(super) struct Pin {
    pub(super) package: String,
    pub(super) registry: Option<String>,
    pub(super) requirement: String,
    pub(super) version: String,
    pub(super) digest: String,
}

#[derive(Serialize)]
pub(super) struct Updated {
    pub(super) dry_run: bool,
    pub(super) changes: Vec<Change>,
    /// Pins the update added, and pins it dropped.
    pub(super) added: Vec<Pin>,
    pub(super) removed: Vec<Pin>,
}

impl fmt::Display for Updated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() && self.added.is_empty() && self.removed.is_empty() {
            return writeln!(f, "every pin is at the newest compatible release");
        }
        let (update, add, remove) = if self.dry_run {
            ("would update", "would add", "would remove")
        } else {
            ("updated", "added", "removed")
        };
        for c in &self.changes {
            writeln!(
                f,
                "{update} {} ({}): {} {} -> {} {}",
                c.package, c.requirement, c.old_version, c.old_digest, c.new_version, c.new_digest
            )?;
        }
        for (verb, pins) in [(add, &self.added), (remove, &self.removed)] {
            for p in pins {
                writeln!(
                    f,
                    "{verb} {} ({}): {} {}",
                    p.package, p.requirement, p.version, p.digest
                )?;
            }
        }
        Ok(())
    }
}

/// The packages `update` names, each checked to be in `lock` (read from `path`).
pub(super) fn named_packages(
    names: &[String],
    lock: &LockFile,
    path: &Path,
) -> Result<Vec<PackageRef>> {
    let only: Vec<PackageRef> = names
        .iter()
        .map(|p| p.parse().map_err(usage))
        .collect::<Result<_>>()?;
    for package in &only {
        if !lock.packages.iter().any(|p| &p.name == package) {
            return Err(usage(format!(
                "{package} is not in {}; `wreg tree` lists what is",
                path.display()
            )));
        }
    }
    Ok(only)
}

pub(super) async fn update(client: &Client, global: &Global, args: &UpdateArgs) -> Result<()> {
    let path = &args.lock.lock;
    // Moving pins is a read-resolve-write cycle: the project stays locked through it, so
    // a `fetch` at the same time neither loses these moves nor has its pins dropped.
    let _held = if args.dry_run {
        None
    } else {
        Some(super::ProjectLock::acquire(path, global.quiet)?)
    };
    let mut lock = load(path)?;
    let only = named_packages(&args.packages, &lock, path)?;
    let mut changes = Vec::new();
    for locked in lock.packages.clone() {
        if !only.is_empty() && !only.contains(&locked.name) {
            continue;
        }
        let registry = locked.registry_name()?;
        let route = client.route_via(&locked.name, registry.as_ref()).await?;
        for pin in &locked.versions {
            let release = route.resolve(&pin.requirement).await?;
            if release.version == pin.version && release.digest == pin.digest {
                continue;
            }
            changes.push(Change {
                package: locked.name.to_string(),
                registry: locked.registry.clone(),
                requirement: pin.requirement.to_string(),
                old_version: pin.version.to_string(),
                old_digest: pin.digest.to_string(),
                new_version: release.version.to_string(),
                new_digest: release.digest.to_string(),
            });
            // A moved pin is checked against the provenance policy like any new release,
            // and records who signed it.
            let provenance = route.enforce_provenance(&release, None).await?;
            lock.insert(
                &locked.name,
                registry.as_ref(),
                LockedVersion::new(pin.requirement.clone(), &release, provenance.as_ref()),
            );
        }
    }
    if !args.dry_run && !changes.is_empty() {
        lock.save(path)?;
    }
    let report = Updated {
        added: Vec::new(),
        removed: Vec::new(),
        dry_run: args.dry_run,
        changes,
    };
    output::print(global, &report, Channel::Status)
}
