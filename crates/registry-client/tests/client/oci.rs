//! End to end against the real OCI registry: config -> registry -> OCI backend -> cache.

use futures_util::StreamExt as _;
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
            .route(&package("e2e:widget"))
            .await
            .unwrap()
            .publish(
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
            .route(&package(name))
            .await
            .unwrap()
            .publish(
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

const LOAD_CHILD: &str = "REGISTRY_CLIENT_TEST_LOAD_CHILD";

/// Each of the load test's 200 packages: 100 MiB in all, far more than its memory bound.
const LOAD_PACKAGE_BYTES: usize = 512 * 1024;

/// A process may grow by this much while fetching the 200 packages (100 MiB).
const LOAD_MEMORY_BOUND_KIB: u64 = 48 * 1024;

fn load_component(name: &str) -> Vec<u8> {
    component::build(&component::Spec {
        imports: &["wasi:cli/environment@0.2.0"],
        exports: &[],
        metadata: &[("description", name)],
        padding: LOAD_PACKAGE_BYTES,
        ..component::Spec::default()
    })
}

fn load_names() -> Vec<String> {
    (0..200).map(|i| format!("load:pkg{i}")).collect()
}

/// 200 concurrent fetches (100 MiB) through one `Client` against the real registry: all
/// verified, open connections bounded by the client's concurrency, memory growth bounded.
/// The fetching runs in a child process, so other tests running in this one do not blur
/// its memory figure.
#[test]
fn two_hundred_concurrent_fetches_through_one_client() {
    if let Ok(spec) = std::env::var(LOAD_CHILD) {
        let (host, dir) = spec.split_once(' ').unwrap();
        load_child(host, std::path::Path::new(dir));
        return;
    }
    let registry = Distribution::shared();
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = crate::support::client_from_toml(
            dir.path(),
            &format!("[namespace_registries]\nload = \"{}\"\n", registry.host()),
        );
        let publishes = load_names().into_iter().map(|name| {
            let client = client.clone();
            async move {
                let bytes = load_component(&name);
                crate::support::publish(&client, &name, "1.0.0", bytes).await
            }
        });
        futures_util::stream::iter(publishes)
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
    });
    let output = test_support::rerun_test("oci::two_hundred_concurrent_fetches_through_one_client")
        .env(
            LOAD_CHILD,
            format!("{} {}", registry.host(), dir.path().display()),
        )
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the fetching process failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[expect(
    clippy::print_stdout,
    reason = "the child reports its figures; the parent shows them on failure"
)]
fn load_child(host: &str, dir: &std::path::Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    std::fs::create_dir_all(dir.join("child")).unwrap();
    let config = crate::support::client_from_toml(
        &dir.join("child"),
        &format!("[namespace_registries]\nload = \"{host}\"\n"),
    )
    .config()
    .clone();
    let client = Client::builder(config)
        .cache_dir(dir.join("fresh-cache"))
        .build();
    let names = load_names();
    let deps: Vec<Dependency> = names
        .iter()
        .map(|n| Dependency::new(package(n), "^1".parse().unwrap()))
        .collect();
    let (sockets_before, rss_before) = (open_sockets(), test_support::memory_kib("VmRSS"));
    let peak_sockets = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let peak_rss = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak_sockets, peak_rss, done) = (peak_sockets.clone(), peak_rss.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak_sockets.fetch_max(open_sockets(), std::sync::atomic::Ordering::Relaxed);
                peak_rss.fetch_max(
                    test_support::memory_kib("VmRSS"),
                    std::sync::atomic::Ordering::Relaxed,
                );
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };
    let resolved = runtime
        .block_on(client.resolve_all(&deps, None, LockMode::Update))
        .unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap();
    assert_eq!(resolved.len(), 200);
    for (name, r) in names.iter().zip(&resolved) {
        assert!(
            std::fs::read(r.path()).unwrap() == load_component(name),
            "{name}: wrong bytes"
        );
    }
    let sockets = peak_sockets
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(sockets_before);
    let grown = peak_rss
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(rss_before);
    println!("200 fetches: sockets +{sockets} at the peak, memory +{grown} KiB at the peak");
    assert!(
        sockets <= 2 * registry_client::CONCURRENCY + 4,
        "{sockets} more sockets open at the peak: connections are not bounded"
    );
    assert!(
        grown <= LOAD_MEMORY_BOUND_KIB,
        "memory grew by {grown} KiB fetching 100 MiB: downloads are being buffered"
    );
}
