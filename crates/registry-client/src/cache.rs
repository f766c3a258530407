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
//! ```
//!
//! A download is written to a temporary file in `tmp/` (same file system), hashed as it is
//! written, synced, and renamed into place only if digest and size match. Readers therefore
//! never see a partial or unverified file. Several processes fetching the same digest at once
//! each write their own temporary file; the renames replace one verified copy with another
//! identical one. An entry corrupted on disk afterwards is caught when it is read
//! ([`Cache::verified_path`]) and removed, so the caller fetches it again.

use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;
use registry_core::{
    ContentDigest, ContentStream, DigestVerifier, Error, PackageRef, Registry, Release, Version,
    VersionInfo,
};

use tokio::io::AsyncWriteExt as _;

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

/// Verified content in the cache, held open: on Unix the bytes stay readable through this
/// handle even if a concurrent clean removes the entry's name.
#[derive(Debug)]
pub struct CachedContent {
    pub(crate) path: PathBuf,
    pub(crate) file: std::fs::File,
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
        let Self { path, mut file } = self;
        blocking(&path, move || {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut file, &mut bytes).map(|_| bytes)
        })
        .await?
        .map_err(|err| Error::io(path, err))
    }

    /// Copies the bytes to `dest` atomically (through a temporary file next to it), without
    /// hashing them again: they were verified when opened or written.
    pub async fn copy_to(self, dest: &Path) -> Result<(), Error> {
        let Self { path, file } = self;
        let to = dest.to_owned();
        let source = path.clone();
        blocking(&path, move || copy_blocking(&file, &source, &to, None)).await?
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
}

/// The variable `wkg` reads for its cache directory, honoured by [`Cache::default_dir`].
pub const WKG_CACHE_DIR: &str = "WKG_CACHE_DIR";

