//! warg-client's on-disk state: one client per directory set in this process, and waiting
//! for another process's lock without blocking an async thread.
//!
//! Where it lives is ours to say: [`StorageDirs::under`] names the directories after the
//! server's URL. warg-client is handed the relay's URL (`http://127.0.0.1:<port>/<secret>/`)
//! and writes that URL's label (`RegistryUrl::safe_label`: host, port and path, so the
//! relay's port and secret) into the operator and package logs it stores; [`Labelled`]
//! writes the server's label there instead, so neither reaches the disk and the logs name
//! the same registry from one process to the next.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use indexmap::{IndexMap, IndexSet};
use registry_core::{Error, Registry};
use warg_client::RegistryUrl;
use warg_client::storage::{
    FileSystemContentStorage, FileSystemNamespaceMapStorage, FileSystemRegistryStorage,
    OperatorInfo, PackageInfo, PublishInfo, RegistryDomain, RegistryStorage,
};
use warg_protocol::SerdeEnvelope;
use warg_protocol::registry::{PackageName, TimestampedCheckpoint};

/// The warg client this crate uses: file-system storage, its logs labelled with the
/// server's name rather than the relay's.
pub(crate) type WargClient =
    warg_client::Client<Labelled, FileSystemContentStorage, FileSystemNamespaceMapStorage>;

/// warg-client's file-system registry storage, with the registry label it writes into the
/// logs it stores mapped from the relay's to the server's.
pub(crate) struct Labelled {
    inner: FileSystemRegistryStorage,
    /// The label of the URL warg-client is handed (the relay's, with its secret).
    relay: RegistryDomain,
    /// The label of the server's URL.
    server: RegistryDomain,
}

impl Labelled {
    fn relabel(&self, label: &mut Option<RegistryDomain>) {
        if label.as_ref() == Some(&self.relay) {
            *label = Some(self.server.clone());
        }
    }
}

#[async_trait::async_trait]
impl RegistryStorage for Labelled {
    async fn reset(&self, all_registries: bool) -> anyhow::Result<()> {
        self.inner.reset(all_registries).await
    }

    async fn load_checkpoint(
        &self,
        namespace_registry: Option<&RegistryDomain>,
    ) -> anyhow::Result<Option<SerdeEnvelope<TimestampedCheckpoint>>> {
        self.inner.load_checkpoint(namespace_registry).await
    }

    async fn store_checkpoint(
        &self,
        namespace_registry: Option<&RegistryDomain>,
        ts_checkpoint: &SerdeEnvelope<TimestampedCheckpoint>,
    ) -> anyhow::Result<()> {
        self.inner
            .store_checkpoint(namespace_registry, ts_checkpoint)
            .await
    }

    async fn load_operator(
        &self,
        namespace_registry: Option<&RegistryDomain>,
    ) -> anyhow::Result<Option<OperatorInfo>> {
        self.inner.load_operator(namespace_registry).await
    }

    async fn store_operator(
        &self,
        namespace_registry: Option<&RegistryDomain>,
        mut operator: OperatorInfo,
    ) -> anyhow::Result<()> {
        self.relabel(&mut operator.registry);
        self.inner
            .store_operator(namespace_registry, operator)
            .await
    }

    async fn load_all_packages(
        &self,
    ) -> anyhow::Result<IndexMap<RegistryDomain, Vec<PackageInfo>>> {
        self.inner.load_all_packages().await
    }

    async fn load_package(
        &self,
        namespace_registry: Option<&RegistryDomain>,
        package: &PackageName,
    ) -> anyhow::Result<Option<PackageInfo>> {
        self.inner.load_package(namespace_registry, package).await
    }

    async fn store_package(
        &self,
        namespace_registry: Option<&RegistryDomain>,
        info: &PackageInfo,
    ) -> anyhow::Result<()> {
        if info.registry.as_ref() != Some(&self.relay) {
            return self.inner.store_package(namespace_registry, info).await;
        }
        let mut info = info.clone();
        self.relabel(&mut info.registry);
        self.inner.store_package(namespace_registry, &info).await
    }

    async fn load_publish(&self) -> anyhow::Result<Option<PublishInfo>> {
        self.inner.load_publish().await
    }

    async fn store_publish(&self, info: Option<&PublishInfo>) -> anyhow::Result<()> {
        self.inner.store_publish(info).await
    }
}

/// The directories one warg client keeps its state in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StorageDirs {
    /// Package and operator logs and checkpoints.
    pub(crate) registry: PathBuf,
    /// Downloaded and to-be-published content.
    pub(crate) content: PathBuf,
    /// The namespace map file.
    pub(crate) namespace_map: PathBuf,
}

