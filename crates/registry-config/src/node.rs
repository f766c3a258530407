//! The tree of values every layer is turned into, each value with its origin, and the
//! rules for merging two trees.

use std::collections::BTreeMap;

use toml_edit::{Item, TableLike, Value};

use crate::{ConfigError, KeyPath, Origin};

/// A value with its origin, or a table of them.
///
/// `Debug` shows keys and values but redacts every value under a credential key.
#[derive(Clone)]
pub(crate) enum Node {
    /// A plain value (string, number, boolean, datetime or array), without formatting.
    Value { value: Value, origin: Origin },
    /// A table, standard or inline.
    Table {
        entries: BTreeMap<String, Node>,
        origin: Origin,
    },
}

/// Keys whose values replace a lower layer's value whole instead of merging into it, as
/// key-path patterns (`*` matches any one key). Everything else merges table by table.
///
/// - A namespace mapping or package override is one decision: a `registry` from one layer
///   and `metadata` from another would point at a registry nobody configured.
/// - Credentials are one unit: a username from one layer and a token from another is
///   never what anyone meant.
pub(crate) const REPLACE_WHOLE: &[&[&str]] = &[
    &["namespace_registries", "*"],
    &["package_registry_overrides", "*"],
    &["registry", "*", "*", "auth"],
];

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Node::Value { value, .. } => write!(f, "{}", value.to_string().trim()),
            Node::Table { entries, .. } => {
                let mut map = f.debug_map();
                for (key, node) in entries {
                    if registry_core::is_secret_key(key) {
                        map.entry(key, &format_args!("<redacted>"));
                    } else {
                        map.entry(key, node);
                    }
                }
                map.finish()
            }
        }
    }
}

/// Arrays that a higher layer adds to instead of replacing: its entries first, then the
/// lower layer's that it does not repeat. A project or tool layer adds mirrors to the ones
/// the user configured.
pub(crate) const UNITE: &[&[&str]] = &[&["registry", "*", "mirrors", "order"]];

fn replaces_whole(path: &KeyPath) -> bool {
    matches(REPLACE_WHOLE, path)
}

pub(crate) fn matches(patterns: &[&[&str]], path: &KeyPath) -> bool {
    patterns.iter().any(|pattern| {
        pattern.len() == path.segments().len()
            && pattern
                .iter()
                .zip(path.segments())
                .all(|(p, s)| *p == "*" || p == s)
    })
}

impl Node {
    pub(crate) fn empty_table(origin: Origin) -> Self {
        Node::Table {
            entries: BTreeMap::new(),
            origin,
        }
    }

    pub(crate) fn origin(&self) -> &Origin {
        match self {
            Node::Value { origin, .. } | Node::Table { origin, .. } => origin,
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Node::Value { .. } => "value",
            Node::Table { .. } => "table",
        }
    }

    pub(crate) fn entries(&self) -> Option<&BTreeMap<String, Node>> {
        match self {
            Node::Table { entries, .. } => Some(entries),
            Node::Value { .. } => None,
        }
    }

    pub(crate) fn entries_mut(&mut self) -> Option<&mut BTreeMap<String, Node>> {
        match self {
            Node::Table { entries, .. } => Some(entries),
            Node::Value { .. } => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Node::Value { value, .. } => value.as_str(),
            Node::Table { .. } => None,
        }
    }

    /// The node at `path` below this one.
    pub(crate) fn get(&self, path: &[String]) -> Option<&Node> {
        path.iter()
            .try_fold(self, |node, key| node.entries()?.get(key))
    }

    /// Builds a tree from a table-like of a parsed document, asking `origin_at` for the
    /// origin of a byte span (or of no span, for values built in code).
    pub(crate) fn from_table_like(
        table: &dyn TableLike,
        table_origin: Origin,
        origin_at: &dyn Fn(Option<std::ops::Range<usize>>) -> Origin,
    ) -> Self {
        let mut entries = BTreeMap::new();
        for (key, item) in table.iter() {
            let key_span = table.key(key).and_then(toml_edit::Key::span);
            let origin = origin_at(key_span.or_else(|| item.span()));
            if let Some(node) = Self::from_item(item, origin, origin_at) {
                entries.insert(key.to_owned(), node);
            }
        }
        Node::Table {
            entries,
            origin: table_origin,
        }
    }

    fn from_item(
        item: &Item,
        origin: Origin,
        origin_at: &dyn Fn(Option<std::ops::Range<usize>>) -> Origin,
    ) -> Option<Self> {
        match item {
            Item::None => None,
            Item::Table(table) => Some(Self::from_table_like(table, origin, origin_at)),
            Item::Value(Value::InlineTable(table)) => {
                Some(Self::from_table_like(table, origin, origin_at))
            }
            Item::Value(value) => Some(Self::from_value(value.clone(), origin)),
            Item::ArrayOfTables(array) => Some(Self::from_value(
                Value::Array(array.clone().into_array()),
                origin,
            )),
        }
    }

    /// A plain value with its formatting removed.
    pub(crate) fn from_value(mut value: Value, origin: Origin) -> Self {
        value.decor_mut().clear();
        Node::Value { value, origin }
    }

