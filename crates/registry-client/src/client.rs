//! [`Client`]: configuration -> registry -> backend, with a verified cache.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use registry_config::{Config, RegistryMapping, Setting};
use registry_core::{
    Backend, ContentReader, Error, PackageRef, PublishOptions, Registry, Release, Version,
    VersionInfo, VersionReq,
};

use crate::cache::{Cache, CachedContent};
use crate::discovery::{Discovery, RegistryMetadata};
use crate::local::{self, LocalBackend, LocalSettings};
use crate::progress::{Progress, Reporting};

/// Resolves packages to registries and registries to backends, and fetches content through
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
    /// Backends by registry and the metadata they were built with (two namespaces may map
    /// one registry with different metadata, e.g. different OCI prefixes). Backends given
    /// with [`Client::register_backend`] are under the metadata key `*`.
    backends: Mutex<HashMap<(Registry, String), Arc<dyn Backend>>>,
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

    /// Asks registries for their version lists every time instead of using lists cached in
    /// the last minute.
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

    /// The registry `package` comes from: package override, namespace mapping, default
    /// registry, built-in fallback.
    ///
    /// # Errors
    /// [`Error::NoRegistryForNamespace`].
    pub fn registry_for(&self, package: &PackageRef) -> Result<Setting<RegistryMapping>, Error> {
        self.inner.config.resolve_registry(package)
    }

    /// Uses `backend` for `registry` instead of building one from the configuration: for
    /// tools that bring their own backend, and for tests.
    pub fn register_backend(&self, registry: Registry, backend: Arc<dyn Backend>) {
        self.inner
            .backends
            .lock()
            .expect("not poisoned")
            .insert((registry, REGISTERED.to_owned()), backend);
    }

    /// The backend for `registry`, built on first use: the registry's configured `default`
    /// backend, else the one its mapping's metadata prefers, else the one its well-known
    /// document prefers, else OCI.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a backend this build does not have, or bad settings;
    /// [`Error::Registry`] for a malformed well-known document.
    pub async fn backend(
        &self,
        registry: &Registry,
        mapping: Option<&RegistryMapping>,
    ) -> Result<Arc<dyn Backend>, Error> {
        let metadata_key = match mapping.filter(|m| m.has_metadata()) {
            Some(m) => serde_json::to_string(&m.metadata::<RegistryMetadata>()?)
                .expect("metadata serializes"),
            None => String::new(),
        };
        let cached = {
            let backends = self.inner.backends.lock().expect("not poisoned");
            backends
                .get(&(registry.clone(), REGISTERED.to_owned()))
                .or_else(|| backends.get(&(registry.clone(), metadata_key.clone())))
                .cloned()
        };
        if let Some(backend) = cached {
            return Ok(backend);
        }
        let backend = self.build_backend(registry, mapping).await?;
        let mut backends = self.inner.backends.lock().expect("not poisoned");
        Ok(backends
            .entry((registry.clone(), metadata_key))
            .or_insert(backend)
            .clone())
    }

    async fn build_backend(
        &self,
        registry: &Registry,
        mapping: Option<&RegistryMapping>,
    ) -> Result<Arc<dyn Backend>, Error> {
        let config = &self.inner.config;
        let settings = config.registry_settings(registry);
        let configured = settings.default_backend().map(|s| s.value);
        let mut metadata: Option<RegistryMetadata> = mapping
            .map(RegistryMapping::metadata::<RegistryMetadata>)
            .transpose()?
            .flatten();
        let discovered = configured.is_none() && metadata.is_none();
        if discovered {
            let tls = self.tls_for(registry)?;
            metadata = self.inner.discovery.metadata_with(registry, &tls).await?;
        }
        let metadata = metadata.unwrap_or_default();
        let kind = configured
            .or_else(|| metadata.protocol().map(str::to_owned))
            .unwrap_or_else(|| OCI.to_owned());
        tracing::debug!(%registry, backend = %kind, "choosing a backend");
        match kind.as_str() {
            local::BACKEND_NAME => {
                let Some(local) = settings.backend::<LocalSettings>(local::BACKEND_NAME)? else {
                    return Err(Error::InvalidInput {
                        message: format!(
                            "registry `{registry}` uses the local backend but sets no directory; \
                             add `root = \"/path\"` under [registry.\"{registry}\".local]"
                        ),
                    });
                };
                Ok(Arc::new(LocalBackend::new(registry.clone(), local.value)))
            }
            #[cfg(feature = "oci")]
            OCI => {
                let mut oci = registry_oci::OciSettings::from_config(config, registry)?.value;
                if let Some(meta) = &metadata.oci {
                    oci.registry = oci.registry.or_else(|| meta.registry.clone());
                    oci.namespace_prefix = oci
                        .namespace_prefix
                        .or_else(|| meta.namespace_prefix.clone());
                }
                Ok(Arc::new(registry_oci::OciBackend::new(
                    registry.clone(),
                    oci,
                )?))
            }
            #[cfg(feature = "warg")]
            WARG => {
                let mut warg = registry_warg::WargSettings::from_config(config, registry)?.value;
                if warg.url.is_none() {
                    // A configured section without a URL still lets the registry say where
                    // its warg server is (unless its document was read above already).
                    let meta = match metadata.warg.clone() {
                        None if !discovered => {
                            let tls = self.tls_for(registry)?;
                            let found = self.inner.discovery.metadata_with(registry, &tls).await?;
                            found.and_then(|m| m.warg)
                        }
                        meta => meta,
                    };
                    warg.url = meta.and_then(|m| m.url);
                }
                Ok(Arc::new(registry_warg::WargBackend::new(
                    registry.clone(),
                    warg,
                    self.inner.cache.dir().join("warg"),
                )?))
            }
            #[cfg(not(feature = "warg"))]
            WARG => Err(Error::InvalidInput {
                message: format!(
                    "registry `{registry}` uses the warg backend, which this build leaves out; \
                     build with the `warg` feature of registry-client"
                ),
            }),
            other => Err(Error::InvalidInput {
                message: format!(
                    "registry `{registry}` asks for a `{other}` backend, which does not exist; \
                     use \"oci\", \"warg\" or \"local\""
                ),
            }),
        }
    }

    /// The TLS trust settings of `registry`'s OCI section, for its well-known document.
    fn tls_for(&self, registry: &Registry) -> Result<crate::discovery::Tls, Error> {
        #[cfg(feature = "oci")]
        {
            let oci = registry_oci::OciSettings::from_config(&self.inner.config, registry)?.value;
            let mut tls = crate::discovery::Tls {
                https: oci.effective_protocol(registry) == registry_oci::Protocol::Https,
                insecure: oci.insecure_skip_tls_verify,
                ..Default::default()
            };
            if let Some(pem) = oci.ca_pem {
                tls.extra_roots_pem.push(pem.into_bytes());
            }
            if let Some(path) = oci.ca_file {
                tls.extra_roots_pem
                    .push(std::fs::read(&path).map_err(|e| Error::io(path, e))?);
            }
            Ok(tls)
        }
        #[cfg(not(feature = "oci"))]
        {
            let _ = registry;
            Ok(crate::discovery::Tls::default())
        }
    }

    /// Opens the verified content of a resolution as a stream (for callers that want bytes
    /// rather than a path). A registry release whose cache entry was removed since it was
    /// resolved (a concurrent `cache clean`) is fetched again.
    pub async fn open(
        &self,
        resolution: &crate::Resolution,
    ) -> Result<registry_core::ContentStream, Error> {
        let content = self.open_resolution(resolution).await?;
        let path = content.path().to_owned();
        Ok(crate::local::file_stream(
            tokio::fs::File::from_std(content.into_file()),
            path,
        ))
    }

    /// The bytes of a resolution; like [`open`](Self::open).
    pub async fn read(&self, resolution: &crate::Resolution) -> Result<Vec<u8>, Error> {
        self.open_resolution(resolution).await?.read().await
    }

    /// The resolution's file, opened; a registry release whose cache entry is gone is
    /// fetched again.
    async fn open_resolution(
        &self,
        resolution: &crate::Resolution,
    ) -> Result<CachedContent, Error> {
        let path = resolution.path().clone();
        match (std::fs::File::open(&path), resolution) {
            (Ok(file), _) => Ok(CachedContent { path, file }),
            (
                Err(err),
                crate::Resolution::Registry {
                    package,
                    registry,
                    release,
                    ..
                },
            ) if err.kind() == std::io::ErrorKind::NotFound => {
                self.fetch_open(package, Some(registry), release).await
            }
            (Err(err), _) => Err(Error::io(path, err)),
        }
    }

    /// The backend for `package`, and its registry.
    pub async fn backend_for(
        &self,
        package: &PackageRef,
        registry: Option<&Registry>,
    ) -> Result<(Registry, Arc<dyn Backend>), Error> {
        // The package's own mapping carries metadata (an OCI prefix, a protocol) that applies
        // whenever the package is fetched from that registry, named explicitly or not.
        let mapping = match registry {
            Some(_) => self.registry_for(package).ok().map(|s| s.value),
            None => Some(self.registry_for(package)?.value),
        };
        let registry = match registry {
            Some(registry) => registry.clone(),
            None => mapping.as_ref().expect("resolved above").registry().clone(),
        };
        let mapping = mapping.filter(|m| m.registry() == &registry);
        let backend = self.backend(&registry, mapping.as_ref()).await?;
        Ok((registry, backend))
    }

    fn offline_error(&self, package: &PackageRef, what: &str) -> Error {
        Error::InvalidInput {
            message: format!(
                "offline: cannot {what} for `{package}`; it is not in the cache. Run once \
                 online (or with a lock file whose content is cached)"
            ),
        }
    }

    /// Lists `package`'s versions (newest last). Lists are cached for a minute (see
    /// [`ClientBuilder::refresh`]); offline, the cached list is used whatever its age.
    pub async fn list_versions(
        &self,
        package: &PackageRef,
        registry: Option<&Registry>,
    ) -> Result<Vec<VersionInfo>, Error> {
        let registry = match registry {
            Some(registry) => registry.clone(),
            None => self.registry_for(package)?.value.registry().clone(),
        };
        let cache = &self.inner.cache;
        if (!self.inner.refresh || self.inner.offline)
            && let Some(versions) = cache.versions(&registry, package, self.inner.offline)
        {
            return Ok(versions);
        }
        if self.inner.offline {
            return Err(self.offline_error(package, "list versions"));
        }
        let (_, backend) = self.backend_for(package, Some(&registry)).await?;
        let versions = backend.list_versions(package).await?;
        cache.store_versions(&registry, package, &versions);
        Ok(versions)
    }

    /// The newest release of `package` matching `requirement` that is not yanked.
    ///
    /// # Errors
    /// [`Error::VersionNotFound`] naming the newest release there is.
    pub async fn resolve(
        &self,
        package: &PackageRef,
        registry: Option<&Registry>,
        requirement: &VersionReq,
    ) -> Result<Release, Error> {
        let registry = match registry {
            Some(registry) => registry.clone(),
            None => self.registry_for(package)?.value.registry().clone(),
        };
        let mut versions = self.list_versions(package, Some(&registry)).await?;
        if pick(&versions, requirement).is_none() && !self.inner.offline {
            // The cached list may predate the release asked for: ask the registry.
            let (_, backend) = self.backend_for(package, Some(&registry)).await?;
            versions = backend.list_versions(package).await?;
            self.inner
                .cache
                .store_versions(&registry, package, &versions);
        }
        let chosen = pick(&versions, requirement).ok_or_else(|| Error::VersionNotFound {
            registry: registry.clone(),
            package: package.clone(),
            requirement: requirement.to_string(),
            newest: versions
                .iter()
                .filter(|v| !v.yanked)
                .map(|v| v.version.clone())
                .max(),
        })?;
        let cache = &self.inner.cache;
        let any_age = self.inner.offline;
        if (!self.inner.refresh || any_age)
            && let Some(release) = cache.release(&registry, package, &chosen, any_age)
        {
            return Ok(release);
        }
        if self.inner.offline {
            return Err(self.offline_error(package, &format!("describe {chosen}")));
        }
        let (_, backend) = self.backend_for(package, Some(&registry)).await?;
        let release = backend.get_release(package, &chosen).await?;
        cache.store_release(&registry, package, &release);
        Ok(release)
    }

    /// The verified content of `release` in the cache, fetching it if needed. A cached copy
    /// is re-hashed first and fetched again if it was corrupted.
    ///
    /// The path can be removed by a concurrent `cache clean` before the caller opens it;
    /// [`fetch_open`](Self::fetch_open) returns the content held open instead.
    pub async fn fetch(
        &self,
        package: &PackageRef,
        registry: Option<&Registry>,
        release: &Release,
    ) -> Result<PathBuf, Error> {
        Ok(self
            .fetch_open(package, registry, release)
            .await?
            .into_path())
    }

    /// Like [`fetch`](Self::fetch), returning the verified content held open, so its bytes
    /// stay readable whatever another process does to the cache meanwhile.
    pub async fn fetch_open(
        &self,
        package: &PackageRef,
        registry: Option<&Registry>,
        release: &Release,
    ) -> Result<CachedContent, Error> {
        let cache = &self.inner.cache;
        if let Some(content) = cache.open_verified(&release.digest, release.size).await? {
            return Ok(content);
        }
        if self.inner.offline {
            return Err(self.offline_error(package, &format!("fetch {}", release.version)));
        }
        let (registry, backend) = self.backend_for(package, registry).await?;
        let mut stream = backend.fetch_content(package, release).await?;
        if let Some(progress) = &self.inner.progress {
            stream = Reporting::wrap(
                stream,
                progress.clone(),
                package,
                &release.version,
                release.size,
            );
        }
        let subject = format!("{package}@{} from {registry}", release.version);
        cache
            .insert(&release.digest, release.size, &subject, stream)
            .await
    }

    /// Publishes `content` as `version` of `package` to its registry.
    pub async fn publish(
        &self,
        package: &PackageRef,
        registry: Option<&Registry>,
        version: &Version,
        content: ContentReader,
        options: &PublishOptions,
    ) -> Result<Release, Error> {
        if self.inner.offline {
            return Err(Error::InvalidInput {
                message: format!("offline: cannot publish {package}@{version}"),
            });
        }
        let (_, backend) = self.backend_for(package, registry).await?;
        backend.publish(package, version, content, options).await
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
