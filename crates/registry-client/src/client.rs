//! [`Client`]: configuration -> registry -> backend, with a verified cache.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use registry_config::{Config, Origin, RegistryMapping, Setting};
use registry_core::{
    Backend, ContentReader, Error, PackageRef, PublishOptions, Registry, Release, Version,
    VersionInfo, VersionReq,
};

use crate::cache::{Cache, CachedContent};
use crate::discovery::{Discovery, RegistryMetadata};
use crate::local::{self, LocalBackend};
use crate::progress::{Progress, Reporting};

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
    /// Version lists and release descriptions asked for in this process (each registry is
    /// asked once per package per process; the next process asks again).
    listings: Mutex<HashMap<(Registry, PackageRef), Vec<VersionInfo>>>,
    releases: Mutex<HashMap<(Registry, PackageRef, Version), Release>>,
    /// Backends by registry and the metadata they were built with (two namespaces may map
    /// one registry with different metadata, e.g. different OCI prefixes). Backends given
    /// with [`Client::register_backend`] are under the metadata key `*`.
    backends: Mutex<HashMap<(Registry, String), Built>>,
}

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
    offline: bool,
    refresh: bool,
    discovery_timeout: Option<std::time::Duration>,
    progress: Option<Arc<dyn Progress>>,
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
    pub fn build(self) -> Client {
        let cache = Cache::new(self.cache_dir.unwrap_or_else(Cache::default_dir));
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
                listings: Mutex::new(HashMap::new()),
                releases: Mutex::new(HashMap::new()),
                backends: Mutex::new(HashMap::new()),
            }),
        }
    }
}

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
            offline: false,
            refresh: false,
            discovery_timeout: None,
            progress: None,
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

    /// The backend of `mirror`, serving what `upstream` serves: the mirror's configured
    /// backend (an OCI layout, a directory), else OCI with the upstream's repository layout
    /// and the mirror's own connection settings and credentials. Mirrors are not asked for
    /// a well-known document.
    #[cfg_attr(
        not(feature = "oci"),
        expect(
            unused_variables,
            reason = "only an OCI mirror takes the upstream's layout"
        )
    )]
    async fn mirror_backend(
        &self,
        upstream: &Registry,
        mirror: &Registry,
        upstream_metadata: &RegistryMetadata,
        metadata_key: &str,
    ) -> Result<Arc<dyn Backend>, Error> {
        let key = (
            mirror.clone(),
            format!("mirror of {upstream} {metadata_key}"),
        );
        if let Some(built) = self.inner.backends.lock().expect("not poisoned").get(&key) {
            return Ok(built.backend.clone());
        }
        let config = &self.inner.config;
        let kind = config
            .registry_settings(mirror)
            .default_backend()
            .map_or_else(|| OCI.to_owned(), |s| s.value);
        let backend: Arc<dyn Backend> = match kind.as_str() {
            kind if is_directory_backend(kind) => directory_backend(kind, config, mirror)?,
            #[cfg(feature = "oci")]
            OCI => {
                let defaults = oci_defaults(upstream_metadata);
                let (config, upstream, mirror) = (config.clone(), upstream.clone(), mirror.clone());
                oci_off_the_workers(move || {
                    registry_oci::OciBackend::mirror_from_config(
                        &config, &upstream, &mirror, &defaults,
                    )
                })
                .await?
            }
            other => {
                return Err(Error::config(format!(
                    "a `{other}` registry cannot be a mirror; a mirror is an OCI registry \
                     (a pull-through cache), an `oci-layout` bundle or a `local` directory"
                )));
            }
        };
        let mut backends = self.inner.backends.lock().expect("not poisoned");
        Ok(backends
            .entry(key)
            .or_insert(Built {
                backend,
                metadata: RegistryMetadata::default(),
            })
            .backend
            .clone())
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

    /// The backend for `registry` under `mapping`'s metadata, built on first use, and the
    /// key of that metadata.
    async fn built(
        &self,
        registry: &Registry,
        mapping: Option<&RegistryMapping>,
    ) -> Result<(Built, String), Error> {
        let metadata: Option<RegistryMetadata> = match mapping.filter(|m| m.has_metadata()) {
            Some(m) => m.metadata::<RegistryMetadata>()?,
            None => None,
        };
        let metadata_key = metadata
            .as_ref()
            .map(|m| serde_json::to_string(m).expect("metadata serializes"))
            .unwrap_or_default();
        let cached = {
            let backends = self.inner.backends.lock().expect("not poisoned");
            backends
                .get(&(registry.clone(), REGISTERED.to_owned()))
                .or_else(|| backends.get(&(registry.clone(), metadata_key.clone())))
                .cloned()
        };
        if let Some(built) = cached {
            return Ok((built, metadata_key));
        }
        let built = self.build_backend(registry, metadata).await?;
        let mut backends = self.inner.backends.lock().expect("not poisoned");
        let built = backends
            .entry((registry.clone(), metadata_key.clone()))
            .or_insert(built)
            .clone();
        Ok((built, metadata_key))
    }

    /// Builds the backend: the registry's configured `default` backend, else the one the
    /// mapping's metadata prefers, else the one its well-known document prefers, else OCI.
    /// Each backend crate reads its own settings from the configuration.
    async fn build_backend(
        &self,
        registry: &Registry,
        mut metadata: Option<RegistryMetadata>,
    ) -> Result<Built, Error> {
        let config = &self.inner.config;
        let configured = config
            .registry_settings(registry)
            .default_backend()
            .map(|s| s.value);
        let discovered = configured.is_none() && metadata.is_none();
        if discovered {
            metadata = self.discover(registry).await?;
        }
        let metadata = metadata.unwrap_or_default();
        let kind = configured
            .or_else(|| metadata.protocol().map(str::to_owned))
            .unwrap_or_else(|| OCI.to_owned());
        tracing::debug!(%registry, backend = %kind, "building a backend");
        let backend: Arc<dyn Backend> = match kind.as_str() {
            kind if is_directory_backend(kind) => directory_backend(kind, config, registry)?,
            #[cfg(feature = "oci")]
            OCI => {
                let defaults = oci_defaults(&metadata);
                let (config, registry) = (config.clone(), registry.clone());
                oci_off_the_workers(move || {
                    registry_oci::OciBackend::from_config(&config, &registry, &defaults)
                })
                .await?
            }
            #[cfg(feature = "warg")]
            WARG => {
                let mut url = metadata.warg.as_ref().and_then(|w| w.url.clone());
                // A configured section without a URL still lets the registry say where its
                // warg server is (unless its document was read above already).
                if url.is_none()
                    && !discovered
                    && registry_warg::WargBackend::needs_discovered_url(config, registry)?
                {
                    url = self
                        .discover(registry)
                        .await?
                        .and_then(|m| m.warg)
                        .and_then(|w| w.url);
                }
                Arc::new(registry_warg::WargBackend::from_config(
                    config,
                    registry,
                    url.as_deref(),
                    self.inner.cache.dir().join("warg"),
                )?)
            }
            #[cfg(not(feature = "warg"))]
            WARG => {
                return Err(Error::config(format!(
                    "registry `{registry}` uses the warg backend, which this build leaves out; \
                     build with the `warg` feature of registry-client"
                )));
            }
            other => {
                return Err(Error::config(format!(
                    "registry `{registry}` asks for a `{other}` backend, which does not exist; \
                     use \"oci\", \"warg\", \"local\" or \"oci-layout\""
                )));
            }
        };
        Ok(Built { backend, metadata })
    }

    /// The registry's well-known document, fetched trusting certificates as its OCI section
    /// says.
    async fn discover(&self, registry: &Registry) -> Result<Option<RegistryMetadata>, Error> {
        #[cfg(feature = "oci")]
        let tls = {
            let oci = registry_oci::OciSettings::from_config(&self.inner.config, registry)?.value;
            let mut tls = crate::discovery::Tls::from(oci.tls_trust(registry)?);
            // The section's read timeout bounds the document's answer as well.
            tls.timeout = oci.read_timeout.map(std::time::Duration::from_secs);
            tls
        };
        #[cfg(not(feature = "oci"))]
        let tls = crate::discovery::Tls::default();
        self.inner.discovery.metadata_with(registry, &tls).await
    }

    pub(crate) fn offline_error(&self, package: &PackageRef, what: &str) -> Error {
        Error::InvalidInput {
            message: format!(
                "offline: cannot {what} for `{package}`; it is not in the cache. Run once \
                 online (or with a lock file whose content is cached)"
            ),
        }
    }

    pub(crate) fn progress(&self) -> Option<&Arc<dyn Progress>> {
        self.inner.progress.as_ref()
    }

    pub(crate) fn refreshes(&self) -> bool {
        self.inner.refresh
    }
}

