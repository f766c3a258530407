//! The whole dependency graph of a WIT directory: the packages it uses, the packages those
//! use, and so on, one version per package.
//!
//! Resolution goes level by level. Each round resolves, concurrently and through the
//! cache, every package that is needed but not yet chosen (or whose chosen version no
//! longer satisfies everything that needs it); each release is then decoded for the
//! packages it uses, which are the next round's work. A package needed in several ways
//! gets the newest release that satisfies all of them; when none does, the error names
//! every requirer. The lock file pins are reused when they satisfy, so a second run with
//! the lock file asks no registry for version lists.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::Path;

use registry_core::{Error, PackageRef, Version, VersionReq};

use registry_client::{Client, Dependency, LockFile, LockMode, Overrides, Resolution};

/// Rounds after which a graph that keeps changing its mind is refused.
const MAX_ROUNDS: usize = 64;

/// Who needs a package.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Requirer {
    /// The WIT directory being resolved (named as given).
    Root(String),
    /// A package of the graph, at the version chosen.
    Package(PackageRef, Option<Version>),
}

impl fmt::Display for Requirer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirer::Root(label) => f.write_str(label),
            Requirer::Package(package, Some(version)) => write!(f, "{package}@{version}"),
            Requirer::Package(package, None) => write!(f, "{package} (local)"),
        }
    }
}

/// One package of the graph.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WitNode {
    /// What it resolved to.
    pub resolution: Resolution,
    /// Everything that needs it, with the requirement each has.
    pub required_by: Vec<(Requirer, VersionReq)>,
    /// The packages it uses, in the order it names them.
    pub dependencies: Vec<PackageRef>,
}

/// A resolved graph, dependencies before the packages that use them.
#[derive(Clone, Debug, Default)]
pub struct WitGraph {
    /// The packages, in dependency order (a package after everything it uses).
    pub nodes: Vec<WitNode>,
    /// Releases the root names exactly that differ from the graph's choice for their
    /// package: WIT refers to packages by exact name (`use wasi:io/streams@0.2.0`), so a
    /// reader of `wit/deps` needs `wasi:io@0.2.0` itself even when the graph settled on
    /// the compatible `0.2.3` for everything else. (Versions that fetched packages name
    /// travel inside their encodings.)
    pub named: Vec<Resolution>,
}

impl WitGraph {
    /// The node of `package`.
    pub fn node(&self, package: &PackageRef) -> Option<&WitNode> {
        self.nodes
            .iter()
            .find(|n| n.resolution.package() == package)
    }
}

/// What to resolve: the direct dependencies of a WIT directory (overrides already applied)
/// and the overrides that apply to the packages found on the way.
#[derive(Clone, Debug)]
pub struct WitRequest {
    /// How the root is named in messages (`wit/`).
    pub root: String,
    /// The packages the root uses.
    pub dependencies: Vec<Dependency>,
    /// Overrides for every package of the graph.
    pub overrides: Overrides,
    /// The exact releases the root names, which must be present by name (see
    /// [`WitGraph::named`]).
    pub named: Vec<(PackageRef, Version)>,
}

impl WitRequest {
    /// The request for the WIT directory `dir`: the packages it uses, with `overrides`
    /// applied.
    ///
    /// # Errors
    /// [`Error::InvalidWit`] when its WIT does not parse.
    pub fn for_dir(dir: &Path, overrides: Overrides) -> Result<Self, Error> {
        let names = crate::foreign_names(dir)?;
        let mut dependencies = Vec::new();
        let mut named = Vec::new();
        for name in &names {
            let dependency = crate::dependency_on(name)?;
            if let Some(version) = &name.version {
                named.push((dependency.package.clone(), version.clone()));
            }
            if !dependencies.contains(&dependency) {
                dependencies.push(dependency);
            }
        }
        Ok(Self {
            root: format!("{}/", dir.display()),
            dependencies: overrides.apply(&dependencies),
            overrides,
            named,
        })
    }
}

/// A chosen package and the dependencies its content names.
struct Chosen {
    resolution: Resolution,
    dependencies: Vec<Dependency>,
}

impl Chosen {
    fn requirer(&self) -> Requirer {
        Requirer::Package(
            self.resolution.package().clone(),
            self.resolution.version().cloned(),
        )
    }

    fn satisfies(&self, requirement: &VersionReq) -> bool {
        self.resolution
            .version()
            .is_none_or(|version| requirement.matches(version))
    }
}

/// Everything that needs each package, walking from the root through chosen packages.
type Needs = BTreeMap<PackageRef, Vec<(Requirer, Dependency)>>;

