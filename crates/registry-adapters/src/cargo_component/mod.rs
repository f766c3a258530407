//! What `cargo-component` needs: its `[package.metadata.component]` table read as
//! dependencies and as a config layer, and those dependencies resolved with a lock file.
//!
//! ```toml
//! [package.metadata.component]
//! package = "example:app"
//! target = "wasi:cli/command@0.2.0"        # or { package, version, registry, path, world }
//!
//! [package.metadata.component.dependencies]
//! "example:math" = "1.2"                    # a version requirement
//! greeter = { package = "example:greeter", version = "0.3", registry = "internal" }
//! local = { path = "wit/local" }            # a file or WIT directory, no registry
//!
//! [package.metadata.component.registries]
//! default = "ghcr.io"                       # becomes `default_registry`
//! internal = "registry.internal:5000"       # named by dependencies above
//! ```
//!
//! `[workspace.metadata.component]` in the same file supplies what the package table
//! leaves out. Unlike cargo-component today, the `registries` table and each dependency's
//! `registry` take effect: [`ComponentManifest::tool_layer`] turns them into settings
//! (shown with `wreg config show --origin` as coming from the manifest) and
//! [`ComponentManifest::dependencies`] pins each dependency to its registry.
//!
//! ```no_run
//! # async fn example() -> Result<(), registry_client::core::Error> {
//! use registry_adapters::cargo_component::{self, ComponentManifest};
//! use registry_client::{Client, LockMode, config::ConfigLoader};
//!
//! let manifest = ComponentManifest::from_path("Cargo.toml".as_ref())?;
//! let config = ConfigLoader::new()
//!     .tool_layer(manifest.tool_layer()?)
//!     .load()?;
//! let client = Client::new(config);
//! let resolved = cargo_component::resolve(&client, &manifest, LockMode::Update).await?;
//! for dep in resolved.target.iter().chain(&resolved.dependencies) {
//!     let bytes = dep.read(&client).await?; // the bytes verified when resolved
//!     println!("{}: {} bytes from {}", dep.name, bytes.len(), dep.path().display());
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use registry_config::{Scope, SourceText, ToolLayer};
use registry_core::{ContentDigest, Error, PackageRef, PackageReq, Registry, Version, VersionReq};
use toml_edit::{DocumentMut, Item, TableLike};

pub use registry_client::dependency_table::DependencySource;
use registry_client::dependency_table::{RegistryField, TomlReader, to_dependency};

use registry_client::{Client, Dependency, LockFile, LockMode, Resolution};

/// The component settings of a Cargo manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComponentManifest {
    /// The manifest file.
    pub path: PathBuf,
    /// The component's own package name, if given.
    pub package: Option<PackageRef>,
    /// The world the component targets.
    pub target: Option<ComponentTarget>,
    /// Dependencies, in the order written.
    pub dependencies: Vec<ComponentDependency>,
    /// Registry names (`default` among them) and the registries they stand for.
    pub registries: BTreeMap<String, Registry>,
}

/// The `target` setting.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ComponentTarget {
    /// A WIT package from a registry.
    Package {
        /// The package.
        package: PackageRef,
        /// The world in it, if named.
        world: Option<String>,
        /// The versions acceptable (any, when not given).
        requirement: VersionReq,
        /// A registry name from `registries`.
        registry: Option<String>,
    },
    /// A local WIT file or directory.
    Path {
        /// Relative to the manifest's directory.
        path: PathBuf,
        /// The world in it, if named.
        world: Option<String>,
    },
}

/// One entry of `dependencies`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComponentDependency {
    /// The key it is written under (the name the component uses for it).
    pub name: String,
    /// Where it comes from.
    pub source: DependencySource,
}

/// A resolved dependency (or the resolved target).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolvedDependency {
    /// The key it is written under (`target` for the target).
    pub name: String,
    /// The resolution behind it (registry, requirement, release, file).
    pub resolution: Resolution,
}

impl ResolvedDependency {
    /// The package, for a registry dependency.
    pub fn package(&self) -> Option<&PackageRef> {
        match &self.resolution {
            Resolution::Registry { package, .. } => Some(package),
            _ => None,
        }
    }

