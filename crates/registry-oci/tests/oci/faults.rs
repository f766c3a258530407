//! Faults a real registry will not produce, served by wiremock: wrong bytes, truncated
//! bodies, transient 5xx.

use registry_core::{Backend, ContentDigest, Error, Release};
use registry_oci::OciSettings;
use registry_oci::manifest::OCI_MANIFEST;
use test_support::component;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{mock_backend, package, read_all, version};

const REPO: &str = "/v2/fault/widget";

/// A registry that serves `declared` as the layer of `fault:widget@1.0.0` and `served` as
/// that layer's bytes.
async fn server(declared: &[u8], served: Vec<u8>) -> (MockServer, Release) {
    let server = MockServer::start().await;
    let digest = ContentDigest::sha256(declared);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.wasm.config.v0+json","digest":"{digest}","size":2}},"layers":[{{"mediaType":"application/wasm","digest":"{digest}","size":{}}}]}}"#,
        declared.len()
    );
    Mock::given(method("GET"))
        .and(path("/v2/"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/manifests/1.0.0")))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", OCI_MANIFEST)
                .set_body_bytes(manifest),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/blobs/{digest}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(served))
        .mount(&server)
        .await;
    let release = Release::new(version("1.0.0"), digest).with_size(declared.len() as u64);
    (server, release)
}

#[tokio::test]
async fn wrong_bytes_are_detected_and_never_returned_as_valid() {
    let good = component::small("good");
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let (server, release) = server(&good, bad).await;
    let backend = mock_backend(&server, OciSettings::default());
    let pkg = package("fault:widget");
    assert_eq!(
        backend.get_release(&pkg, &version("1.0.0")).await.unwrap(),
        release
    );
    let err = read_all(backend.fetch_verified(&pkg, &release).await.unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    // The backend names the release; the client's cache adds the registry it came from
    // (`registry-client` `cache::failed_or_wrong_downloads_leave_no_trace`).
    assert!(err.to_string().starts_with("fault:widget@1.0.0"), "{err}");
    assert!(
        err.to_string()
            .contains(": content digest mismatch: expected sha256:"),
        "{err}"
    );
}

#[tokio::test]
async fn a_truncated_or_overlong_body_fails() {
    let good = component::small("truncate me");
    for served in [
        good[..good.len() / 2].to_vec(),
        [good.clone(), b"extra".to_vec()].concat(),
    ] {
        let (server, release) = server(&good, served).await;
        let backend = mock_backend(&server, OciSettings::default());
        let err = read_all(
            backend
                .fetch_verified(&package("fault:widget"), &release)
                .await
                .unwrap(),
        )
        .await
        .unwrap_err();
        assert!(
            err.is_integrity() || matches!(err, Error::Registry { .. }),
            "{err}"
        );
    }
}

#[tokio::test]
async fn transient_server_errors_are_retried() {
    let good = component::small("retried");
    let (server, release) = server(&good, good.clone()).await;
    // The first two manifest requests fail, then the mounted success answers.
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/manifests/1.0.0")))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    let backend = mock_backend(&server, OciSettings::default());
    let got = backend
        .get_release(&package("fault:widget"), &version("1.0.0"))
        .await
        .unwrap();
    assert_eq!(got, release);
    let manifest_requests = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/manifests/1.0.0"))
        .count();
    assert_eq!(manifest_requests, 3);
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_the_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let backend = mock_backend(&server, OciSettings::default());
    let err = backend
        .list_versions(&package("fault:widget"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Registry { .. }), "{err}");
    let tag_requests = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/tags/list"))
        .count();
    assert_eq!(tag_requests, 3, "one attempt and two retries");
}

#[tokio::test]
async fn not_found_and_denied_are_told_apart() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/gone/widget/tags/list"))
        .respond_with(ResponseTemplate::new(404).set_body_string(
            r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/hidden/widget/tags/list"))
        .respond_with(ResponseTemplate::new(403).set_body_string(
            r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#,
        ))
        .mount(&server)
        .await;
    let backend = mock_backend(&server, OciSettings::default());
    let err = backend
        .list_versions(&package("gone:widget"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PackageNotFound { .. }), "{err}");
    let err = backend
        .list_versions(&package("hidden:widget"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert!(
        err.to_string().contains("not found or not authorized"),
        "{err}"
    );
}
