//! Resolving many dependencies at once, with a lock file, concurrently.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use futures_util::StreamExt as _;
use registry_core::{ContentDigest, Error, PackageRef, Registry, Release, Version, VersionReq};

use crate::Client;
use crate::client::pick;
use crate::lock::{LockFile, LockedVersion};

/// Requests in flight at most.
pub const CONCURRENCY: usize = 16;

/// One dependency: a package and a version requirement, optionally pinned to a registry
/// or replaced by a local file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Dependency {
    /// The package.
    pub package: PackageRef,
    /// The versions acceptable.
    pub requirement: VersionReq,
    /// The registry to use instead of the configured one.
    pub registry: Option<Registry>,
    /// A local file to use instead of any registry.
    pub path: Option<PathBuf>,
}

impl Dependency {
    /// A dependency on `package` at `requirement`, from its configured registry.
    pub fn new(package: PackageRef, requirement: VersionReq) -> Self {
        Self {
            package,
            requirement,
            registry: None,
            path: None,
        }
    }

    /// The same dependency from `registry`.
    pub fn with_registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The same dependency replaced by the file at `path`.
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }
}

/// What replaces part of a dependency: a local file or WIT directory, another registry,
/// another version requirement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Override {
    /// A local file (or WIT directory) to use instead of any registry.
    pub path: Option<PathBuf>,
    /// The registry to use instead of the configured one.
    pub registry: Option<Registry>,
    /// The requirement to use instead of the dependency's.
    pub requirement: Option<VersionReq>,
}

impl Override {
    /// An override by a local path.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        Self {
            path: Some(path.into()),
            ..Self::default()
        }
    }

    /// An override by another registry.
    pub fn registry(registry: Registry) -> Self {
        Self {
            registry: Some(registry),
            ..Self::default()
        }
    }

    /// An override by another requirement.
    pub fn requirement(requirement: VersionReq) -> Self {
        Self {
            requirement: Some(requirement),
            ..Self::default()
        }
    }
}

/// Overrides keyed by `ns:name` (every dependency on the package) or `ns:name@version`
/// (the dependencies whose requirement that version satisfies). A versioned key wins over
/// an unversioned one.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    entries: Vec<(PackageRef, Option<Version>, Override)>,
}

impl Overrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an override under `key` (`ns:name` or `ns:name@version`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the key is not a package name with an optional version.
    pub fn insert(&mut self, key: &str, value: Override) -> Result<(), Error> {
        let spec: registry_core::PackageSpec = key.parse()?;
        self.entries
            .retain(|(p, v, _)| !(p == &spec.package && v == &spec.version));
        self.entries.push((spec.package, spec.version, value));
        Ok(())
    }

    /// The override for `dependency`, if any.
    pub fn find(&self, dependency: &Dependency) -> Option<&Override> {
        let mut unversioned = None;
        for (package, version, value) in &self.entries {
            if package != &dependency.package {
                continue;
            }
            match version {
                Some(v) if dependency.requirement.matches(v) => return Some(value),
                Some(_) => {}
                None => unversioned = Some(value),
            }
        }
        unversioned
    }

    /// `dependencies` with their overrides applied.
    pub fn apply(&self, dependencies: &[Dependency]) -> Vec<Dependency> {
        dependencies
            .iter()
            .map(|d| {
                let mut d = d.clone();
                if let Some(o) = self.find(&d) {
                    d.path = o.path.clone().or(d.path);
                    d.registry = o.registry.clone().or(d.registry);
                    d.requirement = o.requirement.clone().unwrap_or(d.requirement);
                }
                d
            })
            .collect()
    }
}

/// What a dependency resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resolution {
    /// A local file or WIT directory given by the dependency.
    Local {
        /// The package.
        package: PackageRef,
        /// The file or directory.
        path: PathBuf,
    },
    /// A release from a registry, verified into the cache.
    Registry {
        /// The package.
        package: PackageRef,
        /// The registry it came from.
        registry: Registry,
        /// The requirement it satisfies.
        requirement: VersionReq,
        /// The release chosen.
        release: Release,
        /// The verified content in the cache.
        path: PathBuf,
    },
}

impl Resolution {
    /// The package.
    pub fn package(&self) -> &PackageRef {
        match self {
            Resolution::Local { package, .. } | Resolution::Registry { package, .. } => package,
        }
    }

    /// The file holding the content.
    pub fn path(&self) -> &PathBuf {
        match self {
            Resolution::Local { path, .. } | Resolution::Registry { path, .. } => path,
        }
    }

    /// The version, for a registry release.
    pub fn version(&self) -> Option<&Version> {
        match self {
            Resolution::Local { .. } => None,
            Resolution::Registry { release, .. } => Some(&release.version),
        }
    }

    /// The digest, for a registry release.
    pub fn digest(&self) -> Option<&ContentDigest> {
        match self {
            Resolution::Local { .. } => None,
            Resolution::Registry { release, .. } => Some(&release.digest),
        }
    }
}

/// How a resolution may use and change the lock file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LockMode {
    /// Use pins that still satisfy their requirement; record new ones.
    #[default]
    Update,
    /// `--locked`: a resolution that would change the lock file is an error.
    Locked,
}

