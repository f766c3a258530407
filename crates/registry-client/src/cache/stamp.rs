//! Stamps: what a large cache entry looked like to the kernel the last time its bytes were
//! hashed, so that a hit whose file has not changed since is not hashed again.
//!
//! A stamp is a small file `stamps/sha256/<hex>` holding the entry's device, inode, size
//! and modification time in nanoseconds, taken when the bytes were hashed (on download, or
//! on a hit that hashed them). A later hit trusts the entry without reading it when all
//! four still match **and** the entry was last modified strictly before the stamp was
//! written, by the file system's own clock (the "racily clean" rule git applies to its
//! index): a write to the entry in the same clock tick as the stamp, which the four values
//! could not show, leaves the stamp untrusted, so the next hit hashes the bytes again and
//! stamps them afresh.
//!
//! Entries are renamed into the cache without an fsync, so a crash can leave one torn
//! under its name with its size and time intact. A stamp therefore names the boot it was
//! written in (Linux's `boot_id`) and is trusted only in that boot: after a crash the first
//! hit of each entry hashes it again. Where there is no boot id, the entry's data is synced
//! to the disk before it is stamped.
//!
//! What a stamp does not prove, said in ARCHITECTURE.md: bytes that rotted on the disk
//! with no write, or a writer who sets the modification time back on purpose (which takes
//! write access to the cache, and so to the stamps too). `wreg cache verify` hashes every
//! entry whatever its stamp. Small entries are not stamped: hashing them costs less than
//! reading a stamp. Off Unix there are no stamps and every hit is hashed.

use std::path::Path;

/// Entries smaller than this are hashed on every hit (a stamp would cost more).
pub(crate) const STAMP_MIN: u64 = 1 << 20;

/// The first word of a stamp file, naming its format.
const FORMAT: &str = "wreg-stamp-2";

/// What the second word of a stamp is where the system names no boot: the entry was
/// synced before it was stamped.
const SYNCED: &str = "synced";

/// This boot's identity (Linux), read once.
fn boot() -> Option<&'static str> {
    static BOOT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    BOOT.get_or_init(|| {
        let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let id = id.trim();
        (!id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
            .then(|| id.to_owned())
    })
    .as_deref()
}

/// The word a stamp written now carries: the boot, else [`SYNCED`].
fn epoch() -> &'static str {
    boot().unwrap_or(SYNCED)
}

/// What the kernel reports of a file's identity and last change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    dev: u64,
    ino: u64,
    size: u64,
    /// The modification time (a write, a truncate), seconds and nanoseconds.
    mtime: (i64, i64),
    /// The change time (also a link, a `chmod`, and a modification time set back), which
    /// no one can set back.
    ctime: (i64, i64),
}

impl Seen {
    #[cfg(unix)]
    fn of(meta: &std::fs::Metadata) -> Option<Self> {
        use std::os::unix::fs::MetadataExt as _;
        Some(Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        })
    }

    #[cfg(not(unix))]
    fn of(_meta: &std::fs::Metadata) -> Option<Self> {
        None
    }

    /// The same file with the same bytes: all but the change time alike (a link or a
    /// `chmod` moves only that).
    fn same_bytes(&self, other: &Self) -> bool {
        (self.dev, self.ino, self.size, self.mtime)
            == (other.dev, other.ino, other.size, other.mtime)
    }

    fn encode(&self, epoch: &str) -> String {
        let Self {
            dev,
            ino,
            size,
            mtime: (secs, nanos),
            ctime: (csecs, cnanos),
        } = self;
        format!("{FORMAT} {epoch} {dev} {ino} {size} {secs} {nanos} {csecs} {cnanos}\n")
    }

    /// The stamp in `text`, if it was written in `epoch` (this boot, or [`SYNCED`]).
    fn decode(text: &str, epoch: &str) -> Option<Self> {
        let mut words = text.trim_end().split(' ');
        if words.next()? != FORMAT || words.next()? != epoch {
            return None;
        }
        let mut next = || words.next()?.parse::<i128>().ok();
        let (dev, ino, size) = (next()?, next()?, next()?);
        let (secs, nanos, csecs, cnanos) = (next()?, next()?, next()?, next()?);
        if words.next().is_some() {
            return None;
        }
        Some(Self {
            dev: dev.try_into().ok()?,
            ino: ino.try_into().ok()?,
            size: size.try_into().ok()?,
            mtime: (secs.try_into().ok()?, nanos.try_into().ok()?),
            ctime: (csecs.try_into().ok()?, cnanos.try_into().ok()?),
        })
    }
}

