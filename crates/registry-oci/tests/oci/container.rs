//! Releases copied in their containers (`Backend::container`, `publish_container`): the
//! manifest's bytes kept, so its digest, which signatures name, is the same in the copy.

use registry_core::{Backend, ContentDigest, Error, PublishOptions};
use test_support::component;

use crate::support::{backend, package, publish, version};

#[tokio::test]
async fn a_release_copied_in_its_container_keeps_the_manifest_digest() {
    let backend = backend();
    let (from, to) = (package("boxed:original"), package("boxed:copy"));
    let v = version("1.0.0");
    let bytes = component::small("boxed:original");
    let release = publish(&backend, &from, &v, bytes.clone()).await.unwrap();
    let container = backend
        .container(&from, &release)
        .await
        .unwrap()
        .expect("an OCI registry keeps containers");
    let signed = backend
        .attestations(&from, &release)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(container.digest, signed.subject);
    assert_eq!(container.manifest, signed.manifest);
    assert_eq!(container.blobs.len(), 1, "the config: {container:?}");

    let content = |bytes: &[u8]| Box::pin(std::io::Cursor::new(bytes.to_vec()));
    let options = PublishOptions::default();
    // Content the manifest does not hold, or a blob it names missing: refused before
    // anything is sent, so the copy has no release at all.
    let other = component::small("boxed:other");
    let err = backend
        .publish_container(&to, &v, &container, content(&other), &options)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput { message } if message.contains("not the content")),
        "{err:?}"
    );
    let mut bare = container.clone();
    bare.blobs.clear();
    let err = backend
        .publish_container(&to, &v, &bare, content(&bytes), &options)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is missing"), "{err}");
    assert!(
        backend
            .get_release(&to, &v)
            .await
            .unwrap_err()
            .is_not_found()
    );

    let copied = backend
        .publish_container(&to, &v, &container, content(&bytes), &options)
        .await
        .unwrap();
    assert_eq!(copied.digest, ContentDigest::sha256(&bytes));
    assert_eq!(
        backend.container(&to, &copied).await.unwrap(),
        Some(container.clone())
    );
    let err = backend
        .publish_container(&to, &v, &container, content(&bytes), &options)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyPublished { .. }), "{err:?}");
}