impl Client {
    /// Resolves every dependency (at most [`CONCURRENCY`] requests in flight, identical
    /// dependencies resolved once) and fetches each through the cache.
    ///
    /// With a lock file, a pin is used when it still satisfies its requirement (and, on a
    /// registry that tracks yanks, is not yanked); its content must have the pinned digest.
    /// New pins are written into `lock`. Results come back in the order of `dependencies`.
    ///
    /// # Errors
    /// The first dependency that fails, naming it; [`Error::DigestMismatch`]-style
    /// [`Error::InvalidInput`] when a registry's content differs from the lock.
    pub async fn resolve_all(
        &self,
        dependencies: &[Dependency],
        lock: Option<&mut LockFile>,
        mode: LockMode,
    ) -> Result<Vec<Resolution>, Error> {
        let mut unique: Vec<&Dependency> = Vec::new();
        let mut index_of: HashMap<&Dependency, usize> = HashMap::new();
        for dependency in dependencies {
            index_of.entry(dependency).or_insert_with(|| {
                unique.push(dependency);
                unique.len() - 1
            });
        }
        let snapshot = lock.as_deref().cloned();
        let results: BTreeMap<usize, Result<Resolution, Error>> =
            futures_util::stream::iter(unique.iter().enumerate())
                .map(|(i, dependency)| {
                    let snapshot = snapshot.as_ref();
                    async move { (i, self.resolve_one(dependency, snapshot, mode).await) }
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
        let mut resolved = Vec::with_capacity(unique.len());
        for (_, result) in results {
            resolved.push(result?);
        }
        if let Some(lock) = lock {
            for resolution in &resolved {
                if let Resolution::Registry {
                    package,
                    registry,
                    requirement,
                    release,
                    ..
                } = resolution
                {
                    lock.insert(
                        package,
                        Some(registry),
                        LockedVersion {
                            requirement: requirement.clone(),
                            version: release.version.clone(),
                            digest: release.digest,
                        },
                    );
                }
            }
        }
        Ok(dependencies
            .iter()
            .map(|d| resolved[index_of[d]].clone())
            .collect())
    }

    async fn resolve_one(
        &self,
        dependency: &Dependency,
        lock: Option<&LockFile>,
        mode: LockMode,
    ) -> Result<Resolution, Error> {
        let package = &dependency.package;
        if let Some(path) = &dependency.path {
            if !path.exists() {
                return Err(Error::InvalidInput {
                    message: format!(
                        "the local override for `{package}`, {}, does not exist",
                        path.display()
                    ),
                });
            }
            return Ok(Resolution::Local {
                package: package.clone(),
                path: path.clone(),
            });
        }
        let registry = match &dependency.registry {
            Some(registry) => registry.clone(),
            None => self.registry_for(package)?.value.registry().clone(),
        };
        let requirement = &dependency.requirement;
        let pin = lock
            .and_then(|l| l.pin(package, Some(&registry), requirement))
            .filter(|pin| requirement.matches(&pin.version));

        let release = match pin {
            Some(pin) => self.release_for_pin(package, &registry, pin).await?,
            None if mode == LockMode::Locked => {
                return Err(Error::InvalidInput {
                    message: format!(
                        "`{package}` ({requirement}) from `{registry}` is not in the lock file, \
                         and --locked forbids changing it; resolve without --locked to update \
                         the lock file"
                    ),
                });
            }
            None => self.resolve(package, Some(&registry), requirement).await?,
        };
        let path = self.fetch(package, Some(&registry), &release).await?;
        Ok(Resolution::Registry {
            package: package.clone(),
            registry,
            requirement: requirement.clone(),
            release,
            path,
        })
    }

    /// The release a lock file pin stands for: from the cache when its content is there
    /// (no request, unless the registry tracks yanks), else checked against the registry.
    async fn release_for_pin(
        &self,
        package: &PackageRef,
        registry: &Registry,
        pin: &LockedVersion,
    ) -> Result<Release, Error> {
        let pinned = Release::new(pin.version.clone(), pin.digest);
        if self.is_offline() {
            // `fetch` then serves it from the cache or says it is not cached.
            return Ok(pinned);
        }
        let (_, backend) = self.backend_for(package, Some(registry)).await?;
        if backend.tracks_yanks() {
            let versions = backend.list_versions(package).await?;
            if versions
                .iter()
                .any(|v| v.version == pin.version && v.yanked)
            {
                return self
                    .fall_back_from_yanked(package, registry, pin, &versions)
                    .await;
            }
        }
        if self.cache().contains(&pin.digest).await {
            return Ok(pinned);
        }
        let release = backend.get_release(package, &pin.version).await?;
        if release.digest != pin.digest {
            // An integrity failure, not a usage mistake: the registry now serves other bytes
            // under a version the lock file recorded.
            return Err(Error::DigestMismatch {
                subject: format!(
                    "`{package}@{}` from `{registry}`, pinned by the lock file (the release \
                     was replaced; if that is expected, delete its entry from the lock file \
                     and resolve again)",
                    pin.version
                ),
                expected: pin.digest,
                actual: release.digest,
            });
        }
        Ok(release)
    }

    async fn fall_back_from_yanked(
        &self,
        package: &PackageRef,
        registry: &Registry,
        pin: &LockedVersion,
        versions: &[registry_core::VersionInfo],
    ) -> Result<Release, Error> {
        tracing::info!(%package, version = %pin.version, "the locked version was yanked; choosing the newest match");
        let version = pick(versions, &pin.requirement).ok_or_else(|| Error::VersionNotFound {
            registry: registry.clone(),
            package: package.clone(),
            requirement: pin.requirement.to_string(),
            newest: None,
        })?;
        let (_, backend) = self.backend_for(package, Some(registry)).await?;
        backend.get_release(package, &version).await
    }
}
