//! Whether a new release of a WIT package keeps what the releases around it in its series
//! offer, decided by the Bytecode Alliance's own check, `wit_component::semver_check`.
//!
//! A release is compared with its neighbours in its series (the releases that share its
//! major version, or for 0.x its minor, as cargo counts compatibility; 0.0.x releases form
//! no series): the newest earlier one, which it must keep, and the oldest later one, which
//! must keep it. Published pre-releases are not neighbours; a pre-release being published
//! is checked like any other release.
//!
//! Two releases are compared world by world, by name: every world of the older one must
//! be in the newer one, and wit-component decides whether the newer world may stand in for
//! the older (it may export more and import less; every type must keep its shape). Inline
//! interfaces are part of their world, so they are compared item by item. Every interface
//! of the package is compared too, one at a time, through a world that exports it (`wkg`
//! leaves interfaces no world mentions unchecked); each that broke is named.

use registry_core::{Error, PackageRef, Version};
use wit_parser::decoding::DecodedWasm;
use wit_parser::{InterfaceId, PackageId, Resolve, WorldId, WorldItem, WorldKey};

/// The name of the worlds made to compare one interface (never added to the package's own
/// list of worlds, so it cannot clash with one).
const WORLD_OF_ONE_INTERFACE: &str = "interface";

/// The releases `new` is compared with: the newest earlier and the oldest later release of
/// its series in `published` (pre-releases there are not counted).
pub fn neighbours(published: &[Version], new: &Version) -> (Option<Version>, Option<Version>) {
    let series = |v: &Version| match (v.major, v.minor) {
        (0, 0) => (0, 0, Some(v.patch)),
        (0, minor) => (0, minor, None),
        (major, _) => (major, 0, None),
    };
    let mine = series(new);
    if mine.2.is_some() {
        return (None, None);
    }
    let same: Vec<&Version> = published
        .iter()
        .filter(|v| v.pre.is_empty() && series(v) == mine && *v != new)
        .collect();
    let earlier = same
        .iter()
        .filter(|v| **v < new)
        .max()
        .map(|v| (*v).clone());
    let later = same
        .iter()
        .filter(|v| **v > new)
        .min()
        .map(|v| (*v).clone());
    (earlier, later)
}

/// Checks that `newer` keeps everything `older` offers (both binary WIT packages of
/// `package`). Components are not compared: when either is not a WIT package, this
/// passes.
///
/// # Errors
/// [`Error::SemverIncompatible`] with every break found (each world and the interfaces
/// on their own), naming the two releases.
pub fn check_semver(
    package: &PackageRef,
    older: (&Version, &[u8]),
    newer: (&Version, &[u8]),
) -> Result<(), Error> {
    let (Some((old_resolve, old_pkg)), Some((new_resolve, new_pkg))) =
        (wit_package(older.1), wit_package(newer.1))
    else {
        return Ok(());
    };
    let breaks = compare(old_resolve, old_pkg, new_resolve, new_pkg);
    if breaks.is_empty() {
        Ok(())
    } else {
        Err(Error::SemverIncompatible {
            package: package.clone(),
            previous: older.0.clone(),
            new: newer.0.clone(),
            breaks,
        })
    }
}

fn wit_package(bytes: &[u8]) -> Option<(Resolve, PackageId)> {
    match wit_parser::decoding::decode(bytes) {
        Ok(DecodedWasm::WitPackage(resolve, id)) => Some((resolve, id)),
        _ => None,
    }
}

/// Every way `newer` fails to keep `older`, one sentence each.
fn compare(
    mut old_resolve: Resolve,
    old_pkg: PackageId,
    mut merged: Resolve,
    new_pkg: PackageId,
) -> Vec<String> {
    // Two releases whose WIT names the same version (a package published under a version
    // its `package` line does not carry) would be merged into one and compared with
    // itself: the older one is renamed apart first.
    let new_name = merged.packages[new_pkg].name.clone();
    if old_resolve.packages[old_pkg].name == new_name {
        let mut renamed = new_name.clone();
        let mut version = new_name
            .version
            .clone()
            .unwrap_or_else(|| Version::new(0, 0, 0));
        version.pre = semver::Prerelease::new("wreg-previous").unwrap_or_default();
        renamed.version = Some(version);
        old_resolve.package_names.shift_remove(&new_name);
        old_resolve.package_names.insert(renamed.clone(), old_pkg);
        old_resolve.packages[old_pkg].name = renamed;
    }
    let old_worlds: Vec<(String, WorldId)> = old_resolve.packages[old_pkg]
        .worlds
        .iter()
        .map(|(name, id)| (name.clone(), *id))
        .collect();
    let remap = match merged.merge(old_resolve) {
        Ok(remap) => remap,
        Err(err) => return vec![format!("the two releases cannot be compared: {err:#}")],
    };
    let old_pkg = remap.packages[old_pkg.index()];
    let mut breaks = Vec::new();
    for (name, old_world) in old_worlds {
        let Some(&new_world) = merged.packages[new_pkg].worlds.get(&name) else {
            breaks.push(format!("world `{name}` was removed"));
            continue;
        };
        let old_world = match remap.map_world(old_world, Default::default()) {
            Ok(id) => id,
            Err(err) => {
                breaks.push(format!("world `{name}` cannot be compared: {err:#}"));
                continue;
            }
        };
        // wit-component asks whether its `new` world may be used where `prev` was: the
        // older world in the newer one's place. Holding that, the newer release exports at
        // least what the older did and imports no more.
        if let Err(err) = wit_component::semver_check(merged.clone(), new_world, old_world) {
            breaks.push(format!("world `{name}`: {}", sentence(&err)));
        }
    }
    // Interfaces, whether or not a world mentions them, one at a time (so each that broke
    // is named): a world exporting the interface (importing what it uses from elsewhere),
    // compared the same way.
    let old_interfaces: Vec<(String, InterfaceId)> = merged.packages[old_pkg]
        .interfaces
        .iter()
        .map(|(name, id)| (name.clone(), *id))
        .collect();
    for (name, old_id) in old_interfaces {
        let Some(&new_id) = merged.packages[new_pkg].interfaces.get(&name) else {
            breaks.push(format!("interface `{name}` was removed"));
            continue;
        };
        let old_world = interface_world(&mut merged, old_pkg, old_id);
        let new_world = interface_world(&mut merged, new_pkg, new_id);
        // A world that cannot stand for itself cannot be compared: said, never skipped.
        if let Err(err) = wit_component::semver_check(merged.clone(), new_world, new_world) {
            breaks.push(format!(
                "interface `{name}` cannot be compared: {}",
                sentence(&err)
            ));
        } else if let Err(err) = wit_component::semver_check(merged.clone(), new_world, old_world) {
            breaks.push(format!("interface `{name}`: {}", sentence(&err)));
        }
    }
    breaks
}

