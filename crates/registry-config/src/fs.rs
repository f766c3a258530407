//! The one atomic file write of the workspace: a temporary file in the target's directory,
//! renamed over the target, so a reader sees the old file or the new one and never part of
//! one. How much survives a crash is the caller's choice, stated by [`Durability`].

use std::io::Write as _;
use std::path::Path;

/// What a write promises once it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// The data is synced before the rename and the directory after it: the new file
    /// survives a power loss. For files a person owns (configuration, lock files).
    Synced,
    /// Renamed without syncing: after a crash the name may hold a torn file, so only for
    /// files whose reader checks them (cache entries are hashed when read, unless a stamp
    /// from this boot vouches for them; cached answers parsed) and can fetch them again.
    Renamed,
}

/// Writes `bytes` to `path` atomically, keeping the permissions of the file it replaces (it
/// may hold credentials); a new file is readable by everyone, writable by its owner (0644,
/// what a plain write gives with the usual umask), as a lock file or an output should be.
///
/// # Errors
/// The I/O error of the step that failed; `path` is left as it was.
pub fn write_atomic(path: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<()> {
    write_with_mode(path, bytes, durability, SHARED)
        .map_err(|err| advise(err, parent_dir(path), None))
}

/// Like [`write_atomic`], with a new file readable by its owner only (0600): for
/// configuration, which may hold credentials.
///
/// # Errors
/// As [`write_atomic`].
pub fn write_private(path: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<()> {
    write_with_mode(path, bytes, durability, 0o600)
        .map_err(|err| advise(err, parent_dir(path), None))
}

fn write_with_mode(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
    new_mode: u32,
) -> std::io::Result<()> {
    let mut temp = temp_beside(path)?;
    temp.write_all(bytes)?;
    take_permissions(temp.as_file(), path, new_mode)?;
    persist(temp, path, durability)
}

/// Gives `file`, about to replace `path`, the permissions of the file there (through its
/// links), or `new_mode` (on Unix) when there is none: 0644 ([`SHARED`]) for what anyone
/// may read, 0600 for what may hold credentials.
///
/// # Errors
/// When the permissions cannot be set.
pub fn take_permissions(
    file: &std::fs::File,
    path: &Path,
    #[cfg_attr(not(unix), allow(unused_variables))] new_mode: u32,
) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) => file.set_permissions(meta.permissions()),
        #[cfg(unix)]
        Err(_) => {
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(std::fs::Permissions::from_mode(new_mode))
        }
        #[cfg(not(unix))]
        Err(_) => Ok(()),
    }
}

/// The mode of a new file anyone may read and its owner write (what a plain write gives
/// with the usual umask): outputs, lock files.
pub const SHARED: u32 = 0o644;

/// Where a write to `path` lands: the file a chain of symbolic links ends at (as editors
/// and cargo write through a linked dotfile or lock file), there or not yet; `path` itself
/// when it is no link. Writing a temporary file beside the link and renaming it over the
/// link would replace the link, and leave the file it pointed at as it was.
///
/// A link is followed only where the kernel would follow it under `fs.protected_symlinks`:
/// one in a world-writable sticky directory (`/tmp`) only if this user or the directory's
/// owner owns it, so that a link another user planted there cannot steer a write into
/// this user's files.
///
/// # Errors
/// When a link cannot be read, is another user's in a shared directory, or after 40 links
/// in a row (a loop).
pub fn write_target(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let mut current = path.to_owned();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                refuse_planted_link(&current, &meta)?;
                let link = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(std::io::Error::other(format!(
        "{}: more than 40 symbolic links in a row",
        path.display()
    )))
}

/// Whether following a link may be steered by another user: the kernel's rule for
/// `fs.protected_symlinks`, from the directory's mode and owner, the link's owner and this
/// process's user.
pub fn link_is_planted(dir_mode: u32, dir_owner: u32, link_owner: u32, user: u32) -> bool {
    let shared = dir_mode & 0o1002 == 0o1002;
    shared && link_owner != user && link_owner != dir_owner
}

