//! `HTTP_PROXY`/`NO_PROXY` are honoured. Proxy variables are process-wide, so this runs the
//! `oci-transfer` example in a child process with its own environment.

use std::path::PathBuf;
use std::process::Command;

use registry_core::ContentDigest;
use registry_oci::manifest::OCI_MANIFEST;
use test_support::component;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// `target/<profile>/examples/oci-transfer`, built by `cargo test` with the tests.
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let path = profile_dir.join("examples").join("oci-transfer");
    assert!(
        path.is_file(),
        "{} is missing: run the tests with `cargo test`",
        path.display()
    );
    path
}

#[tokio::test]
async fn requests_go_through_the_configured_proxy() {
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
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[registry.\"registry.invalid\".oci]\nprotocol = \"http\"\n",
    )
    .unwrap();
    let out = dir.path().join("pulled.wasm");
    let run = |proxy_url: &str, no_proxy: &str| {
        Command::new(example())
            .args(["pull", "registry.invalid", "proxied:widget@1.0.0"])
            .arg(&out)
            .env_clear()
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .env("WASM_PKG_CONFIG_FILE", &config)
            .env("HTTP_PROXY", proxy_url)
            .env("http_proxy", proxy_url)
            .env("NO_PROXY", no_proxy)
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
