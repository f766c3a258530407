//! Moving bytes: downloads into the cache, verified as they arrive, and cache entries out
//! to the files a user asked for.

use std::path::Path;

use futures_util::StreamExt as _;
use registry_core::{ContentDigest, ContentStream, DigestVerifier, Error};

use super::LinkMode;
use tokio::io::AsyncWriteExt as _;

/// Makes `dest` hold the bytes of `input`, a verified cache entry opened from `source`
/// and seen as `before`, as `mode` says: a copy, or a hard link to the entry where one can
/// be made without changing the entry's permissions (a copy otherwise). A link moves the
/// entry's change time, so its stamp at `stamp` is renewed.
pub(super) fn place(
    input: &std::fs::File,
    source: &Path,
    dest: &Path,
    mode: LinkMode,
    stamp: &Path,
) -> Result<(), Error> {
    if mode == LinkMode::Hardlink
        && let Ok(before) = input.metadata()
        && let Some(link) = link_beside(input, source, dest)
        && commit_link(link, dest)?
    {
        super::stamp::renew(stamp, input, &before);
        return Ok(());
    }
    copy_blocking(input, source, dest, None)
}

/// Like [`place`] for an entry not yet trusted: its bytes are hashed against `expect`
/// first (beside the copy, or before any link is made), and `dest` is left as it was when
/// they do not match. Once they do, the entry is stamped at `stamp`.
pub(super) fn place_verified(
    input: &std::fs::File,
    source: &Path,
    dest: &Path,
    stamp: &Path,
    expect: (ContentDigest, Option<u64>),
    mode: LinkMode,
) -> Result<(), Error> {
    let before = input.metadata().map_err(|e| Error::io(source, e))?;
    let pending = super::stamp::Pending::for_entry(stamp, &before);
    match mode {
        LinkMode::Hardlink => {
            let (digest, size) = expect;
            hash_at(
                input,
                source,
                DigestVerifier::new(digest, size, digest.to_string()),
            )?;
        }
        LinkMode::Copy => copy_blocking(input, source, dest, Some(expect))?,
    }
    if let Some(pending) = pending {
        pending.finish(input, &before);
    }
    match mode {
        LinkMode::Hardlink => place(input, source, dest, mode, stamp),
        LinkMode::Copy => Ok(()),
    }
}

/// A second name for the cache entry `input` (opened from `source`), beside `dest`: `None`
/// where no hard link can be made there (another file system, none on this platform), or
/// when the name at `source` is no longer the file that was opened.
#[cfg(unix)]
fn link_beside(input: &std::fs::File, source: &Path, dest: &Path) -> Option<tempfile::TempPath> {
    std::fs::create_dir_all(registry_config::fs::parent_dir(dest)).ok()?;
    let link = registry_config::fs::link_beside(source, dest).ok()?;
    let (linked, opened) = (
        std::fs::symlink_metadata(&link).ok()?,
        input.metadata().ok()?,
    );
    same_file(&linked, &opened).then_some(link)
}

#[cfg(not(unix))]
fn link_beside(_input: &std::fs::File, _source: &Path, _dest: &Path) -> Option<tempfile::TempPath> {
    None
}