/// Whether `kind` names a backend that reads a directory on this machine.
fn is_directory_backend(kind: &str) -> bool {
    #[cfg(feature = "oci")]
    if kind == registry_oci::layout::BACKEND_NAME {
        return true;
    }
    kind == local::BACKEND_NAME
}

/// The backend of `registry` that reads a directory: a `local` registry, or an OCI image
/// layout (`oci-layout`, a bundle). The same for a registry and for a mirror.
fn directory_backend(
    kind: &str,
    config: &Config,
    registry: &Registry,
) -> Result<Arc<dyn Backend>, Error> {
    #[cfg(feature = "oci")]
    if kind == registry_oci::layout::BACKEND_NAME {
        return Ok(Arc::new(registry_oci::LayoutBackend::from_config(
            config, registry,
        )?));
    }
    debug_assert_eq!(kind, local::BACKEND_NAME);
    Ok(Arc::new(LocalBackend::from_config(config, registry)?))
}

/// Builds an OCI backend on the blocking pool: finding credentials may wait on a Docker
/// credential helper (up to `HELPER_TIMEOUT`), which must not hold an async worker. Once
/// per registry per process, as every backend.
#[cfg(feature = "oci")]
async fn oci_off_the_workers(
    build: impl FnOnce() -> Result<registry_oci::OciBackend, Error> + Send + 'static,
) -> Result<Arc<dyn Backend>, Error> {
    let backend = tokio::task::spawn_blocking(build)
        .await
        .map_err(|err| Error::Io {
            path: None,
            source: std::io::Error::other(err),
        })??;
    Ok(Arc::new(backend))
}