impl StorageDirs {
    /// `<root>/<url label>/{registry,content,namespace-map.json}`: each server gets its own
    /// directories, so two registries used at once never wait for each other.
    pub(crate) fn under(root: &Path, url: &RegistryUrl) -> Self {
        let base = root.join(url.safe_label());
        Self {
            registry: base.join("registry"),
            content: base.join("content"),
            namespace_map: base.join("namespace-map.json"),
        }
    }
}

/// What a client is built from.
#[derive(Debug)]
pub(crate) struct ClientSpec<'a> {
    pub(crate) registry: &'a Registry,
    pub(crate) url: &'a RegistryUrl,
    /// Where warg-client sends its requests: the relay in front of `url`.
    pub(crate) client_url: &'a str,
    pub(crate) dirs: &'a StorageDirs,
    pub(crate) auth_token: Option<&'a str>,
    pub(crate) auto_init: bool,
    pub(crate) lock_timeout: Duration,
}

type Pool = Mutex<HashMap<StorageDirs, Weak<WargClient>>>;

/// Clients alive in this process, by directory set. A directory's lock can be held once
/// per process, so every backend using it shares one client; the lock is released when
/// the last operation using the client ends.
fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(Pool::default)
}

/// The client for `spec`'s directories: the one in use in this process, or a new one once
/// the directories' locks are free (polling, so no thread blocks on them).
pub(crate) async fn client(spec: &ClientSpec<'_>) -> Result<Arc<WargClient>, Error> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(20);
    let mut announced = false;
    loop {
        if let Some(client) = pool()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(spec.dirs)
            .and_then(Weak::upgrade)
        {
            return Ok(client);
        }
        match try_open(spec)? {
            Ok(client) => {
                let client = Arc::new(client);
                let mut pool = pool().lock().unwrap_or_else(PoisonError::into_inner);
                // Another task may have opened it meanwhile; keep the first, drop ours.
                if let Some(existing) = pool.get(spec.dirs).and_then(Weak::upgrade) {
                    return Ok(existing);
                }
                pool.retain(|_, weak| weak.strong_count() > 0);
                pool.insert(spec.dirs.clone(), Arc::downgrade(&client));
                return Ok(client);
            }
            Err(busy) => {
                if started.elapsed() >= spec.lock_timeout {
                    return Err(Error::Io {
                        path: Some(busy.clone()),
                        source: std::io::Error::new(
                            std::io::ErrorKind::WouldBlock,
                            format!(
                                "another process has used warg storage `{}` for {} s \
                                 (registry `{}`); wait for it to finish, raise `lock_timeout`, \
                                 or give this process its own `storage_dir`",
                                busy.display(),
                                spec.lock_timeout.as_secs(),
                                spec.registry
                            ),
                        ),
                    });
                }
                if !announced {
                    tracing::info!(dir = %busy.display(), "waiting for another process's warg storage lock");
                    announced = true;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_millis(500));
            }
        }
    }
}

/// Opens the storage without waiting: `Ok(Err(dir))` names a directory another process holds.
fn try_open(spec: &ClientSpec<'_>) -> Result<Result<WargClient, PathBuf>, Error> {
    let io = |path: &Path, err: anyhow::Error| Error::Io {
        path: Some(path.to_owned()),
        source: std::io::Error::other(registry_core::chain_text(err.as_ref())),
    };
    for dir in [&spec.dirs.registry, &spec.dirs.content] {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let Some(registry) = FileSystemRegistryStorage::try_lock(spec.dirs.registry.clone())
        .map_err(|e| io(&spec.dirs.registry, e))?
    else {
        return Ok(Err(spec.dirs.registry.clone()));
    };
    let Some(content) = FileSystemContentStorage::try_lock(spec.dirs.content.clone())
        .map_err(|e| io(&spec.dirs.content, e))?
    else {
        return Ok(Err(spec.dirs.content.clone()));
    };
    let namespace_map = FileSystemNamespaceMapStorage::new(spec.dirs.namespace_map.clone());
    let setup = |err: anyhow::Error| {
        Error::registry_with_source(
            spec.registry,
            format!("cannot set up a warg client for {}", spec.url),
            err,
        )
    };
    let registry = Labelled {
        inner: registry,
        relay: RegistryUrl::new(spec.client_url)
            .map_err(setup)?
            .registry_domain(),
        server: spec.url.registry_domain(),
    };
    let client = WargClient::new(
        spec.client_url.to_owned(),
        registry,
        content,
        namespace_map,
        spec.auth_token.map(|t| secrecy::Secret::new(t.to_owned())),
        // Federation hints would send requests to registries nobody configured.
        true,
        true,
        !spec.auto_init,
        // Never prompt.
        true,
        None,
        IndexSet::new(),
    )
    .map_err(|err| {
        Error::registry_with_source(
            spec.registry,
            format!("cannot set up a warg client for {}", spec.url),
            err,
        )
    })?;
    Ok(Ok(client))
}
