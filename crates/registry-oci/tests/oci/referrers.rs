//! Signatures attached to releases (Sigstore bundles as OCI referrers) on a real registry.
//! CNCF distribution 2.8 has no referrers API, so these go through the referrers tag
//! (`sha256-<hex>`), as they would on GHCR.

use bytes::Bytes;
use registry_core::provenance::Attestations;
use registry_core::{Backend, ContentDigest, Error, PackageRef, Release};
use registry_oci::OciBackend;
use registry_oci::manifest::{OCI_INDEX, OCI_MANIFEST};
use serde_json::{Value, json};
use test_support::component;
use test_support::http::{push_blob, push_manifest, request};

use crate::support::{backend, package, publish, registry, version};

/// A bundle's JSON (unverified here: any JSON object will do).
fn bundle(n: u32) -> Bytes {
    Bytes::from(
        json!({ "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "n": n }).to_string(),
    )
}

/// Publishes `name@1.0.0`, a component of its own.
async fn published(backend: &OciBackend, name: &str) -> (PackageRef, Release) {
    let pkg = package(name);
    let release = publish(backend, &pkg, &version("1.0.0"), component::small(name))
        .await
        .unwrap();
    (pkg, release)
}

/// `GET` of a manifest or index in `repository` as the registry serves it: status and body.
fn get(repository: &str, reference: &str, accept: &str) -> (u16, Vec<u8>) {
    let response = request(
        registry().addr(),
        "GET",
        &format!("/v2/{repository}/manifests/{reference}"),
        &[("Accept", accept)],
        &[],
    )
    .unwrap();
    (response.status, response.body)
}

/// The digests the referrers tag of `subject` lists, in order.
fn tag_lists(repository: &str, subject: &ContentDigest) -> Vec<String> {
    let tag = format!("sha256-{}", subject.hex());
    let (status, body) = get(repository, &tag, OCI_INDEX);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let index: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(index["mediaType"], OCI_INDEX);
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_owned())
        .collect()
}

async fn found(backend: &OciBackend, pkg: &PackageRef, release: &Release) -> Attestations {
    backend
        .attestations(pkg, release)
        .await
        .unwrap()
        .expect("an OCI registry can hold signatures")
}

#[tokio::test]
async fn attached_bundles_are_found_in_order_and_listed_once_each() {
    let backend = backend();
    let (pkg, release) = published(&backend, "signed:widget").await;
    let first = backend.attach(&pkg, &release, bundle(1)).await.unwrap();
    let second = backend.attach(&pkg, &release, bundle(2)).await.unwrap();
    assert_ne!(first, second);
    let again = backend.attach(&pkg, &release, bundle(1)).await.unwrap();
    assert_eq!(again, first, "the same bundle is not attached twice");

    // The subject is the manifest exactly as the registry serves it.
    let (status, manifest) = get("signed/widget", "1.0.0", OCI_MANIFEST);
    assert_eq!(status, 200);
    let subject = ContentDigest::sha256(&manifest);
    for _ in 0..2 {
        let found = found(&backend, &pkg, &release).await;
        assert_eq!(found.subject, subject);
        assert_eq!(found.manifest, manifest);
        let got: Vec<(&str, &[u8])> = found
            .bundles
            .iter()
            .map(|b| (b.source.as_str(), &b.json[..]))
            .collect();
        assert_eq!(
            got,
            [
                (first.as_str(), &bundle(1)[..]),
                (second.as_str(), &bundle(2)[..])
            ]
        );
    }
    assert_eq!(
        tag_lists("signed/widget", &subject),
        [first.as_str(), second.as_str()]
    );

    // Each referrer is what cosign 3 writes.
    let (status, referrer) = get("signed/widget", &first, OCI_MANIFEST);
    assert_eq!(status, 200);
    assert_eq!(ContentDigest::sha256(&referrer).to_string(), first);
    let referrer: Value = serde_json::from_slice(&referrer).unwrap();
    assert_eq!(
        referrer["artifactType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        referrer["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(
        referrer["config"]["digest"],
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    assert_eq!(
        referrer["layers"][0]["digest"],
        ContentDigest::sha256(&bundle(1)).to_string()
    );
    assert_eq!(
        referrer["subject"],
        json!({ "mediaType": OCI_MANIFEST, "digest": subject.to_string(), "size": manifest.len() })
    );
    assert_eq!(
        referrer["annotations"]["dev.sigstore.bundle.content"],
        "dsse-envelope"
    );
    // The release itself is untouched.
    assert_eq!(
        backend.get_release(&pkg, &version("1.0.0")).await.unwrap(),
        release
    );
}

#[tokio::test]
async fn a_release_without_signatures_has_none_and_foreign_referrers_are_passed_over() {
    let backend = backend();
    let (pkg, release) = published(&backend, "unsigned:widget").await;
    let found = found(&backend, &pkg, &release).await;
    assert!(found.bundles.is_empty());
    assert_eq!(found.subject, ContentDigest::sha256(&found.manifest));

    // An SBOM attached the same way, listed under the referrers tag by hand.
    let repository = "unsigned/widget";
    let addr = registry().addr();
    let sbom = br#"{"spdxVersion":"SPDX-2.3"}"#;
    let sbom_digest = ContentDigest::sha256(sbom).to_string();
    push_blob(addr, repository, &sbom_digest, sbom);
    let empty_digest = ContentDigest::sha256(b"{}").to_string();
    push_blob(addr, repository, &empty_digest, b"{}");
    let sbom_referrer = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/spdx+json",
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": empty_digest, "size": 2 },
        "layers": [{ "mediaType": "application/spdx+json", "digest": sbom_digest, "size": sbom.len() }],
        "subject": { "mediaType": OCI_MANIFEST, "digest": found.subject.to_string(), "size": found.manifest.len() },
    })
    .to_string();
    let sbom_referrer_digest = ContentDigest::sha256(sbom_referrer.as_bytes()).to_string();
    push_manifest(
        addr,
        repository,
        &sbom_referrer_digest,
        OCI_MANIFEST,
        sbom_referrer.as_bytes(),
    );
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": OCI_MANIFEST,
            "digest": sbom_referrer_digest,
            "size": sbom_referrer.len(),
            "artifactType": "application/spdx+json",
        }],
    })
    .to_string();
    let tag = format!("sha256-{}", found.subject.hex());
    push_manifest(addr, repository, &tag, OCI_INDEX, index.as_bytes());
    assert!(
        found_bundles(&backend, &pkg, &release).await.is_empty(),
        "an SBOM is not a signature"
    );

    let signed = backend.attach(&pkg, &release, bundle(7)).await.unwrap();
    let bundles = found_bundles(&backend, &pkg, &release).await;
    assert_eq!(bundles, [(signed.clone(), bundle(7))]);
    assert_eq!(
        tag_lists(repository, &found.subject),
        [sbom_referrer_digest, signed],
        "the SBOM is kept in the referrers tag"
    );
}

