//! The local directory backend: the layout `wkg` uses, round trips, refusals.

use registry_client::LocalBackend;
use registry_core::{Backend, ContentDigest, Error, PublishOptions};
use test_support::component;

use crate::support::{local_client, package, publish, version};

#[tokio::test]
async fn publish_list_and_fetch_in_the_wkg_layout() {
    let dir = tempfile::tempdir().unwrap();
    let client = local_client(dir.path());
    let bytes = component::small("local");
    let release = publish(&client, "acme:widget", "1.2.0", bytes.clone()).await;
    publish(&client, "acme:widget", "1.10.0", component::small("ten")).await;
    let file = dir.path().join("registry/acme/widget/1.2.0.wasm");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        bytes,
        "stored where wkg puts it"
    );

    let versions: Vec<String> = client
        .route(&package("acme:widget"))
        .await
        .unwrap()
        .list_versions()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version.to_string())
        .collect();
    assert_eq!(versions, ["1.2.0", "1.10.0"]);
    let got = client
        .route(&package("acme:widget"))
        .await
        .unwrap()
        .resolve(&"~1.2".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(got, release);
    let path = client
        .route(&package("acme:widget"))
        .await
        .unwrap()
        .fetch(&got)
        .await
        .unwrap();
    assert!(path.starts_with(dir.path().join("cache/content/sha256")));
    assert_eq!(std::fs::read(path).unwrap(), bytes);
}

#[tokio::test]
async fn refusals_and_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let client = local_client(dir.path());
    publish(&client, "acme:widget", "1.0.0", component::small("a")).await;
    let err = client
        .route(&package("acme:widget"))
        .await
        .unwrap()
        .publish(
            &version("1.0.0"),
            Box::pin(std::io::Cursor::new(component::small("b"))),
            &PublishOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("is already published in registry `local.test`"),
        "{err}"
    );
    let err = client
        .route(&package("acme:nothing"))
        .await
        .unwrap()
        .list_versions()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PackageNotFound { .. }), "{err}");
    let err = client
        .route(&package("acme:widget"))
        .await
        .unwrap()
        .resolve(&"^2".parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "package `acme:widget` has no release matching `^2` in registry `local.test` (the newest release is 1.0.0)"
    );
}

#[tokio::test]
async fn a_local_registry_without_a_root_says_what_to_add() {
    let dir = tempfile::tempdir().unwrap();
    let client = crate::support::client_with(
        dir.path(),
        "[registry.\"bare.test\"]\ndefault = \"local\"\n",
    );
    let err = client
        .route_to(&package("acme:widget"), &"bare.test".parse().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, registry_core::Error::Config(_)), "{err:?}");
    let origin = err
        .config_error()
        .and_then(|e| e.origin())
        .expect("located");
    assert_eq!(
        origin.path(),
        Some(dir.path().join("config.toml").as_path())
    );
    assert!(
        err.to_string().ends_with(
            "invalid `registry.\"bare.test\".local.root`: the registry uses the local backend \
             but sets no directory; add `root = \"/path\"`"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn the_backend_stands_alone() {
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::new(
        "dir.test".parse().unwrap(),
        registry_client::LocalSettings::new(dir.path()),
    );
    let bytes = component::small("alone");
    let release = backend
        .publish(
            &package("a:b"),
            &version("0.1.0+build.1"),
            Box::pin(std::io::Cursor::new(bytes.clone())),
            &PublishOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(release.digest, ContentDigest::sha256(&bytes));
    let again = backend
        .get_release(&package("a:b"), &version("0.1.0+build.1"))
        .await
        .unwrap();
    assert_eq!(again, release);
}

#[tokio::test]
async fn names_and_versions_never_reach_outside_the_registry_or_cache() {
    for hostile in [
        "../etc:passwd",
        "acme:../../x",
        "acme:wid/get",
        "/abs:x",
        "acme:a\0b",
        "acme:..",
        "acme:WIDGET",
        "acme:wid\\get",
        "c\u{0}:x",
    ] {
        assert!(
            hostile.parse::<registry_core::PackageRef>().is_err(),
            "{hostile:?} must not parse"
        );
    }
    for hostile in ["1.0.0/../../x", "../1.0.0", "1.0.0+../x", "1.0.0+a/b"] {
        assert!(
            hostile.parse::<registry_core::Version>().is_err(),
            "{hostile:?} must not parse"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let client = local_client(dir.path());
    // Build metadata stays in one file name.
    publish(
        &client,
        "acme:widget",
        "1.0.0+build.7",
        component::small("b"),
    )
    .await;
    assert!(
        dir.path()
            .join("registry/acme/widget/1.0.0+build.7.wasm")
            .is_file()
    );
    // A name too long for the file system fails clearly and writes nothing elsewhere.
    let long = format!("acme:{}", "w".repeat(300));
    let before: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let err = client
        .route(&package(&long))
        .await
        .unwrap()
        .publish(
            &version("1.0.0"),
            Box::pin(std::io::Cursor::new(component::small("long"))),
            &PublishOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    let after: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(before, after);
}