/// The OCI defaults a registry's metadata gives.
#[cfg(feature = "oci")]
fn oci_defaults(metadata: &RegistryMetadata) -> registry_oci::OciDefaults {
    metadata
        .oci
        .as_ref()
        .map(|oci| {
            registry_oci::OciDefaults::new(oci.registry.clone(), oci.namespace_prefix.clone())
        })
        .unwrap_or_default()
}

/// One place a route's packages can be read from: the registry itself or one of its
/// mirrors.
#[derive(Clone)]
struct Source {
    registry: Registry,
    backend: Arc<dyn Backend>,
}

/// Whether a failure from one source lets the next be tried: the source is down, slow,
/// refuses, or does not have it. Content that fails its check, a registry whose proofs
/// fail, and mistakes in the request or the configuration are reported instead.
fn falls_through(err: &Error) -> bool {
    match err {
        Error::DigestMismatch { .. } | Error::Untrusted { .. } => false,
        // A body cut short is a broken transfer; one that runs long is wrong content.
        Error::SizeMismatch {
            expected, actual, ..
        } => actual < expected,
        Error::InvalidInput { .. } | Error::NoRegistryForNamespace { .. } => false,
        Error::Config { .. } => false,
        _ => true,
    }
}

/// Where one package comes from: its registry, where that was configured, and the backend
/// that speaks to it, worked out once by [`Client::route`] and used for every operation on
/// the package.
///
/// ```no_run
/// # async fn example(client: registry_client::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let route = client.route(&"wasi:http".parse()?).await?;
/// let release = route.resolve(&"^0.2".parse()?).await?;
/// let content = route.fetch_open(&release).await?; // verified, held open
/// println!("{} {} from {}", route.package(), release.version, route.registry());
/// # drop(content); Ok(()) }
/// ```
#[derive(Clone)]
pub struct Route {
    client: Client,
    package: PackageRef,
    registry: Registry,
    origin: Option<Origin>,
    /// The registry's own backend (publishing goes here).
    backend: Arc<dyn Backend>,
    /// Where reads go, in order: the mirrors and the registry itself, or the registry alone.
    sources: Arc<[Source]>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("package", &self.package)
            .field("registry", &self.registry)
            .field("origin", &self.origin)
            .field("sources", &self.sources().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Route {
    /// The package.
    pub fn package(&self) -> &PackageRef {
        &self.package
    }

    /// The registry it comes from.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Where the mapping to the registry was configured (`None` when the registry was named
    /// explicitly and no mapping agrees).
    pub fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }

    /// The backend that speaks to the registry.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Where reads go, in the order they are tried: the registry's mirrors and the registry
    /// itself (`[registry."<name>".mirrors]`), or the registry alone.
    pub fn sources(&self) -> impl Iterator<Item = &Registry> {
        self.sources.iter().map(|s| &s.registry)
    }

    /// Whether reads may be served by a mirror.
    pub(crate) fn has_mirrors(&self) -> bool {
        self.sources.len() > 1 || self.sources[0].registry != self.registry
    }

    /// The first answer of the sources, in order, falling through to the next on the
    /// failures [`falls_through`] names; otherwise, or from the last, the error.
    async fn first_answer<T, F, Fut>(&self, what: &str, mut ask: F) -> Result<T, Error>
    where
        F: FnMut(Source) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let mut sources = self.sources.iter().peekable();
        loop {
            let source = sources.next().expect("a route has at least one source");
            match ask(source.clone()).await {
                Err(err) if falls_through(&err) && sources.peek().is_some() => {
                    let next = &sources.peek().expect("peeked").registry;
                    if err.is_not_found() {
                        tracing::debug!(package = %self.package, "{what}: `{}` does not have it; trying `{next}`", source.registry);
                    } else {
                        tracing::warn!(
                            "{what} for `{}` from `{}` failed, trying `{next}`: {err}",
                            self.package,
                            source.registry
                        );
                    }
                }
                result => return result,
            }
        }
    }

