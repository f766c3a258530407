//! Changing a layer's file: set and unset values, then save without losing comments.

use std::path::{Path, PathBuf};

use registry_core::{PackageRef, Registry};
use serde::Serialize;
use toml_edit::{DocumentMut, Item, TableLike, Value};

use crate::layer::Layer;
use crate::load::PROJECT_FILE;
use crate::schema::{DEFAULT_BACKEND, DEFAULT_BACKEND_OLD};
use crate::{Config, ConfigError, KeyPath, Scope};

/// The file a change goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// The user file (`wreg config set --user`); created if missing.
    User,
    /// The nearest project file (`wreg config set --project`); created in the project
    /// directory if there is none.
    Project,
}

impl Config {
    /// Sets `key` (a dotted key, e.g. `registry."ghcr.io".oci.protocol`) to `value` in the
    /// target file, keeping the file's other lines, comments and key order.
    ///
    /// Nothing is written until [`save`](Self::save). The change is checked first: a value
    /// the format does not allow is refused and leaves the config as it was.
    ///
    /// # Errors
    /// [`ConfigError::InvalidKey`], [`ConfigError::Invalid`], [`ConfigError::UnknownKey`],
    /// [`ConfigError::NotWritable`].
    pub fn set(
        &mut self,
        target: Target,
        key: &str,
        value: impl Into<Value>,
    ) -> Result<(), ConfigError> {
        let key: KeyPath = key.parse()?;
        let value = Item::Value(value.into());
        self.edit(target, |doc| {
            set_in(doc.as_table_mut(), key.segments(), value)
        })
    }

    /// Removes `key` from the target file. Returns whether it was there.
    ///
    /// # Errors
    /// As for [`set`](Self::set).
    pub fn unset(&mut self, target: Target, key: &str) -> Result<bool, ConfigError> {
        let key: KeyPath = key.parse()?;
        let mut removed = false;
        self.edit(target, |doc| {
            removed = unset_in(doc.as_table_mut(), key.segments());
            Ok(())
        })?;
        Ok(removed)
    }

    /// Sets or (with `None`) removes `default_registry` in the target file.
    pub fn set_default_registry(
        &mut self,
        target: Target,
        registry: Option<&Registry>,
    ) -> Result<(), ConfigError> {
        self.set_or_unset(target, KeyPath::new(["default_registry"]), registry)
    }

    /// Maps `namespace` to `registry` (or removes the mapping) in the target file.
    pub fn set_namespace_registry(
        &mut self,
        target: Target,
        namespace: &str,
        registry: Option<&Registry>,
    ) -> Result<(), ConfigError> {
        let key = KeyPath::new(["namespace_registries", namespace]);
        self.set_or_unset(target, key, registry)
    }

    /// Pins `package` to `registry` (or removes the pin) in the target file.
    pub fn set_package_registry_override(
        &mut self,
        target: Target,
        package: &PackageRef,
        registry: Option<&Registry>,
    ) -> Result<(), ConfigError> {
        let key = KeyPath::new(["package_registry_overrides", package.as_str()]);
        self.set_or_unset(target, key, registry)
    }

    /// Sets (or removes) the backend `registry` uses by default. A file that spells the key
    /// `type` keeps that spelling.
    pub fn set_default_backend(
        &mut self,
        target: Target,
        registry: &Registry,
        backend: Option<&str>,
    ) -> Result<(), ConfigError> {
        let section = ["registry".to_owned(), registry.to_string()];
        self.edit(target, |doc| {
            let has_old = doc
                .as_table()
                .get(&section[0])
                .and_then(|r| r.get(&section[1]))
                .and_then(|s| s.get(DEFAULT_BACKEND_OLD))
                .is_some();
            let name = if has_old {
                DEFAULT_BACKEND_OLD
            } else {
                DEFAULT_BACKEND
            };
            let path = [section[0].clone(), section[1].clone(), name.to_owned()];
            match backend {
                Some(backend) => set_in(doc.as_table_mut(), &path, Item::Value(backend.into())),
                None => {
                    unset_in(doc.as_table_mut(), &path);
                    Ok(())
                }
            }
        })
    }

    /// Replaces the whole `[registry."<name>".<backend>]` section in the target file with
    /// `settings`, serialized. (To change one key of a section and keep the rest, use
    /// [`set`](Self::set).)
    pub fn set_backend<T: Serialize>(
        &mut self,
        target: Target,
        registry: &Registry,
        backend: &str,
        settings: &T,
    ) -> Result<(), ConfigError> {
        let key = KeyPath::new(["registry", registry.as_str(), backend]);
        let table = toml_edit::ser::to_document(settings)
            .map_err(|err| ConfigError::InvalidKey {
                key: key.to_string(),
                message: format!("the settings cannot be written as a TOML table: {err}"),
            })?
            .as_table()
            .clone();
        self.edit(target, |doc| {
            set_in(doc.as_table_mut(), key.segments(), Item::Table(table))
        })
    }

