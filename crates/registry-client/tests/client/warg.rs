//! End to end against a real warg-server: config -> registry -> warg backend -> cache.

use registry_client::{Client, Dependency, LockFile, LockMode};
use test_support::component;
use test_support::warg::{WargServer, signing_key};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{package, publish, version};

#[tokio::test(flavor = "multi_thread")]
async fn resolve_lock_and_fetch_from_a_warg_registry_skipping_yanked_releases() {
    let server = WargServer::start();
    let registry = server.registry();
    let dir = tempfile::tempdir().unwrap();
    let client = crate::support::client_from_toml(
        dir.path(),
        &format!(
            "[namespace_registries]\ntest = \"{registry}\"\n\
             [registry.\"{registry}\"]\ndefault = \"warg\"\n\
             [registry.\"{registry}\".warg]\nsigning_key = \"{}\"\n",
            signing_key(1)
        ),
    );
    for (v, seed) in [("0.1.0", "a"), ("0.2.0", "b"), ("0.2.1", "c")] {
        publish(&client, "test:gadget", v, component::small(seed)).await;
    }
    // Yank the newest with the backend itself (the client has no yank).
    let mut settings = registry_warg::WargSettings::default();
    settings.signing_key = Some(registry_config::Secret::new(signing_key(1)));
    let yanker = registry_warg::WargBackend::new(
        registry.parse().unwrap(),
        settings,
        dir.path().join("yanker"),
    )
    .unwrap();
    yanker
        .yank(&package("test:gadget"), &version("0.2.1"))
        .await
        .unwrap();

    let mut lock = LockFile::new();
    let deps = [Dependency::new(
        package("test:gadget"),
        "^0.2".parse().unwrap(),
    )];
    let resolved = client
        .resolve_all(&deps, Some(&mut lock), LockMode::Update)
        .await
        .unwrap();
    assert_eq!(resolved[0].version().unwrap().to_string(), "0.2.0");
    assert_eq!(
        std::fs::read(resolved[0].path()).unwrap(),
        component::small("b")
    );
    assert!(
        lock.to_toml()
            .contains(&format!("registry = \"{registry}\""))
    );
    assert!(
        dir.path().join("cache/warg").is_dir(),
        "warg's own state lives under our cache directory"
    );

    // The lock file and a warm cache are enough offline, and the server can be gone.
    drop(server);
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

#[tokio::test(flavor = "multi_thread")]
async fn a_well_known_document_leads_to_the_warg_server() {
    let server = WargServer::start();
    let front = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/wasm-pkg/registry.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "preferredProtocol": "warg",
            "warg": { "url": server.url() }
        })))
        .mount(&front)
        .await;
    let name = front.address().to_string();
    let dir = tempfile::tempdir().unwrap();
    let client = crate::support::client_from_toml(
        dir.path(),
        &format!(
            "[namespace_registries]\ndemo = \"{name}\"\n\
             [registry.\"{name}\".warg]\nsigning_key = \"{}\"\n",
            signing_key(2)
        ),
    );
    publish(&client, "demo:found", "1.0.0", component::small("found")).await;
    let versions = client
        .route(&package("demo:found"))
        .await
        .unwrap()
        .list_versions()
        .await
        .unwrap();
    assert_eq!(versions.len(), 1);
    let resolved = client
        .resolve_all(
            &[Dependency::new(package("demo:found"), "*".parse().unwrap())],
            None,
            LockMode::Update,
        )
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(resolved[0].path()).unwrap(),
        component::small("found")
    );
}
