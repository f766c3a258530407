//! What one backend remembers between requests (wiremock): the manifest `get_release` read,
//! used again by the signature check that follows, and that the registry has no referrers
//! API, after which the tag is read first without missing what the API lists.

use registry_core::{Backend, ContentDigest, Error, Release};
use registry_oci::OciBackend;
use registry_oci::OciSettings;
use registry_oci::manifest::OCI_INDEX;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::referrers_api::{
    BUNDLE, BUNDLE_LAYER, REPO, index, referrers_api, referrers_tag, serve, serve_referrer,
    serving_a_release,
};
use crate::support::{mock_backend, package};

/// How many requests `server` received for `at`.
async fn asked(server: &MockServer, at: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|request| request.url.path() == at)
        .count()
}

/// How many bundles `backend` finds attached to `release`.
async fn bundles(backend: &OciBackend, release: &Release) -> usize {
    backend
        .attestations(&package("signed:widget"), release)
        .await
        .unwrap()
        .expect("an OCI registry holds signatures")
        .bundles
        .len()
}

/// Answers `GET at` with `template`, the first `times` times when given.
async fn answer_with(
    server: &MockServer,
    at: &str,
    template: ResponseTemplate,
    times: Option<u64>,
) {
    let mock = Mock::given(method("GET"))
        .and(path(at))
        .respond_with(template);
    match times {
        Some(times) => mock.up_to_n_times(times),
        None => mock,
    }
    .mount(server)
    .await;
}

#[tokio::test]
async fn the_manifest_get_release_read_is_used_again_by_the_signature_check_that_follows() {
    let server = MockServer::start().await;
    let (release, subject) = serving_a_release(&server).await;
    let entry = serve_referrer(&server, &subject, (BUNDLE_LAYER, BUNDLE), BUNDLE).await;
    serve(
        &server,
        &referrers_api(&subject),
        OCI_INDEX,
        index(&[entry]),
    )
    .await;
    let backend = mock_backend(&server, OciSettings::default());
    let widget = package("signed:widget");
    let resolved = backend
        .get_release(&widget, &release.version)
        .await
        .unwrap();
    assert_eq!(resolved.digest, release.digest);
    let found = backend
        .attestations(&widget, &resolved)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.subject, found.bundles.len()), (subject, 1));
    let tag = format!("{REPO}/manifests/1.0.0");
    assert_eq!(asked(&server, &tag).await, 1);

    // Other bytes under that version are not that manifest's: the tag is read again, and
    // found not to hold them.
    let other = Release::new(release.version.clone(), ContentDigest::sha256(b"other"));
    let err = backend.attestations(&widget, &other).await.unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
    assert_eq!(asked(&server, &tag).await, 2);
    // Another backend (another client) reads it itself.
    let elsewhere = mock_backend(&server, OciSettings::default());
    assert_eq!(bundles(&elsewhere, &release).await, 1);
    assert_eq!(asked(&server, &tag).await, 3);
}

#[tokio::test]
async fn without_the_api_the_tag_is_read_first_and_the_api_asked_when_it_lists_no_bundle() {
    let server = MockServer::start().await;
    let (release, subject) = serving_a_release(&server).await;
    let entry = serve_referrer(&server, &subject, (BUNDLE_LAYER, BUNDLE), BUNDLE).await;
    let (api, tag) = (referrers_api(&subject), referrers_tag(&subject));
    let index_of = |entries: &[serde_json::Value]| {
        ResponseTemplate::new(200)
            .insert_header("Content-Type", OCI_INDEX)
            .set_body_raw(index(entries), OCI_INDEX)
    };
    // At first the registry has no referrers API, and the tag lists the bundle.
    answer_with(&server, &api, ResponseTemplate::new(404), Some(1)).await;
    answer_with(
        &server,
        &tag,
        index_of(std::slice::from_ref(&entry)),
        Some(2),
    )
    .await;
    let backend = mock_backend(&server, OciSettings::default());
    assert_eq!(bundles(&backend, &release).await, 1);
    assert_eq!(bundles(&backend, &release).await, 1);
    assert_eq!(
        (asked(&server, &api).await, asked(&server, &tag).await),
        (1, 2)
    );

    // Then the tag lists nothing (this repository, or the registry since, has the API):
    // the API is asked, lists the bundle, and is asked first again.
    answer_with(&server, &api, index_of(&[entry]), None).await;
    answer_with(&server, &tag, ResponseTemplate::new(404), None).await;
    assert_eq!(bundles(&backend, &release).await, 1);
    assert_eq!(
        (asked(&server, &api).await, asked(&server, &tag).await),
        (2, 3)
    );
    assert_eq!(bundles(&backend, &release).await, 1);
    assert_eq!(
        (asked(&server, &api).await, asked(&server, &tag).await),
        (3, 3)
    );
}