    fn set_or_unset(
        &mut self,
        target: Target,
        key: KeyPath,
        registry: Option<&Registry>,
    ) -> Result<(), ConfigError> {
        self.edit(target, |doc| match registry {
            Some(registry) => set_in(
                doc.as_table_mut(),
                key.segments(),
                Item::Value(registry.as_str().into()),
            ),
            None => {
                unset_in(doc.as_table_mut(), key.segments());
                Ok(())
            }
        })
    }

    /// Applies `change` to a copy of the target's document, checks the result, and only
    /// then replaces the layer.
    fn edit(
        &mut self,
        target: Target,
        change: impl FnOnce(&mut DocumentMut) -> Result<(), ConfigError>,
    ) -> Result<(), ConfigError> {
        let index = self.target_layer(target)?;
        let mut layer = self.layers[index].clone();
        let mut doc = layer
            .file
            .as_ref()
            .expect("target layers are files")
            .doc
            .clone();
        let was_empty = doc.as_table().is_empty();
        change(&mut doc)?;
        if was_empty {
            keep_leading_comments(&mut doc);
        }
        layer.replace_doc(doc)?;
        let previous = std::mem::replace(&mut self.layers[index], layer);
        if let Err(err) = self.merge_layers() {
            self.layers[index] = previous;
            return Err(err);
        }
        Ok(())
    }

    /// The index of the layer a change goes to, adding an empty file layer if needed.
    fn target_layer(&mut self, target: Target) -> Result<usize, ConfigError> {
        let scope = match target {
            Target::User => Scope::User,
            Target::Project => Scope::Project,
        };
        // The nearest project file is the last project layer.
        if let Some(index) = self
            .layers
            .iter()
            .rposition(|l| l.scope == scope && l.file.is_some())
        {
            return Ok(index);
        }
        let path = match target {
            Target::User => self
                .user_path
                .clone()
                .ok_or_else(|| ConfigError::NotWritable {
                    message: "there is no user config file to write to: this platform has no \
                          config directory and none was given; pass a file explicitly"
                        .to_owned(),
                })?,
            Target::Project => self
                .project_dir
                .as_ref()
                .map(|dir| dir.join(PROJECT_FILE))
                .ok_or_else(|| ConfigError::NotWritable {
                    message: "there is no project directory to write a project config file \
                              to; load the config with a project directory"
                        .to_owned(),
                })?,
        };
        let layer = Layer::from_file_text(scope, scope.name(), &path, None)?;
        let index = self
            .layers
            .iter()
            .position(|l| l.scope > scope)
            .unwrap_or(self.layers.len());
        self.layers.insert(index, layer);
        Ok(index)
    }

    /// Whether some change has not been saved yet.
    pub fn has_unsaved_changes(&self) -> bool {
        self.layers
            .iter()
            .any(|l| l.file.as_ref().is_some_and(|f| f.dirty))
    }

    /// Writes every changed file, each atomically (a temporary file in the same directory,
    /// then a rename), and returns the files written.
    ///
    /// A file is written only if it is still as it was when loaded (or last saved): if
    /// someone else changed it in between, this returns [`ConfigError::ChangedOnDisk`] and
    /// leaves that file alone. Writers of the same file are serialized with a lock on a
    /// `<file>.lock` next to it.
    ///
    /// # Errors
    /// [`ConfigError::ChangedOnDisk`], [`ConfigError::Io`].
    pub fn save(&mut self) -> Result<Vec<PathBuf>, ConfigError> {
        let mut written = Vec::new();
        for layer in &mut self.layers {
            let Some(file) = layer.file.as_mut().filter(|f| f.dirty) else {
                continue;
            };
            let text = file.doc.to_string();
            write_if_unchanged(&file.path, file.on_disk.as_deref(), &text)?;
            file.on_disk = Some(text);
            file.dirty = false;
            written.push(file.path.clone());
        }
        Ok(written)
    }
}

