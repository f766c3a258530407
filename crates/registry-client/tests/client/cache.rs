//! The cache: nothing partial or unverified is ever visible; corruption is healed; several
//! processes at once are safe.

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

    let content = cache
        .insert(
            &digest,
            Some(bytes.len() as u64),
            "t",
            stream(vec![Ok(bytes.clone().into())]),
        )
        .await
        .unwrap();
    let path = content.path().to_owned();
    assert_eq!(path, dir.path().join("content/sha256").join(digest.hex()));
    assert!(!path.file_name().unwrap().to_str().unwrap().contains(':'));
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    // The handle reads the same bytes from the start.
    assert_eq!(content.read().await.unwrap(), bytes);
}

#[tokio::test]
async fn a_corrupted_entry_is_detected_and_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let client = local_client(dir.path());
    let bytes = component::small("heal me");
    let release = publish(&client, "acme:widget", "1.0.0", bytes.clone()).await;
    let path = client
        .route(&package("acme:widget"))
        .await
        .unwrap()
        .fetch(&release)
        .await
        .unwrap();
    std::fs::write(&path, b"bit rot").unwrap();

    let healed = client
        .route(&package("acme:widget"))
        .await
        .unwrap()
        .fetch(&release)
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

#[tokio::test(flavor = "multi_thread")]
async fn copying_out_verifies_small_and_large_entries() {
    // Small entries are hashed on the copying thread, large ones (4 MiB and up) beside a
    // kernel copy: both must refuse a flipped byte that keeps the size.
    let dir = tempfile::tempdir().unwrap();
    let client = local_client(dir.path());
    for (name, padding) in [("acme:small", 64 * 1024), ("acme:large", 6 * 1024 * 1024)] {
        let bytes = component::build(&component::Spec {
            padding,
            ..component::Spec::default()
        });
        let release = publish(&client, name, "1.0.0", bytes.clone()).await;
        let path = client
            .route(&package(name))
            .await
            .unwrap()
            .fetch(&release)
            .await
            .unwrap();
        let out = dir.path().join("out").join(format!("{padding}.wasm"));
        let copied = client
            .cache()
            .copy_verified(&release.digest, release.size, &out)
            .await
            .unwrap();
        assert!(copied, "{name}");
        assert_eq!(std::fs::read(&out).unwrap(), bytes, "{name}");

        std::fs::remove_file(&out).unwrap();
        let mut rotten = bytes.clone();
        let middle = rotten.len() / 2;
        rotten[middle] ^= 0x01;
        std::fs::write(&path, &rotten).unwrap();
        let copied = client
            .cache()
            .copy_verified(&release.digest, release.size, &out)
            .await
            .unwrap();
        assert!(!copied, "{name}: a flipped byte is caught");
        assert!(!out.exists(), "{name}: nothing is written out");
        assert!(!client.cache().contains(&release.digest).await, "{name}");
    }
}