/// Whether the stamp at `stamp` vouches for the open entry whose metadata is `entry`: the
/// same file, not changed in any way since its bytes were hashed, last changed strictly
/// before the hash began (the stamp's own time, by the file system's clock).
pub(crate) fn vouches(stamp: &Path, entry: &std::fs::Metadata) -> bool {
    if entry.len() < STAMP_MIN {
        return false;
    }
    let Ok(mut file) = std::fs::File::open(stamp) else {
        return false;
    };
    let mut text = String::new();
    if std::io::Read::read_to_string(&mut file, &mut text).is_err() {
        return false;
    }
    let (Some(recorded), Some(seen), Some(stamped)) = (
        Seen::decode(&text, epoch()),
        Seen::of(entry),
        file.metadata().ok().as_ref().and_then(Seen::of),
    ) else {
        return false;
    };
    recorded == seen && seen.mtime < stamped.mtime && seen.ctime < stamped.mtime
}

/// A stamp begun before an entry's bytes are hashed: its file is made first, so that its
/// time (which the stamp keeps) is from before the hash began, and a write to the entry
/// during the hash, even in the same tick of a coarse clock, leaves it untrusted.
pub(crate) struct Pending {
    path: std::path::PathBuf,
    temp: tempfile::NamedTempFile,
    began: std::time::SystemTime,
}

impl Pending {
    /// Begins the stamp at `path` for an entry seen as `entry`: `None` for a small entry
    /// (never stamped), or when the stamp's file cannot be made.
    pub(crate) fn for_entry(path: &Path, entry: &std::fs::Metadata) -> Option<Self> {
        if entry.len() < STAMP_MIN {
            return None;
        }
        Self::begin(path)
    }

    /// Begins the stamp at `path` (`None` when its file cannot be made; nothing is stamped
    /// then).
    pub(crate) fn begin(path: &Path) -> Option<Self> {
        let dir = registry_config::fs::parent_dir(path);
        std::fs::create_dir_all(dir).ok()?;
        let temp = tempfile::Builder::new()
            .prefix(".stamp-")
            .tempfile_in(dir)
            .ok()?;
        let began = temp.as_file().metadata().ok()?.modified().ok()?;
        Some(Self {
            path: path.to_owned(),
            temp,
            began,
        })
    }

    /// Records that the entry open as `entry`, seen as `before` when its hashing began,
    /// hashed to its digest. Nothing is recorded when it changed since (a write during the
    /// hash) or is small; a failure is only logged (it is a cache).
    pub(crate) fn finish(mut self, entry: &std::fs::File, before: &std::fs::Metadata) {
        let (Some(before), Some(after)) = (
            Seen::of(before),
            entry.metadata().ok().as_ref().and_then(Seen::of),
        ) else {
            return;
        };
        if before != after || before.size < STAMP_MIN {
            return;
        }
        let epoch = epoch();
        let mut write = || -> std::io::Result<()> {
            if epoch == SYNCED {
                entry.sync_data()?;
            }
            std::io::Write::write_all(self.temp.as_file_mut(), before.encode(epoch).as_bytes())?;
            self.temp.as_file().set_modified(self.began)?;
            Ok(())
        };
        if let Err(err) = write() {
            tracing::debug!(path = %self.path.display(), "cannot stamp a cache entry: {err}");
            return;
        }
        if let Err(err) = self.temp.persist(&self.path) {
            tracing::debug!(path = %self.path.display(), "cannot stamp a cache entry: {}", err.error);
        }
    }
}

/// Stamps afresh, at `stamp`, the entry open as `entry` that was hashed (or trusted) when
/// it looked as `before`, after a change of ours that moves only its change time (a hard
/// link made to it, its permissions set). Nothing is stamped if its bytes may have changed
/// (its size or modification time moved).
///
/// The change was made an instant ago, most likely in the stamp's own clock tick, which
/// would leave the stamp untrusted and make the next hit hash the entry (after every link,
/// so every hit in `LinkMode::Hardlink`). So the stamp's time is put just after the
/// entry's change time: a write after the link still moves the modification time away
/// from the one recorded, and only a write that sets it back within the same tick as the
/// link goes unseen (ARCHITECTURE.md, "Cache hits").
pub(crate) fn renew(stamp: &Path, entry: &std::fs::File, before: &std::fs::Metadata) {
    let (Some(then), Ok(meta)) = (Seen::of(before), entry.metadata()) else {
        return;
    };
    if let Some(now) = Seen::of(&meta)
        && then.same_bytes(&now)
        && let Some(mut pending) = Pending::begin(stamp)
    {
        if let Some(changed) = time_of(now.ctime) {
            pending.began = pending
                .began
                .max(changed + std::time::Duration::from_nanos(1));
        }
        pending.finish(entry, &meta);
    }
}

