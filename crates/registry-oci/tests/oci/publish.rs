//! Publish, then list and fetch: the round trip a user makes.

use registry_core::{Backend, ContentDigest, Error, PublishOptions};
use registry_oci::manifest::{WASM_CONFIG, WASM_LAYER};
use serde_json::Value;
use test_support::component::{self, Spec};
use test_support::http;

use crate::support::{backend, package, publish, read_all, registry, version, version_names};

#[tokio::test]
async fn publish_then_list_and_fetch_byte_identical() {
    let backend = backend();
    let pkg = package("roundtrip:widget");
    let one = component::small("one");
    let two = component::small("two");
    let r1 = publish(&backend, &pkg, &version("1.0.0"), one.clone())
        .await
        .unwrap();
    let r2 = publish(&backend, &pkg, &version("1.1.0-rc.1+build.7"), two.clone())
        .await
        .unwrap();
    assert_eq!(r1.digest, ContentDigest::sha256(&one));
    assert_eq!(r1.size, Some(one.len() as u64));

    let versions = version_names(&backend, &pkg).await;
    assert_eq!(versions, ["1.0.0", "1.1.0-rc.1+build.7"]);

    for (release, bytes) in [(r1, one), (r2, two)] {
        let got = backend.get_release(&pkg, &release.version).await.unwrap();
        assert_eq!(got, release);
        let fetched = read_all(backend.fetch_verified(&pkg, &got).await.unwrap())
            .await
            .unwrap();
        assert_eq!(
            fetched, bytes,
            "byte-identical content for {}",
            release.version
        );
    }
}

#[tokio::test]
async fn the_artifact_follows_the_cncf_wasm_layout() {
    let backend = backend();
    let pkg = package("layout:widget");
    let bytes = component::build(&Spec {
        imports: &["wasi:cli/environment@0.2.0", "wasi:io/streams@0.2.0"],
        exports: &["layout:widget/api@1.0.0"],
        metadata: &[
            ("description", "A widget"),
            ("licenses", "Apache-2.0 WITH LLVM-exception"),
            ("source", "https://example.com/widget"),
        ],
        padding: 0,
        name: Some("layout:widget"),
    });
    publish(&backend, &pkg, &version("0.3.0"), bytes.clone())
        .await
        .unwrap();

    let addr = registry().addr();
    let response = http::request(
        addr,
        "GET",
        "/v2/layout/widget/manifests/0.3.0",
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        &[],
    )
    .unwrap();
    assert_eq!(response.status, 200);
    let manifest: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(manifest["config"]["mediaType"], WASM_CONFIG);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], WASM_LAYER);
    assert_eq!(
        layers[0]["digest"],
        ContentDigest::sha256(&bytes).to_string()
    );
    assert_eq!(
        layers[0]["annotations"]["org.opencontainers.image.title"],
        "widget.wasm"
    );
    let annotations = &manifest["annotations"];
    assert_eq!(annotations["org.opencontainers.image.version"], "0.3.0");
    assert_eq!(
        annotations["org.opencontainers.image.description"],
        "A widget"
    );
    assert_eq!(
        annotations["org.opencontainers.image.licenses"],
        "Apache-2.0 WITH LLVM-exception"
    );
    assert_eq!(
        annotations["org.opencontainers.image.source"],
        "https://example.com/widget"
    );

    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config = http::request(
        addr,
        "GET",
        &format!("/v2/layout/widget/blobs/{config_digest}"),
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(config.status, 200);
    let config: Value = serde_json::from_slice(&config.body).unwrap();
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip2");
    assert_eq!(config["layerDigests"][0], layers[0]["digest"]);
    assert_eq!(
        config["component"]["imports"],
        serde_json::json!(["wasi:cli/environment@0.2.0", "wasi:io/streams@0.2.0"])
    );
    assert_eq!(
        config["component"]["exports"],
        serde_json::json!(["layout:widget/api@1.0.0"])
    );
    let created = config["created"].as_str().unwrap();
    assert!(created.len() == 20 && created.ends_with('Z'), "{created}");
}

#[tokio::test]
async fn an_existing_version_is_not_overwritten_unless_asked() {
    let backend = backend();
    let pkg = package("overwrite:widget");
    let v = version("1.0.0");
    let first = publish(&backend, &pkg, &v, component::small("first"))
        .await
        .unwrap();
    let err = publish(&backend, &pkg, &v, component::small("second"))
        .await
        .unwrap_err();
    let Error::AlreadyPublished { existing, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        existing.as_ref(),
        Some(&first.digest),
        "the digest that is there"
    );
    assert_eq!(err.exit_code(), 6);
    let message = err.to_string();
    assert!(
        message
            .starts_with("`overwrite:widget@1.0.0` is already published in registry `127.0.0.1:"),
        "{message}"
    );
    assert_eq!(backend.get_release(&pkg, &v).await.unwrap(), first);

    let second = component::small("second");
    let replaced = backend
        .publish(
            &pkg,
            &v,
            Box::pin(std::io::Cursor::new(second.clone())),
            &PublishOptions::default().with_allow_overwrite(true),
        )
        .await
        .unwrap();
    assert_eq!(replaced.digest, ContentDigest::sha256(&second));
    assert_eq!(backend.get_release(&pkg, &v).await.unwrap(), replaced);
}

