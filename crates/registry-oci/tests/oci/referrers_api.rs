//! Signatures from registries that docker-registry cannot play (wiremock): one with the
//! referrers API, one that answers it with an empty index (as GHCR was seen to), one that
//! indexes referrers when they are pushed, and hostile ones.

use std::sync::atomic::{AtomicUsize, Ordering};

use registry_core::{Backend, ContentDigest, Error, Release};
use registry_oci::OciSettings;
use registry_oci::manifest::{OCI_INDEX, OCI_MANIFEST};
use serde_json::json;
use test_support::component;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{mock_backend, package, version};

pub(crate) const REPO: &str = "/v2/signed/widget";

/// A registry serving `signed:widget@1.0.0`; the release and its manifest's digest.
pub(crate) async fn serving_a_release(server: &MockServer) -> (Release, ContentDigest) {
    answer(server, "GET", "/v2/".to_owned(), 200, None).await;
    let layer = component::small("signed");
    let digest = ContentDigest::sha256(&layer);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.wasm.config.v0+json", "digest": digest.to_string(), "size": 2 },
        "layers": [{ "mediaType": "application/wasm", "digest": digest.to_string(), "size": layer.len() }],
    })
    .to_string();
    let subject = ContentDigest::sha256(manifest.as_bytes());
    serve(
        server,
        &format!("{REPO}/manifests/1.0.0"),
        OCI_MANIFEST,
        manifest,
    )
    .await;
    let release = Release::new(version("1.0.0"), digest).with_size(layer.len() as u64);
    (release, subject)
}

pub(crate) async fn serve(
    server: &MockServer,
    at: &str,
    content_type: &str,
    body: impl Into<Vec<u8>>,
) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", content_type)
                .set_body_raw(body.into(), content_type),
        )
        .mount(server)
        .await;
}

/// The media type of a bundle layer, as sigstore-js once wrote it.
pub(crate) const BUNDLE_LAYER: &str = "application/vnd.dev.sigstore.bundle+json;version=0.3";

/// Answers `verb` requests for `at` with `status`, exactly `times` times when given.
async fn answer(server: &MockServer, verb: &str, at: String, status: u16, times: Option<u64>) {
    let mock = Mock::given(method(verb))
        .and(path(at))
        .respond_with(ResponseTemplate::new(status));
    match times {
        Some(times) => mock.expect(times),
        None => mock,
    }
    .mount(server)
    .await;
}

/// Serves a referrer of `subject` whose one layer is `bundle` of `layer_type` as it says
/// (its blob served as `served`); the index entry listing it, whose `artifactType` is
/// GHCR's for cosign's bundles.
pub(crate) async fn serve_referrer(
    server: &MockServer,
    subject: &ContentDigest,
    (layer_type, bundle): (&str, &[u8]),
    served: &[u8],
) -> serde_json::Value {
    let blob = ContentDigest::sha256(bundle);
    let referrer = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": ContentDigest::sha256(b"{}").to_string(), "size": 2 },
        "layers": [{ "mediaType": layer_type, "digest": blob.to_string(), "size": bundle.len() }],
        "subject": { "mediaType": OCI_MANIFEST, "digest": subject.to_string(), "size": 1 },
    })
    .to_string();
    let digest = ContentDigest::sha256(referrer.as_bytes());
    serve(
        server,
        &format!("{REPO}/manifests/{digest}"),
        OCI_MANIFEST,
        referrer.clone(),
    )
    .await;
    serve(
        server,
        &format!("{REPO}/blobs/{blob}"),
        "application/octet-stream",
        served,
    )
    .await;
    json!({
        "mediaType": OCI_MANIFEST,
        "digest": digest.to_string(),
        "size": referrer.len(),
        "artifactType": "application/vnd.oci.empty.v1+json",
    })
}

pub(crate) fn index(entries: &[serde_json::Value]) -> String {
    json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries }).to_string()
}

pub(crate) fn referrers_api(subject: &ContentDigest) -> String {
    format!("{REPO}/referrers/{subject}")
}

pub(crate) fn referrers_tag(subject: &ContentDigest) -> String {
    format!("{REPO}/manifests/sha256-{}", subject.hex())
}

