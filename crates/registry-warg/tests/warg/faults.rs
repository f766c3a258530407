//! What a broken or hostile warg registry, or bad settings, produce.

use registry_core::{Backend, Error};
use registry_warg::{WargBackend, WargSettings};
use test_support::component;
use test_support::warg::{WargServer, signing_key};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{backend, fetch, package, publish, version};

#[tokio::test(flavor = "multi_thread")]
async fn tampered_content_from_a_content_source_is_detected() {
    let mirror = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/content/"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"\0asm tampered".to_vec()))
        .mount(&mirror)
        .await;
    let server = WargServer::builder()
        .content_base_url(&mirror.uri())
        .start();
    let (publisher, _p) = backend(&server, 1);
    let bytes = component::small("genuine");
    let release = publish(&publisher, "test:tampered", "1.0.0", &bytes)
        .await
        .unwrap();

    // A fresh client has no copy of its own, so it downloads from the mirror.
    let (reader, _r) = backend(&server, 2);
    let described = reader
        .get_release(&package("test:tampered"), &version("1.0.0"))
        .await
        .unwrap();
    assert_eq!(
        described.digest, release.digest,
        "the log records the genuine digest"
    );
    let err = fetch(&reader, "test:tampered", &described)
        .await
        .unwrap_err();
    match &err {
        Error::DigestMismatch {
            subject,
            expected,
            actual,
        } => {
            assert_eq!(*expected, release.digest);
            assert_eq!(
                *actual,
                registry_core::ContentDigest::sha256(b"\0asm tampered")
            );
            assert!(subject.contains("test:tampered@1.0.0"), "{subject}");
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
    assert!(
        !mirror.received_requests().await.unwrap().is_empty(),
        "the mirror was asked"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_is_not_there_names_the_registry() {
    // Bind and drop, so the port is closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let registry = format!("127.0.0.1:{port}");
    let backend = WargBackend::new(
        registry.parse().unwrap(),
        WargSettings::default(),
        dir.path(),
    )
    .unwrap();
    let err = backend
        .list_versions(&package("test:any"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Registry { .. }), "{err:?}");
    assert!(err.to_string().contains(&registry), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_stalls_hits_the_deadline() {
    // Accepts every connection and never answers (warg-client's own HTTP client has no
    // timeouts: the backend's deadline is what ends the wait).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let registry = format!("127.0.0.1:{port}");
    let mut settings = WargSettings::default();
    settings.connect_timeout = Some(1);
    settings.read_timeout = Some(1);
    let backend = WargBackend::new(registry.parse().unwrap(), settings, dir.path()).unwrap();
    let started = std::time::Instant::now();
    let err = backend
        .list_versions(&package("test:any"))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "waited {:?}",
        started.elapsed()
    );
    assert!(matches!(err, Error::Registry { .. }), "{err:?}");
    let text = err.to_string();
    // The relay's own client gives up after `read_timeout` (1 s) and says so; the
    // backend's deadline (2 s) is the backstop.
    assert!(
        text.contains(&registry)
            && text.contains("did not answer in time")
            && text.contains("read_timeout"),
        "{text}"
    );
}

#[test]
fn plain_http_is_refused_for_a_remote_host_and_bad_keys_are_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = WargSettings::default();
    settings.url = Some("http://warg.example.com".into());
    let err = WargBackend::new("example.com".parse().unwrap(), settings, dir.path()).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(
            "settings from `WargSettings`: invalid `registry.\"example.com\".warg.url`"
        ) && text.contains("loopback"),
        "{text}"
    );

    let mut settings = WargSettings::default();
    settings.signing_key = Some(registry_config::Secret::new(
        "ecdsa-p256:not-a-key-SECRETVALUE",
    ));
    let err = WargBackend::new("127.0.0.1:1".parse().unwrap(), settings, dir.path()).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("does not parse") && !text.contains("SECRETVALUE"),
        "{text}"
    );
}

#[test]
fn bad_values_in_a_config_file_are_located_at_their_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let registry: registry_core::Registry = "example.com".parse().unwrap();
    let from = |section: &str| {
        let text = format!("[registry.\"example.com\".warg]\n{section}\n");
        let config = registry_config::Config::from_toml_str("wasm-pkg.toml", &text).unwrap();
        WargBackend::from_config(&config, &registry, None, dir.path()).unwrap_err()
    };
    let cases = [
        (
            "url = \"http://warg.example.com\"",
            "url",
            "is not a usable server URL",
        ),
        (
            "signing_key = \"ecdsa-p256:not-a-key-SECRETVALUE\"",
            "signing_key",
            "does not parse",
        ),
        (
            "ca_file = \"/no/such/ca.pem\"",
            "ca_file",
            "`/no/such/ca.pem` cannot be read",
        ),
        (
            "keyring_backend = \"no-such-keyring\"",
            "keyring_backend",
            "supported here",
        ),
        (
            "auth_token_file = \"/no/such/token\"",
            "auth_token_file",
            "cannot be read",
        ),
    ];
    for (line, key, why) in cases {
        let err = from(&format!("auto_init = true\n{line}"));
        assert!(matches!(err, Error::Config(_)), "{line}: {err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "wasm-pkg.toml:3:1: invalid `registry.\"example.com\".warg.{key}`: "
            )) && text.contains(why)
                && !text.contains("SECRETVALUE"),
            "{line}: {text}"
        );
    }

    // A URL from the registry's well-known document says so.
    let config = registry_config::Config::from_toml_str(
        "wasm-pkg.toml",
        "[registry.\"example.com\".warg]\nauto_init = true\n",
    )
    .unwrap();
    let err = WargBackend::from_config(
        &config,
        &registry,
        Some("http://warg.example.com"),
        dir.path(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("well-known document"), "{err}");
}

