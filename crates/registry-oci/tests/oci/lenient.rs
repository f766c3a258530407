//! Layouts other tools write, pushed by hand in their exact bytes, and read back.

use registry_core::{Backend, ContentDigest, Error};
use registry_oci::manifest::{OCI_INDEX, OCI_MANIFEST};
use test_support::component;
use test_support::http::{push_blob, push_manifest};

use crate::support::{backend, package, read_all, registry, version};

/// Pushes `content` and a config blob, then a manifest with the given layout, under `tag`.
fn push_layout(
    repository: &str,
    tag: &str,
    config_type: &str,
    layer_types: &[&str],
    content: &[u8],
    with_media_type: bool,
) -> String {
    let addr = registry().addr();
    let digest = ContentDigest::sha256(content).to_string();
    push_blob(addr, repository, &digest, content);
    let config = br#"{"architecture":"wasm","os":"wasip2"}"#;
    let config_digest = ContentDigest::sha256(config).to_string();
    push_blob(addr, repository, &config_digest, config);
    let layers: Vec<String> = layer_types
        .iter()
        .map(|t| {
            format!(
                r#"{{"mediaType":"{t}","digest":"{digest}","size":{}}}"#,
                content.len()
            )
        })
        .collect();
    let media_type = if with_media_type {
        format!(r#""mediaType":"{OCI_MANIFEST}","#)
    } else {
        String::new()
    };
    let manifest = format!(
        r#"{{"schemaVersion":2,{media_type}"config":{{"mediaType":"{config_type}","digest":"{config_digest}","size":{}}},"layers":[{}]}}"#,
        config.len(),
        layers.join(",")
    );
    push_manifest(addr, repository, tag, OCI_MANIFEST, manifest.as_bytes());
    ContentDigest::sha256(manifest.as_bytes()).to_string()
}

#[tokio::test]
async fn every_known_wasm_layout_is_read() {
    let backend = backend();
    let layouts = [
        (
            "application/vnd.wasm.config.v0+json",
            "application/wasm",
            true,
        ),
        (
            "application/vnd.oci.image.config.v1+json",
            "application/wasm",
            true,
        ),
        (
            "application/vnd.wasm.config.v1+json",
            "application/vnd.wasm.content.layer.v1+wasm",
            true,
        ),
        (
            "application/vnd.module.wasm.config.v1+json",
            "application/vnd.module.wasm.content.layer.v1+wasm",
            true,
        ),
        (
            "application/vnd.wasm.config.v0+json",
            "application/wasm",
            false,
        ),
    ];
    for (i, (config_type, layer_type, with_media_type)) in layouts.iter().enumerate() {
        let content = component::small(&format!("layout {i}"));
        let tag = format!("1.{i}.0");
        push_layout(
            "lenient/widget",
            &tag,
            config_type,
            &[layer_type],
            &content,
            *with_media_type,
        );
        let pkg = package("lenient:widget");
        let release = backend.get_release(&pkg, &version(&tag)).await.unwrap();
        assert_eq!(
            release.digest,
            ContentDigest::sha256(&content),
            "{layer_type}"
        );
        let bytes = read_all(backend.fetch_verified(&pkg, &release).await.unwrap())
            .await
            .unwrap();
        assert_eq!(bytes, content, "{layer_type}");
    }
}

#[tokio::test]
async fn an_index_with_one_wasm_manifest_is_followed() {
    let addr = registry().addr();
    let content = component::small("indexed");
    let manifest_digest = push_layout(
        "indexed/widget",
        "inner",
        "application/vnd.wasm.config.v0+json",
        &["application/wasm"],
        &content,
        true,
    );
    let manifest_size = crate::support::manifest_size(addr, "indexed/widget", "inner");
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{manifest_digest}","size":{manifest_size},"platform":{{"os":"wasip2","architecture":"wasm"}}}}]}}"#
    );
    push_manifest(addr, "indexed/widget", "2.0.0", OCI_INDEX, index.as_bytes());
    let backend = backend();
    let release = backend
        .get_release(&package("indexed:widget"), &version("2.0.0"))
        .await
        .unwrap();
    assert_eq!(release.digest, ContentDigest::sha256(&content));
}

#[tokio::test]
async fn ambiguous_and_foreign_artifacts_are_refused_with_their_media_types() {
    let backend = backend();
    let content = component::small("refused");
    let pkg = package("refused:widget");
    push_layout(
        "refused/widget",
        "1.0.0",
        "application/vnd.wasm.config.v0+json",
        &[
            "application/wasm",
            "application/vnd.wasm.content.layer.v1+wasm",
        ],
        &content,
        true,
    );
    push_layout(
        "refused/widget",
        "2.0.0",
        "application/vnd.oci.image.config.v1+json",
        &["application/vnd.oci.image.layer.v1.tar+gzip"],
        &content,
        true,
    );
    let err = backend
        .get_release(&pkg, &version("1.0.0"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Registry { .. }), "{err}");
    let host = registry().host();
    assert_eq!(
        err.to_string(),
        format!(
            "registry `{host}`: `{host}/refused/widget:1.0.0` is ambiguous: 2 layers have a Wasm \
             media type (its layers are application/wasm, application/vnd.wasm.content.layer.v1+wasm); \
             a Wasm package has exactly one"
        )
    );
    let err = backend
        .get_release(&pkg, &version("2.0.0"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "registry `{host}`: `{host}/refused/widget:2.0.0` is not a Wasm package: its one \
             layer has no Wasm media type (application/vnd.oci.image.layer.v1.tar+gzip) and no \
             title naming a `.wasm` file"
        )
    );
}