/// What `attestations` finds: the bundles' sources and bytes, or the error.
async fn found(server: &MockServer, release: &Release) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let found = mock_backend(server, OciSettings::default())
        .attestations(&package("signed:widget"), release)
        .await?
        .expect("an OCI registry holds signatures");
    Ok(found
        .bundles
        .into_iter()
        .map(|b| (b.source, b.json.to_vec()))
        .collect())
}

pub(crate) const BUNDLE: &[u8] =
    br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#;

#[tokio::test]
async fn the_referrers_api_is_read_and_the_tag_is_then_not_asked() {
    let server = MockServer::start().await;
    let (release, subject) = serving_a_release(&server).await;
    let entry = serve_referrer(&server, &subject, (BUNDLE_LAYER, BUNDLE), BUNDLE).await;
    let digest = entry["digest"].as_str().unwrap().to_owned();
    serve(
        &server,
        &referrers_api(&subject),
        OCI_INDEX,
        index(&[entry.clone(), entry]),
    )
    .await;
    answer(&server, "GET", referrers_tag(&subject), 404, Some(0)).await;
    assert_eq!(
        found(&server, &release).await.unwrap(),
        [(digest, BUNDLE.to_vec())]
    );
}

#[tokio::test]
async fn an_api_without_bundles_or_not_an_index_falls_back_to_the_tag() {
    for (content_type, body, with_sbom) in [
        (OCI_INDEX, r#"{"manifests": []}"#.to_owned(), false),
        (OCI_INDEX, String::new(), true),
        ("application/json", index(&[]), false),
        ("text/html", "<html>referrers</html>".to_owned(), false),
    ] {
        let server = MockServer::start().await;
        let (release, subject) = serving_a_release(&server).await;
        let sbom = b"{}";
        let body = match with_sbom {
            // The API lists an SBOM only: no signature there.
            true => {
                index(&[
                    serve_referrer(&server, &subject, ("application/spdx+json", sbom), sbom).await,
                ])
            }
            false => body,
        };
        let entry = serve_referrer(&server, &subject, (BUNDLE_LAYER, BUNDLE), BUNDLE).await;
        let digest = entry["digest"].as_str().unwrap().to_owned();
        serve(&server, &referrers_api(&subject), content_type, body).await;
        serve(
            &server,
            &referrers_tag(&subject),
            OCI_INDEX,
            index(&[entry]),
        )
        .await;
        assert_eq!(
            found(&server, &release).await.unwrap(),
            [(digest, BUNDLE.to_vec())],
            "{content_type}"
        );
    }
}

#[tokio::test]
async fn no_api_and_no_tag_is_no_signature() {
    for status in [404, 400, 405, 406] {
        let server = MockServer::start().await;
        let (release, subject) = serving_a_release(&server).await;
        answer(&server, "GET", referrers_api(&subject), status, Some(1)).await;
        Mock::given(method("GET"))
            .and(path(referrers_tag(&subject)))
            .respond_with(ResponseTemplate::new(404).set_body_string(
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
            ))
            .expect(1)
            .mount(&server)
            .await;
        assert_eq!(found(&server, &release).await.unwrap(), [], "{status}");
    }
}

/// What `attestations` finds on a registry serving a referrer that holds [`BUNDLE`] (its
/// blob served as `served`), whose referrers API answers `index` of that referrer's entry.
async fn found_via_api(
    served: &[u8],
    index: impl FnOnce(serde_json::Value) -> String,
) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let server = MockServer::start().await;
    let (release, subject) = serving_a_release(&server).await;
    let entry = serve_referrer(&server, &subject, (BUNDLE_LAYER, BUNDLE), served).await;
    serve(&server, &referrers_api(&subject), OCI_INDEX, index(entry)).await;
    found(&server, &release).await
}

