//! Publishing, listing, fetching and yanking against the real server.

use registry_core::{Backend, ContentDigest, Error, PublishOptions};
use test_support::component;
use test_support::warg::WargServer;

use crate::support::{backend, fetch, listed, package, publish, reader, version};

#[tokio::test(flavor = "multi_thread")]
async fn publish_then_list_get_and_fetch() {
    let server = WargServer::start();
    let (backend, _dir) = backend(&server, 1);
    let bytes = component::small("hello 1.0.0");

    let release = publish(&backend, "test:hello", "1.0.0", &bytes)
        .await
        .unwrap();
    assert_eq!(release.digest, ContentDigest::sha256(&bytes));
    assert_eq!(release.size, Some(bytes.len() as u64));
    assert_eq!(
        listed(&backend, "test:hello").await,
        [("1.0.0".into(), false)]
    );

    let described = backend
        .get_release(&package("test:hello"), &version("1.0.0"))
        .await
        .unwrap();
    assert_eq!(described.digest, release.digest);
    assert_eq!(
        fetch(&backend, "test:hello", &described).await.unwrap(),
        bytes
    );

    let newer = component::small("hello 1.1.0");
    publish(&backend, "test:hello", "1.1.0", &newer)
        .await
        .unwrap();
    assert_eq!(
        listed(&backend, "test:hello").await,
        [("1.0.0".into(), false), ("1.1.0".into(), false)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_client_sees_a_release_published_after_its_first_look() {
    let server = WargServer::start();
    let (alice, _a) = backend(&server, 1);
    let (bob, _b) = backend(&server, 2);
    publish(
        &alice,
        "test:shared",
        "1.0.0",
        &component::small("shared 1"),
    )
    .await
    .unwrap();
    assert_eq!(listed(&bob, "test:shared").await, [("1.0.0".into(), false)]);

    let second = component::small("shared 2");
    publish(&alice, "test:shared", "2.0.0", &second)
        .await
        .unwrap();
    assert_eq!(
        listed(&bob, "test:shared").await,
        [("1.0.0".into(), false), ("2.0.0".into(), false)],
        "bob's stored log must not hide the new release"
    );
    let release = bob
        .get_release(&package("test:shared"), &version("2.0.0"))
        .await
        .unwrap();
    assert_eq!(fetch(&bob, "test:shared", &release).await.unwrap(), second);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_yanked_version_is_listed_as_yanked_and_not_served() {
    let server = WargServer::start();
    let (backend, _dir) = backend(&server, 1);
    publish(&backend, "test:yanky", "1.0.0", &component::small("y1"))
        .await
        .unwrap();
    publish(&backend, "test:yanky", "1.1.0", &component::small("y2"))
        .await
        .unwrap();
    backend
        .yank(&package("test:yanky"), &version("1.1.0"))
        .await
        .unwrap();

    // A fresh client, so nothing comes from the publisher's own storage.
    let (reader_backend, _r) = crate::support::backend(&server, 3);
    assert_eq!(
        listed(&reader_backend, "test:yanky").await,
        [("1.0.0".into(), false), ("1.1.0".into(), true)]
    );
    let err = reader_backend
        .get_release(&package("test:yanky"), &version("1.1.0"))
        .await
        .unwrap_err();
    match &err {
        Error::VersionNotFound {
            requirement,
            newest,
            ..
        } => {
            assert_eq!(requirement, "=1.1.0 (yanked)");
            assert_eq!(
                newest.as_ref().map(ToString::to_string).as_deref(),
                Some("1.0.0")
            );
        }
        other => panic!("expected VersionNotFound, got {other:?}"),
    }
    // Yanking it again is an error that says the version is not there to yank.
    let again = backend
        .yank(&package("test:yanky"), &version("1.1.0"))
        .await
        .unwrap_err();
    assert!(matches!(again, Error::VersionNotFound { .. }), "{again:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_packages_versions_and_namespaces_are_named() {
    let server = WargServer::start();
    let (backend, _dir) = backend(&server, 1);

    let err = backend
        .list_versions(&package("test:nothing"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PackageNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("test:nothing"), "{err}");

    publish(&backend, "test:present", "1.0.0", &component::small("p"))
        .await
        .unwrap();
    let err = backend
        .get_release(&package("test:present"), &version("9.9.9"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::VersionNotFound { requirement, newest: Some(n), .. }
            if requirement == "=9.9.9" && n.to_string() == "1.0.0"),
        "{err:?}"
    );

    // A namespace the registry does not define holds no package there.
    let err = publish(&backend, "nowhere:pkg", "1.0.0", &component::small("n"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PackageNotFound { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("nowhere:pkg")
            && text.contains(&server.registry())
            && text.contains("which registry its namespace maps to"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_that_does_not_own_the_package_is_refused() {
    let server = WargServer::start();
    let (owner, _o) = backend(&server, 1);
    let (intruder, _i) = backend(&server, 2);
    publish(&owner, "test:owned", "1.0.0", &component::small("o1"))
        .await
        .unwrap();

    let err = publish(&intruder, "test:owned", "2.0.0", &component::small("evil"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("test:owned@2.0.0") && text.contains("signing key"),
        "{text}"
    );
    assert_eq!(
        listed(&owner, "test:owned").await,
        [("1.0.0".into(), false)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn republishing_a_version_and_publishing_without_a_key_are_refused_up_front() {
    let server = WargServer::start();
    let (backend, dir) = backend(&server, 1);
    let bytes = component::small("r");
    publish(&backend, "test:again", "1.0.0", &bytes)
        .await
        .unwrap();

    // The same bytes again: already published, and the error says they are the same.
    let err = publish(&backend, "test:again", "1.0.0", &bytes)
        .await
        .unwrap_err();
    let digest = ContentDigest::sha256(&bytes);
    match &err {
        Error::AlreadyPublished {
            package: p,
            version: v,
            existing,
            attempted,
            ..
        } => {
            assert_eq!(p.to_string(), "test:again");
            assert_eq!(v.to_string(), "1.0.0");
            assert_eq!(*existing, Some(digest));
            assert_eq!(*attempted, Some(digest));
        }
        other => panic!("expected AlreadyPublished, got {other:?}"),
    }
    assert!(err.to_string().contains("same bytes"), "{err}");
    // Other bytes, even with overwriting allowed: a warg log is append-only.
    let other = component::small("r2");
    let err = backend
        .publish(
            &package("test:again"),
            &version("1.0.0"),
            reader(other.clone()),
            &PublishOptions::default().with_allow_overwrite(true),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::AlreadyPublished { existing: Some(e), attempted: Some(a), .. }
            if *e == digest && *a == ContentDigest::sha256(&other)),
        "{err:?}"
    );
    assert!(err.to_string().contains("different bytes"), "{err}");

    let mut keyless = registry_warg::WargSettings::default();
    keyless.publish_timeout = Some(5);
    let keyless = crate::support::with_settings(&server, keyless, dir.path());
    let err = publish(&keyless, "test:again", "2.0.0", &bytes)
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Config(_)), "{err:?}");
    assert!(
        err.to_string().contains("needs a signing key")
            && err.to_string().contains(".warg.signing_key`"),
        "{err}"
    );

    let mut no_init = crate::support::settings(1);
    no_init.auto_init = Some(false);
    let other = tempfile::tempdir().unwrap();
    let no_init = crate::support::with_settings(&server, no_init, other.path());
    let err = publish(&no_init, "test:brand-new", "1.0.0", &bytes)
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Config(_)), "{err:?}");
    assert!(
        err.to_string().contains("auto_init = true")
            && err.to_string().contains(".warg.auto_init`"),
        "{err}"
    );
    let err = no_init
        .list_versions(&package("test:brand-new"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::PackageNotFound { .. }),
        "nothing was created: {err:?}"
    );

    let err = backend
        .publish(
            &package("test:sized"),
            &version("1.0.0"),
            reader(bytes.clone()),
            &PublishOptions::default().with_size(bytes.len() as u64 + 1),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bytes, not the"), "{err}");
    let err = backend
        .list_versions(&package("test:sized"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::PackageNotFound { .. }),
        "nothing was published: {err:?}"
    );
}
