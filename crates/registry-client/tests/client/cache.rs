//! The cache: nothing partial or unverified is ever visible; corruption is healed; several
//! processes at once are safe.

use std::process::Command;

use bytes::Bytes;
use registry_client::Cache;
use registry_core::{ContentDigest, Error};
use test_support::component;

use crate::support::{local_client, package, publish, version};

fn entries(dir: &std::path::Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn stream(parts: Vec<Result<Bytes, Error>>) -> registry_core::ContentStream {
    Box::pin(futures_util::stream::iter(parts))
}

#[tokio::test]
async fn failed_or_wrong_downloads_leave_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let bytes = component::small("cached");
    let digest = ContentDigest::sha256(&bytes);

    // The transfer breaks half-way.
    let half = Bytes::copy_from_slice(&bytes[..bytes.len() / 2]);
    let broken = stream(vec![
        Ok(half),
        Err(Error::InvalidInput {
            message: "connection reset".into(),
        }),
    ]);
    assert!(cache.insert(&digest, None, "t", broken).await.is_err());
    // Wrong bytes, right length.
    let mut wrong = bytes.clone();
    wrong[0] ^= 1;
    let err = cache
        .insert(
            &digest,
            Some(bytes.len() as u64),
            "t",
            stream(vec![Ok(wrong.into())]),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    // Too long.
    let long = [bytes.clone(), b"!".to_vec()].concat();
    let err = cache
        .insert(
            &digest,
            Some(bytes.len() as u64),
            "t",
            stream(vec![Ok(long.into())]),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SizeMismatch { .. }), "{err}");

    assert!(!cache.contains(&digest).await);
    assert!(
        entries(&dir.path().join("tmp")).is_empty(),
        "no temporary file is left"
    );

    let path = cache
        .insert(
            &digest,
            Some(bytes.len() as u64),
            "t",
            stream(vec![Ok(bytes.clone().into())]),
        )
        .await
        .unwrap();
    assert_eq!(path, dir.path().join("content/sha256").join(digest.hex()));
    assert!(!path.file_name().unwrap().to_str().unwrap().contains(':'));
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[tokio::test]
async fn a_corrupted_entry_is_detected_and_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let client = local_client(dir.path());
    let bytes = component::small("heal me");
    let release = publish(&client, "acme:widget", "1.0.0", bytes.clone()).await;
    let path = client
        .fetch(&package("acme:widget"), None, &release)
        .await
        .unwrap();
    std::fs::write(&path, b"bit rot").unwrap();

    let healed = client
        .fetch(&package("acme:widget"), None, &release)
        .await
        .unwrap();
    assert_eq!(healed, path);
    assert_eq!(std::fs::read(&healed).unwrap(), bytes);

    // Copying out of the cache verifies too.
    std::fs::write(&path, b"bit rot again").unwrap();
    let out = dir.path().join("out/widget.wasm");
    let copied = client
        .cache()
        .copy_verified(&release.digest, release.size, &out)
        .await
        .unwrap();
    assert!(!copied, "a corrupt entry is not copied");
    assert!(!out.exists());
    assert!(
        !client.cache().contains(&release.digest).await,
        "the corrupt entry is gone"
    );
}

#[tokio::test]
async fn offline_uses_the_cache_and_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let online = local_client(dir.path());
    let release = publish(&online, "acme:widget", "1.0.0", component::small("offline")).await;
    online
        .fetch(&package("acme:widget"), None, &release)
        .await
        .unwrap();

    let offline = registry_client::Client::builder(online.config().clone())
        .cache_dir(dir.path().join("cache"))
        .offline(true)
        .build();
    let hit = offline
        .fetch(&package("acme:widget"), None, &release)
        .await
        .unwrap();
    assert!(hit.is_file());
    let other = registry_core::Release::new(version("2.0.0"), ContentDigest::sha256(b"nope"));
    let err = offline
        .fetch(&package("acme:widget"), None, &other)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "offline: cannot fetch 2.0.0 for `acme:widget`; it is not in the cache. Run once online (or with a lock file whose content is cached)"
    );
    let err = offline
        .list_versions(&package("acme:widget"), None)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("offline: cannot list versions for `acme:widget`"),
        "{err}"
    );
}