    /// The version chosen, for a registry dependency.
    pub fn version(&self) -> Option<&Version> {
        self.resolution.version()
    }

    /// The content digest, for a registry dependency.
    pub fn digest(&self) -> Option<&ContentDigest> {
        self.resolution.digest()
    }

    /// The verified file in the cache, or the local path.
    pub fn path(&self) -> &Path {
        self.resolution.path()
    }

    /// The dependency's bytes: a registry release from the cache entry verified when it
    /// was resolved (fetched and verified again if a cache clean removed it meanwhile), a
    /// local file as it is.
    ///
    /// # Errors
    /// [`Error::Io`] when a local path cannot be read (a WIT directory is not a file: read
    /// it with `wit-parser`), and the client's errors (a [`Error::DigestMismatch`] among
    /// them) when fetching again.
    pub async fn read(&self, client: &Client) -> Result<Vec<u8>, Error> {
        client.read(&self.resolution).await
    }
}

/// What [`resolve`] found: the target (when the manifest names one) and every dependency.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolvedComponent {
    /// The world's package: from a registry, or the local WIT path.
    pub target: Option<ResolvedDependency>,
    /// The dependencies, in the order written.
    pub dependencies: Vec<ResolvedDependency>,
}

impl ComponentManifest {
    /// Reads `[package.metadata.component]` (and `[workspace.metadata.component]`) from the
    /// manifest at `path`. A manifest without them has no dependencies.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Config`] naming the file,
    /// line, column and key of a value that is wrong.
    pub fn from_path(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        match workspace_root(path, &text)? {
            Some(root) => {
                let root_text = std::fs::read_to_string(&root).map_err(|e| Error::io(&root, e))?;
                Self::parse_with_workspace(&text, path, Some((&root_text, &root)))
            }
            None => Self::parse(&text, path),
        }
    }

