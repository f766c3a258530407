//! A content-addressed cache that verifies before anything becomes visible.
//!
//! Layout under the cache directory:
//!
//! ```text
//! content/sha256/<64 hex>     verified content, named by its digest (no `:`, Windows-safe)
//! tmp/                        downloads in progress; renamed into `content/` once verified
//! versions/<registry>/<ns>/<name>.json   version lists, used for a minute (offline: always)
//! releases/<registry>/<ns>/<name>/<version>.json   release descriptions, likewise
//! metadata/<registry>.json    well-known registry documents, used for an hour
//! stamps/sha256/<64 hex>      what a large entry looked like when last hashed (`stamp`)
//! ```
//!
//! A download is written to a temporary file in `tmp/` (same file system), hashed as it is
//! written (not synced: see `copy::write_verified`), and renamed into place only if digest and size match. Readers therefore
//! never see a partial or unverified file. Several processes fetching the same digest at once
//! each write their own temporary file; the renames replace one verified copy with another
//! identical one. An entry corrupted on disk afterwards is caught when it is read
//! ([`Cache::verified_path`]) and removed, so the caller fetches it again: every hit is
//! hashed, except a large entry a stamp vouches for (the same file, not written since its
//! bytes were hashed; the case for that is in ARCHITECTURE.md, "Cache hits").
//!
//! An output (`wreg get -o`) is a copy of its entry ([`LinkMode::Copy`]), or, on request,
//! a hard link to it where the file system allows ([`LinkMode::Hardlink`]), so that a pull
//! writes its bytes once.

use std::path::{Path, PathBuf};

use registry_core::{
    ContentDigest, ContentStream, Error, PackageRef, Registry, Release, Version, VersionInfo,
};

mod copy;
mod stamp;

use copy::{place, place_verified, write_verified};

/// A temporary file written to within this long belongs to a download in progress, which a
/// clean leaves alone (a download that stalls this long has hit its read timeout already).
pub const IN_PROGRESS: std::time::Duration = std::time::Duration::from_secs(600);

/// One verified entry of the cache.
#[derive(Clone, Debug)]
pub struct CacheEntry {
    /// The content's digest.
    pub digest: ContentDigest,
    /// Its size in bytes.
    pub size: u64,
    /// When it was written.
    pub modified: Option<std::time::SystemTime>,
    /// The file.
    pub path: PathBuf,
}

/// What [`Cache::clean`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cleaned {
    /// The entries the cache held when the clean began.
    pub listed: usize,
    /// The entries removed.
    pub removed: usize,
}

/// How a cache entry becomes a file a user asked for (`wreg get -o`, `wreg fetch --deps`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkMode {
    /// A file of its own every time: a copy (by `copy_file_range` on Linux, which shares
    /// the blocks on file systems that can, such as Btrfs and XFS).
    #[default]
    Copy,
    /// A hard link to the entry where the output is on the cache's file system (Unix) and
    /// the link would not change the entry's permissions, so a pull writes its bytes once;
    /// a copy otherwise. Every output linked to one entry is then one file with it: a tool
    /// that rewrites one of them in place rewrites them all and the entry. The cache notices
    /// (the entry's stamp no longer matches), hashes it, and fetches it again; the other
    /// outputs keep what was written. For directories only this tool writes, as pnpm and
    /// uv link theirs.
    Hardlink,
}

impl std::str::FromStr for LinkMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "copy" => Ok(Self::Copy),
            "hardlink" => Ok(Self::Hardlink),
            other => Err(format!(
                "`{other}` is not a link mode: use `copy` (the default) or `hardlink` (hard \
                 links to the cache where possible)"
            )),
        }
    }
}

