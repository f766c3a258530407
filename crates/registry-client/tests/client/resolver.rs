//! Choosing versions, lock file pins, `--locked`, overrides, bounded concurrency.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use registry_client::{Client, Dependency, LockFile, LockMode, LockedVersion, Resolution};
use registry_core::{ContentDigest, Error, Registry};

use crate::support::{Scripted, local_client, package};

fn scripted_registry() -> Registry {
    "scripted.test".parse().unwrap()
}

fn setup(dir: &std::path::Path) -> (Client, Arc<Scripted>) {
    let client = local_client(dir);
    let backend = Arc::new(Scripted::default());
    client.register_backend(scripted_registry(), backend.clone());
    (client, backend)
}

fn dep(name: &str, req: &str) -> Dependency {
    Dependency::new(package(name), req.parse().unwrap()).with_registry(scripted_registry())
}

fn versions(resolutions: &[Resolution]) -> Vec<String> {
    resolutions
        .iter()
        .map(|r| r.version().map_or("local".to_owned(), ToString::to_string))
        .collect()
}

#[tokio::test]
async fn the_newest_matching_unyanked_version_is_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let (client, backend) = setup(dir.path());
    for (v, yanked) in [
        ("1.0.0", false),
        ("1.1.0", false),
        ("1.2.0", true),
        ("1.3.0-rc.1", false),
        ("2.0.0-beta.1", false),
        ("2.0.0-beta.2", true),
    ] {
        backend.add("a:pkg", v, yanked);
    }
    let deps = [
        dep("a:pkg", "^1"),
        dep("a:pkg", "=1.2.0"),
        dep("a:pkg", "^1.3.0-rc.1"),
        dep("a:pkg", ">=2.0.0-beta.1"),
        dep("a:pkg", "*"),
    ];
    let mut results = Vec::new();
    for d in &deps {
        results.push(
            client
                .resolve_all(std::slice::from_ref(d), None, LockMode::Update)
                .await
                .map(|r| versions(&r)[0].clone())
                .unwrap_or_else(|e| e.to_string()),
        );
    }
    assert_eq!(
        results,
        [
            "1.1.0",
            "package `a:pkg` has no release matching `=1.2.0` in registry `scripted.test` (the newest release is 2.0.0-beta.1)",
            "1.3.0-rc.1",
            "2.0.0-beta.1",
            "1.1.0",
        ]
    );
}

#[tokio::test]
async fn pins_are_used_written_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (client, backend) = setup(dir.path());
    backend.add("a:pkg", "1.0.0", false);
    backend.add("b:pkg", "0.1.0", false);
    let deps = [dep("a:pkg", "^1"), dep("b:pkg", "^0.1"), dep("a:pkg", "^1")];

    let mut lock = LockFile::new();
    let first = client
        .resolve_all(&deps, Some(&mut lock), LockMode::Update)
        .await
        .unwrap();
    assert_eq!(versions(&first), ["1.0.0", "0.1.0", "1.0.0"]);
    assert_eq!(
        lock.packages.len(),
        2,
        "identical dependencies are locked once"
    );
    let lock_path = dir.path().join("wkg.lock");
    lock.save(&lock_path).unwrap();
    let mut lock = LockFile::load(&lock_path).unwrap().unwrap();

    // A newer release does not move a pin that still satisfies its requirement...
    backend.add("a:pkg", "1.5.0", false);
    let pinned = client
        .resolve_all(&deps, Some(&mut lock), LockMode::Update)
        .await
        .unwrap();
    assert_eq!(versions(&pinned), ["1.0.0", "0.1.0", "1.0.0"]);
    // ...a changed requirement does...
    let changed = [dep("a:pkg", "^1.5")];
    let moved = client
        .resolve_all(&changed, Some(&mut lock), LockMode::Update)
        .await
        .unwrap();
    assert_eq!(versions(&moved), ["1.5.0"]);
    // ...and so does yanking the pinned version.
    backend.yank("a:pkg", "1.0.0");
    let after_yank = client
        .resolve_all(&deps[..1], Some(&mut lock), LockMode::Update)
        .await
        .unwrap();
    assert_eq!(versions(&after_yank), ["1.5.0"]);
}

#[tokio::test]
async fn a_pin_whose_content_changed_is_an_error_naming_both_digests() {
    let dir = tempfile::tempdir().unwrap();
    let (client, backend) = setup(dir.path());
    backend.add("a:pkg", "1.0.0", false);
    let mut lock = LockFile::new();
    let stale = ContentDigest::sha256(b"what was published before");
    lock.insert(
        &package("a:pkg"),
        Some(&scripted_registry()),
        LockedVersion {
            requirement: "^1".parse().unwrap(),
            version: "1.0.0".parse().unwrap(),
            digest: stale,
            size: None,
            manifest: None,
            signer: None,
        },
    );
    let err = client
        .resolve_all(&[dep("a:pkg", "^1")], Some(&mut lock), LockMode::Update)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, Error::DigestMismatch { expected, .. } if expected == stale),
        "{message}"
    );
    assert!(message.contains(&stale.to_string()), "{message}");
    assert!(message.contains("pinned by the lock file"), "{message}");
}

