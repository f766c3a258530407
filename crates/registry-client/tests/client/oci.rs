//! End to end against the real OCI registry: config -> registry -> OCI backend -> cache.

use registry_client::{Client, Dependency, LockFile, LockMode};
use registry_core::PublishOptions;
use test_support::{Distribution, component};

use crate::support::{package, version};

#[tokio::test]
async fn resolve_and_fetch_from_a_real_oci_registry() {
    let registry = Distribution::shared();
    let dir = tempfile::tempdir().unwrap();
    let client = crate::support::client_from_toml(
        dir.path(),
        &format!("[namespace_registries]\ne2e = \"{}\"\n", registry.host()),
    );
    for (v, seed) in [("0.1.0", "a"), ("0.2.0", "b"), ("0.2.1", "c")] {
        client
            .publish(
                &package("e2e:widget"),
                None,
                &version(v),
                Box::pin(std::io::Cursor::new(component::small(seed))),
                &PublishOptions::default(),
            )
            .await
            .unwrap();
    }
    let mut lock = LockFile::new();
    let deps = [Dependency::new(
        package("e2e:widget"),
        "^0.2".parse().unwrap(),
    )];
    let resolved = client
        .resolve_all(&deps, Some(&mut lock), LockMode::Update)
        .await
        .unwrap();
    assert_eq!(resolved[0].version().unwrap().to_string(), "0.2.1");
    assert_eq!(
        std::fs::read(resolved[0].path()).unwrap(),
        component::small("c")
    );
    let text = lock.to_toml();
    assert!(
        text.contains(&format!("registry = \"{}\"", registry.host())),
        "{text}"
    );

    // With the lock file and a warm cache, offline works.
    let offline = Client::builder(client.config().clone())
        .cache_dir(dir.path().join("cache"))
        .offline(true)
        .build();
    let again = offline
        .resolve_all(&deps, Some(&mut lock), LockMode::Locked)
        .await
        .unwrap();
    assert_eq!(again[0].path(), resolved[0].path());
}

#[tokio::test]
async fn two_namespaces_on_one_registry_keep_their_own_prefixes() {
    let registry = Distribution::shared();
    let dir = tempfile::tempdir().unwrap();
    let host = registry.host();
    let client = crate::support::client_from_toml(
        dir.path(),
        &format!(
            "[namespace_registries]\n\
             one = {{ registry = \"{host}\", metadata = {{ oci = {{ namespacePrefix = \"first/\" }} }} }}\n\
             two = {{ registry = \"{host}\", metadata = {{ oci = {{ namespacePrefix = \"second/\" }} }} }}\n"
        ),
    );
    for name in ["one:widget", "two:widget"] {
        client
            .publish(
                &package(name),
                None,
                &version("1.0.0"),
                Box::pin(std::io::Cursor::new(component::small(name))),
                &PublishOptions::default(),
            )
            .await
            .unwrap();
    }
    for repo in ["first/one/widget", "second/two/widget"] {
        let response = test_support::http::request(
            registry.addr(),
            "GET",
            &format!("/v2/{repo}/tags/list"),
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(response.status, 200, "{repo}");
    }
    // Resolving with the registry named explicitly (as a lock file does) keeps the prefix.
    let deps = [
        Dependency::new(package("two:widget"), "^1".parse().unwrap())
            .with_registry(host.parse().unwrap()),
    ];
    let resolved = client
        .resolve_all(&deps, None, LockMode::Update)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(resolved[0].path()).unwrap(),
        component::small("two:widget")
    );
}

/// Sockets this process has open.
fn open_sockets() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_concurrent_fetches_through_one_client() {
    let registry = Distribution::shared();
    let dir = tempfile::tempdir().unwrap();
    let client = crate::support::client_from_toml(
        dir.path(),
        &format!("[namespace_registries]\nload = \"{}\"\n", registry.host()),
    );
    let names: Vec<String> = (0..200).map(|i| format!("load:pkg{i}")).collect();
    let publishes = names
        .iter()
        .map(|name| crate::support::publish(&client, name, "1.0.0", component::small(name)));
    futures_util::future::join_all(publishes).await;

    let fresh = Client::builder(client.config().clone())
        .cache_dir(dir.path().join("fresh-cache"))
        .build();
    drop(client); // and the connections its 200 publishes left in its pool
    let deps: Vec<Dependency> = names
        .iter()
        .map(|n| Dependency::new(package(n), "^1".parse().unwrap()))
        .collect();
    let before = open_sockets();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(open_sockets(), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };
    let resolved = fresh
        .resolve_all(&deps, None, LockMode::Update)
        .await
        .unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap();
    assert_eq!(resolved.len(), 200);
    for (name, r) in names.iter().zip(&resolved) {
        assert_eq!(std::fs::read(r.path()).unwrap(), component::small(name));
    }
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        peak.saturating_sub(before) <= 2 * registry_client::CONCURRENCY + 4,
        "{peak} sockets open at the peak ({before} before): connections are not bounded"
    );
}