/// Verified content in the cache, held open: on Unix the bytes stay readable through this
/// handle even if a concurrent clean removes the entry's name.
#[derive(Debug)]
pub struct CachedContent {
    pub(crate) path: PathBuf,
    pub(crate) file: std::fs::File,
    /// How [`copy_to`](Self::copy_to) makes its output: [`LinkMode::Copy`] for a file
    /// that is not a cache entry.
    pub(crate) link: LinkMode,
    /// Where the entry's stamp is (renewed after a link is made to the entry).
    pub(crate) stamp: PathBuf,
}

impl CachedContent {
    /// The entry's path in the cache (which a concurrent clean may remove).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entry's path, dropping the handle.
    pub fn into_path(self) -> PathBuf {
        self.path
    }

    /// The open file, positioned at its start.
    pub fn into_file(self) -> std::fs::File {
        self.file
    }

    /// All the bytes.
    pub async fn read(self) -> Result<Vec<u8>, Error> {
        let Self { path, mut file, .. } = self;
        blocking(&path, move || {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut file, &mut bytes).map(|_| bytes)
        })
        .await?
        .map_err(|err| Error::io(path, err))
    }

    /// Puts the bytes at `dest` atomically (through a temporary name next to it), without
    /// hashing them again (they were verified when opened or written): a copy or a hard
    /// link to the cache entry, as the cache's [`LinkMode`] says.
    pub async fn copy_to(self, dest: &Path) -> Result<(), Error> {
        let Self {
            path,
            file,
            link,
            stamp,
        } = self;
        let to = dest.to_owned();
        let source = path.clone();
        blocking(&path, move || place(&file, &source, &to, link, &stamp)).await?
    }
}

/// Runs `work` on the blocking pool; a panic there becomes an I/O error naming `path`.
async fn blocking<T: Send + 'static>(
    path: &Path,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| Error::Io {
            path: Some(path.to_owned()),
            source: std::io::Error::other(err),
        })
}

/// The content cache.
#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
    link: LinkMode,
}

/// The variable `wkg` reads for its cache directory, honoured by [`Cache::default_dir`].
pub const WKG_CACHE_DIR: &str = "WKG_CACHE_DIR";