#[test]
fn credentials_never_show_in_debug_output() {
    let dir = tempfile::tempdir().unwrap();
    let key = signing_key(9);
    let mut settings = WargSettings::default();
    settings.signing_key = Some(registry_config::Secret::new(key.clone()));
    settings.auth_token = Some(registry_config::Secret::new("tok-SECRET-123"));
    let debug_settings = format!("{settings:?}");
    let backend = WargBackend::new("127.0.0.1:1".parse().unwrap(), settings, dir.path()).unwrap();
    let debug_backend = format!("{backend:?}");
    for text in [&debug_settings, &debug_backend] {
        assert!(!text.contains("tok-SECRET-123"), "{text}");
        assert!(!text.contains(&key[11..]), "{text}");
    }
    assert!(debug_backend.contains("<redacted>"), "{debug_backend}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_checkpoint_whose_signature_does_not_verify_makes_the_registry_untrusted() {
    let server = WargServer::start();
    let (publisher, _p) = backend(&server, 1);
    publish(&publisher, "test:signed", "1.0.0", &component::small("s"))
        .await
        .unwrap();

    // Record the real server's answers, then serve them with the checkpoint's signature
    // altered: everything else is genuine.
    let api = warg_client::api::Client::new(server.url(), None).unwrap();
    let checkpoint = api.latest_checkpoint(None).await.unwrap();
    let log_id = warg_protocol::registry::LogId::package_log::<warg_crypto::hash::Sha256>(
        &warg_protocol::registry::PackageName::new("test:signed").unwrap(),
    );
    let mut packages = indexmap::IndexMap::new();
    packages.insert(log_id, None);
    let logs = api
        .fetch_logs(
            None,
            warg_api::v1::fetch::FetchLogsRequest {
                log_length: checkpoint.as_ref().checkpoint.log_length,
                limit: None,
                operator: None,
                packages: std::borrow::Cow::Owned(packages),
            },
        )
        .await
        .unwrap();
    let mut forged = serde_json::to_value(&checkpoint).unwrap();
    let signature = forged["signature"].as_str().unwrap().to_owned();
    let (algorithm, encoded) = signature.split_once(':').unwrap();
    let mut chars: Vec<char> = encoded.chars().collect();
    chars[12] = if chars[12] == 'A' { 'B' } else { 'A' };
    forged["signature"] = format!("{algorithm}:{}", chars.into_iter().collect::<String>()).into();

    let mirror = MockServer::start().await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path("/v1/fetch/checkpoint"))
        .respond_with(ResponseTemplate::new(200).set_body_json(forged))
        .mount(&mirror)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path("/v1/fetch/logs"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::to_value(&logs).unwrap()),
        )
        .mount(&mirror)
        .await;
    let registry = mirror.address().to_string();
    let dir = tempfile::tempdir().unwrap();
    let reader = WargBackend::new(
        registry.parse().unwrap(),
        WargSettings::default(),
        dir.path(),
    )
    .unwrap();
    let err = reader
        .list_versions(&package("test:signed"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Untrusted { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&registry) && text.contains("checkpoint signature"),
        "{text}"
    );
}
