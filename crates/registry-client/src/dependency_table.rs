//! The dependency table, read in one place for every file that has one: `wreg`'s
//! `--deps` file, a Cargo manifest's `[package.metadata.component.dependencies]`, and any
//! tool that keeps its dependencies in TOML.
//!
//! ```toml
//! [dependencies]
//! "wasi:http" = "0.2.0"                                  # ^0.2.0: see `BareVersion`
//! "acme:widget" = { version = "=1.4.2", registry = "ghcr.io" }
//! gadget = { package = "acme:gadget", version = "1" }    # the key is a local name
//! "acme:local" = { path = "../widget.wasm" }             # a file or WIT directory
//! ```
//!
//! A bare version means the releases compatible with it, as everywhere
//! ([`registry_core::BareVersion`]). `path` excludes `version` and `registry`. Every error
//! names the file, line, column and key ([`registry_config::SourceText`]), and says what to
//! write instead.
//!
//! ```
//! use registry_client::dependency_table::DependencyFile;
//!
//! let text = "[dependencies]\n\"wasi:http\" = \"0.2.0\"\n\"a:b\" = { version = \"1.two\" }\n";
//! let err = DependencyFile::parse(text, "deps.toml".as_ref()).unwrap_err();
//! assert!(err.to_string().starts_with("deps.toml:3:"), "{err}");
//! ```

use std::path::{Path, PathBuf};

use registry_config::{ConfigError, KeyPath, Scope, SourceText};
use registry_core::{BareVersion, Error, PackageRef, Registry, VersionReq};
use toml_edit::{Item, TableLike};

use crate::Dependency;

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
        /// The `registry` field as written: a registry host in a dependency file, a name
        /// from `registries` in a Cargo manifest.
        registry: Option<String>,
    },
    /// A local file or WIT directory, as written (relative to the file's directory).
    Path(PathBuf),
}

/// How the `registry` field of a dependency is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryField {
    /// A registry host, checked as one (`ghcr.io`, `localhost:5000`).
    Host,
    /// A name the file defines elsewhere (cargo-component's `registries` table).
    Name,
}

/// A dependency file: a `[dependencies]` table and nothing else that matters.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DependencyFile {
    /// The file.
    pub path: PathBuf,
    /// Each dependency, in the order written, registries and paths resolved.
    pub dependencies: Vec<Dependency>,
}

impl DependencyFile {
    /// Reads the file at `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read; [`Error::Config`] naming the line and key of a
    /// value that is wrong.
    pub fn from_path(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path)
    }

    /// As [`from_path`](Self::from_path), from the file's text.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file, line and key of a value that is wrong.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let source = SourceText::new(Scope::Tool, path, text);
        let reader = TomlReader::new(&source);
        let doc = reader.document()?;
        let Some(table) = doc.get("dependencies") else {
            return Err(reader.error(
                doc.as_item(),
                "dependencies",
                "is missing: a dependency file holds a `[dependencies]` table",
            ));
        };
        let table = reader.table(table, "dependencies")?;
        let base = registry_config::fs::parent_dir(path);
        let mut dependencies = Vec::new();
        for (name, item) in table.iter() {
            let key = format!("dependencies.\"{name}\"");
            let source = reader.dependency(name, item, &key, RegistryField::Host)?;
            dependencies.push(to_dependency(name, &source, base, |host| {
                host.parse().expect("checked as a host when read")
            }));
        }
        Ok(Self {
            path: path.to_owned(),
            dependencies,
        })
    }
}

/// A dependency as the resolver takes it: `registry_of` turns the `registry` field into a
/// registry, a path is made relative to `base`, and a path dependency is named by its key
/// when that is a package name (else `local:<key>`).
pub fn to_dependency(
    name: &str,
    source: &DependencySource,
    base: &Path,
    registry_of: impl Fn(&str) -> Registry,
) -> Dependency {
    match source {
        DependencySource::Registry {
            package,
            requirement,
            registry,
        } => {
            let dependency = Dependency::new(package.clone(), requirement.clone());
            match registry {
                Some(registry) => dependency.with_registry(registry_of(registry)),
                None => dependency,
            }
        }
        DependencySource::Path(path) => {
            let package = name.parse().unwrap_or_else(|_| {
                format!("local:{}", sanitize(name))
                    .parse()
                    .expect("a valid name")
            });
            Dependency::new(package, VersionReq::STAR).with_path(base.join(path))
        }
    }
}

fn sanitize(name: &str) -> String {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let joined = words.join("-");
    match joined.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => joined,
        _ => format!("dep-{joined}").trim_end_matches('-').to_owned(),
    }
}

/// Reads values of one TOML file, with errors that name the file, line, column and key.
#[derive(Debug)]
pub struct TomlReader<'a> {
    source: &'a SourceText,
}

impl<'a> TomlReader<'a> {
    /// A reader of `source`.
    pub fn new(source: &'a SourceText) -> Self {
        Self { source }
    }

    /// The parsed document, spans kept.
    ///
    /// # Errors
    /// [`Error::Config`] at the line and column of a TOML syntax error.
    pub fn document(&self) -> Result<toml_edit::Document<String>, Error> {
        self.source.parse().map_err(Error::from)
    }

