//! Configs with a local directory registry, and a scripted backend for cases no real
//! registry here produces (yanked versions, counting requests in flight).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use registry_client::Client;
use registry_config::ConfigLoader;
use registry_core::{
    Backend, ContentDigest, ContentReader, ContentStream, Error, PackageRef, PublishOptions,
    Registry, Release, Version, VersionInfo, async_trait,
};

/// A client whose default registry `local.test` is a directory under `dir`, with its cache
/// in `dir/cache`.
pub(crate) fn local_client(dir: &Path) -> Client {
    client_with(dir, "")
}

/// As [`local_client`], with `extra` TOML appended to the config.
pub(crate) fn client_with(dir: &Path, extra: &str) -> Client {
    let config = dir.join("config.toml");
    let root = dir.join("registry");
    let text = format!(
        "default_registry = \"local.test\"\n[registry.\"local.test\".local]\nroot = {:?}\n{extra}",
        root.display().to_string()
    );
    // Atomically: processes of the concurrency tests share the file.
    let mut temp = tempfile::NamedTempFile::new_in(dir).unwrap();
    std::io::Write::write_all(&mut temp, text.as_bytes()).unwrap();
    temp.persist(&config).unwrap();
    let config = ConfigLoader::new()
        .user_file(&config)
        .without_project_files()
        .without_env()
        .load()
        .unwrap();
    Client::builder(config).cache_dir(dir.join("cache")).build()
}

/// A client whose only config file is `text`, with its cache in `dir/cache`.
pub(crate) fn client_from_toml(dir: &Path, text: &str) -> Client {
    client_in(dir, "cache", text)
}

/// A client whose only config file is `text` (written to `dir/config.toml`), with its
/// cache in `dir/<cache>`: another machine sharing the directory.
pub(crate) fn client_in(dir: &Path, cache: &str, text: &str) -> Client {
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    let config = ConfigLoader::new()
        .user_file(&path)
        .without_project_files()
        .without_env()
        .load()
        .unwrap();
    Client::builder(config).cache_dir(dir.join(cache)).build()
}

pub(crate) fn package(name: &str) -> PackageRef {
    name.parse().unwrap()
}

pub(crate) fn version(v: &str) -> Version {
    v.parse().unwrap()
}

pub(crate) async fn publish(client: &Client, name: &str, v: &str, bytes: Vec<u8>) -> Release {
    client
        .route(&package(name))
        .await
        .unwrap()
        .publish(
            &version(v),
            Box::pin(std::io::Cursor::new(bytes)),
            &PublishOptions::default(),
        )
        .await
        .unwrap()
}

/// Content and yanked flag per (package, version).
type Releases = BTreeMap<(String, Version), (Vec<u8>, bool)>;

/// A backend serving scripted versions (some yanked) and counting concurrent requests.
#[derive(Debug, Default)]
pub(crate) struct Scripted {
    pub(crate) registry: Option<Registry>,
    pub(crate) content: Mutex<Releases>,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) max_in_flight: AtomicUsize,
    /// Content downloads in flight now, and at most.
    pub(crate) fetching: AtomicUsize,
    pub(crate) max_fetching: AtomicUsize,
    pub(crate) delay: Duration,
}

impl Scripted {
    pub(crate) fn add(&self, name: &str, v: &str, yanked: bool) -> Vec<u8> {
        let bytes = test_support::component::small(&format!("{name}@{v}"));
        self.add_bytes(name, v, bytes.clone(), yanked);
        bytes
    }

    pub(crate) fn add_bytes(&self, name: &str, v: &str, bytes: Vec<u8>, yanked: bool) {
        self.content
            .lock()
            .unwrap()
            .insert((name.to_owned(), version(v)), (bytes, yanked));
    }

    pub(crate) fn yank(&self, name: &str, v: &str) {
        if let Some(entry) = self
            .content
            .lock()
            .unwrap()
            .get_mut(&(name.to_owned(), version(v)))
        {
            entry.1 = true;
        }
    }

    async fn enter(&self) {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    fn registry(&self) -> Registry {
        self.registry
            .clone()
            .unwrap_or_else(|| "scripted.test".parse().unwrap())
    }
}

#[async_trait]
impl Backend for Scripted {
    async fn list_versions(&self, package: &PackageRef) -> Result<Vec<VersionInfo>, Error> {
        self.enter().await;
        let content = self.content.lock().unwrap();
        let versions: Vec<VersionInfo> = content
            .iter()
            .filter(|((name, _), _)| name == package.as_str())
            .map(|((_, v), (_, yanked))| VersionInfo::new(v.clone()).with_yanked(*yanked))
            .collect();
        if versions.is_empty() {
            return Err(Error::PackageNotFound {
                registry: self.registry(),
                package: package.clone(),
            });
        }
        Ok(versions)
    }

    fn tracks_yanks(&self) -> bool {
        true
    }

    async fn get_release(&self, package: &PackageRef, v: &Version) -> Result<Release, Error> {
        self.enter().await;
        let content = self.content.lock().unwrap();
        let (bytes, _) = content
            .get(&(package.to_string(), v.clone()))
            .ok_or_else(|| Error::VersionNotFound {
                registry: self.registry(),
                package: package.clone(),
                requirement: v.to_string(),
                newest: None,
            })?;
        Ok(Release::new(v.clone(), ContentDigest::sha256(bytes)).with_size(bytes.len() as u64))
    }

    async fn fetch_content(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<ContentStream, Error> {
        let now = self.fetching.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_fetching.fetch_max(now, Ordering::SeqCst);
        self.enter().await;
        self.fetching.fetch_sub(1, Ordering::SeqCst);
        let bytes = self.content.lock().unwrap()[&(package.to_string(), release.version.clone())]
            .0
            .clone();
        Ok(Box::pin(futures_util::stream::iter([Ok(bytes.into())])))
    }

    async fn publish(
        &self,
        _: &PackageRef,
        _: &Version,
        _: ContentReader,
        _: &PublishOptions,
    ) -> Result<Release, Error> {
        unreachable!("not used")
    }
}
