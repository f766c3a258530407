//! The merged configuration and the ways to read it.

use std::fmt;
use std::path::{Path, PathBuf};

use registry_core::{PackageRef, Registry};
use serde::de::DeserializeOwned;

use crate::layer::Layer;
use crate::node::Node;
use crate::schema::{DEFAULT_BACKEND, MIRRORS, MIRRORS_ORDER, is_backend_section};
use crate::{ConfigError, KeyPath, Origin, Scope};

/// Layered configuration: every layer as loaded, and the merged view of them.
///
/// Build one with [`Config::load`] or [`ConfigLoader`](crate::ConfigLoader); read it with
/// the accessors here; change it with the `set_*`/`unset` methods and write the changes
/// back with [`save`](Config::save).
#[derive(Clone)]
pub struct Config {
    /// Lowest precedence first.
    pub(crate) layers: Vec<Layer>,
    pub(crate) merged: Node,
    /// Where a project file is created when there is none yet.
    pub(crate) project_dir: Option<PathBuf>,
    /// The user file's path, even when it does not exist.
    pub(crate) user_path: Option<PathBuf>,
}

/// A value and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Where it was set.
    pub origin: Origin,
}

/// Where packages of a namespace (or one package) are fetched from: a registry and, for the
/// table form `{ registry = "...", metadata = { ... } }`, metadata that stands in for the
/// registry's well-known document.
#[derive(Clone, Debug)]
pub struct RegistryMapping {
    registry: Registry,
    metadata: Option<(Node, KeyPath)>,
}

impl RegistryMapping {
    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Whether the mapping carries metadata.
    pub fn has_metadata(&self) -> bool {
        self.metadata.is_some()
    }

    /// The metadata, deserialized into the caller's type.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the line of the offending key.
    pub fn metadata<T: DeserializeOwned>(&self) -> Result<Option<T>, ConfigError> {
        self.metadata
            .as_ref()
            .map(|(node, path)| deserialize_node(node, path))
            .transpose()
    }
}

impl PartialEq for RegistryMapping {
    fn eq(&self, other: &Self) -> bool {
        self.registry == other.registry
            && self.metadata.as_ref().map(|(n, _)| n.to_toml())
                == other.metadata.as_ref().map(|(n, _)| n.to_toml())
    }
}

/// One effective value, for listings such as `wreg config show --origin`.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: KeyPath,
    /// The value as TOML, or `"<redacted>"` for a credential.
    pub value: String,
    /// Where it was set.
    pub origin: Origin,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.key, self.value)
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}  # {}", self.key, self.value, self.origin)
    }
}

/// A layer as loaded, for listings such as `wreg config path`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LayerInfo {
    /// Its scope.
    pub scope: Scope,
    /// Its name: the tool's name, `environment`, `overrides`, or the scope's name.
    pub name: String,
    /// Its file, for a file layer.
    pub path: Option<PathBuf>,
    /// Whether the file exists (a missing user file is still listed, as a place to write).
    pub exists: bool,
}

/// The settings of one registry: its default backend and its backend sections.
#[derive(Debug)]
pub struct RegistrySettings<'a> {
    registry: Registry,
    node: Option<&'a Node>,
}

impl RegistrySettings<'static> {
    /// The settings of a registry nothing configures: for backends built from settings
    /// given in code, so that a bad value is still reported as a [`ConfigError`] (located
    /// at "settings from `the calling program`").
    pub fn unconfigured(registry: Registry) -> Self {
        Self {
            registry,
            node: None,
        }
    }
}