mod oras_shaped {
    //! What `oras push <ref> widget.wasm` writes: one `application/vnd.oci.image.layer.v1.tar`
    //! layer titled `widget.wasm`, an unknown config `{}`. Read by its title when its bytes
    //! are Wasm; anything else is refused.

    use futures_util::StreamExt as _;
    use registry_core::{Backend, ContentDigest, Error};
    use registry_oci::manifest::{OCI_MANIFEST, TITLE};
    use serde_json::json;
    use test_support::component;
    use test_support::http::{push_blob, push_manifest};

    use crate::support::{backend, package, read_all, registry, version};

    const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

    /// Pushes a manifest shaped as `oras push` writes it, with one layer per `(title, bytes)`.
    fn push_oras_shaped(repository: &str, tag: &str, layers: &[(Option<&str>, &[u8])]) {
        let addr = registry().addr();
        let config = b"{}";
        let config_digest = ContentDigest::sha256(config).to_string();
        push_blob(addr, repository, &config_digest, config);
        let layers: Vec<_> = layers
            .iter()
            .map(|(title, bytes)| {
                let digest = ContentDigest::sha256(bytes).to_string();
                push_blob(addr, repository, &digest, bytes);
                let mut layer = json!({"mediaType": TAR, "digest": digest, "size": bytes.len()});
                if let Some(title) = title {
                    layer["annotations"] = json!({ TITLE: title });
                }
                layer
            })
            .collect();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.unknown.config.v1+json",
                "digest": config_digest,
                "size": config.len(),
            },
            "layers": layers,
            "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
        });
        let manifest = serde_json::to_vec(&manifest).unwrap();
        push_manifest(addr, repository, tag, OCI_MANIFEST, &manifest);
    }

    #[tokio::test]
    async fn one_layer_titled_widget_wasm_is_read() {
        let content = component::small("pushed by oras");
        push_oras_shaped("oras/widget", "1.0.0", &[(Some("widget.wasm"), &content)]);
        let backend = backend();
        let pkg = package("oras:widget");
        let release = backend.get_release(&pkg, &version("1.0.0")).await.unwrap();
        assert_eq!(release.digest, ContentDigest::sha256(&content));
        assert_eq!(release.size, Some(content.len() as u64));
        let bytes = read_all(backend.fetch_verified(&pkg, &release).await.unwrap())
            .await
            .unwrap();
        assert_eq!(bytes, content);
    }

    /// A layer titled `widget.wasm` that is a tar file: the first item of its stream is
    /// the error, so no byte of it reaches a caller or a cache.
    #[tokio::test]
    async fn a_titled_layer_that_is_not_wasm_fails_before_a_byte_is_used() {
        let mut tar = b"widget.wasm".to_vec();
        tar.resize(1024, 0);
        push_oras_shaped("orasbad/widget", "1.0.0", &[(Some("widget.wasm"), &tar)]);
        let backend = backend();
        let pkg = package("orasbad:widget");
        let release = backend.get_release(&pkg, &version("1.0.0")).await.unwrap();
        let mut stream = backend.fetch_verified(&pkg, &release).await.unwrap();
        let err = match stream.next().await {
            Some(Err(err)) => err,
            Some(Ok(bytes)) => panic!("{} bytes were passed on", bytes.len()),
            None => panic!("an empty stream"),
        };
        assert!(matches!(err, Error::Registry { .. }), "{err:?}");
        assert_eq!(err.exit_code(), 4);
        let host = registry().host();
        assert_eq!(
            err.to_string(),
            format!(
                "registry `{host}`: the layer {} of orasbad:widget@1.0.0 is not WebAssembly: it \
                 starts with `widg`, not `\\0asm`; it was not used",
                release.digest
            )
        );
    }

    /// The first item of `stream`, which must be an error: no byte was passed on.
    async fn first_error(mut stream: registry_core::ContentStream) -> Error {
        match stream.next().await {
            Some(Err(err)) => err,
            Some(Ok(bytes)) => panic!("{} bytes were passed on", bytes.len()),
            None => panic!("an empty stream"),
        }
    }

    /// A release fetched from a lock file's pin: a fresh backend, which never read the
    /// manifest, asked for the layer by its digest. The bytes are checked all the same.
    #[tokio::test]
    async fn a_pinned_titled_layer_that_is_not_wasm_fails_without_its_manifest_read() {
        let mut tar = b"\x1f\x8b\x08\x00pinned".to_vec();
        tar.resize(2048, 0);
        push_oras_shaped("oraspin/widget", "1.0.0", &[(Some("widget.wasm"), &tar)]);
        let pkg = package("oraspin:widget");
        let digest = ContentDigest::sha256(&tar);
        let pin = registry_core::Release::new(version("1.0.0"), digest).with_size(tar.len() as u64);
        for err in [
            first_error(backend().fetch_content(&pkg, &pin).await.unwrap()).await,
            first_error(backend().fetch_verified(&pkg, &pin).await.unwrap()).await,
        ] {
            assert!(matches!(err, Error::Registry { .. }), "{err:?}");
            assert_eq!(err.exit_code(), 4);
            let host = registry().host();
            assert_eq!(
                err.to_string(),
                format!(
                    "registry `{host}`: the layer {digest} of oraspin:widget@1.0.0 is not \
                     WebAssembly: it starts with `\\x1f\\x8b\\x08\\x00`, not `\\0asm`; it was \
                     not used"
                )
            );
        }

        // A Wasm layer pinned the same way is fetched whole, titled or typed.
        let content = component::small("pinned and wasm");
        push_oras_shaped("orapin/widget", "1.0.0", &[(Some("widget.wasm"), &content)]);
        let pin = registry_core::Release::new(version("1.0.0"), ContentDigest::sha256(&content))
            .with_size(content.len() as u64);
        let bytes = read_all(
            backend()
                .fetch_verified(&package("orapin:widget"), &pin)
                .await
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(bytes, content);
    }

    /// The same in an OCI image layout opened afresh: a layer whose bytes are not Wasm
    /// (here put in place of what `LayoutWriter` wrote) is refused before a byte is passed
    /// on, its manifest unread.
    #[tokio::test]
    async fn a_layout_layer_that_is_not_wasm_fails_without_its_manifest_read() {
        let dir = tempfile::tempdir().unwrap();
        let content = component::small("in a layout");
        let file = dir.path().join("widget.wasm");
        std::fs::write(&file, &content).unwrap();
        let digest = ContentDigest::sha256(&content);
        let (pkg, v) = (package("laid:widget"), version("1.0.0"));
        let layout = dir.path().join("layout");
        let mut writer = registry_oci::LayoutWriter::open(&layout).unwrap();
        writer.add(&pkg, &v, &file, &digest).unwrap();
        writer.finish().unwrap();
        let open = || {
            registry_oci::LayoutBackend::open("bundle.invalid".parse().unwrap(), &layout).unwrap()
        };
        let pin = registry_core::Release::new(v.clone(), digest).with_size(content.len() as u64);
        let bytes = read_all(open().fetch_verified(&pkg, &pin).await.unwrap())
            .await
            .unwrap();
        assert_eq!(bytes, content, "Wasm passes");

        let blob = layout.join("blobs/sha256").join(digest.hex());
        std::fs::write(&blob, b"<html>not wasm</html>").unwrap();
        let err = first_error(open().fetch_verified(&pkg, &pin).await.unwrap()).await;
        assert!(matches!(err, Error::Registry { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "registry `bundle.invalid`: the layer {digest} of laid:widget@1.0.0 is not \
                 WebAssembly: it starts with `<htm`, not `\\0asm`; it was not used"
            )
        );
    }

    #[tokio::test]
    async fn no_title_a_title_not_wasm_or_several_layers_are_refused() {
        let content = component::small("ambiguous under oras");
        let other = component::small("another");
        push_oras_shaped("orasrefused/widget", "1.0.0", &[(None, &content)]);
        push_oras_shaped(
            "orasrefused/widget",
            "2.0.0",
            &[(Some("widget.tar"), &content)],
        );
        push_oras_shaped(
            "orasrefused/widget",
            "3.0.0",
            &[
                (Some("widget.wasm"), &content),
                (Some("other.wasm"), &other),
            ],
        );
        let backend = backend();
        let pkg = package("orasrefused:widget");
        let host = registry().host();
        let reference = |v: &str| format!("registry `{host}`: `{host}/orasrefused/widget:{v}`");
        for (v, said) in [
            (
                "1.0.0",
                format!(
                    "is not a Wasm package: its one layer has no Wasm media type ({TAR}) and \
                     no title naming a `.wasm` file"
                ),
            ),
            (
                "2.0.0",
                format!(
                    "is not a Wasm package: its one layer has no Wasm media type ({TAR}) and \
                     its title \"widget.tar\" does not name a `.wasm` file"
                ),
            ),
            (
                "3.0.0",
                format!(
                    "is not a Wasm package: no layer has a Wasm media type (its layers are \
                     {TAR}, {TAR})"
                ),
            ),
        ] {
            let err = backend.get_release(&pkg, &version(v)).await.unwrap_err();
            assert_eq!(err.exit_code(), 4, "{err}");
            assert_eq!(err.to_string(), format!("{} {said}", reference(v)));
        }
    }
}