    /// An error about `item` (written under the dotted `key`): `what` follows the key.
    pub fn error(&self, item: &Item, key: &str, what: &str) -> Error {
        let origin = self.source.origin_of(item.span());
        let key = KeyPath::new(split_key(key));
        ConfigError::invalid(&origin, &key, what).into()
    }

    /// `item` as a table.
    ///
    /// # Errors
    /// When it is not one.
    pub fn table<'i>(&self, item: &'i Item, key: &str) -> Result<&'i dyn TableLike, Error> {
        item.as_table_like()
            .ok_or_else(|| self.error(item, key, "must be a table"))
    }

    /// `item` as a string.
    ///
    /// # Errors
    /// When it is not one.
    pub fn string<'i>(&self, item: &'i Item, key: &str) -> Result<&'i str, Error> {
        item.as_str()
            .ok_or_else(|| self.error(item, key, "must be a string"))
    }

    /// `item` parsed as a `T` from a string.
    ///
    /// # Errors
    /// When it is not a string, or does not parse.
    pub fn parse_str<T: std::str::FromStr>(&self, item: &Item, key: &str) -> Result<T, Error>
    where
        T::Err: std::fmt::Display,
    {
        let text = self.string(item, key)?;
        text.parse()
            .map_err(|err| self.error(item, key, &format!("is not valid: {err}")))
    }

    /// `item` as a version requirement; a bare version means the compatible releases.
    ///
    /// # Errors
    /// When it is not a string or not a requirement.
    pub fn requirement(&self, item: &Item, key: &str) -> Result<VersionReq, Error> {
        let text = self.string(item, key)?;
        registry_core::parse_requirement(text, BareVersion::Compatible).map_err(|reason| {
            self.error(
                item,
                key,
                &format!(
                    "is not a version requirement: {reason}; write e.g. \"1.2\" or \"=1.2.3\""
                ),
            )
        })
    }

    /// `item` as a registry host; a URL (as cargo-component writes) is its host and port.
    ///
    /// # Errors
    /// When it is not a string or not a host.
    pub fn registry(&self, item: &Item, key: &str) -> Result<Registry, Error> {
        let text = self.string(item, key)?;
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

    /// One dependency written under `name`: a requirement string, or a table of
    /// `package`, `version`, `registry` and `path`.
    ///
    /// # Errors
    /// A field that is not one of those, `path` with `version` or `registry`, a key that is
    /// not a package name without `package`, a registry dependency without `version`, or a
    /// value that does not parse.
    pub fn dependency(
        &self,
        name: &str,
        item: &Item,
        key: &str,
        registry_field: RegistryField,
    ) -> Result<DependencySource, Error> {
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
                     no registry, so remove one or the other",
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
        let registry = match table.get("registry") {
            None => None,
            Some(r) => {
                let key = format!("{key}.registry");
                if registry_field == RegistryField::Host {
                    self.registry(r, &key)?;
                }
                Some(self.string(r, &key)?.to_owned())
            }
        };
        Ok(DependencySource::Registry {
            package,
            requirement: self.requirement(version, &format!("{key}.version"))?,
            registry,
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

/// The segments of a dotted key whose segments may be quoted (`a.b."ns:name".c`).
fn split_key(key: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in key.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => segments.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    segments.push(current);
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DependencyFile, String> {
        DependencyFile::parse(text, Path::new("/p/deps.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn every_form_reads_with_one_grammar() {
        let file = parse(
            "[dependencies]\n\"wasi:http\" = \"0.2.0\"\n\
             \"acme:w\" = { version = \"=1.4.2\", registry = \"localhost:5000\" }\n\
             g = { package = \"acme:gadget\", version = \"1\" }\n\
             \"acme:local\" = { path = \"../w.wasm\" }\n",
        )
        .unwrap();
        let deps = &file.dependencies;
        assert_eq!(deps[0].requirement.to_string(), "^0.2.0");
        assert_eq!(deps[1].requirement.to_string(), "=1.4.2");
        assert_eq!(
            deps[1].registry.as_ref().unwrap().as_str(),
            "localhost:5000"
        );
        assert_eq!(deps[2].package.as_str(), "acme:gadget");
        assert_eq!(deps[3].path.as_deref(), Some(Path::new("/p/../w.wasm")));
    }

    #[test]
    fn mistakes_name_file_line_column_and_key() {
        let err =
            parse("[dependencies]\n\"a:b\" = { version = \"1\", path = \"x\" }\n").unwrap_err();
        assert!(
            err.starts_with("/p/deps.toml:2:9: invalid `dependencies.\"a:b\"`"),
            "{err}"
        );
        assert!(err.contains("together with"), "{err}");
        let err =
            parse("[dependencies]\n\"a:b\" = { version = \"1\", registry = \"not a host\" }\n")
                .unwrap_err();
        assert!(
            err.contains("dependencies.\"a:b\".registry") && err.contains("registry host"),
            "{err}"
        );
        let err = parse("[dependencies]\n\"a:b\" = \"x.y\"\n").unwrap_err();
        assert!(
            err.starts_with("/p/deps.toml:2:9:") && err.contains("write e.g."),
            "{err}"
        );
        let err = parse("[deps]\n").unwrap_err();
        assert!(err.contains("`[dependencies]`"), "{err}");
        let err = parse("[dependencies\n").unwrap_err();
        assert!(err.starts_with("/p/deps.toml:1:"), "{err}");
    }
}
