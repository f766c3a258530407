//! Outputs made from the cache: copies by default; hard links where the file system allows
//! when asked (one write of the bytes per pull), never changing the entry's permissions;
//! and an output rewritten in place noticed in the entry it shares.
#![cfg(unix)]

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use registry_client::{Client, LinkMode};
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

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// A published and fetched release of `acme:widget` through a client whose outputs are
/// made as `mode` says: the client, the release, its entry.
async fn cached(dir: &Path, bytes: Vec<u8>, mode: LinkMode) -> (Client, Release, PathBuf) {
    let local = local_client(dir);
    let client = Client::builder(local.config().clone())
        .cache_dir(dir.join("cache"))
        .link_mode(mode)
        .build();
    let release = publish(&client, "acme:widget", "1.0.0", bytes).await;
    let route = client.route(&package("acme:widget")).await.unwrap();
    let entry = route.fetch(&release).await.unwrap();
    (client, release, entry)
}

#[tokio::test]
async fn outputs_are_copies_unless_hard_links_are_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = large("copied");
    let (client, release, entry) = cached(dir.path(), bytes.clone(), LinkMode::Copy).await;
    let out = dir.path().join("out/widget.wasm");
    let cache = client.cache();
    assert!(
        cache
            .copy_verified(&release.digest, release.size, &out)
            .await
            .unwrap()
    );
    assert_ne!(inode(&out), inode(&entry), "a file of its own");
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    assert_eq!(mode(&out), 0o644);
    assert_eq!(std::fs::metadata(&entry).unwrap().nlink(), 1);
}

#[tokio::test]
async fn a_hard_linked_output_is_the_entry_and_leaves_no_temporary_name() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = large("linked");
    let (client, release, entry) = cached(dir.path(), bytes.clone(), LinkMode::Hardlink).await;
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
        assert_eq!(mode(&out), 0o644);
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
    assert_eq!(
        std::fs::metadata(&entry).unwrap().nlink(),
        3,
        "entry, out, fetched"
    );
}

#[tokio::test]
async fn a_link_never_changes_the_permissions_the_entry_and_its_outputs_share() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = large("modes");
    let (client, release, entry) = cached(dir.path(), bytes.clone(), LinkMode::Hardlink).await;
    let cache = client.cache();
    let first = dir.path().join("first.wasm");
    assert!(
        cache
            .copy_verified(&release.digest, release.size, &first)
            .await
            .unwrap()
    );
    // Replacing an executable file (0755) and a private one (0600): each keeps its mode as
    // a copy; the entry and the first output keep theirs.
    for (name, own) in [("tool.wasm", 0o755), ("private.wasm", 0o600)] {
        let out = dir.path().join(name);
        std::fs::write(&out, b"old").unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(own)).unwrap();
        assert!(
            cache
                .copy_verified(&release.digest, release.size, &out)
                .await
                .unwrap()
        );
        assert_eq!(std::fs::read(&out).unwrap(), bytes, "{name}");
        assert_eq!(mode(&out), own, "{name} keeps its mode");
        assert_ne!(inode(&out), inode(&entry), "{name} is a copy");
        assert_eq!(mode(&entry), 0o644, "the entry's mode is unchanged");
        assert_eq!(mode(&first), 0o644);
    }
}

#[tokio::test]
async fn an_output_rewritten_in_place_is_noticed_in_the_entry_and_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = large("rewritten");
    let (client, release, entry) = cached(dir.path(), bytes.clone(), LinkMode::Hardlink).await;
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
    std::thread::sleep(std::time::Duration::from_millis(50));
    let other = dir.path().join("other.wasm");
    assert!(
        cache
            .copy_verified(&release.digest, release.size, &other)
            .await
            .unwrap()
    );

    // A tool rewrites the output in place, keeping its size and setting its time back.
    let written = std::fs::metadata(&out).unwrap().modified().unwrap();
    let mine = vec![b'x'; bytes.len()];
    std::fs::write(&out, &mine).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&out)
        .unwrap()
        .set_modified(written)
        .unwrap();

    let again = dir.path().join("again.wasm");
    assert!(
        !cache
            .copy_verified(&release.digest, release.size, &again)
            .await
            .unwrap(),
        "the rewritten entry is not trusted, its time set back or not"
    );
    assert!(
        !again.exists() && !entry.exists(),
        "the rewritten entry is removed"
    );
    assert_eq!(
        std::fs::read(&other).unwrap(),
        mine,
        "outputs linked to one entry are one file (said in LinkMode::Hardlink)"
    );
    let route = client.route(&package("acme:widget")).await.unwrap();
    let healed = route.fetch(&release).await.unwrap();
    assert_eq!(std::fs::read(&healed).unwrap(), bytes);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_hard_link_to_another_file_system_is_a_copy() {
    let shm = Path::new("/dev/shm");
    assert!(
        shm.is_dir(),
        "this test needs /dev/shm (a tmpfs, another file system than the temporary \
         directory); mount one or run it where Linux provides it"
    );
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let elsewhere = tempfile::tempdir_in(shm).unwrap();
    assert_ne!(
        inode(dir.path()).0,
        inode(elsewhere.path()).0,
        "the target directory and /dev/shm must be two file systems"
    );
    let bytes = large("elsewhere");
    let (client, release, entry) = cached(dir.path(), bytes.clone(), LinkMode::Hardlink).await;
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