async fn found_bundles(
    backend: &OciBackend,
    pkg: &PackageRef,
    release: &Release,
) -> Vec<(String, Bytes)> {
    found(backend, pkg, release)
        .await
        .bundles
        .into_iter()
        .map(|b| (b.source, b.json))
        .collect()
}

#[tokio::test]
async fn a_release_whose_manifest_holds_other_content_is_a_digest_mismatch() {
    let backend = backend();
    let (pkg, release) = published(&backend, "mismatched:widget").await;
    let other = ContentDigest::sha256(b"other content");
    let claimed = Release::new(release.version.clone(), other);
    let err = backend.attestations(&pkg, &claimed).await.unwrap_err();
    let Error::DigestMismatch {
        subject,
        expected,
        actual,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!((*expected, *actual), (other, release.digest));
    assert!(
        subject.contains("mismatched:widget@1.0.0") && subject.contains(&registry().host()),
        "{subject}"
    );
    let err = backend.attach(&pkg, &claimed, bundle(1)).await.unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
    assert!(
        found(&backend, &pkg, &release).await.bundles.is_empty(),
        "nothing was attached"
    );
}

#[tokio::test]
async fn a_bundle_that_is_not_json_or_too_large_is_refused_before_anything_is_sent() {
    let backend = backend();
    let (pkg, release) = published(&backend, "sigrefused:widget").await;
    for (bytes, says) in [
        (Bytes::from_static(b"not json"), "is not a JSON object"),
        (
            Bytes::from(vec![b' '; (4 << 20) + 1]),
            "over the 4194304-byte limit",
        ),
    ] {
        let err = backend.attach(&pkg, &release, bytes).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert!(err.to_string().contains(says), "{err}");
    }
    assert!(found(&backend, &pkg, &release).await.bundles.is_empty());
}

#[tokio::test]
async fn attaching_takes_the_push_credentials_a_publish_takes() {
    let basic = crate::auth::backend(crate::auth::basic(crate::auth::PASSWORD), &[]);
    let token = crate::auth::token::backend(Some(crate::auth::PASSWORD));
    for (backend, name) in [(basic, "signedbasic:widget"), (token, "signedtoken:widget")] {
        let (pkg, release) = published(&backend, name).await;
        let referrer = backend.attach(&pkg, &release, bundle(3)).await.unwrap();
        assert_eq!(
            found_bundles(&backend, &pkg, &release).await,
            [(referrer, bundle(3))],
            "{name}"
        );
    }
    // Without credentials nothing is read, let alone attached.
    let anonymous = crate::auth::token::backend(None);
    let release = Release::new(version("1.0.0"), ContentDigest::sha256(b"x"));
    let err = anonymous
        .attach(&package("signedtoken:widget"), &release, bundle(4))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
}