#[tokio::test]
async fn locked_mode_refuses_to_change_the_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    let (client, backend) = setup(dir.path());
    backend.add("a:pkg", "1.0.0", false);
    let mut lock = LockFile::new();
    let err = client
        .resolve_all(&[dep("a:pkg", "^1")], Some(&mut lock), LockMode::Locked)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, registry_core::Error::LockOutOfDate { package, .. } if package.as_str() == "a:pkg"),
        "{err:?}"
    );
    assert_eq!(err.exit_code(), 8);
    assert_eq!(
        err.to_string(),
        "the lock file is out of date for `a:pkg`: `^1` from `scripted.test` is not pinned; run \
         without --locked to update it"
    );
    client
        .resolve_all(&[dep("a:pkg", "^1")], Some(&mut lock), LockMode::Update)
        .await
        .unwrap();
    let again = client
        .resolve_all(&[dep("a:pkg", "^1")], Some(&mut lock), LockMode::Locked)
        .await
        .unwrap();
    assert_eq!(versions(&again), ["1.0.0"]);
}

#[tokio::test]
async fn a_local_path_overrides_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let (client, _) = setup(dir.path());
    let file = dir.path().join("mine.wasm");
    std::fs::write(&file, test_support::component::small("mine")).unwrap();
    let resolved = client
        .resolve_all(
            &[dep("a:pkg", "^1").with_path(&file)],
            None,
            LockMode::Update,
        )
        .await
        .unwrap();
    assert_eq!(
        resolved[0],
        Resolution::Local {
            package: package("a:pkg"),
            path: file
        }
    );
    let err = client
        .resolve_all(
            &[dep("a:pkg", "^1").with_path(dir.path().join("missing.wasm"))],
            None,
            LockMode::Update,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[tokio::test]
async fn a_hundred_dependencies_resolve_with_bounded_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, deps, resolved) = resolve_many(dir.path(), 100, 20, |backend, name| {
        backend.add(name, "1.0.0", false);
    })
    .await;
    for (d, r) in deps.iter().zip(&resolved) {
        assert_eq!(
            r.package(),
            &d.package,
            "results keep the order of the dependencies"
        );
    }
    let max = backend.max_in_flight.load(Ordering::SeqCst);
    assert!(
        max <= registry_client::CONCURRENCY,
        "{max} requests in flight"
    );
    assert!(max > 4, "requests overlap ({max} in flight at most)");
}

#[tokio::test]
async fn overrides_by_versioned_and_unversioned_keys() {
    use registry_client::{Override, Overrides};
    let dir = tempfile::tempdir().unwrap();
    let (client, backend) = setup(dir.path());
    backend.add("a:pkg", "1.0.0", false);
    backend.add("a:pkg", "2.0.0", false);
    let file = dir.path().join("local-a.wasm");
    std::fs::write(&file, test_support::component::small("local a")).unwrap();

    let mut overrides = Overrides::new();
    // Every dependency on a:pkg moves to ^1 ...
    overrides
        .insert("a:pkg", Override::requirement("^1".parse().unwrap()))
        .unwrap();
    // ... except those a 2.0.0 satisfies, which use a local file.
    overrides
        .insert("a:pkg@2.0.0", Override::path(&file))
        .unwrap();
    let deps = overrides.apply(&[dep("a:pkg", "*"), dep("a:pkg", "=1.0.0")]);
    assert_eq!(
        deps[0].path.as_deref(),
        Some(file.as_path()),
        "* accepts 2.0.0: versioned key wins"
    );
    assert_eq!(deps[1].path, None);
    assert_eq!(deps[1].requirement.to_string(), "^1");
    let resolved = client
        .resolve_all(&deps, None, LockMode::Update)
        .await
        .unwrap();
    assert_eq!(versions(&resolved), ["local", "1.0.0"]);

    let err = overrides.insert("A:pkg", Override::default()).unwrap_err();
    assert!(
        err.to_string().contains("namespace must be lowercase"),
        "{err}"
    );
}

