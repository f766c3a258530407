//! The package resolver a `wac` document needs: a dependencies directory and `--dep`
//! overrides first, then the registry, through a [`Client`] and its cache.
//!
//! wac hands over the package keys its document names (`ns:name` with an optional
//! version, and where in the document each is used); this returns the bytes of each. It
//! does not depend on wac's crates, so it works with whichever version a tool builds with:
//!
//! ```no_run
//! # async fn example(client: registry_client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use registry_adapters::wac::{WacPackage, WacResolver};
//!
//! let resolver = WacResolver::new(client)
//!     .with_deps_dir("deps")
//!     .with_dep("example:greeter@1.0.0", "greeter.wasm")?;
//! // From wac: `wac_resolver::packages(&document)` gives each key and its span.
//! let keys = [WacPackage::new("example:greeter", Some("1.0.0"))?.with_span(20..35)];
//! for (key, bytes) in resolver.resolve(&keys).await? {
//!     println!("{key}: {} bytes", bytes.len());
//! }
//! # Ok(()) }
//! ```
//!
//! Precedence, per key: a `--dep` given for exactly that version; an unversioned `--dep`;
//! `deps/<ns>/<name>.wasm`; `deps/<ns>/<name>/` (a WIT directory, encoded as a WIT
//! package, with the `wac` feature); the registry, where an unversioned key is the newest
//! release that is not yanked and a versioned one is that exact release.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use registry_core::{Error, PackageRef, Version, VersionReq};

use registry_client::{Client, Dependency, LockFile, LockMode, Resolution};

/// One package a wac document names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WacPackage {
    /// `ns:name`.
    pub name: PackageRef,
    /// The version the document asks for, if any.
    pub version: Option<Version>,
    /// Where the document names it (byte offsets), for error messages.
    pub span: Option<Range<usize>>,
}

impl WacPackage {
    /// A key from wac's parts: `name` as `ns:name`, `version` as written.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a name or version that does not parse.
    pub fn new(name: &str, version: Option<&str>) -> Result<Self, Error> {
        let version = version
            .map(|v| {
                v.parse::<Version>().map_err(|err| Error::InvalidInput {
                    message: format!("`{name}@{v}`: `{v}` is not a semantic version: {err}"),
                })
            })
            .transpose()?;
        Ok(Self {
            name: name.parse()?,
            version,
            span: None,
        })
    }

    /// The same key, with where the document names it.
    pub fn with_span(mut self, span: Range<usize>) -> Self {
        self.span = Some(span);
        self
    }
}

impl fmt::Display for WacPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}

/// One resolved key: its bytes and, for a registry release, the resolution.
pub type Resolved = (WacPackage, Vec<u8>, Option<Resolution>);

/// A package that could not be resolved, with where the document names it.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {source}", .package, span_text(.span.as_ref()))]
pub struct WacError {
    /// The package.
    pub package: String,
    /// Where the document names it.
    pub span: Option<Range<usize>>,
    /// What went wrong.
    #[source]
    pub source: Error,
}

fn span_text(span: Option<&Range<usize>>) -> String {
    match span {
        Some(span) => format!(
            " (named at bytes {}..{} of the document)",
            span.start, span.end
        ),
        None => String::new(),
    }
}

/// Resolves a wac document's packages; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct WacResolver {
    client: Client,
    deps_dir: Option<PathBuf>,
    overrides: HashMap<(PackageRef, Option<Version>), PathBuf>,
}

