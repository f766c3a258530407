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
//! use registry_client::cargo_component::{self, ComponentManifest};
//! use registry_client::{Client, LockMode, config::ConfigLoader};
//!
//! let manifest = ComponentManifest::from_path("Cargo.toml".as_ref())?;
//! let config = ConfigLoader::new()
//!     .tool_layer(manifest.tool_layer()?)
//!     .load()
//!     .map_err(|e| registry_client::core::Error::InvalidInput { message: e.to_string() })?;
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

use registry_config::ToolLayer;
use registry_core::{ContentDigest, Error, PackageRef, Registry, Version, VersionReq};
use toml_edit::{DocumentMut, Item, TableLike};

use crate::{Client, Dependency, LockFile, LockMode, Resolution};

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

/// Where a dependency comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DependencySource {
    /// A registry package.
    Registry {
        /// The package (the key, unless `package` is given).
        package: PackageRef,
        /// The versions acceptable.
        requirement: VersionReq,
        /// A registry name from `registries`.
        registry: Option<String>,
    },
    /// A local file or WIT directory, relative to the manifest's directory.
    Path(PathBuf),
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
    /// [`Error::Io`] when the file cannot be read; [`Error::InvalidInput`] naming the file,
    /// line and key of a value that is wrong.
    pub fn from_path(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path)
    }

    /// As [`from_path`](Self::from_path), from the manifest's text.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the file, line and key of a value that is wrong.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        // Parsed without `DocumentMut`, so values keep their spans for error lines.
        let doc =
            toml_edit::Document::parse(text.to_owned()).map_err(|err| Error::InvalidInput {
                message: format!(
                    "{}: not valid TOML: {}",
                    path.display(),
                    err.message().trim_end()
                ),
            })?;
        let reader = Reader { text, path };
        let tables: Vec<(&str, &dyn TableLike)> = [
            (
                "package.metadata.component",
                ["package", "metadata", "component"],
            ),
            (
                "workspace.metadata.component",
                ["workspace", "metadata", "component"],
            ),
        ]
        .into_iter()
        .filter_map(|(name, keys)| {
            let mut item: &Item = doc.as_item();
            for key in keys {
                item = item.get(key)?;
            }
            item.as_table_like().map(|t| (name, t))
        })
        .collect();

        let mut manifest = Self {
            path: path.to_owned(),
            package: None,
            target: None,
            dependencies: Vec::new(),
            registries: BTreeMap::new(),
        };
        // The package table first: what it sets wins over the workspace's.
        for (table_name, table) in &tables {
            if manifest.package.is_none()
                && let Some(item) = table.get("package")
            {
                let key = format!("{table_name}.package");
                manifest.package = Some(reader.parse_str(item, &key)?);
            }
            if manifest.target.is_none()
                && let Some(item) = table.get("target")
            {
                manifest.target = Some(reader.target(item, &format!("{table_name}.target"))?);
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
                    let source = reader.dependency(name, value, &key)?;
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
                DependencySource::Path(_) => None,
            })
            .chain(manifest.target.iter().filter_map(|t| match t {
                ComponentTarget::Package { registry, .. } => registry.as_deref(),
                ComponentTarget::Path { .. } => None,
            }));
        for name in used {
            if !manifest.registries.contains_key(name) {
                return Err(Error::InvalidInput {
                    message: format!(
                        "{}: registry `{name}` is used but not defined; add `{name} = \
                         \"<registry>\"` under [package.metadata.component.registries]",
                        path.display()
                    ),
                });
            }
        }
        Ok(manifest)
    }

    /// The manifest's directory, which relative paths start from.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The lock file next to the manifest (`wkg.lock`).
    pub fn lock_path(&self) -> PathBuf {
        self.dir().join(crate::LOCK_FILE_NAME)
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
        ToolLayer::from_toml_str(&name, &doc.to_string()).map_err(|err| Error::InvalidInput {
            message: err.to_string(),
        })
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
                let resolved = match &dep.source {
                    DependencySource::Registry {
                        package,
                        requirement,
                        registry,
                    } => {
                        let mut d = Dependency::new(package.clone(), requirement.clone());
                        if let Some(name) = registry {
                            d = d.with_registry(self.registries[name].clone());
                        }
                        d
                    }
                    DependencySource::Path(path) => {
                        // The package name of a path dependency is the key when it is one.
                        let package = dep.name.parse().unwrap_or_else(|_| {
                            format!("local:{}", sanitize(&dep.name))
                                .parse()
                                .expect("a valid name")
                        });
                        Dependency::new(package, VersionReq::STAR).with_path(self.dir().join(path))
                    }
                };
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

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .to_owned()
}