/// A (seconds, nanoseconds) time as a `SystemTime` (`None` before 1970 or out of range).
fn time_of((secs, nanos): (i64, i64)) -> Option<std::time::SystemTime> {
    let secs = u64::try_from(secs).ok()?;
    let nanos = u32::try_from(nanos).ok()?;
    std::time::UNIX_EPOCH.checked_add(std::time::Duration::new(secs, nanos))
}

/// Whether stamping costs no sync here (the system names its boot).
pub(crate) fn without_sync() -> bool {
    boot().is_some()
}

/// Removes the stamp at `stamp`, if any.
pub(crate) fn forget(stamp: &Path) {
    if let Err(err) = std::fs::remove_file(stamp)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::debug!(path = %stamp.display(), "cannot remove a stamp: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_reads_back_as_written_and_nothing_else_reads() {
        let seen = Seen {
            dev: 2049,
            ino: u64::MAX,
            size: 1 << 30,
            mtime: (-1, 999_999_999),
            ctime: (1_796_000_000, 5),
        };
        let boot = "0f3c2a57-9d1e-4c55-8a0b-1d2e3f405162";
        assert_eq!(Seen::decode(&seen.encode(boot), boot), Some(seen));
        assert_eq!(
            Seen::decode(&seen.encode(boot), "another-boot"),
            None,
            "a stamp from another boot (after a crash, perhaps) is not trusted"
        );
        for text in [
            "",
            "wreg-stamp-2 b 1 2 3 4 5",
            "wreg-stamp-2 b 1 2 3 4 5 6 7 8",
            "wreg-stamp-1 b 1 2 3 4 5 6 7",
            "wreg-stamp-2 b -1 2 3 4 5 6 7",
            "wreg-stamp-2 b 1 2 x 4 5 6 7",
        ] {
            assert_eq!(Seen::decode(text, "b"), None, "{text:?}");
        }
    }
    #[cfg(unix)]
    #[test]
    fn a_stamp_vouches_only_for_the_file_unchanged_since_before_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let (entry, stamp) = (dir.path().join("entry"), dir.path().join("stamps/entry"));
        std::fs::write(&entry, vec![7u8; STAMP_MIN as usize]).unwrap();
        let meta = || std::fs::metadata(&entry).unwrap();
        let stamp_now = || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            let file = std::fs::File::open(&entry).unwrap();
            Pending::begin(&stamp).unwrap().finish(&file, &meta());
        };
        stamp_now();
        assert!(vouches(&stamp, &meta()), "unchanged since before the stamp");

        // Rewritten in place with its modification time set back: the change time moved.
        let written = meta().modified().unwrap();
        std::fs::write(&entry, vec![8u8; STAMP_MIN as usize]).unwrap();
        let file = std::fs::File::options().write(true).open(&entry).unwrap();
        file.set_modified(written).unwrap();
        assert!(!vouches(&stamp, &meta()), "a time set back is seen");

        // Stamped afresh, then the stamp's time is not after the entry's last change (a
        // write in the same clock tick as the hash began): not trusted.
        stamp_now();
        assert!(vouches(&stamp, &meta()));
        let stamp_file = std::fs::File::options().write(true).open(&stamp).unwrap();
        stamp_file.set_modified(meta().modified().unwrap()).unwrap();
        assert!(!vouches(&stamp, &meta()), "racily clean");

        // Small files and other files are never vouched for.
        stamp_now();
        let other = dir.path().join("other");
        std::fs::copy(&entry, &other).unwrap();
        assert!(!vouches(&stamp, &std::fs::metadata(&other).unwrap()));
        std::fs::write(&entry, b"small").unwrap();
        stamp_now();
        assert!(!vouches(&stamp, &meta()));
    }
    #[cfg(unix)]
    #[test]
    fn a_stamp_renewed_after_a_link_is_trusted_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (entry, stamp) = (dir.path().join("entry"), dir.path().join("stamps/entry"));
        std::fs::write(&entry, vec![7u8; STAMP_MIN as usize]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let file = std::fs::File::open(&entry).unwrap();
        let before = file.metadata().unwrap();
        Pending::begin(&stamp).unwrap().finish(&file, &before);
        // Ten links in a row, each renewing at once, well inside one tick of the clock
        // the file system stamps times with: each renewed stamp vouches.
        for i in 0..10 {
            std::fs::hard_link(&entry, dir.path().join(format!("out{i}"))).unwrap();
            renew(&stamp, &file, &before);
            let now = std::fs::metadata(&entry).unwrap();
            assert!(vouches(&stamp, &now), "after link {i}");
        }
        // A write after the links is still seen.
        std::fs::write(dir.path().join("out3"), vec![8u8; STAMP_MIN as usize]).unwrap();
        assert!(!vouches(&stamp, &std::fs::metadata(&entry).unwrap()));
    }
}
