//! The backend factory: the backend of a registry (configured, from its mapping's
//! metadata, from its well-known document, else OCI) and of a mirror, each built once.

use std::sync::Arc;

use registry_config::{Config, Origin, RegistryMapping};
use registry_core::{Backend, Error, Registry};

use super::{BuildGate, Built, Client, OCI, REGISTERED, WARG};
use crate::discovery::RegistryMetadata;
use crate::local::{self, LocalBackend};

impl Client {
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
    pub(super) async fn mirror_backend(
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
        let built = || {
            let backends = self.inner.backends.lock().expect("not poisoned");
            backends.get(&key).map(|built| built.backend.clone())
        };
        if let Some(backend) = built() {
            return Ok(backend);
        }
        let gate = self.build_gate(&key);
        let _building = gate.lock().await;
        if let Some(backend) = built() {
            return Ok(backend);
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
                return Err(backend_kind_error(
                    config,
                    mirror,
                    format!(
                        "a `{other}` registry cannot be a mirror; a mirror is an OCI registry \
                         (a pull-through cache), an `oci-layout` bundle or a `local` directory"
                    ),
                ));
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

    /// The backend for `registry` under `mapping`'s metadata, built on first use, and the
    /// key of that metadata.
    pub(super) async fn built(
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
        let cached = || {
            let backends = self.inner.backends.lock().expect("not poisoned");
            backends
                .get(&(registry.clone(), REGISTERED.to_owned()))
                .or_else(|| backends.get(&(registry.clone(), metadata_key.clone())))
                .cloned()
        };
        if let Some(built) = cached() {
            return Ok((built, metadata_key));
        }
        let gate = self.build_gate(&(registry.clone(), metadata_key.clone()));
        let _building = gate.lock().await;
        if let Some(built) = cached() {
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

    /// The gate held while the backend under `key` is built (see `Inner::building`).
    fn build_gate(&self, key: &(Registry, String)) -> BuildGate {
        let mut gates = self.inner.building.lock().expect("not poisoned");
        gates.entry(key.clone()).or_default().clone()
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
            #[cfg(not(feature = "oci"))]
            OCI => {
                return Err(backend_kind_error(
                    config,
                    registry,
                    "the registry is an OCI registry (configured, from its well-known document, \
                     or the fallback), which this build leaves out; build with the `oci` \
                     feature of registry-client"
                        .to_owned(),
                ));
            }
            #[cfg(not(feature = "warg"))]
            WARG => {
                return Err(backend_kind_error(
                    config,
                    registry,
                    "the registry uses the warg backend, which this build leaves out; build \
                     with the `warg` feature of registry-client"
                        .to_owned(),
                ));
            }
            other => {
                return Err(backend_kind_error(
                    config,
                    registry,
                    format!(
                        "a `{other}` backend does not exist; use \"oci\", \"warg\", \
                         \"local\" or \"oci-layout\""
                    ),
                ));
            }
        };
        Ok(Built { backend, metadata })
    }
}

/// A configuration error about the backend a registry asks for, located at its `default`
/// key (or at the registry's well-known document, when that chose the backend).
fn backend_kind_error(config: &Config, registry: &Registry, message: String) -> Error {
    let origin = config
        .registry_settings(registry)
        .default_backend()
        .map_or_else(
            || Origin::Tool {
                name: format!("the well-known document of {registry}"),
            },
            |setting| setting.origin,
        );
    let key = registry_config::KeyPath::new(["registry", registry.as_str(), "default"]);
    registry_config::ConfigError::invalid(&origin, &key, message).into()
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