impl Cache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            link: LinkMode::default(),
        }
    }

    /// How entries become the files a user asks for ([`LinkMode::Copy`] by default).
    #[must_use]
    pub fn with_link_mode(mut self, link: LinkMode) -> Self {
        self.link = link;
        self
    }

    /// How entries become the files a user asks for.
    pub fn link_mode(&self) -> LinkMode {
        self.link
    }

    /// Where the stamp of `digest`'s entry lives (see the `stamp` module).
    pub(crate) fn stamp_path(&self, digest: &ContentDigest) -> PathBuf {
        self.dir
            .join("stamps")
            .join(digest.algorithm())
            .join(digest.hex())
    }

    /// The default cache directory: `$WKG_CACHE_DIR` when set (the variable `wkg` reads),
    /// else `<user cache dir>/wasm-pkg` (`~/.cache/wasm-pkg` on Linux), or a directory under
    /// the system temporary directory when there is none.
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os(WKG_CACHE_DIR).filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        dirs::cache_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("wasm-pkg")
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the content of `digest` lives once cached.
    pub fn content_path(&self, digest: &ContentDigest) -> PathBuf {
        self.dir
            .join("content")
            .join(digest.algorithm())
            .join(digest.hex())
    }

    /// Whether `digest` is cached (without verifying it).
    pub async fn contains(&self, digest: &ContentDigest) -> bool {
        tokio::fs::try_exists(self.content_path(digest))
            .await
            .unwrap_or(false)
    }

    /// The path of `digest`'s content after checking that the file still hashes to it (or,
    /// for a large entry, that it is the file a stamp says was hashed, unchanged since). A
    /// corrupted entry is removed and reported as absent (`Ok(None)`), so it is fetched
    /// again. The path can be removed by a concurrent clean before it is opened; to keep
    /// the bytes, use [`open_verified`](Self::open_verified).
    pub async fn verified_path(
        &self,
        digest: &ContentDigest,
        size: Option<u64>,
    ) -> Result<Option<PathBuf>, Error> {
        Ok(self
            .open_verified(digest, size)
            .await?
            .map(|content| content.path))
    }

    /// `digest`'s content, opened and checked to still hash to it: the bytes stay readable
    /// through the returned handle even if a concurrent clean removes the entry. A corrupted
    /// entry is removed and reported as absent (`Ok(None)`), so it is fetched again.
    pub async fn open_verified(
        &self,
        digest: &ContentDigest,
        size: Option<u64>,
    ) -> Result<Option<CachedContent>, Error> {
        self.open_checked(digest, size, true).await
    }

    /// Hashes every byte of `digest`'s entry, whatever its stamp says (`wreg cache
    /// verify`): `true` when it is intact (and stamped afresh), `false` when there is no
    /// entry or it was corrupt (and is removed).
    pub async fn verify(&self, digest: &ContentDigest, size: Option<u64>) -> Result<bool, Error> {
        Ok(self.open_checked(digest, size, false).await?.is_some())
    }

    /// [`open_verified`](Self::open_verified), trusting a stamp only if `trust_stamp`.
    async fn open_checked(
        &self,
        digest: &ContentDigest,
        size: Option<u64>,
        trust_stamp: bool,
    ) -> Result<Option<CachedContent>, Error> {
        let path = self.content_path(digest);
        let stamp = self.stamp_path(digest);
        let (from, expect) = (path.clone(), *digest);
        let opened = blocking(&path, move || -> std::io::Result<_> {
            let mut file = match std::fs::File::open(&from) {
                Ok(file) => file,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(err) => return Err(err),
            };
            let before = file.metadata()?;
            if trust_stamp
                && size.is_none_or(|s| s == before.len())
                && stamp::vouches(&stamp, &before)
            {
                return Ok(Some((file, true)));
            }
            let pending = stamp::Pending::for_entry(&stamp, &before);
            let (actual, actual_size) = crate::local::hash_reader(&mut file)?;
            std::io::Seek::rewind(&mut file)?;
            let intact = actual == expect && size.is_none_or(|s| s == actual_size);
            if intact && let Some(pending) = pending {
                pending.finish(&file, &before);
            }
            Ok(Some((file, intact)))
        })
        .await?
        .map_err(|err| Error::io(&path, err))?;
        match opened {
            None => Ok(None),
            Some((file, true)) => Ok(Some(CachedContent {
                path,
                file,
                link: self.link,
                stamp: self.stamp_path(digest),
            })),
            Some((_, false)) => {
                self.remove_corrupted(digest).await;
                Ok(None)
            }
        }
    }

    /// Removes a cache entry found corrupted, and its stamp.
    async fn remove_corrupted(&self, digest: &ContentDigest) {
        let path = self.content_path(digest);
        tracing::warn!(path = %path.display(), "removing a corrupted cache entry");
        remove_quietly(&path).await;
        stamp::forget(&self.stamp_path(digest));
    }

    /// Writes `stream` into the cache under `digest`, verifying it; returns the verified
    /// content, held open. On any error (transfer, digest, size, disk), nothing is left
    /// behind.
    pub async fn insert(
        &self,
        digest: &ContentDigest,
        size: Option<u64>,
        subject: &str,
        stream: ContentStream,
    ) -> Result<CachedContent, Error> {
        let final_path = self.content_path(digest);
        let file = write_verified(
            &self.dir.join("tmp"),
            &final_path,
            *digest,
            size,
            subject,
            stream,
        )
        .await?;
        // Where a stamp needs a sync (no boot id), a fresh download goes unstamped: its
        // first hit hashes and stamps it, as the sync was skipped to keep pulls fast.
        if let Ok(meta) = file.metadata()
            && stamp::without_sync()
            && let Some(pending) = stamp::Pending::for_entry(&self.stamp_path(digest), &meta)
        {
            pending.finish(&file, &meta);
        }
        Ok(CachedContent {
            path: final_path,
            file,
            link: self.link,
            stamp: self.stamp_path(digest),
        })
    }

    /// Puts `digest`'s content at `dest` atomically (through a temporary name next to it),
    /// verified: hashed as it is copied or before it is linked, unless a stamp vouches for
    /// the entry (see [`open_verified`](Self::open_verified)); linked or copied as the
    /// [`LinkMode`] says. Returns `false` when there is no entry, or (after removing it)
    /// when the cached copy turns out to be corrupt.
    pub async fn copy_verified(
        &self,
        digest: &ContentDigest,
        size: Option<u64>,
        dest: &Path,
    ) -> Result<bool, Error> {
        let source = self.content_path(digest);
        let stamp = self.stamp_path(digest);
        let (from, to, expect, link) = (source.clone(), dest.to_owned(), *digest, self.link);
        let copied = blocking(&source, move || {
            let input = match std::fs::File::open(&from) {
                Ok(file) => file,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(err) => return Err(Error::io(&from, err)),
            };
            let meta = input.metadata().map_err(|e| Error::io(&from, e))?;
            if size.is_none_or(|s| s == meta.len()) && stamp::vouches(&stamp, &meta) {
                return place(&input, &from, &to, link, &stamp).map(|()| true);
            }
            place_verified(&input, &from, &to, &stamp, (expect, size), link).map(|()| true)
        })
        .await?;
        match copied {
            Ok(found) => Ok(found),
            Err(err) if err.is_integrity() => {
                self.remove_corrupted(digest).await;
                Ok(false)
            }
            Err(err) => Err(err),
        }
    }

    /// The verified entries, sorted by digest. Files in `content/` whose name is not a
    /// digest are left out.
    pub async fn entries(&self) -> Result<Vec<CacheEntry>, Error> {
        let content = self.dir.join("content").join("sha256");
        let mut entries = Vec::new();
        let mut dir = match tokio::fs::read_dir(&content).await {
            Ok(dir) => dir,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(entries),
            Err(err) => return Err(Error::io(content, err)),
        };
        while let Some(entry) = dir.next_entry().await.map_err(|e| Error::io(&content, e))? {
            let Some(digest) = entry
                .file_name()
                .to_str()
                .and_then(|hex| format!("sha256:{hex}").parse::<ContentDigest>().ok())
            else {
                continue;
            };
            // Removed since it was listed (a concurrent clean): not an entry any more.
            let Ok(meta) = entry.metadata().await else {
                continue;
            };
            entries.push(CacheEntry {
                digest,
                size: meta.len(),
                modified: meta.modified().ok(),
                path: entry.path(),
            });
        }
        entries.sort_by_key(|e| e.digest);
        Ok(entries)
    }

    /// Removes the entries not written for `older_than` (all of them when `None`, with the
    /// cached version lists, release descriptions and registry documents). Returns how many
    /// entries there were and how many were removed.
    ///
    /// Safe while other processes use the cache: a reader holding a [`CachedContent`] keeps
    /// its bytes; a download in progress (its temporary file written to within
    /// [`IN_PROGRESS`]) is left alone, so it still lands; two cleans at once do not trip on
    /// each other.
    pub async fn clean(&self, older_than: Option<std::time::Duration>) -> Result<Cleaned, Error> {
        let entries = self.entries().await?;
        let listed = entries.len();
        let mut removed = 0;
        for entry in entries {
            let old = match (older_than, entry.modified) {
                (None, _) => true,
                (Some(age), Some(modified)) => modified.elapsed().is_ok_and(|e| e > age),
                (Some(_), None) => false,
            };
            if old {
                stamp::forget(&self.stamp_path(&entry.digest));
                match tokio::fs::remove_file(&entry.path).await {
                    Ok(()) => removed += 1,
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(Error::io(entry.path, err)),
                }
            }
        }
        if older_than.is_none() {
            for dir in ["versions", "releases", "metadata", "stamps"] {
                let _ = tokio::fs::remove_dir_all(self.dir.join(dir)).await;
            }
        }
        self.clean_tmp(older_than.unwrap_or_default().max(IN_PROGRESS))
            .await?;
        Ok(Cleaned { listed, removed })
    }

    /// `<cache>/<kind>/<registry>/<namespace>/<name><suffix>`, with the registry's `:`
    /// written `_`.
    fn metadata_path(
        &self,
        kind: &str,
        registry: &Registry,
        package: &PackageRef,
        suffix: &str,
    ) -> PathBuf {
        let registry = file_name_for(registry);
        self.dir
            .join(kind)
            .join(registry)
            .join(package.namespace())
            .join(format!("{}{suffix}", package.name()))
    }

    /// The version list last stored, whatever its age: what offline mode lists. Online, a
    /// client asks the registry once per process instead (a release published a moment ago
    /// must be seen by the next command).
    pub fn versions(&self, registry: &Registry, package: &PackageRef) -> Option<Vec<VersionInfo>> {
        read_json(&self.metadata_path("versions", registry, package, ".json"))
    }

    /// Forgets the stored version list of `package` (after publishing to it).
    pub fn forget_versions(&self, registry: &Registry, package: &PackageRef) {
        let path = self.metadata_path("versions", registry, package, ".json");
        if let Err(err) = std::fs::remove_file(&path)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::debug!(path = %path.display(), "cannot forget a version list: {err}");
        }
    }

    /// Caches a version list; a failure to cache is only logged.
    pub fn store_versions(
        &self,
        registry: &Registry,
        package: &PackageRef,
        versions: &[VersionInfo],
    ) {
        write_json(
            &self.metadata_path("versions", registry, package, ".json"),
            versions,
        );
    }

    /// The release description last stored, whatever its age: what offline mode uses.
    pub fn release(
        &self,
        registry: &Registry,
        package: &PackageRef,
        version: &Version,
    ) -> Option<Release> {
        let path = self.metadata_path("releases", registry, package, &format!("/{version}.json"));
        read_json(&path)
    }

    /// Caches a release description; a failure to cache is only logged.
    pub fn store_release(&self, registry: &Registry, package: &PackageRef, release: &Release) {
        let suffix = format!("/{}.json", release.version);
        write_json(
            &self.metadata_path("releases", registry, package, &suffix),
            release,
        );
    }

    /// Removes temporary files older than `age` (left by killed processes).
    pub async fn clean_tmp(&self, age: std::time::Duration) -> Result<usize, Error> {
        let tmp_dir = self.dir.join("tmp");
        let mut entries = match tokio::fs::read_dir(&tmp_dir).await {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(err) => return Err(Error::io(tmp_dir, err)),
        };
        let mut removed = 0;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| Error::io(&tmp_dir, e))?
        {
            let old = entry
                .metadata()
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|elapsed| elapsed > age);
            if old {
                remove_quietly(&entry.path()).await;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// A registry name as a file name: every character but letters, digits, `.` and `-`
/// (the `:` before a port, brackets of an IPv6 address) written `_`, so it is valid on
/// every platform.
pub(crate) fn file_name_for(registry: &Registry) -> String {
    registry
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Writes a small JSON file atomically; a failure is only logged (it is a cache).
fn write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) {
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(registry_config::fs::parent_dir(path))?;
        registry_config::fs::write_atomic(
            path,
            &serde_json::to_vec(value)?,
            registry_config::fs::Durability::Renamed,
        )
    };
    if let Err(err) = write() {
        tracing::debug!(path = %path.display(), "cannot write a cache entry: {err}");
    }
}

async fn remove_quietly(path: &Path) {
    if let Err(err) = tokio::fs::remove_file(path).await
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), "cannot remove: {err}");
    }
}