#[cfg(unix)]
fn refuse_planted_link(link: &Path, meta: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let dir = parent_dir(link);
    let dir_meta = std::fs::metadata(dir)?;
    let user = rustix::process::geteuid().as_raw();
    if link_is_planted(dir_meta.mode(), dir_meta.uid(), meta.uid(), user) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            Advised(format!(
                "{} is a symbolic link another user made in the shared directory {}; not \
                 followed (write somewhere else, or remove the link)",
                link.display(),
                dir.display()
            )),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_planted_link(_: &Path, _: &std::fs::Metadata) -> std::io::Result<()> {
    Ok(())
}

/// A temporary file in the directory of `path` (of the file its links end at,
/// [`write_target`]; the current directory for a bare file name), named after it, removed
/// unless [`persist`]ed. It is [`claim`]ed for as long as it is open, and the temporary
/// files of `path` that earlier runs abandoned (killed before they could remove them) are
/// removed first ([`remove_abandoned`]).
///
/// # Errors
/// When the directory does not exist (saying so, and what to do) or is not writable.
pub fn temp_beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let target = write_target(path)?;
    let prefix = temp_prefix(&target);
    let dir = parent_dir(&target);
    remove_abandoned(dir, &prefix, TEMP_SUFFIX);
    let temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(|err| missing_dir(err, parent_dir(path)))?;
    claim(temp.as_file());
    Ok(temp)
}

/// Like [`temp_beside`], a temporary name beside `path` (or the file its links end at),
/// made as a hard link to `source`: the same file under a second name, to be renamed over
/// `path` ([`std::fs::rename`]). It is removed when the returned handle is dropped.
///
/// # Errors
/// When the link cannot be made: another file system (`EXDEV`), one without hard links,
/// too many links, `source` gone, or the directory not writable.
pub fn link_beside(source: &Path, path: &Path) -> std::io::Result<tempfile::TempPath> {
    let target = write_target(path)?;
    let prefix = temp_prefix(&target);
    let dir = parent_dir(&target);
    remove_abandoned(dir, &prefix, TEMP_SUFFIX);
    Ok(tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(TEMP_SUFFIX)
        .make_in(dir, |name| std::fs::hard_link(source, name))?
        .into_temp_path())
}

/// How [`temp_beside`] names the temporary files of `target`: `.<name>.wreg-XXXXXX.tmp`.
fn temp_prefix(target: &Path) -> String {
    format!(
        ".{}.wreg-",
        target.file_name().unwrap_or_default().to_string_lossy()
    )
}

const TEMP_SUFFIX: &str = ".tmp";

/// Removes the temporary files of `path` ([`temp_beside`]) that killed runs left, for a
/// caller that may not write `path` this time (a lock file found unchanged). Returns how
/// many were removed.
pub fn remove_abandoned_beside(path: &Path) -> usize {
    let target = write_target(path).unwrap_or_else(|_| path.to_owned());
    remove_abandoned(parent_dir(&target), &temp_prefix(&target), TEMP_SUFFIX)
}

/// `err`, a file that could not be made in `dir`, saying so when `dir` does not exist
/// (rather than naming a temporary file that never was), with what to do.
fn missing_dir(err: std::io::Error, dir: &Path) -> std::io::Error {
    if err.kind() != std::io::ErrorKind::NotFound || dir.is_dir() {
        return err;
    }
    std::io::Error::new(
        std::io::ErrorKind::NotFound,
        Advised(format!(
            "the directory {} does not exist; create it, or give a path in a directory that \
             exists",
            dir.display()
        )),
    )
}

/// Marks a temporary file as being written: an exclusive advisory lock (`flock`), which
/// the kernel releases when the process ends however it ends, so [`remove_abandoned`] can
/// tell a file a live process writes from one a killed process left. Best effort: where
/// the file system has no such locks the file is only never removed by anyone else.
pub fn claim(file: &std::fs::File) {
    let _ = file.try_lock();
}

/// Like [`claim`], for a temporary directory: the directory opened and locked, held for as
/// long as the returned handle is (None where it cannot be opened).
pub fn claim_dir(dir: &Path) -> Option<std::fs::File> {
    let handle = std::fs::File::open(dir).ok()?;
    claim(&handle);
    Some(handle)
}

/// How young an empty temporary file or directory must be to be left alone even when
/// unlocked: it may have been made an instant ago by a process that has not [`claim`]ed it
/// yet (a writer claims what it makes before it writes a byte there).
const JUST_MADE: std::time::Duration = std::time::Duration::from_secs(10);

/// The number of random characters `tempfile` puts in a name.
const RANDOM_CHARS: usize = 6;