const CHILD: &str = "REGISTRY_CLIENT_TEST_FETCH_CHILD";

/// Several processes fetch the same package into one cache at once: all succeed, one file.
#[test]
fn concurrent_fetches_from_several_processes() {
    if let Ok(dir) = std::env::var(CHILD) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let client = local_client(std::path::Path::new(&dir));
            let pkg = package("acme:shared");
            let release = client
                .resolve(&pkg, None, &"^1".parse().unwrap())
                .await
                .unwrap();
            let path = client.fetch(&pkg, None, &release).await.unwrap();
            assert_eq!(
                ContentDigest::sha256(&std::fs::read(path).unwrap()),
                release.digest
            );
        });
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bytes = component::build(&component::Spec {
        padding: 8 * 1024 * 1024,
        ..component::Spec::default()
    });
    runtime.block_on(async {
        let client = local_client(dir.path());
        publish(&client, "acme:shared", "1.0.0", bytes.clone()).await;
    });
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "cache::concurrent_fetches_from_several_processes",
                    "--test-threads=1",
                    "--nocapture",
                ])
                .env(CHILD, dir.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a fetching process failed");
    }
    assert_eq!(entries(&dir.path().join("cache/content/sha256")).len(), 1);
    assert!(entries(&dir.path().join("cache/tmp")).is_empty());
}

const KILL_CHILD: &str = "REGISTRY_CLIENT_TEST_KILLED_CHILD";

/// Answers every request with the headers and half the body of `blob`, then stalls.
fn stalling_server(blob: Vec<u8>) -> std::net::SocketAddr {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let blob = blob.clone();
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                    blob.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&blob[..blob.len() / 2]);
                let _ = stream.flush();
                std::thread::sleep(std::time::Duration::from_secs(60));
            });
        }
    });
    addr
}

/// A fetch killed (SIGKILL) half-way leaves no visible cache entry; only a temporary file,
/// which `clean_tmp` removes.
#[test]
fn a_fetch_killed_half_way_leaves_no_entry() {
    let bytes = component::build(&component::Spec {
        padding: 1024 * 1024,
        ..component::Spec::default()
    });
    let digest = ContentDigest::sha256(&bytes);
    if let (Ok(dir), Ok(addr)) = (std::env::var(KILL_CHILD), std::env::var("STALL_ADDR")) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let client = crate::support::client_from_toml(
                std::path::Path::new(&dir),
                &format!("default_registry = \"{addr}\"\n[registry.\"{addr}\".oci]\nprotocol = \"http\"\n"),
            );
            let release = registry_core::Release::new(version("1.0.0"), digest).with_size(bytes.len() as u64);
            // Hangs half-way until the parent kills this process.
            let _ = client.fetch(&package("stall:widget"), None, &release).await;
        });
        return;
    }
    let addr = stalling_server(bytes.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "cache::a_fetch_killed_half_way_leaves_no_entry"])
        .args(["--test-threads=1", "--nocapture"])
        .env(KILL_CHILD, dir.path())
        .env("STALL_ADDR", addr.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the download is under way: a temporary file holds part of the content.
    let tmp = dir.path().join("cache/tmp");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let partial = std::fs::read_dir(&tmp)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .any(|e| e.metadata().map(|m| m.len() > 0).unwrap_or(false))
            })
            .unwrap_or(false);
        if partial {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the child never started writing"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let cache = Cache::new(dir.path().join("cache"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        assert!(!cache.contains(&digest).await, "no entry became visible");
        assert_eq!(
            entries(&tmp).len(),
            1,
            "the killed download left only its temporary file"
        );
        assert_eq!(cache.clean_tmp(std::time::Duration::ZERO).await.unwrap(), 1);
        assert!(entries(&tmp).is_empty());
    });
}