#[tokio::test]
async fn a_bundle_whose_bytes_are_not_its_digest_is_a_digest_mismatch() {
    let forged = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","x":1}"#;
    let err = found_via_api(forged, |entry| index(&[entry]))
        .await
        .unwrap_err();
    let Error::DigestMismatch {
        subject: what,
        expected,
        actual,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(*expected, ContentDigest::sha256(BUNDLE));
    assert_eq!(*actual, ContentDigest::sha256(forged));
    assert!(
        what.contains("the Sigstore bundle") && what.contains("signed:widget@1.0.0"),
        "{what}"
    );
}

#[tokio::test]
async fn past_each_bound_is_a_registry_error_naming_it() {
    let huge = format!(r#"{{"manifests":[],"padding":"{}"}}"#, "x".repeat(1 << 20));
    let many: Vec<_> = (0..65u8)
        .map(|i| json!({ "mediaType": OCI_MANIFEST, "digest": ContentDigest::sha256(&[i]).to_string(), "size": 10 }))
        .collect();
    type Answer = Box<dyn FnOnce(serde_json::Value) -> String>;
    let cases: [(&[u8], Answer, &str); 4] = [
        // An index over 1 MiB.
        (
            BUNDLE,
            Box::new(move |_| huge),
            "over the 1048576-byte limit",
        ),
        (
            BUNDLE,
            Box::new(move |_| index(&many)),
            "more than 64 referrers",
        ),
        // A referrer declared larger than its bound is not read.
        (
            BUNDLE,
            Box::new(|mut entry| {
                entry["size"] = json!(64 * 1024 + 1);
                index(&[entry])
            }),
            "declares 65537 bytes, over the 65536-byte limit",
        ),
        // A bundle served larger than its bound is not read past it.
        (
            &vec![b' '; (4 << 20) + 1],
            Box::new(|entry| index(&[entry])),
            "over the 4194304-byte limit",
        ),
    ];
    for (served, answer, says) in cases {
        let err = found_via_api(served, answer).await.unwrap_err();
        assert!(matches!(err, Error::Registry { .. }), "{err:?}");
        assert!(err.to_string().contains(says), "{says}: {err}");
    }
}

/// Accepts every blob as present and the referrer manifest, answering its PUT with
/// `subject_header` when given; the referrers API answers 404.
async fn accepting_a_referrer(server: &MockServer, subject: &ContentDigest, subject_header: bool) {
    Mock::given(method("HEAD"))
        .and(wiremock::matchers::path_regex(format!(
            "^{REPO}/blobs/sha256:[0-9a-f]{{64}}$"
        )))
        .respond_with(ResponseTemplate::new(200))
        .mount(server)
        .await;
    let mut created = ResponseTemplate::new(201);
    if subject_header {
        created = created.insert_header("OCI-Subject", subject.to_string());
    }
    Mock::given(method("PUT"))
        .and(wiremock::matchers::path_regex(format!(
            "^{REPO}/manifests/sha256:[0-9a-f]{{64}}$"
        )))
        .and(header("Content-Type", OCI_MANIFEST))
        .respond_with(created)
        .expect(1)
        .mount(server)
        .await;
    answer(server, "GET", referrers_api(subject), 404, None).await;
}

#[tokio::test]
async fn a_registry_that_indexes_referrers_gets_no_referrers_tag() {
    let server = MockServer::start().await;
    let (release, subject) = serving_a_release(&server).await;
    accepting_a_referrer(&server, &subject, true).await;
    answer(&server, "GET", referrers_tag(&subject), 404, None).await;
    answer(&server, "PUT", referrers_tag(&subject), 201, Some(0)).await;
    let referrer = mock_backend(&server, OciSettings::default())
        .attach(&package("signed:widget"), &release, BUNDLE.into())
        .await
        .unwrap();
    assert!(referrer.starts_with("sha256:"), "{referrer}");
}

#[tokio::test]
async fn the_referrers_tag_is_updated_if_it_has_not_changed_and_read_again_if_it_has() {
    let server = MockServer::start().await;
    let (release, subject) = serving_a_release(&server).await;
    accepting_a_referrer(&server, &subject, false).await;
    Mock::given(method("GET"))
        .and(path(referrers_tag(&subject)))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("ETag", "\"v1\"")
                .set_body_raw(index(&[]), OCI_INDEX),
        )
        // Once to see what is attached, then before each of the two writes.
        .expect(3)
        .mount(&server)
        .await;
    // Another writer got there first once.
    let writes = AtomicUsize::new(0);
    Mock::given(method("PUT"))
        .and(path(referrers_tag(&subject)))
        .and(header("If-Match", "\"v1\""))
        .and(header("Content-Type", OCI_INDEX))
        .respond_with(
            move |_: &wiremock::Request| match writes.fetch_add(1, Ordering::SeqCst) {
                0 => ResponseTemplate::new(412),
                _ => ResponseTemplate::new(201),
            },
        )
        .expect(2)
        .mount(&server)
        .await;
    mock_backend(&server, OciSettings::default())
        .attach(&package("signed:widget"), &release, BUNDLE.into())
        .await
        .unwrap();
}
