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
    /// files whose reader checks them (cache entries are hashed on every read, cached
    /// answers parsed) and can fetch them again.
    Renamed,
}

/// Writes `bytes` to `path` atomically, keeping the permissions of the file it replaces (it
/// may hold credentials); a new file is readable by everyone, writable by its owner (0644,
/// what a plain write gives with the usual umask), as a lock file or an output should be.
///
/// # Errors
/// The I/O error of the step that failed; `path` is left as it was.
pub fn write_atomic(path: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<()> {
    write_with_mode(path, bytes, durability, 0o644)
}

/// Like [`write_atomic`], with a new file readable by its owner only (0600): for
/// configuration, which may hold credentials.
///
/// # Errors
/// As [`write_atomic`].
pub fn write_private(path: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<()> {
    write_with_mode(path, bytes, durability, 0o600)
}

fn write_with_mode(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
    #[cfg_attr(not(unix), allow(unused_variables))] new_mode: u32,
) -> std::io::Result<()> {
    let mut temp = temp_beside(path)?;
    temp.write_all(bytes)?;
    match std::fs::metadata(path) {
        Ok(meta) => temp.as_file().set_permissions(meta.permissions())?,
        #[cfg(unix)]
        Err(_) => {
            use std::os::unix::fs::PermissionsExt as _;
            temp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(new_mode))?;
        }
        #[cfg(not(unix))]
        Err(_) => {}
    }
    persist(temp, path, durability)
}

/// A temporary file in `path`'s directory (the current one for a bare file name), named
/// after it, removed unless [`persist`]ed.
///
/// # Errors
/// When the directory does not exist or is not writable.
pub fn temp_beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let prefix = format!(
        ".{}.",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(parent_dir(path))
}

/// Renames `temp` (made by [`temp_beside`] or in the same directory) over `path`.
///
/// # Errors
/// The I/O error of the step that failed; `path` is left as it was.
pub fn persist(
    temp: tempfile::NamedTempFile,
    path: &Path,
    durability: Durability,
) -> std::io::Result<()> {
    if durability == Durability::Synced {
        temp.as_file().sync_all()?;
    }
    temp.persist(path).map_err(|err| err.error)?;
    if durability == Durability::Synced
        && let Ok(dir) = std::fs::File::open(parent_dir(path))
    {
        // Makes the rename itself durable where the platform allows syncing a directory.
        let _ = dir.sync_all();
    }
    Ok(())
}

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
    fn a_bare_name_lives_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("wkg.lock")), Path::new("."));
        assert_eq!(parent_dir(Path::new("../x/wkg.lock")), Path::new("../x"));
    }
}
