//! [`Client`]: configuration -> registry -> backend, with a verified cache.
//!
//! - `mod.rs`: the client, its builder, and routing a package to its registry.
//! - `backends.rs`: the backend factory (a registry's and a mirror's backend, built once).
//! - `route.rs`: [`Route`], where the operations on one package live, and its sources.

mod backends;
#[cfg(feature = "provenance")]
mod provenance;
mod route;

#[cfg(feature = "provenance")]
pub use provenance::{Policy, ProvenanceReport, SignedRelease, signing_services};
pub use route::Route;
use route::Source;
pub(crate) use route::pick;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use registry_config::{Config, RegistryMapping, Setting};
use registry_core::{Backend, Error, PackageRef, Registry, Release, Version, VersionInfo};

use crate::cache::Cache;
use crate::discovery::{Discovery, RegistryMetadata};
use crate::progress::Progress;

/// Resolves packages to [`Route`]s (registry, mapping, backend) and fetches content through
/// a verified [`Cache`]. Cheap to share: backends are built once per registry.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    cache: Cache,
    offline: bool,
    refresh: bool,
    discovery: Discovery,
    progress: Option<Arc<dyn Progress>>,
    /// The most bytes accepted for content whose size nobody stated (a lock file pin
    /// written without one).
    max_content_size: u64,
    /// Held by each large download in flight ([`crate::DOWNLOADS`]).
    downloads: tokio::sync::Semaphore,
    /// Version lists and release descriptions asked for in this process (each registry is
    /// asked once per package per process; the next process asks again).
    listings: Mutex<HashMap<(Registry, PackageRef), Vec<VersionInfo>>>,
    releases: Mutex<HashMap<(Registry, PackageRef, Version), Release>>,
    /// Backends by registry and the metadata they were built with (two namespaces may map
    /// one registry with different metadata, e.g. different OCI prefixes). Backends given
    /// with [`Client::register_backend`] are under the metadata key `*`.
    backends: Mutex<HashMap<(Registry, String), Built>>,
    /// One gate per backend key, held while that backend is built: the routes resolved
    /// concurrently wait for one build (a client, its TLS roots read) rather than each
    /// building one and all but one being dropped.
    building: Mutex<HashMap<(Registry, String), BuildGate>>,
    /// Trusted roots for provenance policies, loaded once.
    #[cfg(feature = "provenance")]
    trusts: provenance::Trusts,
}

/// Held while one backend is built.
type BuildGate = Arc<tokio::sync::Mutex<()>>;

/// A backend and the registry metadata it was built with (a mirror of an OCI registry
/// takes its repository layout from the upstream's).
#[derive(Clone)]
struct Built {
    backend: Arc<dyn Backend>,
    metadata: RegistryMetadata,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("cache", &self.inner.cache)
            .field("offline", &self.inner.offline)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    config: Config,
    cache_dir: Option<PathBuf>,
    link_mode: crate::LinkMode,
    offline: bool,
    refresh: bool,
    discovery_timeout: Option<std::time::Duration>,
    progress: Option<Arc<dyn Progress>>,
    max_content_size: u64,
}

impl std::fmt::Debug for dyn Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

impl ClientBuilder {
    /// Uses `dir` for the cache instead of [`Cache::default_dir`].
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// How cached content becomes the files asked for ([`LinkMode::Auto`](crate::LinkMode):
    /// hard links where the file system allows).
    pub fn link_mode(mut self, mode: crate::LinkMode) -> Self {
        self.link_mode = mode;
        self
    }

    /// Uses only the cache (and lock files): no network, no registry directory reads.
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Asks registries for their version lists and release descriptions every time, instead
    /// of once per package in this client's life.
    pub fn refresh(mut self, refresh: bool) -> Self {
        self.refresh = refresh;
        self
    }