/// Adds to `package` a world that exports `interface` and imports what it uses from other
/// interfaces, transitively.
fn interface_world(resolve: &mut Resolve, package: PackageId, interface: InterfaceId) -> WorldId {
    // Every interface it uses, transitively, each after the interfaces it uses itself (a
    // world must import a dependency before what uses it).
    fn visit(resolve: &Resolve, id: InterfaceId, root: InterfaceId, out: &mut Vec<InterfaceId>) {
        for dep in resolve.interface_direct_deps(id) {
            if dep != root && !out.contains(&dep) {
                visit(resolve, dep, root, out);
                if !out.contains(&dep) {
                    out.push(dep);
                }
            }
        }
    }
    let mut imported = Vec::new();
    visit(resolve, interface, interface, &mut imported);
    let item = |id| WorldItem::Interface {
        id,
        stability: Default::default(),
        external_id: None,
        docs: Default::default(),
        span: Default::default(),
    };
    let world = wit_parser::World {
        name: WORLD_OF_ONE_INTERFACE.to_owned(),
        imports: imported
            .into_iter()
            .map(|id| (WorldKey::Interface(id), item(id)))
            .collect(),
        exports: [(WorldKey::Interface(interface), item(interface))]
            .into_iter()
            .collect(),
        package: Some(package),
        docs: Default::default(),
        stability: Default::default(),
        includes: Vec::new(),
        span: Default::default(),
    };
    resolve.worlds.alloc(world)
}

/// wit-component's error and its causes, on one line, without what only its synthesized
/// components know (the byte offset, the import of the world itself).
fn sentence(err: &anyhow::Error) -> String {
    let mut text = format!("{err:#}").replace('\n', " ");
    text = text.replace(
        "new world is not semver-compatible with the previous world: ",
        "",
    );
    while let Some(at) = text.find("type mismatch for import `") {
        let rest = &text[at + "type mismatch for import `".len()..];
        let Some(end) = rest.find("` ") else { break };
        // The world's own name (`interface`, or a world of the package) says nothing.
        if rest[..end].contains('/') {
            break;
        }
        text.replace_range(at..at + "type mismatch for import `".len() + end + 2, "");
    }
    while let Some(at) = text.find(" (at offset 0x") {
        let end = text[at..].find(')').map_or(text.len(), |e| at + e + 1);
        text.replace_range(at..end, "");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(list: &[&str]) -> Vec<Version> {
        list.iter().map(|v| v.parse().unwrap()).collect()
    }

    #[test]
    fn neighbours_are_in_the_series_and_stable() {
        let published = versions(&["0.9.0", "1.0.0", "1.2.0", "1.3.0-rc.1", "2.0.0"]);
        let v = |s: &str| s.parse::<Version>().unwrap();
        assert_eq!(
            neighbours(&published, &v("1.1.0")),
            (Some(v("1.0.0")), Some(v("1.2.0")))
        );
        assert_eq!(
            neighbours(&published, &v("1.4.0")),
            (Some(v("1.2.0")), None)
        );
        assert_eq!(
            neighbours(&published, &v("1.1.0-rc.1")),
            (Some(v("1.0.0")), Some(v("1.2.0")))
        );
        assert_eq!(neighbours(&published, &v("3.0.0")), (None, None));
        let zero = versions(&["0.1.0", "0.1.2", "0.2.0", "0.0.1"]);
        assert_eq!(
            neighbours(&zero, &v("0.1.1")),
            (Some(v("0.1.0")), Some(v("0.1.2")))
        );
        assert_eq!(neighbours(&zero, &v("0.0.2")), (None, None));
    }
}
