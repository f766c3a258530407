//! Outputs made from the cache: hard links where the file system allows (one write of the
//! bytes per pull), copies otherwise or when asked; and the stamps that spare a large hit
//! its hash only while its file is unchanged.
#![cfg(unix)]

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use registry_client::{Cache, LinkMode};
use registry_core::Release;
use test_support::component;

use crate::support::{local_client, package, publish};

/// A component of about 2 MiB: large enough to be stamped.
fn large(seed: &str) -> Vec<u8> {
    component::build(&component::Spec {
        name: Some(seed),
        padding: 2 << 20,
        ..component::Spec::default()
    })
}

fn inode(path: &Path) -> (u64, u64) {
    let meta = std::fs::metadata(path).unwrap();
    (meta.dev(), meta.ino())
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn set_modified(path: &Path, time: std::time::SystemTime) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(time).unwrap();
}

/// Writes `bytes` over `entry` in place and sets its modification time back to what it
/// was, which it returns.
fn rot_keeping_mtime(entry: &Path, bytes: &[u8]) -> std::time::SystemTime {
    let written = std::fs::metadata(entry).unwrap().modified().unwrap();
    std::fs::write(entry, bytes).unwrap();
    set_modified(entry, written);
    written
}

/// A published and fetched release of `acme:widget`: the client, the release, its entry.
async fn cached(dir: &Path, bytes: Vec<u8>) -> (registry_client::Client, Release, PathBuf) {
    let client = local_client(dir);
    let release = publish(&client, "acme:widget", "1.0.0", bytes).await;
    let entry = client
        .route(&package("acme:widget"))
        .await
        .unwrap()
        .fetch(&release)
        .await
        .unwrap();
    (client, release, entry)
}

#[tokio::test]
async fn an_output_is_a_hard_link_to_its_entry_unless_a_copy_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = large("linked");
    let (client, release, entry) = cached(dir.path(), bytes.clone()).await;
    let out_dir = dir.path().join("out");
    let out = out_dir.join("widget.wasm");
    let cache = client.cache();

    // From a hit, twice to the same name, and from a fetch (a cold pull's path).
    for _ in 0..2 {
        assert!(
            cache
                .copy_verified(&release.digest, release.size, &out)
                .await
                .unwrap()
        );
        assert_eq!(inode(&out), inode(&entry), "the output is the entry");
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }
    let fetched = out_dir.join("fetched.wasm");
    let route = client.route(&package("acme:widget")).await.unwrap();
    route
        .fetch_open(&release)
        .await
        .unwrap()
        .copy_to(&fetched)
        .await
        .unwrap();
    assert_eq!(inode(&fetched), inode(&entry));
    assert_eq!(
        names(&out_dir),
        ["fetched.wasm", "widget.wasm"],
        "no temporary name is left, not even when the output already was the entry"
    );
    assert_eq!(std::fs::read(&out).unwrap(), bytes);

    // A copy when asked for: a file of its own, the same bytes.
    let copying = Cache::new(cache.dir()).with_link_mode(LinkMode::Copy);
    let copied = out_dir.join("copied.wasm");
    assert!(
        copying
            .copy_verified(&release.digest, release.size, &copied)
            .await
            .unwrap()
    );
    assert_ne!(inode(&copied), inode(&entry));
    assert_eq!(std::fs::read(&copied).unwrap(), bytes);
    assert_eq!(
        std::fs::metadata(&entry).unwrap().nlink(),
        3,
        "entry, out, fetched"
    );
}

#[tokio::test]
async fn an_output_rewritten_in_place_is_noticed_in_the_entry_and_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = large("rewritten");
    let (client, release, entry) = cached(dir.path(), bytes.clone()).await;
    let out = dir.path().join("widget.wasm");
    let cache = client.cache();
    // Hashed and stamped by a hit a moment after the download.
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(
        cache
            .copy_verified(&release.digest, release.size, &out)
            .await
            .unwrap()
    );
    assert_eq!(inode(&out), inode(&entry));

    // A tool rewrites the output in place, keeping its size (as `fs::write` does).
    let mine = vec![b'x'; bytes.len()];
    std::fs::write(&out, &mine).unwrap();

    let again = dir.path().join("again.wasm");
    assert!(
        !cache
            .copy_verified(&release.digest, release.size, &again)
            .await
            .unwrap(),
        "the rewritten entry is not trusted"
    );
    assert!(
        !again.exists() && !entry.exists(),
        "the rewritten entry is removed"
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        mine,
        "the user's file is theirs"
    );

    let route = client.route(&package("acme:widget")).await.unwrap();
    let healed = route.fetch(&release).await.unwrap();
    assert_eq!(std::fs::read(&healed).unwrap(), bytes);
    assert_ne!(
        inode(&healed),
        inode(&out),
        "fetched again into a file of its own"
    );
}

#[tokio::test]
async fn a_stamp_spares_the_hash_only_while_the_entry_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = large("stamped");
    let (client, release, entry) = cached(dir.path(), bytes.clone()).await;
    let cache = client.cache();
    let stamp = cache.dir().join("stamps/sha256").join(release.digest.hex());
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(cache.verify(&release.digest, release.size).await.unwrap());
    assert!(stamp.is_file(), "a full hash stamps the entry");

    // Bytes changed behind the cache's back with the modification time set back: what a
    // stamp cannot see (said in ARCHITECTURE.md). The stamp is trusted, the bytes are not
    // hashed: this proves a hit with a stamp reads nothing.
    let mut rotten = bytes.clone();
    let middle = rotten.len() / 2;
    rotten[middle] ^= 1;
    let written = rot_keeping_mtime(&entry, &rotten);
    let trusted = cache
        .open_verified(&release.digest, release.size)
        .await
        .unwrap();
    assert!(
        trusted.is_some(),
        "a matching stamp is trusted without a hash"
    );

    // A stamp written in the same clock tick as the entry's last write is not trusted
    // (the write could have followed it unseen): the bytes are hashed and the rot found.
    set_modified(&stamp, written);
    assert!(
        cache
            .open_verified(&release.digest, release.size)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !entry.exists() && !stamp.exists(),
        "entry and stamp removed"
    );

    // `cache verify` hashes whatever the stamp says.
    let route = client.route(&package("acme:widget")).await.unwrap();
    route.fetch(&release).await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(cache.verify(&release.digest, release.size).await.unwrap());
    rot_keeping_mtime(&entry, &rotten);
    assert!(!cache.verify(&release.digest, release.size).await.unwrap());
    assert!(!entry.exists());
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn an_output_on_another_file_system_is_a_copy() {
    let shm = Path::new("/dev/shm");
    assert!(
        shm.is_dir(),
        "this test needs /dev/shm (a tmpfs, another file system than the temporary \
         directory); mount one or run it where Linux provides it"
    );
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir_in(shm).unwrap();
    assert_ne!(
        inode(dir.path()).0,
        inode(elsewhere.path()).0,
        "two file systems"
    );
    let bytes = large("elsewhere");
    let (client, release, entry) = cached(dir.path(), bytes.clone()).await;
    let out = elsewhere.path().join("widget.wasm");
    assert!(
        client
            .cache()
            .copy_verified(&release.digest, release.size, &out)
            .await
            .unwrap()
    );
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    assert_eq!(std::fs::metadata(&entry).unwrap().nlink(), 1);
    assert_eq!(names(elsewhere.path()), ["widget.wasm"]);
}