    /// As [`from_path`](Self::from_path), from the manifest's text, without looking for a
    /// workspace root elsewhere (the file's own `[workspace.metadata.component]` is read).
    ///
    /// # Errors
    /// [`Error::Config`] naming the file, line, column and key of a value that is wrong.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        Self::parse_with_workspace(text, path, None)
    }

    /// As [`parse`](Self::parse), with the workspace root manifest (`text`, `path`) whose
    /// `[workspace.metadata.component]` supplies what the member leaves out; its relative
    /// paths are taken from the root's directory.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file (member or root), line, column and key of a value
    /// that is wrong.
    pub fn parse_with_workspace(
        text: &str,
        path: &Path,
        root: Option<(&str, &Path)>,
    ) -> Result<Self, Error> {
        let source = SourceText::new(Scope::Tool, path, text);
        let reader = TomlReader::new(&source);
        let doc = reader.document()?;
        let root_source = root.map(|(text, path)| SourceText::new(Scope::Tool, path, text));
        let root_reader = root_source.as_ref().map(TomlReader::new);
        let root_doc = root_reader.as_ref().map(TomlReader::document).transpose()?;
        let root_dir = root.map(|(_, p)| registry_config::fs::parent_dir(p).to_owned());
        // In precedence order: the package's table, its own file's workspace table, the
        // workspace root's. Each with its reader (for errors) and the directory its relative
        // paths start from (`None`: the member's).
        type Table<'a> = (
            &'a TomlReader<'a>,
            &'static str,
            &'a dyn TableLike,
            Option<&'a Path>,
        );
        let mut tables: Vec<Table<'_>> = Vec::new();
        if let Some(t) = find_table(&doc, ["package", "metadata", "component"]) {
            tables.push((&reader, "package.metadata.component", t, None));
        }
        if let Some(t) = find_table(&doc, ["workspace", "metadata", "component"]) {
            tables.push((&reader, "workspace.metadata.component", t, None));
        }
        if let (Some(reader), Some(doc)) = (&root_reader, &root_doc)
            && let Some(t) = find_table(doc, ["workspace", "metadata", "component"])
        {
            tables.push((
                reader,
                "workspace.metadata.component",
                t,
                root_dir.as_deref(),
            ));
        }

        let mut manifest = Self {
            path: path.to_owned(),
            package: None,
            target: None,
            dependencies: Vec::new(),
            registries: BTreeMap::new(),
        };
        // The package table first: what it sets wins over the workspace's.
        for &(reader, table_name, table, base) in &tables {
            let rebase = |path: PathBuf| match base {
                Some(base) => base.join(path),
                None => path,
            };
            if manifest.package.is_none()
                && let Some(item) = table.get("package")
            {
                let key = format!("{table_name}.package");
                manifest.package = Some(reader.parse_str(item, &key)?);
            }
            if manifest.target.is_none()
                && let Some(item) = table.get("target")
            {
                let mut read = target(reader, item, &format!("{table_name}.target"))?;
                if let ComponentTarget::Path { path, .. } = &mut read {
                    *path = rebase(std::mem::take(path));
                }
                manifest.target = Some(read);
            }
            if let Some(registries) = table.get("registries") {
                let key = format!("{table_name}.registries");
                for (name, value) in reader.table(registries, &key)?.iter() {
                    let key = format!("{key}.{name}");
                    let registry = reader.registry(value, &key)?;
                    manifest
                        .registries
                        .entry(name.to_owned())
                        .or_insert(registry);
                }
            }
            if let Some(deps) = table.get("dependencies") {
                let key = format!("{table_name}.dependencies");
                for (name, value) in reader.table(deps, &key)?.iter() {
                    if manifest.dependencies.iter().any(|d| d.name == name) {
                        continue;
                    }
                    let key = format!("{key}.\"{name}\"");
                    let source = match reader.dependency(name, value, &key, RegistryField::Name)? {
                        DependencySource::Path(path) => DependencySource::Path(rebase(path)),
                        other => other,
                    };
                    manifest.dependencies.push(ComponentDependency {
                        name: name.to_owned(),
                        source,
                    });
                }
            }
        }
        // Every registry name used must be defined.
        let used = manifest
            .dependencies
            .iter()
            .filter_map(|d| match &d.source {
                DependencySource::Registry { registry, .. } => registry.as_deref(),
                _ => None,
            })
            .chain(manifest.target.iter().filter_map(|t| match t {
                ComponentTarget::Package { registry, .. } => registry.as_deref(),
                ComponentTarget::Path { .. } => None,
            }));
        for name in used {
            if !manifest.registries.contains_key(name) {
                let what = format!(
                    "registry `{name}` is used but not defined; add `{name} = \"<registry>\"` \
                     under [package.metadata.component.registries]"
                );
                // Located at the `registry = "<name>"` that uses it.
                let at_use = tables.iter().find_map(|&(reader, table_name, table, _)| {
                    let uses =
                        |item: &Item| item.get("registry").and_then(Item::as_str) == Some(name);
                    if let Some(target) = table.get("target").filter(|t| uses(t)) {
                        let key = format!("{table_name}.target.registry");
                        return Some(reader.error(&target["registry"], &key, &what));
                    }
                    let deps = table.get("dependencies")?.as_table_like()?;
                    deps.iter().find(|(_, dep)| uses(dep)).map(|(dep, item)| {
                        let key = format!("{table_name}.dependencies.\"{dep}\".registry");
                        reader.error(&item["registry"], &key, &what)
                    })
                });
                return Err(at_use.unwrap_or_else(|| {
                    reader.error(
                        doc.as_item(),
                        "package.metadata.component.registries",
                        &what,
                    )
                }));
            }
        }
        Ok(manifest)
    }

    /// The manifest's directory, which relative paths start from.
    pub fn dir(&self) -> &Path {
        registry_config::fs::parent_dir(&self.path)
    }

    /// The lock file next to the manifest (`wkg.lock`).
    pub fn lock_path(&self) -> PathBuf {
        self.dir().join(registry_client::LOCK_FILE_NAME)
    }

    /// The settings the manifest implies, as a config layer above the user's files: the
    /// `default` registry as `default_registry`, and the registry named by each registry
    /// dependency (and by the target) as a package override.
    ///
    /// # Errors
    /// None in practice (the TOML is generated); kept for the layer's own validation.
    pub fn tool_layer(&self) -> Result<ToolLayer, Error> {
        let mut doc = DocumentMut::new();
        if let Some(default) = self.registries.get("default") {
            doc["default_registry"] = toml_edit::value(default.to_string());
        }
        let mut overrides = toml_edit::Table::new();
        let pinned = self
            .dependencies
            .iter()
            .filter_map(|dep| match &dep.source {
                DependencySource::Registry {
                    package,
                    registry: Some(name),
                    ..
                } => Some((package, name)),
                _ => None,
            })
            .chain(self.target.iter().filter_map(|target| match target {
                ComponentTarget::Package {
                    package,
                    registry: Some(name),
                    ..
                } => Some((package, name)),
                _ => None,
            }));
        for (package, name) in pinned {
            overrides[&package.to_string()] = toml_edit::value(self.registries[name].to_string());
        }
        if !overrides.is_empty() {
            doc["package_registry_overrides"] = Item::Table(overrides);
        }
        let name = format!("{} [package.metadata.component]", self.path.display());
        ToolLayer::from_toml_str(&name, &doc.to_string()).map_err(Error::from)
    }

    /// The target as the resolver takes it: a registry package (its registry pinned when
    /// named), or the local WIT path made absolute.
    pub fn target_dependency(&self) -> Option<Dependency> {
        let dependency = match self.target.as_ref()? {
            ComponentTarget::Package {
                package,
                requirement,
                registry,
                ..
            } => {
                let dependency = Dependency::new(package.clone(), requirement.clone());
                match registry {
                    Some(name) => dependency.with_registry(self.registries[name].clone()),
                    None => dependency,
                }
            }
            ComponentTarget::Path { path, .. } => {
                let package = self
                    .package
                    .clone()
                    .unwrap_or_else(|| "local:target".parse().expect("a valid name"));
                Dependency::new(package, VersionReq::STAR).with_path(self.dir().join(path))
            }
        };
        Some(dependency)
    }

    /// The dependencies as the resolver takes them: registries pinned, paths made absolute.
    pub fn dependencies(&self) -> Vec<(String, Dependency)> {
        self.dependencies
            .iter()
            .map(|dep| {
                let resolved = to_dependency(&dep.name, &dep.source, self.dir(), |name| {
                    self.registries[name].clone()
                });
                (dep.name.clone(), resolved)
            })
            .collect()
    }
}