/// In a file that held only comments, toml_edit keeps them as the document's trailing text,
/// which would put the first key added above them; move them in front of it instead.
fn keep_leading_comments(doc: &mut DocumentMut) {
    let trailing = doc.trailing().as_str().unwrap_or_default().to_owned();
    if trailing.trim().is_empty() {
        return;
    }
    let root = doc.as_table_mut();
    let Some(first) = root.iter().next().map(|(k, _)| k.to_owned()) else {
        return;
    };
    if let Some(Item::Table(table)) = root.get_mut(&first) {
        table.decor_mut().set_prefix(trailing);
    } else if let Some(mut key) = root.key_mut(&first) {
        key.leaf_decor_mut().set_prefix(trailing);
    } else {
        return;
    }
    doc.set_trailing("");
}

fn as_table_like(item: &mut Item) -> Option<&mut dyn TableLike> {
    item.as_table_like_mut()
}

/// How the tables created below a table are written.
#[derive(Clone, Copy)]
enum Style {
    /// `[a.b]` headers (the new ones implicit, so only the deepest gets a header).
    Standard,
    /// `a.b.c = ...` dotted keys.
    Dotted,
    /// `{ ... }` inline tables.
    Inline,
}

/// Sets `path` below `table` to `value`, creating tables on the way. An existing value
/// keeps its surrounding whitespace and trailing comment.
fn set_in(table: &mut dyn TableLike, path: &[String], value: Item) -> Result<(), ConfigError> {
    set_styled(table, Style::Standard, path, value)
}

fn set_styled(
    table: &mut dyn TableLike,
    style: Style,
    path: &[String],
    mut value: Item,
) -> Result<(), ConfigError> {
    let (first, rest) = path.split_first().expect("key paths are not empty");
    if rest.is_empty() {
        if let (Some(Item::Value(old)), Item::Value(new)) = (table.get(first), &mut value) {
            *new.decor_mut() = old.decor().clone();
        }
        if let (Style::Inline, Item::Table(t)) = (style, &value) {
            value = Item::Value(Value::InlineTable(t.clone().into_inline_table()));
        }
        // Replacing the item in place keeps the key, with the comments above it.
        match table.get_mut(first) {
            Some(existing) => *existing = value,
            None => {
                table.insert(first, value);
            }
        }
        return Ok(());
    }
    if table.get(first).is_none() {
        let child = match style {
            Style::Inline => Item::Value(Value::InlineTable(toml_edit::InlineTable::new())),
            Style::Dotted | Style::Standard => {
                let mut child = toml_edit::Table::new();
                child.set_implicit(true);
                child.set_dotted(matches!(style, Style::Dotted));
                Item::Table(child)
            }
        };
        table.insert(first, child);
    }
    let child = table.get_mut(first).expect("inserted above");
    let child_style = match child {
        Item::Table(t) if t.is_dotted() => Style::Dotted,
        Item::Table(_) => Style::Standard,
        _ => Style::Inline,
    };
    match as_table_like(child) {
        Some(child) => set_styled(child, child_style, rest, value),
        None => Err(ConfigError::InvalidKey {
            key: KeyPath::new(path.iter().cloned()).to_string(),
            message: format!("`{first}` is a value, not a table; unset it first"),
        }),
    }
}

/// Removes `path` below `table`; returns whether it was there.
fn unset_in(table: &mut dyn TableLike, path: &[String]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    if rest.is_empty() {
        return table.remove(first).is_some();
    }
    table
        .get_mut(first)
        .and_then(as_table_like)
        .is_some_and(|child| unset_in(child, rest))
}

/// Writes `text` to `path` atomically, unless the file no longer holds `expected`; through
/// `path`'s links to the file they end at ([`crate::fs::write_target`]), keeping them.
fn write_if_unchanged(path: &Path, expected: Option<&str>, text: &str) -> Result<(), ConfigError> {
    let target = crate::fs::write_target(path)
        .map_err(|err| ConfigError::io("follow the links of", path, err))?;
    let path = target.as_path();
    let dir = crate::fs::parent_dir(path);
    std::fs::create_dir_all(dir)
        .map_err(|err| ConfigError::io("create the directory", dir, err))?;

    let lock_path = lock_path(path);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|err| ConfigError::io("open the lock file", &lock_path, err))?;
    lock.lock()
        .map_err(|err| ConfigError::io("lock", &lock_path, err))?;

    let current = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(ConfigError::io("read", path, err)),
    };
    if current.as_deref() != expected {
        return Err(ConfigError::ChangedOnDisk {
            path: path.to_owned(),
        });
    }

    crate::fs::write_private(path, text.as_bytes(), crate::fs::Durability::Synced)
        .map_err(|err| ConfigError::io("write", path, err))?;
    drop(lock);
    Ok(())
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".lock");
    path.with_file_name(name)
}
