//! [`Client`]: configuration -> registry -> backend, with a verified cache.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use registry_config::{Config, RegistryMapping, Setting};
use registry_core::{
    Backend, ContentReader, Error, PackageRef, PublishOptions, Registry, Release, Version,
    VersionInfo, VersionReq,
};
use serde::Deserialize;

use crate::cache::Cache;
use crate::local::{self, LocalBackend, LocalSettings};

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
    backends: Mutex<HashMap<Registry, Arc<dyn Backend>>>,
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

    /// The client.
    pub fn build(self) -> Client {
        Client {
            inner: Arc::new(Inner {
                config: self.config,
                cache: Cache::new(self.cache_dir.unwrap_or_else(Cache::default_dir)),
                offline: self.offline,
                backends: Mutex::new(HashMap::new()),
            }),
        }
    }
}

/// The backends this build knows.
const OCI: &str = "oci";
const WARG: &str = "warg";

/// The part of a mapping's `metadata` (the stand-in for the registry's well-known
/// document) that chooses and configures the backend.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    preferred_protocol: Option<String>,
    oci: Option<OciMetadata>,
    oci_registry: Option<String>,
    oci_namespace_prefix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciMetadata {
    registry: Option<String>,
    namespace_prefix: Option<String>,
}

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
            .insert(registry, backend);
    }

    /// The backend for `registry`, built on first use: the registry's configured `default`
    /// backend, else the one its mapping's metadata prefers, else OCI.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a backend this build does not have, or bad settings.
    pub fn backend(
        &self,
        registry: &Registry,
        mapping: Option<&RegistryMapping>,
    ) -> Result<Arc<dyn Backend>, Error> {
        if let Some(backend) = self
            .inner
            .backends
            .lock()
            .expect("not poisoned")
            .get(registry)
        {
            return Ok(backend.clone());
        }
        let backend = self.build_backend(registry, mapping)?;
        let mut backends = self.inner.backends.lock().expect("not poisoned");
        Ok(backends.entry(registry.clone()).or_insert(backend).clone())
    }

    fn build_backend(
        &self,
        registry: &Registry,
        mapping: Option<&RegistryMapping>,
    ) -> Result<Arc<dyn Backend>, Error> {
        let config = &self.inner.config;
        let settings = config.registry_settings(registry);
        let metadata: Metadata = mapping
            .map(RegistryMapping::metadata::<Metadata>)
            .transpose()?
            .flatten()
            .unwrap_or_default();
        let kind = settings
            .default_backend()
            .map(|s| s.value)
            .or_else(|| metadata.preferred_protocol.clone())
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
                let (meta_registry, meta_prefix) = match &metadata.oci {
                    Some(m) => (m.registry.clone(), m.namespace_prefix.clone()),
                    None => (
                        metadata.oci_registry.clone(),
                        metadata.oci_namespace_prefix.clone(),
                    ),
                };
                oci.registry = oci.registry.or(meta_registry);
                oci.namespace_prefix = oci.namespace_prefix.or(meta_prefix);
                Ok(Arc::new(registry_oci::OciBackend::new(
                    registry.clone(),
                    oci,
                )?))
            }
            WARG => Err(Error::InvalidInput {
                message: format!(
                    "registry `{registry}` uses the warg backend, which this build does not \
                     include yet"
                ),
            }),
            other => Err(Error::InvalidInput {
                message: format!(
                    "registry `{registry}` asks for a `{other}` backend, which does not exist; \
                     use \"oci\" or \"local\""
                ),
            }),
        }
    }

    /// The backend for `package`, and its registry.
    pub fn backend_for(
        &self,
        package: &PackageRef,
        registry: Option<&Registry>,
    ) -> Result<(Registry, Arc<dyn Backend>), Error> {
        match registry {
            Some(registry) => Ok((registry.clone(), self.backend(registry, None)?)),
            None => {
                let mapping = self.registry_for(package)?.value;
                let registry = mapping.registry().clone();
                let backend = self.backend(&registry, Some(&mapping))?;
                Ok((registry, backend))
            }
        }
    }

    fn offline_error(&self, package: &PackageRef, what: &str) -> Error {
        Error::InvalidInput {
            message: format!(
                "offline: cannot {what} for `{package}`; it is not in the cache. Run once \
                 online (or with a lock file whose content is cached)"
            ),
        }
    }

    /// Lists `package`'s versions (newest last).
    pub async fn list_versions(
        &self,
        package: &PackageRef,
        registry: Option<&Registry>,
    ) -> Result<Vec<VersionInfo>, Error> {
        if self.inner.offline {
            return Err(self.offline_error(package, "list versions"));
        }
        let (_, backend) = self.backend_for(package, registry)?;
        backend.list_versions(package).await
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
        if self.inner.offline {
            return Err(self.offline_error(package, "resolve a version"));
        }
        let (registry, backend) = self.backend_for(package, registry)?;
        let versions = backend.list_versions(package).await?;
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
        backend.get_release(package, &chosen).await
    }

    /// The verified content of `release` in the cache, fetching it if needed. A cached copy
    /// is re-hashed first and fetched again if it was corrupted.
    pub async fn fetch(
        &self,
        package: &PackageRef,
        registry: Option<&Registry>,
        release: &Release,
    ) -> Result<PathBuf, Error> {
        let cache = &self.inner.cache;
        if let Some(path) = cache.verified_path(&release.digest, release.size).await? {
            return Ok(path);
        }
        if self.inner.offline {
            return Err(self.offline_error(package, &format!("fetch {}", release.version)));
        }
        let (registry, backend) = self.backend_for(package, registry)?;
        let stream = backend.fetch_content(package, release).await?;
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
        let (_, backend) = self.backend_for(package, registry)?;
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
