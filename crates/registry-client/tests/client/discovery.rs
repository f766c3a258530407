//! Well-known discovery: each document form, 404, malformed, timeout, cache.

use std::time::Duration;

use registry_client::Client;
use registry_client::discovery::{Discovery, WELL_KNOWN_PATH};
use registry_config::ConfigLoader;
use registry_core::{Error, PublishOptions, Registry};
use test_support::{Distribution, component, http};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{package, version};

async fn serving(status: u16, body: &str) -> (MockServer, Registry) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(WELL_KNOWN_PATH))
        .respond_with(ResponseTemplate::new(status).set_body_string(body))
        .mount(&server)
        .await;
    let registry = server.address().to_string().parse().unwrap();
    (server, registry)
}

#[tokio::test]
async fn both_forms_404_and_garbage() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (body, protocol, prefix)) in [
        (r#"{"preferredProtocol":"oci","oci":{"registry":"ghcr.io","namespacePrefix":"webassembly/"}}"#, Some("oci"), Some("webassembly/")),
        (r#"{"ociRegistry":"ghcr.io","ociNamespacePrefix":"bytecodealliance/"}"#, Some("oci"), Some("bytecodealliance/")),
        (r#"{"warg":{"url":"https://warg.example.com"}}"#, Some("warg"), None),
    ]
    .into_iter()
    .enumerate()
    {
        let (_server, registry) = serving(200, body).await;
        // A cache per case: a later server may get an earlier one's port.
        let discovery = Discovery::new(dir.path().join(i.to_string()), false);
        let metadata = discovery.metadata(&registry).await.unwrap().unwrap();
        assert_eq!(metadata.protocol(), protocol, "{body}");
        assert_eq!(
            metadata.oci.as_ref().and_then(|o| o.namespace_prefix.as_deref()),
            prefix,
            "{body}"
        );
    }
    let (_server, registry) = serving(404, "").await;
    let discovery = Discovery::new(dir.path().join("404"), false);
    assert_eq!(discovery.metadata(&registry).await.unwrap(), None);

    // Answers that are no document (a web page, an error) mean plain defaults, as in wkg,
    // and are not cached: the next look asks again.
    for (status, body) in [
        (200, "<html>hello</html>"),
        (500, ""),
        (403, "{}"),
        (200, ""),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(WELL_KNOWN_PATH))
            .respond_with(ResponseTemplate::new(status).set_body_string(body))
            .expect(2)
            .mount(&server)
            .await;
        let registry: Registry = server.address().to_string().parse().unwrap();
        let discovery = Discovery::new(dir.path().join(format!("{status}{}", body.len())), false);
        assert_eq!(discovery.metadata(&registry).await.unwrap(), None);
        assert_eq!(discovery.metadata(&registry).await.unwrap(), None);
    }

    // A document that is JSON but says something unsafe is still refused.
    let (_server, registry) = serving(200, r#"{"warg":{"url":"http://warg.example.com"}}"#).await;
    let discovery = Discovery::new(dir.path().join("unsafe"), false);
    let err = discovery.metadata(&registry).await.unwrap_err();
    assert!(matches!(err, Error::Registry { .. }), "{err}");
    assert!(err.to_string().contains("plain http"), "{err}");
}

#[tokio::test]
async fn a_slow_registry_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(WELL_KNOWN_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("{}")
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let registry: Registry = server.address().to_string().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let discovery = Discovery::new(dir.path(), false).with_timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    // A registry whose document does not come in time gets plain defaults.
    assert_eq!(discovery.metadata(&registry).await.unwrap(), None);
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn answers_are_cached_and_offline_uses_the_cache() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(WELL_KNOWN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"ociRegistry":"ghcr.io"}"#))
        .expect(1)
        .mount(&server)
        .await;
    let registry: Registry = server.address().to_string().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = Discovery::new(dir.path(), false)
        .metadata(&registry)
        .await
        .unwrap();
    let second = Discovery::new(dir.path(), false)
        .metadata(&registry)
        .await
        .unwrap();
    let offline = Discovery::new(dir.path(), true)
        .metadata(&registry)
        .await
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(first, offline);
    // `expect(1)` is checked when the server drops: one request for three answers.
}

#[tokio::test]
async fn the_client_follows_the_document_to_the_real_registry() {
    let oci = Distribution::shared();
    let body = format!(
        r#"{{"oci":{{"registry":"{}","namespacePrefix":"disc/"}}}}"#,
        oci.host()
    );
    let (_server, registry) = serving(200, &body).await;
    let dir = tempfile::tempdir().unwrap();
    let client = crate::support::client_from_toml(
        dir.path(),
        &format!("default_registry = \"{registry}\"\n"),
    );
    client
        .route(&package("found:widget"))
        .await
        .unwrap()
        .publish(
            &version("1.0.0"),
            Box::pin(std::io::Cursor::new(component::small("discovered"))),
            &PublishOptions::default(),
        )
        .await
        .unwrap();
    let response = http::request(
        oci.addr(),
        "GET",
        "/v2/disc/found/widget/tags/list",
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(
        response.status, 200,
        "published under the document's prefix"
    );
    assert!(String::from_utf8_lossy(&response.body).contains("1.0.0"));
}

#[tokio::test]
async fn discovery_trusts_what_the_oci_section_trusts() {
    let ca = test_support::tls::TestCa::new();
    let registry = Distribution::start_tls(&ca).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let host = registry.host();
    // A loopback registry is asked over http by default; this one speaks TLS, so its
    // section says https and names the CA, and discovery must follow both.
    let load = |extra: &str| {
        let path = dir.path().join("config.toml");
        std::fs::write(&path, format!("default_registry = \"{host}\"\n[registry.\"{host}\".oci]\nprotocol = \"https\"\n{extra}")).unwrap();
        let config = ConfigLoader::new()
            .user_file(&path)
            .without_project_files()
            .without_env()
            .load()
            .unwrap();
        Client::builder(config)
            .cache_dir(dir.path().join(format!("cache{}", extra.len())))
            .build()
    };
    let untrusted = load("");
    let err = untrusted
        .route(&package("tls:widget"))
        .await
        .unwrap()
        .list_versions()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Registry { .. }), "{err}");
    let trusted = load(&format!("ca_file = {:?}\n", ca_file.display().to_string()));
    let err = trusted
        .route(&package("tls:widget"))
        .await
        .unwrap()
        .list_versions()
        .await
        .unwrap_err();
    assert!(
        err.is_not_found(),
        "discovery and OCI both trusted the CA: {err}"
    );
}

#[tokio::test]
async fn routes_resolved_together_wait_for_one_backend_and_one_discovery() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(WELL_KNOWN_PATH))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let registry: Registry = server.address().to_string().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = crate::support::client_from_toml(
        dir.path(),
        &format!("default_registry = \"{registry}\"\n"),
    );
    let packages: Vec<_> = (0..16).map(|i| package(&format!("many:p{i}"))).collect();
    let routes = futures_util::future::join_all(packages.iter().map(|p| client.route(p))).await;
    assert!(routes.iter().all(Result::is_ok));
    // `expect(1)` is checked when the server drops: one document asked for sixteen routes.
}