/// Whether `name` is `<prefix><6 random letters or digits><suffix>`, as `tempfile` names
/// what we ask it for, and nothing looser: a file of the user's that only starts and ends
/// alike (`.deps.bak`, `.out.wasm.old.tmp`) is not ours.
fn is_temporary_name(name: &str, prefix: &str, suffix: &str) -> bool {
    name.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(suffix))
        .is_some_and(|random| {
            random.len() == RANDOM_CHARS && random.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// Removes the temporary files and directories in `dir` named `<prefix>XXXXXX<suffix>` that no
/// live process holds ([`claim`], [`claim_dir`]): those a killed run left behind. Returns
/// how many were removed. Failures are ignored (the next write tries again).
pub fn remove_abandoned(dir: &Path, prefix: &str, suffix: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !is_temporary_name(&name, prefix, suffix) {
            continue;
        }
        let path = entry.path();
        // Not through a symbolic link: only what a run of ours made.
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let empty = if meta.is_dir() {
            std::fs::read_dir(&path).is_ok_and(|mut e| e.next().is_none())
        } else if meta.is_file() {
            meta.len() == 0
        } else {
            continue;
        };
        let young = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_none_or(|age| age < JUST_MADE);
        if empty && young {
            continue;
        }
        let Ok(handle) = std::fs::File::open(&path) else {
            continue;
        };
        if handle.try_lock().is_err() {
            continue;
        }
        let gone = if meta.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed += usize::from(gone.is_ok());
    }
    removed
}

/// Renames `temp` (made by [`temp_beside`] or in the same directory) over `path`, or over
/// the file its links end at ([`write_target`]), keeping the links.
///
/// # Errors
/// The I/O error of the step that failed; `path` is left as it was.
pub fn persist(
    temp: tempfile::NamedTempFile,
    path: &Path,
    durability: Durability,
) -> std::io::Result<()> {
    let advised = |err| advise(err, parent_dir(path), None);
    if durability == Durability::Synced {
        temp.as_file().sync_all().map_err(advised)?;
    }
    let target = write_target(path)?;
    temp.persist(&target).map_err(|err| advised(err.error))?;
    if durability == Durability::Synced
        && let Ok(dir) = std::fs::File::open(parent_dir(&target))
    {
        // Makes the rename itself durable where the platform allows syncing a directory.
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Whether `err` is a write refused by the file system: full (or the user's quota is),
/// mounted read-only, or not writable by this user. These are the errors a user fixes
/// outside the program, so they are worth advice ([`advise`]) and the directory's name
/// (a temporary file named instead would be gone by the time the message is read).
pub fn is_write_refused(err: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        err.kind(),
        ErrorKind::StorageFull
            | ErrorKind::QuotaExceeded
            | ErrorKind::ReadOnlyFilesystem
            | ErrorKind::PermissionDenied
    )
}

/// `err`, a write in `dir` that failed, with what to do when the file system refused it
/// ([`is_write_refused`]): free space, remount read-write or change permissions, and
/// `instead`, another way out ("choose another cache directory"). Its kind is kept; other
/// errors, and errors already advised, are returned as they are.
pub fn advise(err: std::io::Error, dir: &Path, instead: Option<&str>) -> std::io::Error {
    use std::io::ErrorKind;
    let advised = err.get_ref().is_some_and(|inner| inner.is::<Advised>());
    if advised || !is_write_refused(&err) {
        return err;
    }
    // tempfile adds ` at path "<temporary file>"` to its errors; that file is removed by
    // the time anyone reads the message, and the caller names the file or directory the
    // user knows, so the system's words are kept without it.
    let text = err.to_string();
    let said = match text.split_once(" at path \"") {
        Some((said, _)) if err.get_ref().is_some() => said.to_owned(),
        _ => text,
    };
    let dir = dir.display();
    let advice = match err.kind() {
        ErrorKind::ReadOnlyFilesystem => {
            format!("{dir} is on a read-only file system; remount it read-write")
        }
        ErrorKind::PermissionDenied => {
            format!("this user may not write in {dir}; change its permissions")
        }
        _ => format!("free space on the file system of {dir}"),
    };
    let instead = instead.map(|i| format!(", or {i}")).unwrap_or_default();
    std::io::Error::new(err.kind(), Advised(format!("{said}: {advice}{instead}")))
}

/// The text of an error [`advise`] has added advice to.
#[derive(Debug)]
struct Advised(String);

impl std::fmt::Display for Advised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Advised {}

/// The directory a file is in: `.` for a bare relative name (whose parent is empty).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_whole_files_and_keep_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wkg.lock");
        write_atomic(&path, b"one", Durability::Synced).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        write_atomic(&path, b"two", Durability::Renamed).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        // Nothing but the file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // A missing directory fails and writes nothing.
        assert!(write_atomic(&dir.path().join("no/such"), b"x", Durability::Synced).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_shared_or_private_as_asked() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let mode = |name: &str| {
            std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        write_atomic(&dir.path().join("wkg.lock"), b"x", Durability::Synced).unwrap();
        write_private(&dir.path().join("config.toml"), b"x", Durability::Synced).unwrap();
        assert_eq!(mode("wkg.lock"), 0o644);
        assert_eq!(mode("config.toml"), 0o600);
    }

    #[test]
    fn a_write_removes_what_a_killed_write_left_and_nothing_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob.wasm");
        // Left by a killed run: not claimed by anyone any more.
        let abandoned = dir.path().join(".blob.wasm.wreg-AbCdEf.tmp");
        std::fs::write(&abandoned, b"half").unwrap();
        // Being written by a live writer (this one holds its lock).
        let live = temp_beside(&path).unwrap();
        std::io::Write::write_all(&mut live.as_file(), b"half").unwrap();
        // Made an instant ago, not yet claimed.
        let just_made = dir.path().join(".blob.wasm.wreg-GhIjKl.tmp");
        std::fs::write(&just_made, b"").unwrap();
        // Another file's temporary file, and a file of the user's.
        let other = dir.path().join(".other.wasm.wreg-MnOpQr.tmp");
        std::fs::write(&other, b"half").unwrap();
        let mine = dir.path().join(".blob.wasm.notes");
        std::fs::write(&mine, b"mine").unwrap();
        // Named like ours, but not as tempfile names: the user's, whatever their age.
        let alike = [
            ".blob.wasm.wreg-backup1.tmp",
            ".blob.wasm.wreg-a.b-c.tmp",
            ".blob.wasm.old.tmp",
        ]
        .map(|name| dir.path().join(name));
        for path in &alike {
            std::fs::write(path, b"mine").unwrap();
        }
        // A temporary file of `blob.wasm.b`, whose name starts as those of `blob.wasm`.
        let longer = dir.path().join(".blob.wasm.b.wreg-StUvWx.tmp");
        std::fs::write(&longer, b"half").unwrap();

        write_atomic(&path, b"whole", Durability::Renamed).unwrap();
        assert!(!abandoned.exists());
        assert!(live.path().exists());
        assert!(just_made.exists());
        assert!(other.exists());
        assert!(mine.exists());
        assert!(alike.iter().all(|p| p.exists()));
        assert!(longer.exists());
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
        // Once its writer is gone (dropped without a persist: removed by it) or killed
        // (here: the lock let go), the next write takes it away.
        let kept = live.into_temp_path().keep().unwrap();
        write_atomic(&path, b"again", Durability::Renamed).unwrap();
        assert!(!kept.exists());
    }

    #[test]
    fn a_link_in_a_shared_directory_is_followed_only_if_its_owner_may_steer_us() {
        // /tmp: world-writable and sticky, owned by root (0).
        let tmp = 0o41777;
        assert!(link_is_planted(tmp, 0, 1001, 1000), "another user's link");
        assert!(!link_is_planted(tmp, 0, 1000, 1000), "our own");
        assert!(
            !link_is_planted(tmp, 1001, 1001, 1000),
            "the directory owner's"
        );
        assert!(!link_is_planted(0o40777, 0, 1001, 1000), "not sticky");
        assert!(
            !link_is_planted(0o41775, 0, 1001, 1000),
            "not world-writable"
        );
    }

    /// The same on disk: a link another user made in a sticky world-writable directory
    /// (made here with `lchown`, so as root, as CI runs) is not written through.
    #[cfg(unix)]
    #[test]
    fn another_users_link_in_a_shared_directory_is_not_written_through() {
        use std::os::unix::fs::PermissionsExt as _;
        assert!(
            rustix::process::geteuid().is_root(),
            "this test makes a link owned by another user, which needs root: run it as root \
             (CI does), or with `sudo -E cargo test -p registry-config`"
        );
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("tmp");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let victim = dir.path().join("bashrc");
        std::fs::write(&victim, b"mine").unwrap();
        let link = shared.join("out.wasm");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        std::os::unix::fs::lchown(&link, Some(4242), Some(4242)).unwrap();
        let err = write_atomic(&link, b"steered", Durability::Renamed).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(
            err.to_string()
                .contains("a symbolic link another user made"),
            "{err}"
        );
        assert_eq!(std::fs::read(&victim).unwrap(), b"mine");
        // Our own link there is followed, as before.
        std::os::unix::fs::lchown(&link, Some(0), Some(0)).unwrap();
        write_atomic(&link, b"ours", Durability::Renamed).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"ours");
    }

    #[test]
    fn refused_writes_say_what_to_do_once() {
        let dir = Path::new("/var/cache/wasm-pkg");
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let advised = advise(full, dir, Some("choose another cache directory"));
        assert_eq!(advised.kind(), std::io::ErrorKind::StorageFull);
        let text = advised.to_string();
        assert!(
            text.ends_with(
                ": free space on the file system of /var/cache/wasm-pkg, or choose another \
                 cache directory"
            ),
            "{text}"
        );
        // Advised once: a second call (a caller of `persist`) adds nothing.
        assert_eq!(advise(advised, dir, None).to_string(), text);
        let read_only = advise(
            std::io::Error::from(std::io::ErrorKind::ReadOnlyFilesystem),
            dir,
            None,
        );
        assert!(
            read_only.to_string().ends_with(
                ": /var/cache/wasm-pkg is on a read-only file system; remount it read-write"
            ),
            "{read_only}"
        );
        // tempfile's decoration (a temporary file, gone by now) is left out.
        let decorated = std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "No space left on device (os error 28) at path \"/x/.config.toml.Ab12.tmp\"",
        );
        assert_eq!(
            advise(decorated, Path::new("/x"), None).to_string(),
            "No space left on device (os error 28): free space on the file system of /x"
        );
        // Other errors are not the user's to fix this way: left alone.
        let other = advise(
            std::io::Error::from(std::io::ErrorKind::InvalidData),
            dir,
            None,
        );
        assert_eq!(
            other.to_string(),
            std::io::Error::from(std::io::ErrorKind::InvalidData).to_string()
        );
    }

    #[cfg(unix)]
    #[test]
    fn writes_go_through_links_and_keep_them() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        // A chain: out.wasm -> mid.wasm -> real/out.wasm (relative), not there yet.
        std::os::unix::fs::symlink("real/out.wasm", dir.path().join("mid.wasm")).unwrap();
        std::os::unix::fs::symlink("mid.wasm", dir.path().join("out.wasm")).unwrap();
        let link = dir.path().join("out.wasm");
        assert_eq!(
            write_target(&link).unwrap(),
            dir.path().join("real/out.wasm")
        );
        write_atomic(&link, b"one", Durability::Synced).unwrap();
        write_atomic(&link, b"two", Durability::Renamed).unwrap();
        assert_eq!(std::fs::read(real.join("out.wasm")).unwrap(), b"two");
        for name in ["out.wasm", "mid.wasm"] {
            let meta = std::fs::symlink_metadata(dir.path().join(name)).unwrap();
            assert!(meta.file_type().is_symlink(), "{name} is still a link");
        }
        // Nothing left beside the link or the file.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
        assert_eq!(std::fs::read_dir(&real).unwrap().count(), 1);
        // A loop is an error, not a hang.
        std::os::unix::fs::symlink("b", dir.path().join("a")).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
        let err = write_atomic(&dir.path().join("a"), b"x", Durability::Synced).unwrap_err();
        assert!(
            err.to_string().contains("more than 40 symbolic links"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_directory_is_named_with_what_to_do() {
        let err = write_atomic(
            Path::new("../no-such-dir-here/wkg.lock"),
            b"x",
            Durability::Synced,
        )
        .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(
            err.to_string(),
            "the directory ../no-such-dir-here does not exist; create it, or give a path in a \
             directory that exists"
        );
    }

    #[test]
    fn a_bare_name_lives_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("wkg.lock")), Path::new("."));
        assert_eq!(parent_dir(Path::new("../x/wkg.lock")), Path::new("../x"));
    }
}