    /// The client the route belongs to.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn cache(&self) -> &Cache {
        self.client.cache()
    }

    fn offline(&self) -> bool {
        self.client.is_offline()
    }

    /// The package's versions (newest last). The registry is asked once per package in the
    /// client's life (every time with [`ClientBuilder::refresh`]), so a release published a
    /// moment ago shows in the next command; offline, the list last stored is used whatever
    /// its age.
    ///
    /// # Errors
    /// The backend's errors; offline, [`Error::InvalidInput`] when nothing is cached.
    pub async fn list_versions(&self) -> Result<Vec<VersionInfo>, Error> {
        if self.offline() {
            return self
                .cache()
                .versions(&self.registry, &self.package)
                .ok_or_else(|| self.client.offline_error(&self.package, "list versions"));
        }
        if !self.client.refreshes()
            && let Some(versions) = self
                .inner()
                .listings
                .lock()
                .expect("not poisoned")
                .get(&self.key())
        {
            return Ok(versions.clone());
        }
        self.fresh_versions().await
    }

    /// The version list from the registry itself, remembered for this process and stored
    /// for offline use.
    pub(crate) async fn fresh_versions(&self) -> Result<Vec<VersionInfo>, Error> {
        tracing::debug!(package = %self.package, registry = %self.registry, "asking the registry for the version list");
        let versions = self
            .first_answer("listing versions", |s| async move {
                s.backend.list_versions(&self.package).await
            })
            .await?;
        self.cache()
            .store_versions(&self.registry, &self.package, &versions);
        self.inner()
            .listings
            .lock()
            .expect("not poisoned")
            .insert(self.key(), versions.clone());
        Ok(versions)
    }

    fn inner(&self) -> &Inner {
        &self.client.inner
    }

    fn key(&self) -> (Registry, PackageRef) {
        (self.registry.clone(), self.package.clone())
    }

    /// The newest release matching `requirement` that is not yanked.
    ///
    /// # Errors
    /// [`Error::VersionNotFound`] naming the newest release there is.
    pub async fn resolve(&self, requirement: &VersionReq) -> Result<Release, Error> {
        let mut versions = self.list_versions().await?;
        if pick(&versions, requirement).is_none() && !self.offline() {
            // The cached list may predate the release asked for: ask the registry.
            versions = self.fresh_versions().await?;
        }
        let chosen = pick(&versions, requirement).ok_or_else(|| Error::VersionNotFound {
            registry: self.registry.clone(),
            package: self.package.clone(),
            requirement: requirement.to_string(),
            newest: versions
                .iter()
                .filter(|v| !v.yanked)
                .map(|v| v.version.clone())
                .max(),
        })?;
        self.release(&chosen).await
    }

    /// The release of `version`, asked of the registry once in the client's life; offline,
    /// the description last stored.
    ///
    /// # Errors
    /// The backend's errors; offline, [`Error::InvalidInput`] when nothing is cached.
    pub async fn release(&self, version: &Version) -> Result<Release, Error> {
        if self.offline() {
            return self
                .cache()
                .release(&self.registry, &self.package, version)
                .ok_or_else(|| {
                    self.client
                        .offline_error(&self.package, &format!("describe {version}"))
                });
        }
        let key = (self.registry.clone(), self.package.clone(), version.clone());
        if !self.client.refreshes()
            && let Some(release) = self
                .inner()
                .releases
                .lock()
                .expect("not poisoned")
                .get(&key)
        {
            return Ok(release.clone());
        }
        let release = self
            .first_answer("describing a release", |s| async move {
                s.backend.get_release(&self.package, version).await
            })
            .await?;
        self.cache()
            .store_release(&self.registry, &self.package, &release);
        self.inner()
            .releases
            .lock()
            .expect("not poisoned")
            .insert(key, release.clone());
        Ok(release)
    }

    /// The verified content of `release` in the cache, fetching it if needed. A cached copy
    /// is re-hashed first and fetched again if it was corrupted.
    ///
    /// The path can be removed by a concurrent `cache clean` before the caller opens it;
    /// [`fetch_open`](Self::fetch_open) returns the content held open instead.
    pub async fn fetch(&self, release: &Release) -> Result<PathBuf, Error> {
        Ok(self.fetch_open(release).await?.into_path())
    }

    /// Like [`fetch`](Self::fetch), returning the verified content held open, so its bytes
    /// stay readable whatever another process does to the cache meanwhile.
    pub async fn fetch_open(&self, release: &Release) -> Result<CachedContent, Error> {
        let cache = self.cache();
        if let Some(content) = cache.open_verified(&release.digest, release.size).await? {
            return Ok(content);
        }
        if self.offline() {
            return Err(self
                .client
                .offline_error(&self.package, &format!("fetch {}", release.version)));
        }
        // Any source with the digest will do: the bytes are checked against it whoever
        // serves them, and wrong bytes are reported, never passed over for the next source.
        self.first_answer("fetching", |source| async move {
            let mut stream = source.backend.fetch_content(&self.package, release).await?;
            if let Some(progress) = self.client.progress() {
                stream = Reporting::wrap(
                    stream,
                    progress.clone(),
                    &self.package,
                    &release.version,
                    release.size,
                );
            }
            let subject = format!(
                "{}@{} from {}",
                self.package, release.version, source.registry
            );
            cache
                .insert(&release.digest, release.size, &subject, stream)
                .await
        })
        .await
    }

    /// Publishes `content` as `version` of the package.
    ///
    /// # Errors
    /// Offline, [`Error::InvalidInput`]; otherwise the backend's errors.
    pub async fn publish(
        &self,
        version: &Version,
        content: ContentReader,
        options: &PublishOptions,
    ) -> Result<Release, Error> {
        if self.offline() {
            return Err(Error::InvalidInput {
                message: format!("offline: cannot publish {}@{version}", self.package),
            });
        }
        let release = self
            .backend
            .publish(&self.package, version, content, options)
            .await;
        // Whatever happened, the lists known so far may now be out of date.
        self.inner()
            .listings
            .lock()
            .expect("not poisoned")
            .remove(&self.key());
        self.cache().forget_versions(&self.registry, &self.package);
        release
    }
}

/// The newest non-yanked version matching `requirement`.
pub(crate) fn pick(versions: &[VersionInfo], requirement: &VersionReq) -> Option<Version> {
    versions
        .iter()
        .filter(|v| !v.yanked && requirement.matches(&v.version))
        .map(|v| v.version.clone())
        .max()
}
