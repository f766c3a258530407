//! What the harness checks on disk: cache entries, lock files, the state of a path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use registry_client::LockFile;
use registry_core::ContentDigest;

use super::{Home, Known};

/// Whether the file at `path` holds the bytes its digest names.
pub(crate) fn verifies(path: &Path, digest: &str, known: &Known) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|err| format!("{}: {err}", path.display()))?;
    let whole = match known.get(digest) {
        Some(expected) => *expected == bytes,
        None => ContentDigest::sha256(&bytes).to_string() == digest,
    };
    if whole {
        Ok(())
    } else {
        Err(format!(
            "{} ({} bytes) does not hash to {digest}",
            path.display(),
            bytes.len()
        ))
    }
}

/// What is at a path: nothing, a file's bytes, or a directory's files (an empty directory
/// counts as nothing).
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum State {
    Absent,
    File(Vec<u8>),
    Dir(BTreeMap<PathBuf, Vec<u8>>),
}

impl State {
    pub(crate) fn of(path: &Path) -> Self {
        match std::fs::symlink_metadata(path) {
            Err(_) => Self::Absent,
            Ok(meta) if meta.is_dir() => {
                let mut files = BTreeMap::new();
                tree(path, path, &mut files);
                if files.is_empty() {
                    Self::Absent
                } else {
                    Self::Dir(files)
                }
            }
            Ok(_) => Self::File(std::fs::read(path).unwrap_or_default()),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Absent => "absent".to_owned(),
            Self::File(bytes) => format!("a file of {} bytes", bytes.len()),
            Self::Dir(files) => format!(
                "a directory of {} files ({})",
                files.len(),
                files
                    .iter()
                    .map(|(p, b)| format!("{} {}", p.display(), b.len()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// Every file under `dir` with its bytes, by its path relative to `root`, leaving out
/// temporary files ([`is_temporary`]: counted apart, as leftovers).
pub(crate) fn tree(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if is_temporary(&entry.file_name().to_string_lossy()) {
            continue;
        }
        if path.is_dir() {
            tree(root, &path, files);
        } else {
            let bytes = std::fs::read(&path).unwrap_or_default();
            files.insert(path.strip_prefix(root).unwrap().to_owned(), bytes);
        }
    }
}

/// Whether `name` is one of this workspace's temporary files or directories: an output's
/// `.<name>.<random>.tmp`, a spool's `.publish-*`, a `wit/deps` staging `.deps.*`, a
/// bundle blob's `.tmp-*`.
pub(crate) fn is_temporary(name: &str) -> bool {
    [".publish-", ".deps.", ".tmp-"]
        .iter()
        .any(|p| name.starts_with(p))
        || (name.starts_with('.') && name.ends_with(".tmp"))
}

/// The temporary files and directories a run leaves when it is killed: the cache's `tmp/`,
/// and anything named as this workspace names its temporary files.
pub(crate) fn leftovers(home: &Home) -> BTreeSet<PathBuf> {
    fn walk(dir: &Path, found: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_temporary(&name) {
                found.insert(path);
            } else if path.is_dir() {
                walk(&path, found);
            }
        }
    }
    let mut found = BTreeSet::new();
    walk(home.dir.path(), &mut found);
    if let Ok(entries) = std::fs::read_dir(home.path("cache/tmp")) {
        found.extend(entries.flatten().map(|e| e.path()));
    }
    found
}

/// The cache's entries, after checking that each hashes to its name.
pub(crate) fn cache_entries(home: &Home, known: &Known) -> Result<BTreeSet<String>, String> {
    let dir = home.path("cache/content/sha256");
    let mut names = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(names);
    };
    let mut broken = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let digest = format!("sha256:{name}");
        match verifies(&entry.path(), &digest, known) {
            Ok(()) => {
                names.insert(digest);
            }
            Err(err) => broken.push(format!("cache entry {err}")),
        }
    }
    if broken.is_empty() {
        Ok(names)
    } else {
        Err(broken.join("; "))
    }
}

/// `wkg.lock` in the project, when there is one, parsed.
pub(crate) fn lock_file(home: &Home) -> Result<Option<LockFile>, String> {
    let path = home.project("wkg.lock");
    match std::fs::read_to_string(&path) {
        Ok(text) => LockFile::parse(&text, &path)
            .map(Some)
            .map_err(|err| format!("wkg.lock does not parse: {err}\n{text}")),
        Err(_) => Ok(None),
    }
}

/// The pins of a lock file, as `ns:name@version digest`.
pub(crate) fn pins(lock: &LockFile) -> BTreeSet<String> {
    lock.packages
        .iter()
        .flat_map(|p| {
            p.versions
                .iter()
                .map(move |v| format!("{}@{} {}", p.name, v.version, v.digest))
        })
        .collect()
}