impl WacResolver {
    /// A resolver that goes to the registry for everything.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            deps_dir: None,
            overrides: HashMap::new(),
        }
    }

    /// Looks in `dir` (`<ns>/<name>.wasm`, `<ns>/<name>/`) before the registry.
    pub fn with_deps_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.deps_dir = Some(dir.into());
        self
    }

    /// A `--dep` override: `key` is `ns:name` (every version) or `ns:name@version` (only
    /// that version), `path` a component, WIT package or WIT directory.
    ///
    /// # Errors
    /// [`WacError`] when the key does not parse.
    pub fn with_dep(mut self, key: &str, path: impl Into<PathBuf>) -> Result<Self, WacError> {
        let spec: registry_core::PackageSpec =
            key.parse()
                .map_err(|err: registry_core::ParseError| WacError {
                    package: key.to_owned(),
                    span: None,
                    source: err.into(),
                })?;
        self.overrides
            .insert((spec.package, spec.version), path.into());
        Ok(self)
    }

    /// The bytes of each package in `keys`, in order (each distinct key once).
    ///
    /// # Errors
    /// The first [`WacError`], naming the package and where the document names it.
    pub async fn resolve(
        &self,
        keys: &[WacPackage],
    ) -> Result<Vec<(WacPackage, Vec<u8>)>, WacError> {
        self.resolve_locked(keys, None, LockMode::Update)
            .await
            .map(|resolved| {
                resolved
                    .into_iter()
                    .map(|(k, bytes, _)| (k, bytes))
                    .collect()
            })
    }

    /// Like [`resolve`](Self::resolve), with a lock file: an unversioned key asks for any
    /// release (`*`), a versioned one for exactly it (`=1.2.0`); pins are reused and
    /// recorded as [`Client::resolve_all`] does. Each result carries the registry
    /// [`Resolution`](Resolution) it came from (`None` for a local file).
    ///
    /// # Errors
    /// As for [`resolve`](Self::resolve).
    pub async fn resolve_locked(
        &self,
        keys: &[WacPackage],
        lock: Option<&mut LockFile>,
        mode: LockMode,
    ) -> Result<Vec<Resolved>, WacError> {
        let mut out: Vec<Resolved> = Vec::with_capacity(keys.len());
        let mut from_registry = Vec::new();
        for key in keys {
            // Registry keys hold a placeholder in `out` too, so one check covers both.
            if out
                .iter()
                .any(|(k, _, _)| k.name == key.name && k.version == key.version)
            {
                continue;
            }
            let fail = |source| WacError {
                package: key.to_string(),
                span: key.span.clone(),
                source,
            };
            match self.local_path(key) {
                Some(path) => {
                    let bytes = read_package(&path).map_err(fail)?;
                    out.push((key.clone(), bytes, None));
                }
                None => {
                    from_registry.push((key, out.len()));
                    out.push((key.clone(), Vec::new(), None));
                }
            }
        }
        if from_registry.is_empty() {
            return Ok(out);
        }
        // All registry packages at once, concurrently, through the cache.
        let deps: Vec<Dependency> = from_registry
            .iter()
            .map(|(key, _)| {
                let requirement = match &key.version {
                    Some(v) => VersionReq::parse(&format!("={v}")).expect("an exact requirement"),
                    None => VersionReq::STAR,
                };
                Dependency::new(key.name.clone(), requirement)
            })
            .collect();
        // Concurrently, through the cache; a failure is traced back to the key it names.
        match self.client.resolve_all(&deps, lock, mode).await {
            Ok(resolutions) => {
                for (resolution, (_, index)) in resolutions.iter().zip(&from_registry) {
                    // Read through the client: an entry a concurrent clean removed is
                    // fetched again.
                    let bytes = self
                        .client
                        .read(resolution)
                        .await
                        .map_err(|source| WacError {
                            package: out[*index].0.to_string(),
                            span: out[*index].0.span.clone(),
                            source,
                        })?;
                    out[*index].1 = bytes;
                    out[*index].2 = Some(resolution.clone());
                }
                Ok(out)
            }
            Err(source) => {
                let failed = from_registry
                    .iter()
                    .find(|(key, _)| error_names(&source, &key.name))
                    .map(|(key, _)| *key)
                    .unwrap_or(from_registry[0].0);
                Err(WacError {
                    package: failed.to_string(),
                    span: failed.span.clone(),
                    source,
                })
            }
        }
    }

    /// The file or directory that stands for `key` locally, if any.
    fn local_path(&self, key: &WacPackage) -> Option<PathBuf> {
        if key.version.is_some()
            && let Some(path) = self.overrides.get(&(key.name.clone(), key.version.clone()))
        {
            return Some(path.clone());
        }
        if let Some(path) = self.overrides.get(&(key.name.clone(), None)) {
            return Some(path.clone());
        }
        let dir = self.deps_dir.as_ref()?;
        let base = dir.join(key.name.namespace()).join(key.name.name());
        let file = base.with_extension("wasm");
        if file.is_file() {
            return Some(file);
        }
        base.is_dir().then_some(base)
    }
}

/// Whether `err` is about `package`.
fn error_names(err: &Error, package: &PackageRef) -> bool {
    match err {
        Error::PackageNotFound { package: p, .. } | Error::VersionNotFound { package: p, .. } => {
            p == package
        }
        other => other.to_string().contains(&format!("`{package}")),
    }
}

/// A component or WIT package file as is; a WIT directory encoded as a WIT package.
fn read_package(path: &Path) -> Result<Vec<u8>, Error> {
    if path.is_dir() {
        return encode_wit_dir(path);
    }
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

#[cfg(feature = "wit")]
fn encode_wit_dir(dir: &Path) -> Result<Vec<u8>, Error> {
    registry_wit::encode_dir(dir)
}

#[cfg(not(feature = "wit"))]
fn encode_wit_dir(dir: &Path) -> Result<Vec<u8>, Error> {
    Err(Error::InvalidInput {
        message: format!(
            "`{}` is a WIT directory; encoding one needs the `wit` feature of registry-adapters",
            dir.display()
        ),
    })
}
