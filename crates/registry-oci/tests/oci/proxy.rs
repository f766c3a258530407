//! `HTTP_PROXY`/`NO_PROXY` are honoured. Proxy variables are process-wide, so the pull runs
//! in a child process (this test binary again, in child mode) with its own environment.

use registry_core::{Backend as _, ContentDigest};
use registry_oci::manifest::OCI_MANIFEST;
use test_support::component;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CHILD: &str = "REGISTRY_OCI_TEST_PROXY_CHILD";

/// In the child: pull `proxied:widget@1.0.0` from `registry.invalid` into the file named by
/// the variable, with proxies from the environment.
async fn child(out: &str) {
    let mut settings = registry_oci::OciSettings::default();
    settings.protocol = Some(registry_oci::Protocol::Http);
    let backend = registry_oci::OciBackend::with_credential_sources(
        "registry.invalid".parse().unwrap(),
        settings,
        &registry_oci::CredentialSources {
            env: Some(Default::default()),
            docker_config_dir: Some(std::env::temp_dir().join("no-docker-config-here")),
            helper_dirs: Vec::new(),
            helper_timeout: None,
        },
    )
    .unwrap()
    .with_retry_policy(registry_oci::RetryPolicy {
        retries: 0,
        base: std::time::Duration::ZERO,
    });
    let package = "proxied:widget".parse().unwrap();
    let release = backend
        .get_release(&package, &"1.0.0".parse().unwrap())
        .await
        .unwrap();
    let stream = backend.fetch_verified(&package, &release).await.unwrap();
    std::fs::write(out, crate::support::read_all(stream).await.unwrap()).unwrap();
}

#[tokio::test]
async fn requests_go_through_the_configured_proxy() {
    if let Ok(out) = std::env::var(CHILD) {
        child(&out).await;
        return;
    }
    // The proxy answers as the registry would; `registry.invalid` cannot resolve, so a
    // download that succeeds went through the proxy.
    let proxy = MockServer::start().await;
    let bytes = component::small("proxied");
    let digest = ContentDigest::sha256(&bytes);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.wasm.config.v0+json","digest":"{digest}","size":2}},"layers":[{{"mediaType":"application/wasm","digest":"{digest}","size":{}}}]}}"#,
        bytes.len()
    );
    Mock::given(method("GET"))
        .and(path("/v2/proxied/widget/manifests/1.0.0"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", OCI_MANIFEST)
                .set_body_bytes(manifest),
        )
        .mount(&proxy)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/proxied/widget/blobs/{digest}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(bytes.clone()))
        .mount(&proxy)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&proxy)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pulled.wasm");
    let run = |proxy_url: &str, no_proxy: &str| {
        test_support::rerun_test("proxy::requests_go_through_the_configured_proxy")
            .env_clear()
            .env(CHILD, &out)
            .env("HTTP_PROXY", proxy_url)
            .env("http_proxy", proxy_url)
            .env("NO_PROXY", no_proxy)
            .env("no_proxy", no_proxy)
            .output()
            .unwrap()
    };
    let proxy_url = format!("http://{}", proxy.address());
    let output = run(&proxy_url, "");
    assert!(
        output.status.success(),
        "through the proxy: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(std::fs::read(&out).unwrap(), bytes);

    // NO_PROXY sends the same request direct, where the name does not resolve.
    std::fs::remove_file(&out).unwrap();
    let output = run(&proxy_url, "registry.invalid");
    assert!(!output.status.success(), "NO_PROXY should bypass the proxy");
    assert!(!out.exists());
}
