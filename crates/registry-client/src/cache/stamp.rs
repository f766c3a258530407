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
const FORMAT: &str = "wreg-stamp-1";

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

/// What the kernel reports of a file's identity and last write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
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
        })
    }

    #[cfg(not(unix))]
    fn of(_meta: &std::fs::Metadata) -> Option<Self> {
        None
    }

    fn encode(&self, epoch: &str) -> String {
        let Self {
            dev,
            ino,
            size,
            mtime: (secs, nanos),
        } = self;
        format!("{FORMAT} {epoch} {dev} {ino} {size} {secs} {nanos}\n")
    }

    /// The stamp in `text`, if it was written in `epoch` (this boot, or [`SYNCED`]).
    fn decode(text: &str, epoch: &str) -> Option<Self> {
        let mut words = text.trim_end().split(' ');
        if words.next()? != FORMAT || words.next()? != epoch {
            return None;
        }
        let mut next = || words.next()?.parse::<i128>().ok();
        let (dev, ino, size, secs, nanos) = (next()?, next()?, next()?, next()?, next()?);
        if words.next().is_some() {
            return None;
        }
        Some(Self {
            dev: dev.try_into().ok()?,
            ino: ino.try_into().ok()?,
            size: size.try_into().ok()?,
            mtime: (secs.try_into().ok()?, nanos.try_into().ok()?),
        })
    }
}

/// The modification time of `meta`, to the nanosecond.
#[cfg(unix)]
fn modified(meta: &std::fs::Metadata) -> (i64, i64) {
    use std::os::unix::fs::MetadataExt as _;
    (meta.mtime(), meta.mtime_nsec())
}

/// Whether the stamp at `stamp` vouches for the open entry whose metadata is `entry`: the
/// same file, unchanged since its bytes were hashed, and last written strictly before the
/// stamp was.
pub(crate) fn vouches(stamp: &Path, entry: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
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
        let (Some(recorded), Some(seen), Ok(stamped)) = (
            Seen::decode(&text, epoch()),
            Seen::of(entry),
            file.metadata(),
        ) else {
            return false;
        };
        recorded == seen && seen.mtime < modified(&stamped)
    }
    #[cfg(not(unix))]
    {
        let _ = (stamp, entry);
        false
    }
}

/// Records at `stamp` that the entry open as `entry`, seen as `before` when its hashing
/// began, hashed to its digest. Nothing is recorded when it changed since (a write during
/// the hash) or is small; a failure is only logged (it is a cache).
pub(crate) fn record(stamp: &Path, entry: &std::fs::File, before: &std::fs::Metadata) {
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
    let write = || -> std::io::Result<()> {
        if epoch == SYNCED {
            entry.sync_data()?;
        }
        std::fs::create_dir_all(registry_config::fs::parent_dir(stamp))?;
        registry_config::fs::write_atomic(
            stamp,
            before.encode(epoch).as_bytes(),
            registry_config::fs::Durability::Renamed,
        )
    };
    if let Err(err) = write() {
        tracing::debug!(path = %stamp.display(), "cannot stamp a cache entry: {err}");
    }
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
            "wreg-stamp-1 b 1 2 3 4",
            "wreg-stamp-1 b 1 2 3 4 5 6",
            "wreg-stamp-2 b 1 2 3 4 5",
            "wreg-stamp-1 b -1 2 3 4 5",
            "wreg-stamp-1 b 1 2 x 4 5",
        ] {
            assert_eq!(Seen::decode(text, "b"), None, "{text:?}");
        }
    }
}
