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