    /// Reports downloads to `progress`.
    pub fn progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Waits at most `timeout` for a registry's well-known document (default 10 s).
    pub fn discovery_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.discovery_timeout = Some(timeout);
        self
    }

    /// The client.
    /// The most bytes a fetch accepts for content whose size nobody stated (a lock file
    /// pin written by a tool that records no size, such as `wkg`): a source that sends more
    /// is cut off there and the next source is asked. Content whose size is known (from a
    /// manifest, a registry's log, or the lock file) is always cut off at that size.
    /// [`DEFAULT_MAX_CONTENT_SIZE`] by default.
    pub fn max_content_size(mut self, bytes: u64) -> Self {
        self.max_content_size = bytes;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Client {
        let cache = Cache::new(self.cache_dir.unwrap_or_else(Cache::default_dir))
            .with_link_mode(self.link_mode);
        let mut discovery = Discovery::new(cache.dir(), self.offline);
        if let Some(timeout) = self.discovery_timeout {
            discovery = discovery.with_timeout(timeout);
        }
        Client {
            inner: Arc::new(Inner {
                config: self.config,
                cache,
                offline: self.offline,
                refresh: self.refresh,
                discovery,
                progress: self.progress,
                max_content_size: self.max_content_size,
                downloads: tokio::sync::Semaphore::new(crate::DOWNLOADS),
                listings: Mutex::new(HashMap::new()),
                releases: Mutex::new(HashMap::new()),
                backends: Mutex::new(HashMap::new()),
                building: Mutex::new(HashMap::new()),
                #[cfg(feature = "provenance")]
                trusts: provenance::Trusts::default(),
            }),
        }
    }
}

/// The default of [`ClientBuilder::max_content_size`]: 2 GiB, above any component or WIT
/// package published today (a WASI 0.2 component is a few MiB; the benchmarks' largest
/// transfer is 1 GiB).
pub const DEFAULT_MAX_CONTENT_SIZE: u64 = 2 << 30;

/// The metadata key of backends given with [`Client::register_backend`].
const REGISTERED: &str = "*";

/// The backends this build knows.
const OCI: &str = "oci";
const WARG: &str = "warg";

impl Client {
    /// A client with the default cache directory.
    pub fn new(config: Config) -> Self {
        Self::builder(config).build()
    }