/// Resolves the whole graph of `request` (see the [module docs](self)), fetching every
/// release into the cache. New pins are written into `lock`, one per package, under
/// the requirement that combines everything needing it.
///
/// # Errors
/// The first package that cannot be resolved; [`Error::VersionNotFound`] naming every
/// requirer when no release satisfies them all; [`Error::InvalidWit`] for a
/// dependency cycle or a release that is not WIT.
pub async fn resolve(
    client: &Client,
    request: &WitRequest,
    lock: Option<&mut LockFile>,
    mode: LockMode,
) -> Result<WitGraph, Error> {
    let snapshot = lock.as_deref().cloned();
    let mut chosen: HashMap<PackageRef, Chosen> = HashMap::new();
    let mut rounds = 0;
    let needs = loop {
        let needs = needs(request, &chosen);
        let before = chosen.len();
        chosen.retain(|package, c| {
            needs
                .get(package)
                .is_some_and(|reqs| c.satisfies(&combined(reqs)))
        });
        if chosen.len() != before {
            continue;
        }
        let todo: Vec<Dependency> = needs
            .iter()
            .filter(|(package, _)| !chosen.contains_key(*package))
            .map(|(_, reqs)| {
                let mut dependency = reqs[0].1.clone();
                dependency.requirement = combined(reqs);
                dependency
            })
            .collect();
        if todo.is_empty() {
            break needs;
        }
        rounds += 1;
        if rounds > MAX_ROUNDS {
            return Err(Error::InvalidWit {
                path: request.root.clone().into(),
                line: None,
                column: None,
                message: format!(
                    "the dependency graph did not settle after {MAX_ROUNDS} rounds \
                         (packages keep changing which versions they need); pin the packages \
                         involved with `=` requirements"
                ),
            });
        }
        tracing::debug!(
            round = rounds,
            packages = todo.len(),
            "resolving a level of the WIT graph"
        );
        let refs: Vec<&Dependency> = todo.iter().collect();
        let results = client.resolve_each(&refs, snapshot.as_ref(), mode).await;
        for (dependency, result) in todo.iter().zip(results) {
            let resolution = result.map_err(|err| conflict(err, &needs[&dependency.package]))?;
            // Decoding reads the whole file (a component can be large): off the workers.
            let decoding = resolution.clone();
            let decoded = tokio::task::spawn_blocking(move || dependencies_of(&decoding))
                .await
                .map_err(|err| Error::Io {
                    path: Some(resolution.path().clone()),
                    source: std::io::Error::other(err),
                })??;
            let dependencies = request.overrides.apply(&decoded);
            chosen.insert(
                dependency.package.clone(),
                Chosen {
                    resolution,
                    dependencies,
                },
            );
        }
    };
    let order = dependency_order(request, &chosen)?;
    let mut nodes = Vec::with_capacity(order.len());
    for package in order {
        let c = chosen
            .remove(&package)
            .expect("ordered packages are chosen");
        let mut required_by: Vec<(Requirer, VersionReq)> = needs[&package]
            .iter()
            .map(|(by, d)| (by.clone(), d.requirement.clone()))
            .collect();
        required_by.sort_by(|a, b| a.0.cmp(&b.0));
        nodes.push(WitNode {
            dependencies: c.dependencies.iter().map(|d| d.package.clone()).collect(),
            resolution: c.resolution,
            required_by,
        });
    }
    let named = resolve_named(client, request, &nodes, snapshot.as_ref(), mode).await?;
    if let Some(lock) = lock {
        let mut resolved: Vec<Resolution> = nodes.iter().map(|n| n.resolution.clone()).collect();
        resolved.extend(named.iter().cloned());
        lock.record(&resolved);
    }
    Ok(WitGraph { nodes, named })
}

/// The releases the root names exactly where the graph chose another version of the
/// package from a registry (a local override stands for every version).
async fn resolve_named(
    client: &Client,
    request: &WitRequest,
    nodes: &[WitNode],
    lock: Option<&LockFile>,
    mode: LockMode,
) -> Result<Vec<Resolution>, Error> {
    let mut wanted: Vec<Dependency> = Vec::new();
    for (package, version) in &request.named {
        let Some(node) = nodes.iter().find(|n| n.resolution.package() == package) else {
            continue;
        };
        let Resolution::Registry {
            registry, release, ..
        } = &node.resolution
        else {
            continue;
        };
        if &release.version == version {
            continue;
        }
        let exact = VersionReq {
            comparators: vec![registry_core::Comparator {
                op: registry_core::Op::Exact,
                major: version.major,
                minor: Some(version.minor),
                patch: Some(version.patch),
                pre: version.pre.clone(),
            }],
        };
        let dependency = Dependency::new(package.clone(), exact).with_registry(registry.clone());
        if !wanted.contains(&dependency) {
            wanted.push(dependency);
        }
    }
    let refs: Vec<&Dependency> = wanted.iter().collect();
    client.resolve_unique(&refs, lock, mode).await
}