#[tokio::test]
async fn offline_uses_the_cache_and_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let online = local_client(dir.path());
    let release = publish(&online, "acme:widget", "1.0.0", component::small("offline")).await;
    online
        .route(&package("acme:widget"))
        .await
        .unwrap()
        .fetch(&release)
        .await
        .unwrap();

    let offline = registry_client::Client::builder(online.config().clone())
        .cache_dir(dir.path().join("cache"))
        .offline(true)
        .build();
    let hit = offline
        .route(&package("acme:widget"))
        .await
        .unwrap()
        .fetch(&release)
        .await
        .unwrap();
    assert!(hit.is_file());
    let other = registry_core::Release::new(version("2.0.0"), ContentDigest::sha256(b"nope"));
    let err = offline
        .route(&package("acme:widget"))
        .await
        .unwrap()
        .fetch(&other)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, registry_core::Error::NotCached { package, .. } if package.as_str() == "acme:widget"),
        "{err:?}"
    );
    assert_eq!(err.exit_code(), 7);
    assert_eq!(
        err.to_string(),
        "`acme:widget`: the content of 2.0.0 is not in the cache, and the client is offline; \
         run once online (without --offline) to fill the cache"
    );
    let err = offline
        .route(&package("acme:widget"))
        .await
        .unwrap()
        .list_versions()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("`acme:widget`: the version list is not in the cache"),
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
                .route(&pkg)
                .await
                .unwrap()
                .resolve(&"^1".parse().unwrap())
                .await
                .unwrap();
            let path = client
                .route(&pkg)
                .await
                .unwrap()
                .fetch(&release)
                .await
                .unwrap();
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
    let children: Vec<_> = (0..4)
        .map(|_| {
            test_support::rerun_test("cache::concurrent_fetches_from_several_processes")
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
            let _ = client.route(&package("stall:widget")).await.unwrap().fetch(&release).await;
        });
        return;
    }
    let addr = stalling_server(bytes.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut child = test_support::rerun_test("cache::a_fetch_killed_half_way_leaves_no_entry")
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

const MIXED_CHILD: &str = "REGISTRY_CLIENT_TEST_FETCH_OR_CLEAN";
const MIXED_PACKAGES: [&str; 4] = ["acme:one", "acme:two", "acme:three", "acme:four"];
const MIXED_ROUNDS: usize = 12;

/// What a child of [`fetching_and_cleaning_processes_at_once`] does: `fetch` (every package,
/// `MIXED_ROUNDS` times, checking each read's bytes against the release digest) or `clean`
/// (whole-cache and by-age cleans back to back until the parent's stop file appears).
/// Prints what it did.
#[expect(
    clippy::print_stdout,
    reason = "a child process reports to its parent on stdout"
)]
fn mixed_child(role: &str, dir: &std::path::Path) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = local_client(dir);
        if role == "clean" {
            let (mut removed, mut cleans) = (0, 0);
            // Also stops on its own if the parent failed before writing the stop file.
            let started = std::time::Instant::now();
            while !dir.join("stop").exists() && started.elapsed().as_secs() < 300 {
                let age = (cleans % 2 == 1).then_some(std::time::Duration::ZERO);
                removed += client
                    .cache()
                    .clean(age)
                    .await
                    .expect("a clean fails")
                    .removed;
                cleans += 1;
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            println!("removed {removed} in {cleans} cleans");
            return;
        }
        let mut reads = 0;
        for round in 0..MIXED_ROUNDS {
            for name in MIXED_PACKAGES {
                let pkg = package(name);
                let requirement: registry_core::VersionReq = "^1".parse().unwrap();
                // Two ways a tool reads: the content of a release held open, and the bytes
                // of a resolution (whose cache entry may have been cleaned since).
                let (digest, bytes) = if round % 2 == 0 {
                    let release = client
                        .route(&pkg)
                        .await
                        .unwrap()
                        .resolve(&requirement)
                        .await
                        .unwrap();
                    let content = client
                        .route(&pkg)
                        .await
                        .unwrap()
                        .fetch_open(&release)
                        .await
                        .unwrap();
                    (release.digest, content.read().await.unwrap())
                } else {
                    let dependency = registry_client::Dependency::new(pkg, requirement);
                    let resolved = client
                        .resolve_all(&[dependency], None, registry_client::LockMode::Update)
                        .await
                        .unwrap();
                    let registry_client::Resolution::Registry { release, .. } = &resolved[0] else {
                        panic!("not from the registry")
                    };
                    (release.digest, client.read(&resolved[0]).await.unwrap())
                };
                assert_eq!(ContentDigest::sha256(&bytes), digest, "{name}: wrong bytes");
                reads += 1;
            }
        }
        println!("read {reads}");
    });
}

/// 8 processes fetching and reading 4 packages while 2 processes clean the same cache as
/// fast as they can: every read returns the verified bytes, no clean fails, and the cache
/// is consistent afterwards.
#[test]
fn fetching_and_cleaning_processes_at_once() {
    if let Ok(spec) = std::env::var(MIXED_CHILD) {
        let (role, dir) = spec.split_once(':').unwrap();
        mixed_child(role, std::path::Path::new(dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = local_client(dir.path());
        for (i, name) in MIXED_PACKAGES.iter().enumerate() {
            let bytes = component::build(&component::Spec {
                padding: (1 + i) * 512 * 1024,
                ..component::Spec::default()
            });
            publish(&client, name, "1.0.0", bytes).await;
        }
    });
    let spawn = |role: &str| {
        test_support::rerun_test("cache::fetching_and_cleaning_processes_at_once")
            .env(MIXED_CHILD, format!("{role}:{}", dir.path().display()))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let cleaners: Vec<_> = (0..2).map(|_| spawn("clean")).collect();
    let fetchers: Vec<_> = (0..8).map(|_| spawn("fetch")).collect();
    let reads = total(fetchers, "read ");
    std::fs::write(dir.path().join("stop"), "").unwrap();
    let removed = total(cleaners, "removed ");
    assert_eq!(reads, 8 * MIXED_ROUNDS * MIXED_PACKAGES.len());
    // The cleans really raced the fetches: entries were removed under the readers.
    assert!(removed > 0, "the cleaners never removed an entry");

    let cache = Cache::new(dir.path().join("cache"));
    runtime.block_on(async {
        for entry in cache.entries().await.unwrap() {
            assert!(
                cache
                    .verified_path(&entry.digest, None)
                    .await
                    .unwrap()
                    .is_some(),
                "{} is corrupt",
                entry.digest
            );
        }
    });
    assert!(entries(&dir.path().join("cache/tmp")).is_empty());
}

/// Waits for `children`, each of which must succeed, and sums the number each printed
/// after `prefix`.
fn total(children: Vec<std::process::Child>, prefix: &str) -> usize {
    children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(output.status.success(), "a child process failed: {stdout}");
            number_after(&stdout, prefix)
        })
        .sum()
}

fn number_after(text: &str, prefix: &str) -> usize {
    text.lines()
        // The harness prints the test's name on the same line as the child's output.
        .find_map(|line| line.split(prefix).nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `{prefix}` line in: {text}"))
}