    /// A builder to set the cache directory or offline mode.
    pub fn builder(config: Config) -> ClientBuilder {
        ClientBuilder {
            config,
            cache_dir: None,
            link_mode: crate::LinkMode::default(),
            offline: false,
            refresh: false,
            discovery_timeout: None,
            progress: None,
            max_content_size: DEFAULT_MAX_CONTENT_SIZE,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The cache.
    pub fn cache(&self) -> &Cache {
        &self.inner.cache
    }

    /// Whether the client is offline.
    pub fn is_offline(&self) -> bool {
        self.inner.offline
    }

    /// The registry `package` comes from, and where that was configured: package override,
    /// namespace mapping, default registry, built-in fallback. A look at the configuration
    /// only; [`route`](Self::route) also builds the backend.
    ///
    /// # Errors
    /// [`Error::NoRegistryForNamespace`].
    pub fn registry_for(&self, package: &PackageRef) -> Result<Setting<RegistryMapping>, Error> {
        self.inner.config.resolve_registry(package)
    }

    /// Where `package` comes from, worked out once: its registry (package override ->
    /// namespace mapping -> default registry), that mapping's metadata, and the backend for
    /// the registry (built on first use, then shared). Every operation on the package goes
    /// through the route; nothing asks "which registry?" again.
    ///
    /// # Errors
    /// [`Error::NoRegistryForNamespace`]; [`Error::Config`] for bad registry settings;
    /// [`Error::Registry`] for a malformed well-known document.
    pub async fn route(&self, package: &PackageRef) -> Result<Route, Error> {
        let mapping = self.registry_for(package)?;
        let registry = mapping.value.registry().clone();
        self.route_with(package, registry, Some(mapping)).await
    }

    /// The route of `package` from `registry`, named explicitly (a `--registry` flag, a
    /// dependency pinned to a registry, a lock file entry). The package's own mapping still
    /// applies when it names the same registry (its metadata: an OCI prefix, a protocol).
    ///
    /// # Errors
    /// As for [`route`](Self::route), except that no mapping is needed.
    pub async fn route_to(
        &self,
        package: &PackageRef,
        registry: &Registry,
    ) -> Result<Route, Error> {
        let mapping = self
            .registry_for(package)
            .ok()
            .filter(|m| m.value.registry() == registry);
        self.route_with(package, registry.clone(), mapping).await
    }

    /// [`route_to`](Self::route_to) when `registry` is given, else [`route`](Self::route).
    pub async fn route_via(
        &self,
        package: &PackageRef,
        registry: Option<&Registry>,
    ) -> Result<Route, Error> {
        match registry {
            Some(registry) => self.route_to(package, registry).await,
            None => self.route(package).await,
        }
    }

    async fn route_with(
        &self,
        package: &PackageRef,
        registry: Registry,
        mapping: Option<Setting<RegistryMapping>>,
    ) -> Result<Route, Error> {
        tracing::debug!(%package, %registry, "route resolved");
        let (built, metadata_key) = self
            .built(&registry, mapping.as_ref().map(|m| &m.value))
            .await?;
        let mirrors = self.inner.config.mirrors(&registry);
        let mut sources = Vec::with_capacity(mirrors.len().max(1));
        if mirrors.is_empty() {
            sources.push(Source {
                registry: registry.clone(),
                backend: built.backend.clone(),
            });
        }
        for mirror in mirrors {
            let backend = if mirror.value == registry {
                built.backend.clone()
            } else {
                match self
                    .mirror_backend(&registry, &mirror.value, &built.metadata, &metadata_key)
                    .await
                {
                    Ok(backend) => backend,
                    Err(err) => {
                        tracing::warn!(
                            "mirror `{}` of registry `{registry}` (listed at {}) is skipped: {err}",
                            mirror.value,
                            mirror.origin
                        );
                        continue;
                    }
                }
            };
            sources.push(Source {
                registry: mirror.value,
                backend,
            });
        }
        Ok(Route {
            client: self.clone(),
            package: package.clone(),
            registry,
            origin: mapping.map(|m| m.origin),
            backend: built.backend,
            sources: sources.into(),
        })
    }

    /// Uses `backend` for `registry` instead of building one from the configuration: for
    /// tools that bring their own backend, and for tests.
    pub fn register_backend(&self, registry: Registry, backend: Arc<dyn Backend>) {
        self.inner.backends.lock().expect("not poisoned").insert(
            (registry, REGISTERED.to_owned()),
            Built {
                backend,
                metadata: RegistryMetadata::default(),
            },
        );
    }

    /// The registry's well-known document, fetched trusting certificates as its OCI section
    /// says.
    async fn discover(&self, registry: &Registry) -> Result<Option<RegistryMetadata>, Error> {
        #[cfg(feature = "oci")]
        let tls = {
            let config = &self.inner.config;
            let oci = registry_oci::OciSettings::from_config(config, registry)?.value;
            crate::discovery::Tls {
                https: oci.effective_protocol(registry) == registry_oci::Protocol::Https,
                trust: oci.tls_trust(&config.registry_settings(registry))?,
                // The section's read timeout bounds the document's answer as well.
                timeout: oci.read_timeout.map(std::time::Duration::from_secs),
            }
        };
        #[cfg(not(feature = "oci"))]
        let tls = crate::discovery::Tls::default();
        self.inner.discovery.metadata_with(registry, &tls).await
    }

    pub(crate) fn offline_error(&self, package: &PackageRef, what: &str) -> Error {
        Error::NotCached {
            package: package.clone(),
            what: what.to_owned(),
        }
    }

    /// A place among the large downloads in flight ([`crate::DOWNLOADS`]), waited for;
    /// `None` for small content, which needs none.
    pub(crate) async fn download_slot(
        &self,
        size: Option<u64>,
    ) -> Option<tokio::sync::SemaphorePermit<'_>> {
        if size.is_some_and(|s| s < crate::LARGE_CONTENT) {
            return None;
        }
        // The semaphore is never closed.
        self.inner.downloads.acquire().await.ok()
    }

    pub(crate) fn progress(&self) -> Option<&Arc<dyn Progress>> {
        self.inner.progress.as_ref()
    }

    pub(crate) fn max_content_size(&self) -> u64 {
        self.inner.max_content_size
    }

    pub(crate) fn refreshes(&self) -> bool {
        self.inner.refresh
    }
}