/// Resolves `manifest`'s target and dependencies with the lock file next to it
/// ([`ComponentManifest::lock_path`]): pins that still satisfy a requirement are used, new
/// ones recorded; with [`LockMode::Locked`] a resolution that would change the lock file is
/// an error and the file is left as it was. Offline behaviour is the client's.
///
/// # Errors
/// The first dependency that fails, naming it.
pub async fn resolve(
    client: &Client,
    manifest: &ComponentManifest,
    mode: LockMode,
) -> Result<ResolvedComponent, Error> {
    let lock_path = manifest.lock_path();
    let mut lock = LockFile::load(&lock_path)?.unwrap_or_default();
    let before = lock.to_toml();
    let mut named = manifest.dependencies();
    let target = manifest.target_dependency();
    let has_target = target.is_some();
    named.splice(0..0, target.map(|t| ("target".to_owned(), t)));
    let deps: Vec<Dependency> = named.iter().map(|(_, d)| d.clone()).collect();
    let resolutions = client.resolve_all(&deps, Some(&mut lock), mode).await?;
    if lock.to_toml() != before {
        lock.save(&lock_path)?;
    }
    let mut resolved = named
        .into_iter()
        .zip(resolutions)
        .map(|((name, _), resolution)| ResolvedDependency { name, resolution });
    let target = if has_target { resolved.next() } else { None };
    Ok(ResolvedComponent {
        target,
        dependencies: resolved.collect(),
    })
}

/// The table at `keys` in `doc`, if there is one.
fn find_table<'d>(
    doc: &'d toml_edit::Document<String>,
    keys: [&str; 3],
) -> Option<&'d dyn TableLike> {
    let mut item: &Item = doc.as_item();
    for key in keys {
        item = item.get(key)?;
    }
    item.as_table_like()
}

