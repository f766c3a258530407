//! The `local` backend: a directory registry, `<root>/<namespace>/<name>/<version>.wasm`,
//! the layout `wkg` uses. No server; readable and writable.

use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;
use registry_core::{
    Backend, ContentDigest, ContentReader, ContentStream, Error, PackageRef, PublishOptions,
    Registry, Release, Version, VersionInfo, async_trait,
};
use registry_transport::Spool;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The name of this backend's section and `default`.
pub const BACKEND_NAME: &str = "local";

/// `[registry."<name>".local]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LocalSettings {
    /// The directory holding the packages.
    pub root: PathBuf,
}

impl LocalSettings {
    /// Settings for a registry rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

/// A directory registry.
#[derive(Clone, Debug)]
pub struct LocalBackend {
    registry: Registry,
    root: PathBuf,
}

const CHUNK: usize = 256 * 1024;

impl LocalBackend {
    /// A registry named `registry` stored under `root` (created on first publish).
    pub fn new(registry: Registry, settings: LocalSettings) -> Self {
        Self {
            registry,
            root: settings.root,
        }
    }

    /// A backend for `registry` from its `[registry."<name>".local]` section in `config`.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad section, or none (a local registry needs its `root`).
    pub fn from_config(
        config: &registry_config::Config,
        registry: &Registry,
    ) -> Result<Self, registry_core::Error> {
        let settings = config.registry_settings(registry);
        match settings.backend::<LocalSettings>(BACKEND_NAME)? {
            Some(local) => Ok(Self::new(registry.clone(), local.value)),
            None => Err(settings
                .invalid(
                    BACKEND_NAME,
                    "root",
                    "the registry uses the local backend but sets no directory; add `root = \
                     \"/path\"`",
                )
                .into()),
        }
    }

    /// The directory of `package`. Package names are WIT labels (letters, digits, `-`), so
    /// the path never leaves the root.
    fn package_dir(&self, package: &PackageRef) -> PathBuf {
        self.root.join(package.namespace()).join(package.name())
    }

    /// The file of one version. Semver versions hold only letters, digits, `.`, `-` and `+`,
    /// and are never `.` or `..`.
    fn version_path(&self, package: &PackageRef, version: &Version) -> PathBuf {
        self.package_dir(package).join(format!("{version}.wasm"))
    }

    fn not_found(&self, package: &PackageRef) -> Error {
        Error::PackageNotFound {
            registry: self.registry.clone(),
            package: package.clone(),
        }
    }
}

/// The digest and size of everything `reader` yields, read in chunks (blocking).
pub(crate) fn hash_reader(
    reader: &mut impl std::io::Read,
) -> std::io::Result<(ContentDigest, u64)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((
        ContentDigest::from_sha256_bytes(hasher.finalize().into()),
        size,
    ))
}

/// The digest and size of a file, read in chunks on the blocking pool.
pub(crate) async fn hash_file(path: &Path) -> std::io::Result<(ContentDigest, u64)> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || hash_reader(&mut std::fs::File::open(&path)?))
        .await
        .map_err(std::io::Error::other)?
}

/// A file's bytes as a content stream.
pub(crate) fn file_stream(file: tokio::fs::File, path: PathBuf) -> ContentStream {
    use futures_util::TryStreamExt as _;
    Box::pin(
        tokio_util::io::ReaderStream::with_capacity(file, CHUNK)
            .map_err(move |err| Error::io(&path, err)),
    )
}

#[async_trait]
impl Backend for LocalBackend {
    async fn list_versions(&self, package: &PackageRef) -> Result<Vec<VersionInfo>, Error> {
        let dir = self.package_dir(package);
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.not_found(package));
            }
            Err(err) => return Err(Error::io(dir, err)),
        };
        let mut versions = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(|e| Error::io(&dir, e))? {
            let name = entry.file_name();
            let Some(version) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".wasm"))
                .and_then(|v| Version::parse(v).ok())
            else {
                continue;
            };
            versions.push(VersionInfo::new(version));
        }
        if versions.is_empty() {
            return Err(self.not_found(package));
        }
        versions.sort();
        Ok(versions)
    }

    async fn get_release(&self, package: &PackageRef, version: &Version) -> Result<Release, Error> {
        let path = self.version_path(package, version);
        match hash_file(&path).await {
            Ok((digest, size)) => Ok(Release::new(version.clone(), digest).with_size(size)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let newest = self
                    .list_versions(package)
                    .await?
                    .last()
                    .map(|v| v.version.clone());
                Err(Error::VersionNotFound {
                    registry: self.registry.clone(),
                    package: package.clone(),
                    requirement: version.to_string(),
                    newest,
                })
            }
            Err(err) => Err(Error::io(path, err)),
        }
    }

    async fn fetch_content(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<ContentStream, Error> {
        let path = self.version_path(package, &release.version);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|err| match err.kind() {
                std::io::ErrorKind::NotFound => Error::VersionNotFound {
                    registry: self.registry.clone(),
                    package: package.clone(),
                    requirement: release.version.to_string(),
                    newest: None,
                },
                _ => Error::io(&path, err),
            })?;
        Ok(file_stream(file, path))
    }

    async fn publish(
        &self,
        package: &PackageRef,
        version: &Version,
        mut content: ContentReader,
        options: &PublishOptions,
    ) -> Result<Release, Error> {
        let path = self.version_path(package, version);
        let already = |existing: Option<ContentDigest>, attempted: Option<ContentDigest>| {
            Error::AlreadyPublished {
                registry: self.registry.clone(),
                package: package.clone(),
                version: version.clone(),
                existing,
                attempted,
            }
        };
        if !options.allow_overwrite && tokio::fs::try_exists(&path).await.unwrap_or(false) {
            let existing = self.get_release(package, version).await.ok();
            return Err(already(existing.map(|r| r.digest), options.digest));
        }
        let dir = self.package_dir(package);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| Error::io(&dir, e))?;
        let spool = Spool::in_dir(&dir, &mut content, options).await?;
        let (digest, size) = (spool.digest(), spool.size());
        // Without overwriting, another publisher may have won the race since the check
        // above: the rename refuses to replace its file.
        spool
            .persist(&path, options.allow_overwrite)
            .map_err(|err| {
                if err.kind() == std::io::ErrorKind::AlreadyExists {
                    already(None, Some(digest))
                } else {
                    Error::io(&path, err)
                }
            })?;
        Ok(Release::new(version.clone(), digest).with_size(size))
    }
}

/// Collects a stream into bytes (for small content in tests and adapters).
pub async fn read_to_end(mut stream: ContentStream) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}
