//! The order several packages are published in: as given, except that a WIT directory
//! comes after the other packages of the same publish that its WIT uses (a file's package
//! is the one it names itself) (wkg 0.16 orders
//! several paths, and a workspace's members, this way).

use std::path::{Path, PathBuf};

use anyhow::Result;
use registry_core::PackageRef;
use registry_wit as wit;

use super::usage;

/// One path to publish.
#[derive(Clone, Debug)]
pub(super) struct Item {
    /// As given.
    pub(super) path: PathBuf,
    /// The WIT directory to build, for a directory.
    pub(super) wit_dir: Option<PathBuf>,
    /// The package, when it can be told before building (a WIT directory's, or the one a
    /// file names itself).
    pub(super) package: Option<PackageRef>,
    /// The packages its WIT uses.
    pub(super) uses: Vec<PackageRef>,
}

impl Item {
    /// `path`: a file is published as it is; a directory is the WIT directory `wit_dir`.
    pub(super) fn new(path: &Path, wit_dir: Option<PathBuf>) -> Result<Self> {
        let (package, uses) = match &wit_dir {
            Some(dir) => (
                Some(wit::package_in(dir)?.package),
                wit::dependencies(dir)?
                    .into_iter()
                    .map(|d| d.package)
                    .collect(),
            ),
            // A file names itself by its metadata (or as a WIT package), when it does.
            None => (
                wit::read_metadata(path)
                    .ok()
                    .and_then(|m| wit::package_of(path, &m).ok())
                    .map(|spec| spec.package),
                Vec::new(),
            ),
        };
        Ok(Self {
            path: path.to_owned(),
            wit_dir,
            package,
            uses,
        })
    }

    fn label(&self) -> String {
        match &self.package {
            Some(package) => format!("{package} ({})", self.path.display()),
            None => self.path.display().to_string(),
        }
    }
}

/// The packages of `items` and their WIT directories or files: what each build takes
/// locally.
pub(super) fn local_packages(items: &[Item]) -> Vec<(PackageRef, PathBuf)> {
    items
        .iter()
        .filter_map(|i| {
            let source = i.wit_dir.clone().unwrap_or_else(|| i.path.clone());
            Some((i.package.clone()?, source))
        })
        .collect()
}

/// `items` in publish order: each after the items whose packages it uses, otherwise as
/// given.
///
/// # Errors
/// A usage error naming the cycle when items use each other in a circle, or naming both
/// paths when two define the same package.
pub(super) fn order(items: Vec<Item>) -> Result<Vec<Item>> {
    for (i, a) in items.iter().enumerate() {
        if let Some(b) = items[i + 1..]
            .iter()
            .find(|b| a.package.is_some() && b.package == a.package)
        {
            return Err(usage(format!(
                "{} and {} are the same package; publish one of them",
                a.label(),
                b.path.display()
            )));
        }
    }
    let mut pending = items;
    let mut ordered = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        // The first (as given) that uses none of the others still to publish.
        let ready = (0..pending.len()).find(|&i| {
            !pending.iter().enumerate().any(|(j, other)| {
                j != i
                    && other
                        .package
                        .as_ref()
                        .is_some_and(|p| pending[i].uses.contains(p))
            })
        });
        match ready {
            Some(i) => ordered.push(pending.remove(i)),
            None => return Err(usage(cycle(&pending))),
        }
    }
    Ok(ordered)
}

/// The message naming a cycle among `pending`, where every item uses another.
fn cycle(pending: &[Item]) -> String {
    let mut path: Vec<usize> = vec![0];
    loop {
        let last = &pending[*path.last().expect("the path starts with one item")];
        let next = pending
            .iter()
            .enumerate()
            .position(|(j, p)| {
                j != path[path.len() - 1]
                    && p.package.as_ref().is_some_and(|p| last.uses.contains(p))
            })
            .expect("every pending item uses another");
        if let Some(start) = path.iter().position(|&i| i == next) {
            let mut names: Vec<String> =
                path[start..].iter().map(|&i| pending[i].label()).collect();
            names.push(pending[next].label());
            return format!(
                "these packages use each other in a cycle, so none can be published before \
                 the other: {}",
                names.join(" -> ")
            );
        }
        path.push(next);
    }
}
