//! Listing versions: every tag, across pages, non-versions skipped, sorted.

use registry_core::ContentDigest;
use registry_oci::manifest::OCI_MANIFEST;
use test_support::component;
use test_support::http::{push_blob, push_manifest};

use crate::support::{backend, package, publish, registry, version};

#[tokio::test]
async fn all_tags_are_listed_across_pages_and_sorted() {
    let backend = backend();
    let pkg = package("paged:widget");
    let versions = [
        "0.1.0",
        "0.10.0",
        "0.2.0",
        "1.0.0-alpha",
        "1.0.0",
        "1.0.0+build.1",
        "2.0.0",
    ];
    for v in versions {
        publish(&backend, &pkg, &version(v), component::small(v))
            .await
            .unwrap();
    }
    // A tag that is not a version, as other tools leave behind.
    let addr = registry().addr();
    let bytes = component::small("latest");
    let digest = ContentDigest::sha256(&bytes).to_string();
    push_blob(addr, "paged/widget", &digest, &bytes);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.wasm.config.v0+json","digest":"{digest}","size":{}}},"layers":[{{"mediaType":"application/wasm","digest":"{digest}","size":{}}}]}}"#,
        bytes.len(),
        bytes.len()
    );
    push_manifest(
        addr,
        "paged/widget",
        "latest",
        OCI_MANIFEST,
        manifest.as_bytes(),
    );

    let expected = [
        "0.1.0",
        "0.2.0",
        "0.10.0",
        "1.0.0-alpha",
        "1.0.0",
        "1.0.0+build.1",
        "2.0.0",
    ];
    for page in [1, 2, 3, 1000] {
        let paged = crate::support::backend().with_tag_page_size(page);
        let listed = crate::support::version_names(&paged, &pkg).await;
        assert_eq!(listed, expected, "page size {page}");
    }
}
