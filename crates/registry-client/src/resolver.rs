//! Resolving many dependencies at once, with a lock file, concurrently.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use futures_util::StreamExt as _;
use registry_core::provenance::Provenance;
use registry_core::{ContentDigest, Error, PackageRef, Registry, Release, Version, VersionReq};

use crate::Client;
use crate::cache::CachedContent;
use crate::client::{Route, pick};
use crate::lock::{LockFile, LockedVersion};

/// Dependencies resolved at once, at most: each is a few small requests (a version list, a
/// manifest), mostly waiting on the network, so many go at once. Large downloads among
/// them are held to [`DOWNLOADS`] at a time.
pub const CONCURRENCY: usize = 64;

/// Downloads of large content (a size unknown, or [`LARGE_CONTENT`] and up) in flight at
/// most, per client: what bounds the memory and connections a client takes for bytes.
pub const DOWNLOADS: usize = 16;

/// Content this size and up is a large download ([`DOWNLOADS`]); smaller content (WIT
/// packages are a few KiB) is fetched as soon as it is resolved.
pub const LARGE_CONTENT: u64 = 256 * 1024;

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
// A registry resolution carries its release and provenance inline: resolutions are made
// one per dependency and kept in a list, where a box per entry would cost more than the
// bytes a local one leaves unused.
#[allow(clippy::large_enum_variant)]
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
        /// Who signed the release, when a `provenance` policy verified it.
        provenance: Option<Provenance>,
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
    /// The first dependency that fails, naming it; [`Error::DigestMismatch`] when a
    /// registry's content differs from the lock; [`Error::LockOutOfDate`] when
    /// [`LockMode::Locked`] and the lock file would change.
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
        let resolved = self
            .resolve_unique(&unique, snapshot.as_ref(), mode)
            .await?;
        if let Some(lock) = lock {
            record(lock, &resolved);
        }
        Ok(dependencies
            .iter()
            .map(|d| resolved[index_of[d]].clone())
            .collect())
    }

    /// Resolves distinct dependencies concurrently against a snapshot of the lock file
    /// (which is read, not written), in their order; the first failure (in that order) is
    /// returned. For workflows that walk a graph level by level (`registry-wit`).
    ///
    /// # Errors
    /// As [`resolve_all`](Self::resolve_all).
    pub async fn resolve_unique(
        &self,
        unique: &[&Dependency],
        lock: Option<&LockFile>,
        mode: LockMode,
    ) -> Result<Vec<Resolution>, Error> {
        self.resolve_each(unique, lock, mode)
            .await
            .into_iter()
            .collect()
    }

    /// Like [`resolve_unique`](Self::resolve_unique), with each dependency's own result.
    pub async fn resolve_each(
        &self,
        unique: &[&Dependency],
        lock: Option<&LockFile>,
        mode: LockMode,
    ) -> Vec<Result<Resolution, Error>> {
        let results: BTreeMap<usize, Result<Resolution, Error>> =
            futures_util::stream::iter(unique.iter().enumerate())
                .map(|(i, dependency)| async move {
                    (i, self.resolve_one(dependency, lock, mode).await)
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
        results.into_values().collect()
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
        let route = self
            .route_via(package, dependency.registry.as_ref())
            .await?;
        let registry = route.registry().clone();
        let requirement = &dependency.requirement;
        let pin = lock.and_then(|l| l.pin_satisfying(package, Some(&registry), requirement));

        let release = match pin {
            Some(pin) => release_for_pin(&route, pin).await?,
            None if mode == LockMode::Locked => {
                return Err(Error::LockOutOfDate {
                    package: package.clone(),
                    reason: format!("`{requirement}` from `{registry}` is not pinned"),
                });
            }
            None => route.resolve(requirement).await?,
        };
        // What the lock file recorded for these bytes: the signer it pins (checked by the
        // policy) and, with no policy to check now, what stays recorded.
        let pinned = pin
            .filter(|p| p.digest == release.digest)
            .and_then(LockedVersion::provenance);
        let provenance = route
            .enforce_provenance(&release, pinned.as_ref())
            .await?
            .or(pinned);
        let path = route.fetch(&release).await?;
        Ok(Resolution::Registry {
            package: package.clone(),
            registry,
            requirement: requirement.clone(),
            release,
            path,
            provenance,
        })
    }

    /// Opens the verified content of a resolution as a stream (for callers that want bytes
    /// rather than a path). A registry release whose cache entry was removed since it was
    /// resolved (a concurrent `cache clean`) is fetched again.
    pub async fn open(
        &self,
        resolution: &Resolution,
    ) -> Result<registry_core::ContentStream, Error> {
        let content = self.open_resolution(resolution).await?;
        let path = content.path().to_owned();
        Ok(crate::local::file_stream(
            tokio::fs::File::from_std(content.into_file()),
            path,
        ))
    }

    /// The bytes of a resolution; like [`open`](Self::open).
    pub async fn read(&self, resolution: &Resolution) -> Result<Vec<u8>, Error> {
        self.open_resolution(resolution).await?.read().await
    }

    /// The resolution's file, opened; a registry release whose cache entry is gone is
    /// fetched again.
    pub async fn open_resolution(&self, resolution: &Resolution) -> Result<CachedContent, Error> {
        let path = resolution.path().clone();
        match (std::fs::File::open(&path), resolution) {
            (Ok(file), _) => {
                // A registry release is a cache entry, verified when it was resolved; any
                // other file is the user's own, never linked to.
                let (link, stamp) = match resolution.digest() {
                    Some(digest) => (self.cache().link_mode(), self.cache().stamp_path(digest)),
                    None => (crate::LinkMode::Copy, PathBuf::new()),
                };
                Ok(CachedContent {
                    path,
                    file,
                    link,
                    stamp,
                })
            }
            (
                Err(err),
                Resolution::Registry {
                    package,
                    registry,
                    release,
                    ..
                },
            ) if err.kind() == std::io::ErrorKind::NotFound => {
                self.route_to(package, registry)
                    .await?
                    .fetch_open(release)
                    .await
            }
            (Err(err), _) => Err(Error::io(path, err)),
        }
    }
}

/// Records the registry resolutions in `lock` as pins of their requirements.
pub(crate) fn record(lock: &mut LockFile, resolved: &[Resolution]) {
    for resolution in resolved {
        if let Resolution::Registry {
            package,
            registry,
            requirement,
            release,
            provenance,
            ..
        } = resolution
        {
            lock.insert(
                package,
                Some(registry),
                LockedVersion::new(requirement.clone(), release, provenance.as_ref()),
            );
        }
    }
}

/// The release a lock file pin stands for: from the cache when its content is there, or as
/// pinned when the registry has mirrors (no request, unless the registry tracks yanks),
/// else checked against the registry.
async fn release_for_pin(route: &Route, pin: &LockedVersion) -> Result<Release, Error> {
    let (package, registry, backend) = (route.package(), route.registry(), route.backend());
    let mut pinned = Release::new(pin.version.clone(), pin.digest);
    pinned.size = pin.size;
    if route.client().is_offline() {
        // `fetch` then serves it from the cache or says it is not cached.
        return Ok(pinned);
    }
    if backend.tracks_yanks() {
        let versions = route.fresh_versions().await?;
        if versions
            .iter()
            .any(|v| v.version == pin.version && v.yanked)
        {
            tracing::info!(%package, version = %pin.version, "the locked version was yanked; choosing the newest match");
            let version =
                pick(&versions, &pin.requirement).ok_or_else(|| Error::VersionNotFound {
                    registry: registry.clone(),
                    package: package.clone(),
                    requirement: pin.requirement.to_string(),
                    newest: None,
                })?;
            return backend.get_release(package, &version).await;
        }
    }
    // With mirrors, the pin's digest is all a fetch needs: any source that has those bytes
    // may serve them, and they are checked against the pin whoever serves them.
    if route.has_mirrors() || route.client().cache().contains(&pin.digest).await {
        return Ok(pinned);
    }
    let release = backend.get_release(package, &pin.version).await?;
    if release.digest != pin.digest {
        // An integrity failure, not a usage mistake: the registry now serves other bytes
        // under a version the lock file recorded.
        return Err(Error::DigestMismatch {
            subject: format!(
                "`{package}@{}` from `{registry}`, pinned by the lock file (the release was \
                 replaced; if that is expected, delete its entry from the lock file and \
                 resolve again)",
                pin.version
            ),
            expected: pin.digest,
            actual: release.digest,
        });
    }
    Ok(release)
}