/// Walks from the root through the chosen packages, collecting every requirement.
fn needs(request: &WitRequest, chosen: &HashMap<PackageRef, Chosen>) -> Needs {
    let mut needs = Needs::new();
    let root = Requirer::Root(request.root.clone());
    let mut queue: Vec<(Requirer, &Dependency)> = request
        .dependencies
        .iter()
        .map(|d| (root.clone(), d))
        .collect();
    let mut visited: HashSet<&PackageRef> = HashSet::new();
    while let Some((by, dependency)) = queue.pop() {
        let entry = needs.entry(dependency.package.clone()).or_default();
        if !entry.iter().any(|(b, d)| b == &by && d == dependency) {
            entry.push((by, dependency.clone()));
        }
        if let Some(c) = chosen.get(&dependency.package)
            && visited.insert(&dependency.package)
        {
            let requirer = c.requirer();
            queue.extend(c.dependencies.iter().map(|d| (requirer.clone(), d)));
        }
    }
    needs
}

/// Every requirement on a package at once (the comparators of all of them).
fn combined(reqs: &[(Requirer, Dependency)]) -> VersionReq {
    let mut comparators: Vec<registry_core::Comparator> = Vec::new();
    for (_, dependency) in reqs {
        for comparator in &dependency.requirement.comparators {
            if !comparators.contains(comparator) {
                comparators.push(comparator.clone());
            }
        }
    }
    comparators.sort_by_key(ToString::to_string);
    VersionReq { comparators }
}

/// A "no release matches" for a package needed in several ways names each of them.
fn conflict(err: Error, reqs: &[(Requirer, Dependency)]) -> Error {
    let distinct: HashSet<&VersionReq> = reqs.iter().map(|(_, d)| &d.requirement).collect();
    match err {
        Error::VersionNotFound {
            registry,
            package,
            newest,
            ..
        } if distinct.len() > 1 => {
            let mut each: Vec<String> = reqs
                .iter()
                .map(|(by, d)| format!("{} (needed by {by})", d.requirement))
                .collect();
            each.sort();
            Error::VersionNotFound {
                registry,
                package,
                requirement: each.join(" and "),
                newest,
            }
        }
        err => err,
    }
}

/// The packages a resolution's content uses: a WIT directory's foreign packages, or the
/// packages a binary WIT package refers to (a versioned reference asks for the compatible
/// releases). A component refers to none (it carries its types).
///
/// # Errors
/// [`Error::Io`] when the content cannot be read; [`Error::InvalidWit`] when it is not
/// WIT or a component.
pub fn dependencies_of(resolution: &Resolution) -> Result<Vec<Dependency>, Error> {
    let path = resolution.path();
    if path.is_dir() {
        return crate::dependencies(path);
    }
    let own = resolution.package();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let decoded =
        wit_parser::decoding::decode_reader(std::io::BufReader::new(file)).map_err(|err| {
            crate::wit_error(
                path,
                format!(
                    "{} is not a WIT package or component ({err}); a WIT dependency must be one",
                    describe(resolution)
                ),
            )
        })?;
    let wit_parser::decoding::DecodedWasm::WitPackage(resolve, id) = decoded else {
        return Ok(Vec::new());
    };
    let mut dependencies = Vec::new();
    for (other, package) in resolve.packages.iter() {
        if other == id {
            continue;
        }
        let dependency = crate::dependency_on(&package.name)?;
        if &dependency.package != own && !dependencies.contains(&dependency) {
            dependencies.push(dependency);
        }
    }
    Ok(dependencies)
}

fn describe(resolution: &Resolution) -> String {
    match resolution {
        Resolution::Registry {
            package,
            registry,
            release,
            ..
        } => format!("`{package}@{}` from `{registry}`", release.version),
        other => format!("`{}` ({})", other.package(), other.path().display()),
    }
}

/// The chosen packages reachable from the root, each after the packages it uses; a cycle
/// is an error that spells it out.
fn dependency_order(
    request: &WitRequest,
    chosen: &HashMap<PackageRef, Chosen>,
) -> Result<Vec<PackageRef>, Error> {
    fn visit<'a>(
        package: &'a PackageRef,
        chosen: &'a HashMap<PackageRef, Chosen>,
        path: &mut Vec<&'a PackageRef>,
        done: &mut Vec<PackageRef>,
    ) -> Result<(), Error> {
        if done.contains(package) {
            return Ok(());
        }
        if let Some(at) = path.iter().position(|p| *p == package) {
            let cycle: Vec<String> = path[at..]
                .iter()
                .chain(std::iter::once(&package))
                .map(|p| chosen[*p].requirer().to_string())
                .collect();
            return Err(Error::InvalidWit {
                path: chosen[package].resolution.path().to_owned(),
                line: None,
                column: None,
                message: format!(
                    "the WIT dependencies form a cycle: {}; WIT packages cannot depend on each \
                     other in a circle, so one of these releases is broken",
                    cycle.join(" -> ")
                ),
            });
        }
        path.push(package);
        for dependency in &chosen[package].dependencies {
            visit(&dependency.package, chosen, path, done)?;
        }
        path.pop();
        done.push(package.clone());
        Ok(())
    }
    let mut done = Vec::new();
    for dependency in &request.dependencies {
        visit(&dependency.package, chosen, &mut Vec::new(), &mut done)?;
    }
    Ok(done)
}