impl Cache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
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

    /// The path of `digest`'s content after checking that the file still hashes to it. A
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
        let path = self.content_path(digest);
        let (from, expect) = (path.clone(), *digest);
        let opened = blocking(&path, move || -> std::io::Result<_> {
            let mut file = match std::fs::File::open(&from) {
                Ok(file) => file,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(err) => return Err(err),
            };
            let (actual, actual_size) = crate::local::hash_reader(&mut file)?;
            std::io::Seek::rewind(&mut file)?;
            let intact = actual == expect && size.is_none_or(|s| s == actual_size);
            Ok(Some((file, intact)))
        })
        .await?
        .map_err(|err| Error::io(&path, err))?;
        match opened {
            None => Ok(None),
            Some((file, true)) => Ok(Some(CachedContent { path, file })),
            Some((_, false)) => {
                tracing::warn!(path = %path.display(), "removing a corrupted cache entry");
                remove_quietly(&path).await;
                Ok(None)
            }
        }
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
        Ok(CachedContent {
            path: final_path,
            file,
        })
    }

    /// Copies `digest`'s content to `dest` atomically (through a temporary file next to
    /// it), verifying the bytes as they are copied. Returns `false` when there is no entry,
    /// or (after removing it) when the cached copy turns out to be corrupt.
    pub async fn copy_verified(
        &self,
        digest: &ContentDigest,
        size: Option<u64>,
        dest: &Path,
    ) -> Result<bool, Error> {
        let source = self.content_path(digest);
        let (from, to, digest) = (source.clone(), dest.to_owned(), *digest);
        // One pass, in a blocking thread with large reads: hashing and copying together.
        let copied = blocking(&source, move || {
            let input = match std::fs::File::open(&from) {
                Ok(file) => file,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(err) => return Err(Error::io(&from, err)),
            };
            copy_blocking(&input, &from, &to, Some((digest, size))).map(|()| true)
        })
        .await?;
        match copied {
            Ok(found) => Ok(found),
            Err(err) if err.is_integrity() => {
                tracing::warn!(path = %source.display(), "removing a corrupted cache entry");
                remove_quietly(&source).await;
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
                match tokio::fs::remove_file(&entry.path).await {
                    Ok(()) => removed += 1,
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(Error::io(entry.path, err)),
                }
            }
        }
        if older_than.is_none() {
            for dir in ["versions", "releases", "metadata"] {
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

/// Copies `input` (opened from `source`) to `dest` through a temporary file next to `dest`,
/// verifying the bytes against `expect` (digest, size) when given.
///
/// On Unix the copy is done by the kernel (`std::io::copy` between files uses
/// `copy_file_range`) while another thread hashes the same open file with positional reads,
/// so the two run side by side; the temporary file is renamed into place only if the hash
/// matches. Elsewhere, one pass hashes and writes.
fn copy_blocking(
    input: &std::fs::File,
    source: &Path,
    dest: &Path,
    expect: Option<(ContentDigest, Option<u64>)>,
) -> Result<(), Error> {
    let dir = registry_config::fs::parent_dir(dest);
    std::fs::create_dir_all(dir).map_err(|e| output_error(dest, e))?;
    // Named after `dest` and claimed: a copy a killed run left beside it is removed here.
    let mut temp = registry_config::fs::temp_beside(dest).map_err(|e| output_error(dest, e))?;
    match expect {
        Some((digest, size)) => {
            let verifier = DigestVerifier::new(digest, size, digest.to_string());
            copy_and_hash(input, source, dest, temp.as_file_mut(), verifier)?;
        }
        None => {
            let mut reader = input;
            std::io::copy(&mut reader, temp.as_file_mut())
                .map_err(|e| copy_error(source, dest, e))?;
        }
    }
    // The file the user asked for: readable as a plain write would leave it (the temporary
    // file is the owner's alone), or as the file it replaces was.
    registry_config::fs::take_permissions(temp.as_file(), dest, registry_config::fs::SHARED)
        .map_err(|e| output_error(dest, e))?;
    registry_config::fs::persist(temp, dest, registry_config::fs::Durability::Renamed)
        .map_err(|e| output_error(dest, e))
}

/// An error writing the output file `dest` (through a temporary file beside it): named at
/// `dest`, the file the user asked for, with what to do when the file system refused it.
fn output_error(dest: &Path, err: std::io::Error) -> Error {
    let dir = registry_config::fs::parent_dir(dest);
    Error::io(
        dest,
        registry_config::fs::advise(err, dir, Some("write it to another directory")),
    )
}

/// An error of a copy from the cache file `source` to `dest`, which does not say which side
/// failed: a refused write (a full or read-only file system) is the output's, anything else
/// is put down to the cache file.
fn copy_error(source: &Path, dest: &Path, err: std::io::Error) -> Error {
    if registry_config::fs::is_write_refused(&err) {
        output_error(dest, err)
    } else {
        Error::io(source, err)
    }
}

/// What else to do when the cache's file system is full or read-only.
const ANOTHER_CACHE: &str = "choose another cache directory (--cache-dir, or the WKG_CACHE_DIR \
                             variable)";

/// An error writing `path` in the cache `dir`: a write the file system refused is named at
/// the cache directory, with what to do (the temporary file is gone by the time anyone
/// reads the message); any other error at `path`.
fn cache_error(dir: &Path, path: &Path, err: std::io::Error) -> Error {
    if registry_config::fs::is_write_refused(&err) {
        Error::io(
            dir,
            registry_config::fs::advise(err, dir, Some(ANOTHER_CACHE)),
        )
    } else {
        Error::io(path, err)
    }
}

/// Below this size a copy is hashed on the copying thread: a second thread costs more than
/// it saves, and a hundred small copies at once would start a hundred threads.
#[cfg(unix)]
const HASH_BESIDE_MIN: u64 = 4 << 20;

/// Copies `input` to `output`, hashing the bytes on the way; large files are copied by the
/// kernel while another thread hashes them.
#[cfg(unix)]
fn copy_and_hash(
    input: &std::fs::File,
    source: &Path,
    dest: &Path,
    output: &mut std::fs::File,
    mut verifier: DigestVerifier,
) -> Result<(), Error> {
    use std::os::unix::fs::FileExt as _;
    let size = input.metadata().map_err(|e| Error::io(source, e))?.len();
    if size < HASH_BESIDE_MIN {
        return copy_and_hash_serially(input, source, dest, output, verifier);
    }
    std::thread::scope(|scope| {
        let hashing = scope.spawn(|| -> Result<(), Error> {
            let mut buffer = vec![0u8; 1 << 20];
            let mut offset = 0u64;
            loop {
                let n = input
                    .read_at(&mut buffer, offset)
                    .map_err(|e| Error::io(source, e))?;
                if n == 0 {
                    return verifier.finish().map(|_| ());
                }
                verifier.update(&buffer[..n])?;
                offset += n as u64;
            }
        });
        let mut reader = input;
        let copied = std::io::copy(&mut reader, output).map_err(|e| copy_error(source, dest, e));
        let verified = hashing.join().expect("the hashing thread does not panic");
        verified.and(copied.map(|_| ()))
    })
}

#[cfg(not(unix))]
fn copy_and_hash(
    input: &std::fs::File,
    source: &Path,
    dest: &Path,
    output: &mut std::fs::File,
    verifier: DigestVerifier,
) -> Result<(), Error> {
    copy_and_hash_serially(input, source, dest, output, verifier)
}

/// Reads, hashes and writes in turn, on this thread.
fn copy_and_hash_serially(
    mut input: &std::fs::File,
    source: &Path,
    dest: &Path,
    output: &mut std::fs::File,
    mut verifier: DigestVerifier,
) -> Result<(), Error> {
    use std::io::{Read as _, Write as _};
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = input.read(&mut buffer).map_err(|e| Error::io(source, e))?;
        if n == 0 {
            return verifier.finish().map(|_| ());
        }
        verifier.update(&buffer[..n])?;
        output
            .write_all(&buffer[..n])
            .map_err(|e| output_error(dest, e))?;
    }
}

/// Writes `stream` to `dest` through a temporary file in `temp_dir` (on the same file
/// system), hashing as it writes, and renames it into place only once digest and size are
/// verified (not synced: readers re-verify, see the body). On any error the temporary file is removed. Returns the
/// written file, open and positioned at its start.
pub(crate) async fn write_verified(
    temp_dir: &Path,
    dest: &Path,
    digest: ContentDigest,
    size: Option<u64>,
    subject: &str,
    mut stream: ContentStream,
) -> Result<std::fs::File, Error> {
    // The cache directory, named when its file system refuses a write.
    let cache_dir = temp_dir.parent().unwrap_or(temp_dir);
    let refused = |path: &Path, err| cache_error(cache_dir, path, err);
    for dir in [Some(temp_dir), dest.parent()].into_iter().flatten() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| refused(dir, e))?;
    }
    // A download of the same content a killed run left is removed; this one is claimed so
    // that no other run removes it while it is written.
    let prefix = format!(".{}-", digest.hex());
    registry_config::fs::remove_abandoned(temp_dir, &prefix, ".part");
    let temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".part")
        .tempfile_in(temp_dir)
        .map_err(|e| refused(temp_dir, e))?;
    registry_config::fs::claim(temp.as_file());
    // From here on the temporary file is deleted on any early return.
    let (file, temp_path) = temp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut verifier = DigestVerifier::new(digest, size, subject);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        verifier.update(&chunk)?;
        file.write_all(&chunk)
            .await
            .map_err(|e| refused(&temp_path, e))?;
    }
    verifier.finish()?;
    // No fsync: the entry is renamed into place unsynced. A crash can leave it torn (the
    // rename reaching the disk before the data), but no cache read trusts a file: every
    // hit is hashed again (`open_verified`, `copy_verified`) and a torn entry is removed
    // and fetched again. Syncing 256 MiB cost about a third of a cold pull here.
    file.flush().await.map_err(|e| refused(&temp_path, e))?;
    let mut file = file.into_std().await;
    std::io::Seek::rewind(&mut file).map_err(|e| Error::io(&*temp_path, e))?;
    temp_path
        .persist(dest)
        .map_err(|err| refused(dest, err.error))?;
    let _ = file.unlock();
    Ok(file)
}

async fn remove_quietly(path: &Path) {
    if let Err(err) = tokio::fs::remove_file(path).await
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), "cannot remove: {err}");
    }
}
