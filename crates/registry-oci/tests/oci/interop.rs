//! Interoperability with `skopeo` (Debian package `skopeo`): it reads what we publish, and
//! we read what it copies in from a hand-made OCI layout.

use std::path::Path;

use registry_core::{Backend, ContentDigest};
use serde_json::{Value, json};
use test_support::{component, skopeo};

use crate::support::{backend, package, publish, read_all, registry, version};

#[tokio::test]
async fn skopeo_reads_what_we_publish() {
    let backend = backend();
    let pkg = package("interop:published");
    let bytes = component::small("for skopeo");
    let release = publish(&backend, &pkg, &version("1.2.3"), bytes.clone())
        .await
        .unwrap();
    let image = format!("docker://{}/interop/published:1.2.3", registry().host());

    let raw: Value =
        serde_json::from_str(&skopeo(&["inspect", "--raw", "--tls-verify=false", &image])).unwrap();
    assert_eq!(raw["layers"][0]["digest"], release.digest.to_string());
    assert_eq!(raw["layers"][0]["mediaType"], "application/wasm");

    let dir = tempfile::tempdir().unwrap();
    let layout = format!("oci:{}:copied", dir.path().display());
    skopeo(&["copy", "--src-tls-verify=false", &image, &layout]);
    let blob = dir.path().join("blobs/sha256").join(release.digest.hex());
    assert_eq!(
        std::fs::read(blob).unwrap(),
        bytes,
        "skopeo copied the same bytes"
    );
}

/// Writes an OCI image layout holding one artifact with the given media types.
fn write_layout(dir: &Path, config_type: &str, layer_type: &str, content: &[u8]) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let digest = ContentDigest::sha256(bytes);
        std::fs::write(blobs.join(digest.hex()), bytes).unwrap();
        (digest.to_string(), bytes.len())
    };
    let (layer_digest, layer_size) = put(content);
    let (config_digest, config_size) = put(br#"{"architecture":"wasm","os":"wasip2"}"#);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": config_type, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": layer_type, "digest": layer_digest, "size": layer_size}],
    }))
    .unwrap();
    let (manifest_digest, manifest_size) = put(&manifest);
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": "1.0.0"},
        }],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

#[tokio::test]
async fn we_read_legacy_layouts_that_skopeo_copies_in() {
    let backend = backend();
    let forms = [
        ("application/vnd.wasm.config.v0+json", "application/wasm"),
        (
            "application/vnd.wasm.config.v1+json",
            "application/vnd.wasm.content.layer.v1+wasm",
        ),
        (
            "application/vnd.module.wasm.config.v1+json",
            "application/vnd.module.wasm.content.layer.v1+wasm",
        ),
    ];
    for (i, (config_type, layer_type)) in forms.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let content = component::small(&format!("skopeo form {i}"));
        write_layout(dir.path(), config_type, layer_type, &content);
        let name = format!("copied{i}");
        let dest = format!("docker://{}/interop/{name}:1.0.0", registry().host());
        skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{}:1.0.0", dir.path().display()),
            &dest,
        ]);

        let pkg = package(&format!("interop:{name}"));
        let release = backend.get_release(&pkg, &version("1.0.0")).await.unwrap();
        assert_eq!(
            release.digest,
            ContentDigest::sha256(&content),
            "{layer_type}"
        );
        let fetched = read_all(backend.fetch_verified(&pkg, &release).await.unwrap())
            .await
            .unwrap();
        assert_eq!(fetched, content, "{layer_type}");
    }
}