    /// Merges `over`, from a layer of higher precedence, into `self`.
    pub(crate) fn merge(&mut self, over: Node, path: &mut KeyPath) -> Result<(), ConfigError> {
        if replaces_whole(path) {
            *self = over;
            return Ok(());
        }
        match (&mut *self, over) {
            (Node::Table { entries, .. }, Node::Table { entries: over, .. }) => {
                for (key, node) in over {
                    path.push(key.clone());
                    match entries.get_mut(&key) {
                        Some(existing) => existing.merge(node, path)?,
                        None => {
                            entries.insert(key, node);
                        }
                    }
                    path.pop();
                }
                Ok(())
            }
            (
                Node::Value {
                    value: Value::Array(base),
                    ..
                },
                Node::Value {
                    value: Value::Array(mut over),
                    origin,
                },
            ) if matches(UNITE, path) => {
                for item in base.iter() {
                    if !over.iter().any(|o| o.as_str() == item.as_str()) {
                        over.push(item.clone());
                    }
                }
                over.fmt();
                *self = Node::Value {
                    value: Value::Array(over),
                    origin,
                };
                Ok(())
            }
            (Node::Value { .. }, over @ Node::Value { .. }) => {
                *self = over;
                Ok(())
            }
            (base, over) => Err(ConfigError::Conflict {
                key: path.clone(),
                first: base.origin().clone(),
                first_kind: base.kind(),
                second: over.origin().clone(),
                second_kind: over.kind(),
            }),
        }
    }

    /// Every plain value below this node, depth first, in key order.
    pub(crate) fn leaves(&self) -> Vec<(KeyPath, &Node)> {
        fn walk<'a>(node: &'a Node, path: &mut KeyPath, out: &mut Vec<(KeyPath, &'a Node)>) {
            match node {
                Node::Value { .. } => out.push((path.clone(), node)),
                Node::Table { entries, .. } => {
                    for (key, child) in entries {
                        path.push(key.clone());
                        walk(child, path, out);
                        path.pop();
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(self, &mut KeyPath::default(), &mut out);
        out
    }

    /// This node as a TOML item, origins dropped.
    pub(crate) fn to_item(&self) -> Item {
        match self {
            Node::Value { value, .. } => Item::Value(value.clone()),
            Node::Table { entries, .. } => {
                let mut table = toml_edit::Table::new();
                for (key, node) in entries {
                    table.insert(key, node.to_item());
                }
                Item::Table(table)
            }
        }
    }

    /// This node as TOML text (the node must be a table).
    pub(crate) fn to_toml(&self) -> String {
        match self.to_item() {
            Item::Table(table) => toml_edit::DocumentMut::from(table).to_string(),
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str, name: &str) -> Node {
        let doc = toml_edit::Document::parse(text.to_owned()).unwrap();
        let origin = Origin::Tool { name: name.into() };
        Node::from_table_like(doc.as_table(), origin.clone(), &|_| origin.clone())
    }

    #[test]
    fn tables_merge_and_values_replace() {
        let mut base = tree(
            "default_registry = 'a.io'\n[registry.'a.io'.oci]\nprotocol = 'http'\n",
            "low",
        );
        let over = tree(
            "default_registry = 'b.io'\n[registry.'a.io'.oci]\nnamespace_prefix = 'x/'\n",
            "high",
        );
        base.merge(over, &mut KeyPath::default()).unwrap();
        let leaves: Vec<_> = base
            .leaves()
            .into_iter()
            .map(|(k, n)| format!("{k} = {} ({})", n.to_item(), n.origin()))
            .collect();
        assert_eq!(
            leaves,
            [
                "default_registry = \"b.io\" (settings from `high`)",
                "registry.\"a.io\".oci.namespace_prefix = \"x/\" (settings from `high`)",
                "registry.\"a.io\".oci.protocol = \"http\" (settings from `low`)",
            ]
        );
    }

    #[test]
    fn replace_whole_keys_do_not_merge() {
        let mut base = tree(
            "[registry.r.oci.auth]\nusername = 'u'\npassword = 'p'\n\
             [namespace_registries.acme]\nregistry = 'a.io'\nmetadata = { x = 1 }\n",
            "low",
        );
        let over = tree(
            "[registry.r.oci.auth]\ntoken = 't'\n[namespace_registries]\nacme = 'b.io'\n",
            "high",
        );
        base.merge(over, &mut KeyPath::default()).unwrap();
        let keys: Vec<_> = base
            .leaves()
            .into_iter()
            .map(|(k, _)| k.to_string())
            .collect();
        assert_eq!(
            keys,
            ["namespace_registries.acme", "registry.r.oci.auth.token"]
        );
    }

    #[test]
    fn a_table_over_a_value_is_a_conflict() {
        let mut base = tree("[registry.r.oci]\nprotocol = 'http'\n", "low");
        let over = tree("[registry.r.oci.protocol]\nx = 1\n", "high");
        let err = base.merge(over, &mut KeyPath::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`registry.r.oci.protocol` is a value at settings from `low` but a table at \
             settings from `high`; make them the same kind, or remove one"
        );
    }
}