/// Renames `link` (a second name of a cache entry) over `dest`, or over the file its links
/// end at. `false`, with `dest` left as it was, where a link would change the entry's
/// permissions (`dest` has others: a copy keeps them) or the temporary name went (a
/// concurrent run took it for abandoned): the caller copies instead.
fn commit_link(link: tempfile::TempPath, dest: &Path) -> Result<bool, Error> {
    let failed = |e| output_error(dest, e);
    let target = registry_config::fs::write_target(dest).map_err(failed)?;
    let entry = std::fs::metadata(&link).map_err(failed)?;
    match std::fs::metadata(&target) {
        // Already this entry: the link goes with `link`.
        Ok(existing) if same_file(&existing, &entry) => return Ok(true),
        Ok(existing) if mode(&existing) != mode(&entry) => return Ok(false),
        Ok(_) => {}
        // A new file: readable as a plain write would leave it. The entry is the owner's
        // alone until its first link, and keeps that mode for the links after.
        Err(_) => {
            if mode(&entry) != registry_config::fs::SHARED {
                set_shared(&link).map_err(failed)?;
            }
        }
    }
    match std::fs::rename(&link, &target) {
        Ok(()) => {
            let _ = link.keep();
            Ok(true)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(failed(err)),
    }
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_a: &std::fs::Metadata, _b: &std::fs::Metadata) -> bool {
    false
}

/// The permission bits of a file (0 off Unix, where no link is made).
#[cfg(unix)]
fn mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode(_meta: &std::fs::Metadata) -> u32 {
    0
}

#[cfg(unix)]
fn set_shared(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(
        path,
        std::fs::Permissions::from_mode(registry_config::fs::SHARED),
    )
}

#[cfg(not(unix))]
fn set_shared(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Hashes all of `input` (opened from `source`) with positional reads; on Unix its cursor
/// stays where it was (on Windows it moves: [`copy_and_hash`] does not hash beside a copy
/// there).
fn hash_at(
    input: &std::fs::File,
    source: &Path,
    mut verifier: DigestVerifier,
) -> Result<(), Error> {
    let mut buffer = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    loop {
        let n = read_at(input, &mut buffer, offset).map_err(|e| Error::io(source, e))?;
        if n == 0 {
            return verifier.finish().map(|_| ());
        }
        verifier.update(&buffer[..n])?;
        offset += n as u64;
    }
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buffer: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buffer, offset)
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, buffer: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buffer, offset)
}

/// Copies `input` (opened from `source`) to `dest` through a temporary file next to `dest`,
/// verifying the bytes against `expect` (digest, size) when given.
///
/// A large file is copied by the kernel (on Linux `std::io::copy` between files uses
/// `copy_file_range`) while another thread hashes the same open file with positional reads,
/// so the two run side by side; a small one is hashed and written in one pass. The
/// temporary file is renamed into place only if the hash matches.
pub(super) fn copy_blocking(
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
const HASH_BESIDE_MIN: u64 = 4 << 20;

/// Copies `input` to `output`, hashing the bytes on the way; large files are copied by the
/// kernel (`copy_file_range` on Linux) while another thread hashes them.
fn copy_and_hash(
    input: &std::fs::File,
    source: &Path,
    dest: &Path,
    output: &mut std::fs::File,
    verifier: DigestVerifier,
) -> Result<(), Error> {
    let size = input.metadata().map_err(|e| Error::io(source, e))?.len();
    // Off Unix a positional read moves the handle's cursor (Windows' `seek_read`), which
    // the copy reads from: one thread does both there.
    if size < HASH_BESIDE_MIN || !cfg!(unix) {
        return copy_and_hash_serially(input, source, dest, output, verifier);
    }
    std::thread::scope(|scope| {
        let hashing = scope.spawn(|| hash_at(input, source, verifier));
        let mut reader = input;
        let copied = std::io::copy(&mut reader, output).map_err(|e| copy_error(source, dest, e));
        let verified = hashing.join().expect("the hashing thread does not panic");
        verified.and(copied.map(|_| ()))
    })
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
pub(super) async fn write_verified(
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
    // rename reaching the disk before the data), but no cache read trusts it unchecked:
    // a hit is hashed (`open_verified`, `copy_verified`) unless a stamp written in this
    // boot vouches for it, and a torn entry is removed and fetched again. Syncing 256 MiB
    // cost about a third of a cold pull here.
    file.flush().await.map_err(|e| refused(&temp_path, e))?;
    let mut file = file.into_std().await;
    std::io::Seek::rewind(&mut file).map_err(|e| Error::io(&*temp_path, e))?;
    temp_path
        .persist(dest)
        .map_err(|err| refused(dest, err.error))?;
    let _ = file.unlock();
    Ok(file)
}
