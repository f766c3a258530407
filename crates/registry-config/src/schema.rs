//! What a layer may contain: the keys of the `wasm-pkg` format, checked one layer at a time
//! so an error points at the file and line that caused it.
//!
//! Backend sections (`[registry."<name>".<backend>]`) are opaque here; each backend crate
//! checks its own section when it reads it.

use std::collections::BTreeMap;

use registry_core::{PackageRef, Registry};

use crate::node::Node;
use crate::{ConfigError, KeyPath};

/// The top-level keys.
pub(crate) const TOP_LEVEL: &[&str] = &[
    "default_registry",
    "namespace_registries",
    "package_registry_overrides",
    "registry",
];

/// The keys of a table-form namespace mapping or package override.
const MAPPING_KEYS: &[&str] = &["registry", "metadata"];

/// The key naming a registry's default backend. `type` is the older spelling; a layer that
/// uses it is read as if it said `default`.
pub(crate) const DEFAULT_BACKEND: &str = "default";
pub(crate) const DEFAULT_BACKEND_OLD: &str = "type";

/// The section of a registry listing its mirrors: `[registry."<name>".mirrors]`, a table so
/// that `wkg` (which reads every table of a registry as an opaque backend section) accepts
/// the file.
pub(crate) const MIRRORS: &str = "mirrors";
/// The key of [`MIRRORS`] holding the registries to try, in order.
pub(crate) const MIRRORS_ORDER: &str = "order";

/// Whether a key of `[registry."<name>"]` names a backend section, not one of the keys
/// this format reserves there (`default`, `mirrors`, `provenance`).
pub(crate) fn is_backend_section(key: &str) -> bool {
    ![DEFAULT_BACKEND, MIRRORS, crate::provenance::PROVENANCE].contains(&key)
}

/// Checks a layer's tree and normalizes it: registry names are lowercased, and the older
/// `type` key is renamed `default`.
pub(crate) fn check_layer(root: &mut Node) -> Result<(), ConfigError> {
    let mut path = KeyPath::default();
    let entries = root.entries_mut().expect("a layer is a table");
    for (key, node) in entries.iter_mut() {
        path.push(key.clone());
        match key.as_str() {
            "default_registry" => check_registry_value(node, &path)?,
            "namespace_registries" => check_mappings(node, &path, check_namespace)?,
            "package_registry_overrides" => check_mappings(node, &path, check_package)?,
            "registry" => check_registries(node, &path)?,
            _ => return Err(unknown_key(node, &path, TOP_LEVEL)),
        }
        path.pop();
    }
    Ok(())
}

pub(crate) fn unknown_key(node: &Node, path: &KeyPath, allowed: &[&str]) -> ConfigError {
    let key = path.last().unwrap_or_default();
    let hint = match closest(key, allowed) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!(
            "the keys allowed here are {}",
            allowed
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    ConfigError::UnknownKey {
        origin: node.origin().clone(),
        key: path.clone(),
        hint,
    }
}

/// The allowed key nearest to `key`, if it is near enough to be a typo.
pub(crate) fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|candidate| (edit_distance(key, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(1))
        .min()
        .map(|(_, candidate)| candidate)
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn expect_table<'a>(
    node: &'a mut Node,
    path: &KeyPath,
    example: &str,
) -> Result<&'a mut BTreeMap<String, Node>, ConfigError> {
    let origin = node.origin().clone();
    node.entries_mut()
        .ok_or_else(|| not_a_table(&origin, path, example))
}

/// The entries of a table that is only read, or an error saying a table was expected.
pub(crate) fn table_entries<'a>(
    node: &'a Node,
    path: &KeyPath,
    example: &str,
) -> Result<&'a BTreeMap<String, Node>, ConfigError> {
    node.entries()
        .ok_or_else(|| not_a_table(node.origin(), path, example))
}

fn not_a_table(origin: &crate::Origin, path: &KeyPath, example: &str) -> ConfigError {
    ConfigError::invalid(origin, path, format!("expected a table, e.g. {example}"))
}

fn check_registry_value(node: &Node, path: &KeyPath) -> Result<(), ConfigError> {
    let Some(value) = node.as_str() else {
        return Err(ConfigError::invalid(
            node.origin(),
            path,
            "expected a string naming a registry, e.g. \"ghcr.io\"",
        ));
    };
    value
        .parse::<Registry>()
        .map(|_| ())
        .map_err(|err| ConfigError::invalid(node.origin(), path, err.to_string()))
}

pub(crate) type KeyCheck = fn(&str) -> Result<(), String>;

pub(crate) fn check_namespace(namespace: &str) -> Result<(), String> {
    PackageRef::new(namespace, "x").map(|_| ()).map_err(|err| {
        format!(
            "`{namespace}` is not a valid namespace: {}, e.g. \"wasi\"",
            err.reason()
        )
    })
}

pub(crate) fn check_package(package: &str) -> Result<(), String> {
    package
        .parse::<PackageRef>()
        .map(|_| ())
        .map_err(|err| err.to_string())
}