/// Reads values, with errors that name the file, line and key.
struct Reader<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Reader<'_> {
    fn error(&self, item: &Item, key: &str, what: &str) -> Error {
        let line = item
            .span()
            .map(|span| self.text[..span.start].matches('\n').count() + 1);
        let location = match line {
            Some(line) => format!("{}:{line}", self.path.display()),
            None => self.path.display().to_string(),
        };
        Error::InvalidInput {
            message: format!("{location}: `{key}` {what}"),
        }
    }

    fn table<'i>(&self, item: &'i Item, key: &str) -> Result<&'i dyn TableLike, Error> {
        item.as_table_like()
            .ok_or_else(|| self.error(item, key, "must be a table"))
    }

    fn string<'i>(&self, item: &'i Item, key: &str) -> Result<&'i str, Error> {
        item.as_str()
            .ok_or_else(|| self.error(item, key, "must be a string"))
    }

    fn parse_str<T: std::str::FromStr>(&self, item: &Item, key: &str) -> Result<T, Error>
    where
        T::Err: std::fmt::Display,
    {
        let text = self.string(item, key)?;
        text.parse()
            .map_err(|err| self.error(item, key, &format!("is not valid: {err}")))
    }

    fn requirement(&self, item: &Item, key: &str) -> Result<VersionReq, Error> {
        let text = self.string(item, key)?;
        VersionReq::parse(text).map_err(|err| {
            self.error(
                item,
                key,
                &format!("is not a version requirement ({err}); write e.g. \"1.2\" or \"=1.2.3\""),
            )
        })
    }

    fn registry(&self, item: &Item, key: &str) -> Result<Registry, Error> {
        let text = self.string(item, key)?;
        // cargo-component writes URLs; a registry is its host and port.
        let host = text
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        host.parse().map_err(|err| {
            self.error(
                item,
                key,
                &format!("is not a registry host ({err}); write e.g. \"ghcr.io\""),
            )
        })
    }

    fn target(&self, item: &Item, key: &str) -> Result<ComponentTarget, Error> {
        if let Some(text) = item.as_str() {
            return self.target_str(item, key, text, None);
        }
        let table = self.table(item, key)?;
        let world = table
            .get("world")
            .map(|w| self.string(w, &format!("{key}.world")).map(str::to_owned))
            .transpose()?;
        if let Some(path) = table.get("path") {
            return Ok(ComponentTarget::Path {
                path: PathBuf::from(self.string(path, &format!("{key}.path"))?),
                world,
            });
        }
        let Some(package) = table.get("package") else {
            return Err(self.error(item, key, "needs `package` or `path`"));
        };
        let mut target = self.target_str(
            package,
            &format!("{key}.package"),
            self.string(package, key)?,
            world,
        )?;
        if let ComponentTarget::Package {
            requirement,
            registry,
            ..
        } = &mut target
        {
            if let Some(version) = table.get("version") {
                *requirement = self.requirement(version, &format!("{key}.version"))?;
            }
            if let Some(name) = table.get("registry") {
                *registry = Some(self.string(name, &format!("{key}.registry"))?.to_owned());
            }
        }
        Ok(target)
    }

    /// `ns:pkg[/world][@version]`.
    fn target_str(
        &self,
        item: &Item,
        key: &str,
        text: &str,
        world: Option<String>,
    ) -> Result<ComponentTarget, Error> {
        let (rest, version) = match text.split_once('@') {
            Some((rest, version)) => (rest, Some(version)),
            None => (text, None),
        };
        let (package, world_in_name) = match rest.split_once('/') {
            Some((package, world)) => (package, Some(world.to_owned())),
            None => (rest, None),
        };
        let package: PackageRef = package.parse().map_err(|err| {
            self.error(
                item,
                key,
                &format!("is not `ns:package[/world][@version]` ({err})"),
            )
        })?;
        let requirement = match version {
            // As in cargo-component (and Cargo): `@0.2.0` means `^0.2.0`.
            Some(v) => VersionReq::parse(v).map_err(|err| {
                self.error(
                    item,
                    key,
                    &format!("has a version that is not a version requirement ({err})"),
                )
            })?,
            None => VersionReq::STAR,
        };
        Ok(ComponentTarget::Package {
            package,
            world: world_in_name.or(world),
            requirement,
            registry: None,
        })
    }

    fn dependency(&self, name: &str, item: &Item, key: &str) -> Result<DependencySource, Error> {
        if item.is_str() {
            return Ok(DependencySource::Registry {
                package: self.package_key(name, item, key)?,
                requirement: self.requirement(item, key)?,
                registry: None,
            });
        }
        let table = self.table(item, key)?;
        for (field, value) in table.iter() {
            if !["package", "version", "registry", "path"].contains(&field) {
                return Err(self.error(
                    value,
                    &format!("{key}.{field}"),
                    "is not a dependency field; use `package`, `version`, `registry` or `path`",
                ));
            }
        }
        if let Some(path) = table.get("path") {
            if table.contains_key("version") || table.contains_key("registry") {
                return Err(self.error(
                    item,
                    key,
                    "sets `path` together with `version` or `registry`; a path dependency uses \
                     no registry",
                ));
            }
            return Ok(DependencySource::Path(PathBuf::from(
                self.string(path, &format!("{key}.path"))?,
            )));
        }
        let package = match table.get("package") {
            Some(p) => self.parse_str(p, &format!("{key}.package"))?,
            None => self.package_key(name, item, key)?,
        };
        let Some(version) = table.get("version") else {
            return Err(self.error(item, key, "needs `version` (or `path`)"));
        };
        Ok(DependencySource::Registry {
            package,
            requirement: self.requirement(version, &format!("{key}.version"))?,
            registry: table
                .get("registry")
                .map(|r| {
                    self.string(r, &format!("{key}.registry"))
                        .map(str::to_owned)
                })
                .transpose()?,
        })
    }

    fn package_key(&self, name: &str, item: &Item, key: &str) -> Result<PackageRef, Error> {
        name.parse().map_err(|err| {
            self.error(
                item,
                key,
                &format!(
                    "names no package: its key is not `ns:name` ({err}); add `package = \
                     \"ns:name\"`"
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ComponentManifest, String> {
        ComponentManifest::parse(text, Path::new("/work/app/Cargo.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn every_dependency_form_and_target_form_reads() {
        let manifest = parse(
            r#"[package]
name = "app"

[package.metadata.component]
package = "example:app"
target = { package = "wasi:cli", version = "0.2", world = "command", registry = "default" }

[package.metadata.component.dependencies]
"example:math" = "1.2"
greeter = { package = "example:greeter", version = "0.3", registry = "internal" }
local = { path = "wit/local" }

[package.metadata.component.registries]
default = "https://ghcr.io/"
internal = "registry.internal:5000"

[workspace.metadata.component.dependencies]
"example:math" = "9"
"example:extra" = "2"
"#,
        )
        .unwrap();
        assert_eq!(manifest.package, Some("example:app".parse().unwrap()));
        assert_eq!(
            manifest.target,
            Some(ComponentTarget::Package {
                package: "wasi:cli".parse().unwrap(),
                world: Some("command".into()),
                requirement: "0.2".parse().unwrap(),
                registry: Some("default".into()),
            })
        );
        let names: Vec<_> = manifest
            .dependencies
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(names, ["example:math", "greeter", "local", "example:extra"]);
        assert_eq!(
            manifest.dependencies[0].source,
            DependencySource::Registry {
                package: "example:math".parse().unwrap(),
                requirement: "1.2".parse().unwrap(),
                registry: None
            },
            "the package table wins over the workspace's"
        );
        let deps = manifest.dependencies();
        assert_eq!(
            deps[1]
                .1
                .registry
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("registry.internal:5000")
        );
        assert_eq!(
            deps[2].1.path.as_deref(),
            Some(Path::new("/work/app/wit/local"))
        );
        assert_eq!(manifest.registries["default"].to_string(), "ghcr.io");

        let string_target =
            parse("[package.metadata.component]\ntarget = \"wasi:http/proxy@0.2.0\"\n").unwrap();
        assert_eq!(
            string_target.target,
            Some(ComponentTarget::Package {
                package: "wasi:http".parse().unwrap(),
                world: Some("proxy".into()),
                requirement: "^0.2.0".parse().unwrap(),
                registry: None,
            })
        );
    }

    #[test]
    fn the_tool_layer_carries_registries_into_the_config() {
        let manifest = parse(
            "[package.metadata.component.dependencies]\n\
             g = { package = \"example:greeter\", version = \"1\", registry = \"internal\" }\n\
             [package.metadata.component.registries]\ndefault = \"ghcr.io\"\n\
             internal = \"localhost:5000\"\n",
        )
        .unwrap();
        let config = registry_config::ConfigLoader::new()
            .without_user_file()
            .without_project_files()
            .without_env()
            .tool_layer(manifest.tool_layer().unwrap())
            .load()
            .unwrap();
        let greeter = config
            .resolve_registry(&"example:greeter".parse().unwrap())
            .unwrap();
        assert_eq!(greeter.value.registry().to_string(), "localhost:5000");
        let other = config
            .resolve_registry(&"other:thing".parse().unwrap())
            .unwrap();
        assert_eq!(other.value.registry().to_string(), "ghcr.io");
        assert!(
            other.origin.to_string().contains("Cargo.toml"),
            "{}",
            other.origin
        );
    }

    #[test]
    fn mistakes_name_the_file_line_and_key() {
        let err = parse(
            "[package.metadata.component.dependencies]\n\"a:b\" = \"1\"\n\"c:d\" = \"not a version\"\n",
        )
        .unwrap_err();
        assert!(err.starts_with("/work/app/Cargo.toml:3:"), "{err}");
        assert!(
            err.contains("\"c:d\"") && err.contains("version requirement"),
            "{err}"
        );

        let err = parse("[package.metadata.component.dependencies]\nx = { version = \"1\", registry = \"nope\" }\n")
            .unwrap_err();
        assert!(
            err.contains("add `package = \\\"ns:name\\\"`") || err.contains("add `package"),
            "{err}"
        );

        let err = parse(
            "[package.metadata.component.dependencies]\n\"a:b\" = { version = \"1\", registry = \"nope\" }\n",
        )
        .unwrap_err();
        assert!(
            err.contains("registry `nope` is used but not defined"),
            "{err}"
        );

        let err =
            parse("[package.metadata.component.dependencies]\n\"a:b\" = { verison = \"1\" }\n")
                .unwrap_err();
        assert!(err.contains(":2:") && err.contains("verison"), "{err}");

        let empty = parse("[package]\nname = \"plain\"\n").unwrap();
        assert!(empty.dependencies.is_empty() && empty.target.is_none());
    }
}