impl RegistrySettings<'_> {
    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Whether any layer configures this registry.
    pub fn is_configured(&self) -> bool {
        self.node.is_some()
    }

    /// The backend to use: `default` (or its older name `type`) when set, otherwise the
    /// only backend section when there is exactly one.
    pub fn default_backend(&self) -> Option<Setting<String>> {
        let entries = self.node?.entries()?;
        if let Some(node) = entries.get(DEFAULT_BACKEND) {
            return Some(Setting {
                value: node.as_str()?.to_owned(),
                origin: node.origin().clone(),
            });
        }
        let mut sections = entries.iter().filter(|(k, _)| is_backend_section(k));
        match (sections.next(), sections.next()) {
            (Some((name, node)), None) => Some(Setting {
                value: name.clone(),
                origin: node.origin().clone(),
            }),
            _ => None,
        }
    }

    /// The names of the backend sections present (`oci`, `warg`, `local`, ...).
    pub fn backends(&self) -> Vec<&str> {
        self.node
            .and_then(Node::entries)
            .map(|entries| {
                entries
                    .keys()
                    .filter(|k| is_backend_section(k))
                    .map(String::as_str)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The key path of `key` (dotted, e.g. `auth.username`) in a backend section:
    /// `registry."<name>".<backend>.<key>`.
    pub fn key_path(&self, backend: &str, key: &str) -> KeyPath {
        let mut path = KeyPath::new(["registry", self.registry.as_str(), backend]);
        for segment in key.split('.').filter(|s| !s.is_empty()) {
            path.push(segment);
        }
        path
    }

    /// Where `key` of a backend section was set: the key's own file, line and column when
    /// it is set, else the section's, else the registry's; `None` when nothing configures
    /// the registry.
    pub fn origin_of(&self, backend: &str, key: &str) -> Option<Origin> {
        let node = self.node?;
        let path = self.key_path(backend, key);
        let segments = &path.segments()[2..];
        (0..=segments.len())
            .rev()
            .find_map(|n| node.get(&segments[..n]))
            .map(|node| node.origin().clone())
    }

    /// A [`ConfigError::Invalid`] for `key` of a backend section, located by
    /// [`origin_of`](Self::origin_of) ("settings from `the calling program`" when nothing
    /// configures the registry): how a backend reports a bad value it notices after deserializing.
    pub fn invalid(&self, backend: &str, key: &str, message: impl Into<String>) -> ConfigError {
        let origin = self
            .origin_of(backend, key)
            .unwrap_or_else(|| Origin::Tool {
                name: "the calling program".to_owned(),
            });
        ConfigError::invalid(&origin, &self.key_path(backend, key), message)
    }

    /// The merged `[registry."<name>".<backend>]` section, deserialized into the backend's
    /// own type. The origin is that of the section's first key.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the file, line and key at fault (the value itself is
    /// not shown when the key holds a credential).
    pub fn backend<T: DeserializeOwned>(
        &self,
        backend: &str,
    ) -> Result<Option<Setting<T>>, ConfigError> {
        let Some(node) = self.node.and_then(|n| n.entries()?.get(backend)) else {
            return Ok(None);
        };
        let path = KeyPath::new(["registry", self.registry.as_str(), backend]);
        let value = deserialize_node(node, &path)?;
        Ok(Some(Setting {
            value,
            origin: node.origin().clone(),
        }))
    }
}

impl Config {
    /// The user's config file, `<config dir>/wasm-pkg/config.toml`, whether or not it
    /// exists; `None` when there is no home directory.
    ///
    /// The config directory is the one `wkg` uses: `$XDG_CONFIG_HOME` (when absolute) or
    /// `~/.config` on Linux and macOS alike, the roaming `AppData` folder on Windows.
    pub fn user_config_path() -> Option<PathBuf> {
        let dir = if cfg!(windows) {
            dirs::config_dir()?
        } else {
            std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .or_else(|| dirs::home_dir().map(|home| home.join(".config")))?
        };
        Some(dir.join("wasm-pkg").join("config.toml"))
    }

    /// Loads every layer the usual way: built-in defaults, the user file, project files
    /// found from the current directory, the environment. See
    /// [`ConfigLoader`](crate::ConfigLoader) to choose the layers.
    pub fn load() -> Result<Self, ConfigError> {
        crate::ConfigLoader::new().load()
    }

    /// A config of one file's text only, without defaults: what that file alone means.
    pub fn from_toml_str(path: impl AsRef<Path>, text: &str) -> Result<Self, ConfigError> {
        let layer =
            Layer::from_file_text(Scope::User, "user", path.as_ref(), Some(text.to_owned()))?;
        Self::from_layers(vec![layer], None, None)
    }

    pub(crate) fn from_layers(
        layers: Vec<Layer>,
        project_dir: Option<PathBuf>,
        user_path: Option<PathBuf>,
    ) -> Result<Self, ConfigError> {
        let mut config = Self {
            layers,
            merged: Node::empty_table(Origin::Builtin),
            project_dir,
            user_path,
        };
        config.merge_layers()?;
        Ok(config)
    }

    /// Recomputes the merged view from the layers.
    pub(crate) fn merge_layers(&mut self) -> Result<(), ConfigError> {
        let mut merged = Node::empty_table(Origin::Builtin);
        for layer in &self.layers {
            merged.merge(layer.tree.clone(), &mut KeyPath::default())?;
        }
        self.merged = merged;
        Ok(())
    }

    /// The layers, lowest precedence first.
    pub fn layers(&self) -> Vec<LayerInfo> {
        self.layers
            .iter()
            .map(|layer| LayerInfo {
                scope: layer.scope,
                name: layer.name.clone(),
                path: layer.file.as_ref().map(|f| f.path.clone()),
                exists: layer.file.as_ref().is_none_or(|f| f.on_disk.is_some()),
            })
            .collect()
    }

    /// The registry packages go to when nothing more specific is configured.
    pub fn default_registry(&self) -> Option<Setting<Registry>> {
        let node = self.merged.get(&["default_registry".to_owned()])?;
        Some(Setting {
            value: node.as_str()?.parse().ok()?,
            origin: node.origin().clone(),
        })
    }

    /// The registry mapped to `namespace` under `[namespace_registries]`, without falling
    /// back to the default registry.
    pub fn namespace_registry(&self, namespace: &str) -> Option<Setting<RegistryMapping>> {
        self.mapping("namespace_registries", namespace)
    }

    /// The registry `package` is pinned to under `[package_registry_overrides]`.
    pub fn package_registry_override(
        &self,
        package: &PackageRef,
    ) -> Option<Setting<RegistryMapping>> {
        self.mapping("package_registry_overrides", package.as_str())
    }

    fn mapping(&self, table: &str, key: &str) -> Option<Setting<RegistryMapping>> {
        let path = [table.to_owned(), key.to_owned()];
        let node = self.merged.get(&path)?;
        let (registry, metadata) = match node {
            Node::Value { .. } => (node.as_str()?, None),
            Node::Table { entries, .. } => (
                entries.get("registry")?.as_str()?,
                entries.get("metadata").map(|m| {
                    (
                        m.clone(),
                        KeyPath::new(path.iter().cloned()).join("metadata"),
                    )
                }),
            ),
        };
        Some(Setting {
            value: RegistryMapping {
                registry: registry.parse().ok()?,
                metadata,
            },
            origin: node.origin().clone(),
        })
    }

    /// The registry to fetch `package` from: its package override, else its namespace's
    /// registry, else the default registry, else a built-in namespace mapping.
    ///
    /// Built-in mappings (`wasi` -> `wasi.dev`, `ba` -> `bytecodealliance.org`) are
    /// fallbacks, as in `wkg`: a configured default registry wins over them, a namespace
    /// mapping in any file wins over everything but a package override.
    ///
    /// # Errors
    /// [`registry_core::Error::NoRegistryForNamespace`] when nothing matches.
    pub fn resolve_registry(
        &self,
        package: &PackageRef,
    ) -> Result<Setting<RegistryMapping>, registry_core::Error> {
        if let Some(pinned) = self.package_registry_override(package) {
            return Ok(pinned);
        }
        let namespace = self.namespace_registry(package.namespace());
        if let Some(mapping) = &namespace
            && mapping.origin != Origin::Builtin
        {
            return Ok(mapping.clone());
        }
        if let Some(default) = self.default_registry() {
            return Ok(Setting {
                value: RegistryMapping {
                    registry: default.value,
                    metadata: None,
                },
                origin: default.origin,
            });
        }
        namespace.ok_or_else(|| registry_core::Error::NoRegistryForNamespace {
            namespace: package.namespace().to_owned(),
        })
    }

    /// The settings of `registry` (empty if no layer configures it).
    pub fn registry_settings(&self, registry: &Registry) -> RegistrySettings<'_> {
        let path = ["registry".to_owned(), registry.to_string()];
        RegistrySettings {
            registry: registry.clone(),
            node: self.merged.get(&path),
        }
    }

    /// The registries to try, in order, for what `registry` serves
    /// (`[registry."<name>".mirrors] order = [...]`), each with the layer that listed it.
    /// A higher layer's mirrors come first, then those of lower layers that it does not
    /// repeat. Empty when no layer lists mirrors: then only the registry itself is used.
    /// When the list does not name `registry` itself, it is tried last.
    pub fn mirrors(&self, registry: &Registry) -> Vec<Setting<Registry>> {
        let path = [
            "registry".to_owned(),
            registry.to_string(),
            MIRRORS.to_owned(),
            MIRRORS_ORDER.to_owned(),
        ];
        let mut mirrors: Vec<Setting<Registry>> = Vec::new();
        for layer in self.layers.iter().rev() {
            let Some(Node::Value {
                value: toml_edit::Value::Array(array),
                origin,
            }) = layer.tree.get(&path)
            else {
                continue;
            };
            for name in array
                .iter()
                .filter_map(|v| v.as_str()?.parse::<Registry>().ok())
            {
                if !mirrors.iter().any(|m| m.value == name) {
                    mirrors.push(Setting {
                        value: name,
                        origin: origin.clone(),
                    });
                }
            }
        }
        if !mirrors.is_empty() && !mirrors.iter().any(|m| &m.value == registry) {
            mirrors.push(Setting {
                value: registry.clone(),
                origin: Origin::Builtin,
            });
        }
        mirrors
    }

    /// The registries that have a `[registry."<name>"]` section in some layer.
    pub fn configured_registries(&self) -> Vec<Registry> {
        self.merged
            .get(&["registry".to_owned()])
            .and_then(Node::entries)
            .map(|entries| entries.keys().filter_map(|k| k.parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Every effective value, in key order, with its origin. Credentials are redacted.
    pub fn entries(&self) -> Vec<Entry> {
        entries_of(&self.merged, &KeyPath::default())
    }

    /// The effective values at `key`: none if it is unset, one for a plain value, every
    /// value below it for a table. Credentials are redacted.
    ///
    /// # Errors
    /// [`ConfigError::InvalidKey`] when `key` is not a dotted TOML key.
    pub fn get(&self, key: &str) -> Result<Vec<Entry>, ConfigError> {
        let key: KeyPath = key.parse()?;
        Ok(match self.merged.get(key.segments()) {
            Some(node) => entries_of(node, &key),
            None => Vec::new(),
        })
    }
}

fn entries_of(node: &Node, prefix: &KeyPath) -> Vec<Entry> {
    node.leaves()
        .into_iter()
        .map(|(relative, leaf)| {
            let key = KeyPath::new(prefix.segments().iter().chain(relative.segments()).cloned());
            let value = if key.is_secret() {
                "\"<redacted>\"".to_owned()
            } else {
                leaf.to_item().to_string().trim().to_owned()
            };
            Entry {
                key,
                value,
                origin: leaf.origin().clone(),
            }
        })
        .collect()
}

/// Deserializes a subtree into `T`; an error points at the origin of the key at fault.
pub(crate) fn deserialize_node<T: DeserializeOwned>(
    node: &Node,
    path: &KeyPath,
) -> Result<T, ConfigError> {
    let text = node.to_toml();
    let doc = toml_edit::Document::parse(text).map_err(|err| {
        ConfigError::invalid(node.origin(), path, format!("cannot be re-read: {err}"))
    })?;
    let spans = doc.clone();
    T::deserialize(toml_edit::de::Deserializer::from(doc)).map_err(|err| {
        let relative = err
            .span()
            .map(|span| locate(spans.as_table(), span.start))
            .unwrap_or_default();
        let key = KeyPath::new(path.segments().iter().chain(&relative).cloned());
        let origin = node
            .get(&relative)
            .map_or_else(|| node.origin().clone(), |n| n.origin().clone());
        let message = if key.is_secret() {
            redact_value(err.message())
        } else {
            let message = err.message().trim_end().replace('\n', "; ");
            suggest_field(&message).unwrap_or(message)
        };
        ConfigError::Invalid {
            origin,
            key,
            message,
        }
    })
}

/// serde's "unknown field `protcol`, expected one of `protocol`, ..." with the likely
/// intended field named first, as the rest of the configuration's unknown keys are.
fn suggest_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let best = candidates
        .iter()
        .map(|c| (crate::schema::edit_distance(field, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min()?;
    Some(format!(
        "unknown key `{field}`; did you mean `{}`? (allowed here: {})",
        best.1,
        candidates.join(", ")
    ))
}

/// A deserialization message for a credential key, without the part that may quote the
/// value: serde writes "invalid type: <the value>, expected <what>", so keep what follows
/// "expected".
fn redact_value(message: &str) -> String {
    let hidden = "invalid value (not shown: this key holds a credential)";
    match message.find("expected") {
        Some(at) => format!("{hidden}; {}", message[at..].trim_end()),
        None => hidden.to_owned(),
    }
}

/// The key path of the deepest key whose entry contains byte `offset`.
fn locate(table: &dyn toml_edit::TableLike, offset: usize) -> Vec<String> {
    for (key, item) in table.iter() {
        let key_span = table.key(key).and_then(toml_edit::Key::span);
        let contains = |span: Option<std::ops::Range<usize>>| {
            span.is_some_and(|s| s.start <= offset && offset < s.end.max(s.start + 1))
        };
        let inner = item.as_table_like();
        let inside = contains(key_span) || contains(item.span());
        if inside || inner.is_some_and(|t| !locate(t, offset).is_empty()) {
            let mut path = vec![key.to_owned()];
            if let Some(inner) = inner {
                path.extend(locate(inner, offset));
            }
            return path;
        }
    }
    Vec::new()
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("layers", &self.layers())
            .field("entries", &self.entries())
            .finish()
    }
}