#[tokio::test]
async fn declared_size_or_digest_must_match() {
    let backend = backend();
    let pkg = package("declared:widget");
    let bytes = component::small("declared");
    let wrong_size = PublishOptions::default().with_size(bytes.len() as u64 + 1);
    let err = backend
        .publish(
            &pkg,
            &version("1.0.0"),
            Box::pin(std::io::Cursor::new(bytes.clone())),
            &wrong_size,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not the"), "{err}");
    let wrong_digest = PublishOptions::default().with_digest(ContentDigest::sha256(b"other"));
    let err = backend
        .publish(
            &pkg,
            &version("1.0.0"),
            Box::pin(std::io::Cursor::new(bytes)),
            &wrong_digest,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not the sha256:"), "{err}");
    // Nothing was published.
    assert!(
        backend
            .list_versions(&pkg)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// A file named in the options is read in place (no copy), and what is sent is hashed: a
/// file that changed after it was inspected publishes nothing.
#[tokio::test]
async fn a_named_file_is_read_in_place_and_checked_as_it_is_sent() {
    let backend = backend();
    let pkg = package("inplace:widget");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("widget.wasm");
    let bytes = component::build(&Spec {
        padding: 3 << 20,
        ..Spec::default()
    });
    std::fs::write(&path, &bytes).unwrap();
    let declared = PublishOptions::default()
        .with_size(bytes.len() as u64)
        .with_digest(ContentDigest::sha256(&bytes))
        .with_file(&path);
    // The reader is not read when the file is: an empty one proves it.
    let empty = || Box::pin(std::io::Cursor::new(Vec::new()));
    let release = backend
        .publish(&pkg, &version("1.0.0"), empty(), &declared)
        .await
        .unwrap();
    assert_eq!(release.digest, ContentDigest::sha256(&bytes));
    let fetched = read_all(backend.fetch_verified(&pkg, &release).await.unwrap())
        .await
        .unwrap();
    assert!(fetched == bytes, "the file's bytes were published");

    // Another file, which changes (same size) after its digest was taken.
    let mut other = bytes.clone();
    let last = other.len() - 1;
    other[last] ^= 1;
    let declared = PublishOptions::default()
        .with_size(other.len() as u64)
        .with_digest(ContentDigest::sha256(&other))
        .with_file(&path);
    let mut changed = other.clone();
    changed[last - 1] ^= 1;
    std::fs::write(&path, &changed).unwrap();
    let err = backend
        .publish(&pkg, &version("1.0.1"), empty(), &declared)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "{} changed while it was published",
            path.display()
        )) && text.contains("publish again"),
        "{err}"
    );
    // Longer than declared.
    std::fs::write(&path, [other.as_slice(), b"!"].concat()).unwrap();
    let err = backend
        .publish(&pkg, &version("1.0.1"), empty(), &declared)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("changed during the publish"),
        "{err}"
    );
    let versions = version_names(&backend, &pkg).await;
    assert_eq!(
        versions,
        ["1.0.0"],
        "nothing was published from a changed file"
    );
}

#[tokio::test]
async fn content_that_is_not_wasm_is_refused() {
    let backend = backend();
    let pkg = package("notwasm:widget");
    let err = publish(
        &backend,
        &pkg,
        &version("1.0.0"),
        b"#!/bin/sh\necho hi\n".to_vec(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot publish notwasm:widget@1.0.0: the content is not WebAssembly: it does not start with `\\0asm`"
    );
}

#[tokio::test]
async fn unknown_packages_and_versions_are_not_found() {
    let backend = backend();
    let missing = package("missing:nothing");
    let err = backend.list_versions(&missing).await.unwrap_err();
    assert!(matches!(err, Error::PackageNotFound { .. }), "{err}");
    let err = backend
        .get_release(&missing, &version("1.0.0"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");

    let pkg = package("found:widget");
    publish(&backend, &pkg, &version("1.0.0"), component::small("found"))
        .await
        .unwrap();
    let err = backend
        .get_release(&pkg, &version("2.0.0"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::VersionNotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("has no release matching `2.0.0`"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_registry_says_what_to_check() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let backend = registry_oci::OciBackend::new(
        format!("127.0.0.1:{port}").parse().unwrap(),
        registry_oci::OciSettings::default(),
    )
    .unwrap();
    let err = backend
        .list_versions(&package("any:thing"))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("cannot connect to 127.0.0.1:") && message.contains("over http"),
        "{message}"
    );
}