#[tokio::test]
async fn version_lists_are_cached_refreshed_on_a_miss_and_used_offline() {
    let dir = tempfile::tempdir().unwrap();
    let (client, backend) = setup(dir.path());
    backend.add("a:pkg", "1.0.0", false);
    let first = client
        .route_to(&package("a:pkg"), &scripted_registry())
        .await
        .unwrap()
        .resolve(&"^1".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(first.version.to_string(), "1.0.0");
    // A new release within the cache's minute: `^1` still gets the cached answer ...
    backend.add("a:pkg", "1.1.0", false);
    let cached = client
        .route_to(&package("a:pkg"), &scripted_registry())
        .await
        .unwrap()
        .resolve(&"^1".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(cached.version.to_string(), "1.0.0");
    // ... a requirement only the new release meets asks the registry again ...
    let fresh = client
        .route_to(&package("a:pkg"), &scripted_registry())
        .await
        .unwrap()
        .resolve(&"^1.1".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(fresh.version.to_string(), "1.1.0");
    // ... and a client that refreshes always asks.
    let refreshing = Client::builder(client.config().clone())
        .cache_dir(dir.path().join("cache"))
        .refresh(true)
        .build();
    refreshing.register_backend(scripted_registry(), backend.clone());
    backend.add("a:pkg", "1.2.0", false);
    let newest = refreshing
        .route_to(&package("a:pkg"), &scripted_registry())
        .await
        .unwrap()
        .list_versions()
        .await
        .unwrap();
    assert_eq!(newest.last().unwrap().version.to_string(), "1.2.0");
    // Offline, the cached list still answers (the content must be cached to fetch).
    let offline = Client::builder(client.config().clone())
        .cache_dir(dir.path().join("cache"))
        .offline(true)
        .build();
    let listed = offline
        .route_to(&package("a:pkg"), &scripted_registry())
        .await
        .unwrap()
        .list_versions()
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
    // Release descriptions are cached too: offline resolution works for what was seen.
    let seen = offline
        .route_to(&package("a:pkg"), &scripted_registry())
        .await
        .unwrap()
        .resolve(&">=1.1, <1.2".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(seen, fresh);
    let err = offline
        .route_to(&package("a:pkg"), &scripted_registry())
        .await
        .unwrap()
        .resolve(&"^1.2".parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("`a:pkg`: release 1.2.0 is not in the cache, and the client is offline"),
        "{err}"
    );
}

#[tokio::test]
async fn progress_is_reported_per_download() {
    use std::sync::Mutex;

    use registry_client::Progress;
    use registry_core::{PackageRef, Version};

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);
    impl Progress for Recorder {
        fn download_started(&self, p: &PackageRef, v: &Version, total: Option<u64>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("start {p}@{v} {total:?}"));
        }
        fn downloaded(&self, _: &PackageRef, _: &Version, bytes: u64) {
            self.0.lock().unwrap().push(format!("+{bytes}"));
        }
        fn download_finished(&self, p: &PackageRef, v: &Version, ok: bool) {
            self.0.lock().unwrap().push(format!("done {p}@{v} {ok}"));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(Recorder::default());
    let client = Client::builder(crate::support::local_client(dir.path()).config().clone())
        .cache_dir(dir.path().join("cache"))
        .progress(recorder.clone())
        .build();
    let backend = Arc::new(Scripted::default());
    client.register_backend(scripted_registry(), backend.clone());
    let bytes = backend.add("a:pkg", "1.0.0", false);
    client
        .resolve_all(&[dep("a:pkg", "^1")], None, LockMode::Update)
        .await
        .unwrap();
    // A second resolution is served by the cache: no download.
    client
        .resolve_all(&[dep("a:pkg", "^1")], None, LockMode::Update)
        .await
        .unwrap();
    let events = recorder.0.lock().unwrap().clone();
    assert_eq!(
        events,
        [
            format!("start a:pkg@1.0.0 Some({})", bytes.len()),
            format!("+{}", bytes.len()),
            "done a:pkg@1.0.0 true".to_owned(),
        ]
    );
}

/// Many dependencies resolve at once, but large downloads are held to
/// [`registry_client::DOWNLOADS`] at a time (their memory and connections); small content
/// (WIT packages) is not held back.
#[tokio::test]
async fn large_downloads_are_held_to_a_few_at_once_and_small_ones_are_not() {
    for large in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let size = if large {
            registry_client::LARGE_CONTENT as usize
        } else {
            1024
        };
        let (backend, _, _) = resolve_many(dir.path(), 48, 30, |backend, name| {
            let bytes = name.bytes().cycle().take(size).collect();
            backend.add_bytes(name, "1.0.0", bytes, false);
        })
        .await;
        let max = backend.max_fetching.load(Ordering::SeqCst);
        if large {
            assert!(
                (2..=registry_client::DOWNLOADS).contains(&max),
                "{max} large downloads in flight"
            );
        } else {
            assert!(
                max > registry_client::DOWNLOADS,
                "small downloads held back: {max} in flight at most"
            );
        }
    }
}

/// `count` packages `n<i>:pkg`, each added to a scripted backend answering after `delay_ms`
/// by `add`, resolved (`^1`) through one client: the backend, the dependencies and their
/// resolutions, as many as the dependencies.
async fn resolve_many(
    dir: &std::path::Path,
    count: usize,
    delay_ms: u64,
    add: impl Fn(&Scripted, &str),
) -> (Arc<Scripted>, Vec<Dependency>, Vec<Resolution>) {
    let client = local_client(dir);
    let backend = Arc::new(Scripted {
        delay: Duration::from_millis(delay_ms),
        ..Scripted::default()
    });
    client.register_backend(scripted_registry(), backend.clone());
    let deps: Vec<Dependency> = (0..count)
        .map(|i| {
            let name = format!("n{i}:pkg");
            add(&backend, &name);
            dep(&name, "^1")
        })
        .collect();
    let resolved = client
        .resolve_all(&deps, None, LockMode::Update)
        .await
        .unwrap();
    assert_eq!(resolved.len(), count);
    (backend, deps, resolved)
}