/// The workspace root manifest of the member at `path` (with text `text`), found the way
/// cargo finds it: `package.workspace`, else the nearest parent `Cargo.toml` with a
/// `[workspace]` whose `members` list the member (globs allowed) and whose `exclude` does
/// not. `None` when the member is its own root or belongs to no workspace.
///
/// # Errors
/// [`Error::Io`] for a root that cannot be read.
pub fn workspace_root(path: &Path, text: &str) -> Result<Option<PathBuf>, Error> {
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        // The member's own errors are reported, located, when it is read.
        return Ok(None);
    };
    if doc.contains_key("workspace") {
        return Ok(None);
    }
    let dir = registry_config::fs::parent_dir(path)
        .canonicalize()
        .map_err(|e| Error::io(path, e))?;
    if let Some(root) = doc
        .get("package")
        .and_then(|p| p.get("workspace"))
        .and_then(Item::as_str)
    {
        return Ok(Some(dir.join(root).join("Cargo.toml")));
    }
    for parent in dir.ancestors().skip(1) {
        let candidate = parent.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&candidate) else {
            continue;
        };
        let Ok(root) = text.parse::<toml_edit::DocumentMut>() else {
            continue;
        };
        let Some(workspace) = root.get("workspace") else {
            continue;
        };
        let relative = dir.strip_prefix(parent).unwrap_or(&dir);
        let listed = |key: &str| {
            workspace
                .get(key)
                .and_then(Item::as_array)
                .is_some_and(|list| {
                    list.iter()
                        .filter_map(|v| v.as_str())
                        .any(|pattern| glob_matches(pattern, relative))
                })
        };
        // The nearest workspace decides, as in cargo.
        return Ok((listed("members") && !listed("exclude")).then_some(candidate));
    }
    Ok(None)
}

/// Whether `path` (relative) matches a `members` pattern, part by part (`*`, `?` and
/// `[...]` within one part, as cargo's glob).
fn glob_matches(pattern: &str, path: &Path) -> bool {
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let pattern: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    pattern.len() == parts.len()
        && pattern
            .iter()
            .zip(&parts)
            .all(|(p, part)| registry_client::wkg_workspace::glob_matches(p, part))
}

/// The `target` setting: `"ns:pkg[/world][@version]"` or a table.
fn target(reader: &TomlReader<'_>, item: &Item, key: &str) -> Result<ComponentTarget, Error> {
    if let Some(text) = item.as_str() {
        return target_str(reader, item, key, text, None);
    }
    let table = reader.table(item, key)?;
    let world = table
        .get("world")
        .map(|w| reader.string(w, &format!("{key}.world")).map(str::to_owned))
        .transpose()?;
    if let Some(path) = table.get("path") {
        return Ok(ComponentTarget::Path {
            path: PathBuf::from(reader.string(path, &format!("{key}.path"))?),
            world,
        });
    }
    let Some(package) = table.get("package") else {
        return Err(reader.error(item, key, "needs `package` or `path`"));
    };
    let mut target = target_str(
        reader,
        package,
        &format!("{key}.package"),
        reader.string(package, key)?,
        world,
    )?;
    if let ComponentTarget::Package {
        requirement,
        registry,
        ..
    } = &mut target
    {
        if let Some(version) = table.get("version") {
            *requirement = reader.requirement(version, &format!("{key}.version"))?;
        }
        if let Some(name) = table.get("registry") {
            *registry = Some(reader.string(name, &format!("{key}.registry"))?.to_owned());
        }
    }
    Ok(target)
}

/// `ns:pkg[/world][@version]`: the world cut out, the rest read as a [`PackageReq`] (so
/// `@0.2.0` means `^0.2.0`, as in cargo-component).
fn target_str(
    reader: &TomlReader<'_>,
    item: &Item,
    key: &str,
    text: &str,
    world: Option<String>,
) -> Result<ComponentTarget, Error> {
    let (name, version) = match text.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (text, None),
    };
    let (package, world_in_name) = match name.split_once('/') {
        Some((package, world)) => (package, Some(world.to_owned())),
        None => (name, None),
    };
    let spec = match version {
        Some(version) => format!("{package}@{version}"),
        None => package.to_owned(),
    };
    let req: PackageReq = spec.parse().map_err(|err| {
        reader.error(
            item,
            key,
            &format!("is not `ns:package[/world][@version]` ({err})"),
        )
    })?;
    Ok(ComponentTarget::Package {
        package: req.package,
        world: world_in_name.or(world),
        requirement: req.requirement,
        registry: None,
    })
}

#[cfg(test)]
mod tests;
