//! Which registry a package goes to, and which backend serves a registry.

use registry_core::Registry;

use crate::support::{client_with, package};

#[tokio::test]
async fn mapping_precedence_reaches_the_right_backend() {
    let dir = tempfile::tempdir().unwrap();
    let other_root = dir.path().join("other");
    let client = client_with(
        dir.path(),
        &format!(
            "[namespace_registries]\nacme = \"other.test\"\n\
             [package_registry_overrides]\n\"acme:pinned\" = \"local.test\"\n\
             [registry.\"other.test\".local]\nroot = {:?}\n",
            other_root.display().to_string()
        ),
    );
    let resolve = |name: &str| {
        client
            .registry_for(&package(name))
            .unwrap()
            .value
            .registry()
            .to_string()
    };
    assert_eq!(resolve("acme:widget"), "other.test");
    assert_eq!(resolve("acme:pinned"), "local.test");
    assert_eq!(resolve("misc:thing"), "local.test");
    assert_eq!(
        resolve("wasi:http"),
        "local.test",
        "the default registry wins over built-in fallbacks"
    );

    // The backend of `other.test` is its local directory.
    crate::support::publish(
        &client,
        "acme:widget",
        "1.0.0",
        test_support::component::small("o"),
    )
    .await;
    assert!(other_root.join("acme/widget/1.0.0.wasm").is_file());
    // Backends are built once per registry.
    let registry: Registry = "other.test".parse().unwrap();
    let a = client.route(&package("acme:widget")).await.unwrap();
    let b = client
        .route_to(&package("acme:other"), &registry)
        .await
        .unwrap();
    assert_eq!(a.registry(), &registry);
    assert!(std::sync::Arc::ptr_eq(a.backend(), b.backend()));
    assert!(
        a.origin().unwrap().to_string().contains("config.toml"),
        "the route says where its mapping was set: {:?}",
        a.origin()
    );
}

#[tokio::test]
async fn unknown_backends_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let client = client_with(dir.path(), "[registry.\"odd.test\"]\ndefault = \"ftp\"\n");
    let err = client
        .route_to(&package("odd:thing"), &"odd.test".parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, registry_core::Error::Config(_)),
        "a bad backend name is a configuration error: {err:?}"
    );
    let config = dir.path().join("config.toml");
    assert_eq!(
        err.to_string(),
        format!(
            "{}:5:1: invalid `registry.\"odd.test\".default`: a `ftp` backend does not exist; \
             use \"oci\", \"warg\", \"local\" or \"oci-layout\"",
            config.display()
        )
    );
}