/// `namespace_registries` and `package_registry_overrides`: each entry maps a key to a
/// registry, as a string or as `{ registry = "...", metadata = { ... } }`.
fn check_mappings(node: &mut Node, path: &KeyPath, check_key: KeyCheck) -> Result<(), ConfigError> {
    let entries = expect_table(
        node,
        path,
        "[namespace_registries] with `acme = \"ghcr.io\"`",
    )?;
    let mut path = path.clone();
    for (key, node) in entries.iter_mut() {
        path.push(key.clone());
        check_key(key).map_err(|message| ConfigError::invalid(node.origin(), &path, message))?;
        match node {
            Node::Value { .. } => check_registry_value(node, &path)?,
            Node::Table { entries, origin } => {
                for (inner, inner_node) in entries.iter() {
                    path.push(inner.clone());
                    match inner.as_str() {
                        "registry" => check_registry_value(inner_node, &path)?,
                        "metadata" if inner_node.entries().is_some() => {}
                        "metadata" => {
                            return Err(ConfigError::invalid(
                                inner_node.origin(),
                                &path,
                                "expected a table of registry metadata, e.g. \
                                 `metadata = { preferredProtocol = \"oci\" }`",
                            ));
                        }
                        _ => return Err(unknown_key(inner_node, &path, MAPPING_KEYS)),
                    }
                    path.pop();
                }
                if !entries.contains_key("registry") {
                    return Err(ConfigError::invalid(
                        origin,
                        &path,
                        "a table mapping needs a `registry` key, e.g. \
                         `{ registry = \"ghcr.io\" }`",
                    ));
                }
            }
        }
        path.pop();
    }
    Ok(())
}

/// `[registry."<name>"]`: a default backend name and opaque backend sections.
fn check_registries(node: &mut Node, path: &KeyPath) -> Result<(), ConfigError> {
    let entries = expect_table(node, path, "[registry.\"ghcr.io\".oci]")?;
    let mut normalized = BTreeMap::new();
    let mut path = path.clone();
    for (name, mut node) in std::mem::take(entries) {
        path.push(name.clone());
        let registry = name
            .parse::<Registry>()
            .map_err(|err| ConfigError::invalid(node.origin(), &path, err.to_string()))?;
        check_registry_section(&mut node, &path)?;
        if let Some(previous) = normalized.insert(registry.to_string(), node) {
            return Err(ConfigError::invalid(
                previous.origin(),
                &path,
                format!("registry `{registry}` is configured twice, spelled differently"),
            ));
        }
        path.pop();
    }
    *entries = normalized;
    Ok(())
}

fn check_registry_section(node: &mut Node, path: &KeyPath) -> Result<(), ConfigError> {
    let example = format!("[{}.oci]", path);
    let entries = expect_table(node, path, &example)?;
    if let Some(old) = entries.remove(DEFAULT_BACKEND_OLD) {
        if let Some(new) = entries.get(DEFAULT_BACKEND) {
            return Err(ConfigError::invalid(
                new.origin(),
                &path.join(DEFAULT_BACKEND),
                format!(
                    "both `default` and `type` (its older name, at {}) are set; keep only \
                     `default`",
                    old.origin()
                ),
            ));
        }
        entries.insert(DEFAULT_BACKEND.to_owned(), old);
    }
    let mut path = path.clone();
    for (key, node) in entries.iter() {
        path.push(key.clone());
        if key == MIRRORS {
            check_mirrors(node, &path)?;
        } else if key == crate::provenance::PROVENANCE {
            crate::provenance::check(node, &path)?;
        } else if key == DEFAULT_BACKEND {
            let valid = node.as_str().is_some_and(|name| {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            });
            if !valid {
                return Err(ConfigError::invalid(
                    node.origin(),
                    &path,
                    "expected the name of a backend, e.g. \"oci\", \"warg\" or \"local\"",
                ));
            }
        } else if node.entries().is_none() {
            return Err(ConfigError::invalid(
                node.origin(),
                &path,
                format!(
                    "expected a table of `{key}` backend settings, e.g. [{path}] or \
                     `default = \"{key}\"` to choose the backend"
                ),
            ));
        }
        path.pop();
    }
    Ok(())
}

/// `[registry."<name>".mirrors]`: `order`, an array of registry names.
fn check_mirrors(node: &Node, path: &KeyPath) -> Result<(), ConfigError> {
    let example = format!("[{path}] {MIRRORS_ORDER} = [\"cache.internal:5000\", \"ghcr.io\"]");
    let entries = table_entries(node, path, &example)?;
    for (key, node) in entries {
        let path = path.join(key);
        if key != MIRRORS_ORDER {
            return Err(unknown_key(node, &path, &[MIRRORS_ORDER]));
        }
        let names = match node {
            Node::Value {
                value: toml_edit::Value::Array(array),
                ..
            } => array.iter().map(|v| v.as_str()).collect::<Option<Vec<_>>>(),
            _ => None,
        };
        let Some(names) = names else {
            return Err(ConfigError::invalid(
                node.origin(),
                &path,
                format!("expected an array of registry names, e.g. {example}"),
            ));
        };
        for name in names {
            name.parse::<Registry>().map_err(|err| {
                ConfigError::invalid(node.origin(), &path, format!("mirror `{name}`: {err}"))
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_suggestions() {
        assert_eq!(
            closest("default_regsitry", TOP_LEVEL),
            Some("default_registry")
        );
        assert_eq!(
            closest("namespace_registry", TOP_LEVEL),
            Some("namespace_registries")
        );
        assert_eq!(closest("registries", TOP_LEVEL), None);
        assert_eq!(closest("registr", TOP_LEVEL), Some("registry"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
