//! warg-client's on-disk state: one client per directory set in this process, and waiting
//! for another process's lock without blocking an async thread.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use indexmap::IndexSet;
use registry_core::{Error, Registry};
use warg_client::storage::{
    FileSystemContentStorage, FileSystemNamespaceMapStorage, FileSystemRegistryStorage,
};
use warg_client::{FileSystemClient, RegistryUrl};

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

type Pool = Mutex<HashMap<StorageDirs, Weak<FileSystemClient>>>;

/// Clients alive in this process, by directory set. A directory's lock can be held once
/// per process, so every backend using it shares one client; the lock is released when
/// the last operation using the client ends.
fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(Pool::default)
}

/// The client for `spec`'s directories: the one in use in this process, or a new one once
/// the directories' locks are free (polling, so no thread blocks on them).
pub(crate) async fn client(spec: &ClientSpec<'_>) -> Result<Arc<FileSystemClient>, Error> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(20);
    let mut announced = false;
    loop {
        if let Some(client) = pool()
            .lock()
            .expect("not poisoned")
            .get(spec.dirs)
            .and_then(Weak::upgrade)
        {
            return Ok(client);
        }
        match try_open(spec)? {
            Ok(client) => {
                let client = Arc::new(client);
                let mut pool = pool().lock().expect("not poisoned");
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
fn try_open(spec: &ClientSpec<'_>) -> Result<Result<FileSystemClient, PathBuf>, Error> {
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
    let client = FileSystemClient::new(
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
