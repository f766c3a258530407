//! A registry with a certificate from a private CA: refused until configured.

use std::sync::OnceLock;

use registry_core::{Backend, Error};
use registry_oci::{OciBackend, OciSettings, Protocol, RetryPolicy};
use test_support::Distribution;
use test_support::component;
use test_support::tls::TestCa;

use crate::support::{package, publish, read_all, version};

fn registry() -> &'static (Distribution, TestCa) {
    static REGISTRY: OnceLock<(Distribution, TestCa)> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let ca = TestCa::new();
        let registry = Distribution::start_tls(&ca).unwrap_or_else(|e| panic!("{e}"));
        (registry, ca)
    })
}

fn backend(configure: impl FnOnce(&mut OciSettings)) -> OciBackend {
    let mut settings = OciSettings::default();
    // Loopback defaults to plain HTTP; this registry speaks TLS.
    settings.protocol = Some(Protocol::Https);
    configure(&mut settings);
    OciBackend::new(registry().0.host().parse().unwrap(), settings)
        .unwrap()
        .with_retry_policy(RetryPolicy {
            retries: 0,
            base: std::time::Duration::ZERO,
        })
}

#[tokio::test]
async fn a_private_ca_is_refused_until_configured() {
    let err = backend(|_| {})
        .list_versions(&package("tls:widget"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Registry { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("is not trusted"), "{message}");
    assert!(
        message.contains("set `ca_file` under [registry."),
        "{message}"
    );
}

#[tokio::test]
async fn a_configured_ca_file_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &registry().1.ca_pem).unwrap();
    let with_file = backend(|s| s.ca_file = Some(ca_file.clone()));
    let pkg = package("tls:widget");
    let bytes = component::small("over tls");
    let release = publish(&with_file, &pkg, &version("1.0.0"), bytes.clone())
        .await
        .unwrap();
    let fetched = read_all(with_file.fetch_verified(&pkg, &release).await.unwrap())
        .await
        .unwrap();
    assert_eq!(fetched, bytes);

    let inline = backend(|s| s.ca_pem = Some(registry().1.ca_pem.clone()));
    assert_eq!(inline.list_versions(&pkg).await.unwrap().len(), 1);
}

#[tokio::test]
async fn skipping_verification_works_only_when_asked() {
    let insecure = backend(|s| s.insecure_skip_tls_verify = true);
    let err = insecure
        .list_versions(&package("tls:other"))
        .await
        .unwrap_err();
    // The registry answered (the package does not exist): the handshake was accepted.
    assert!(err.is_not_found(), "{err}");
}

/// The backend for the TLS registry from a config section as `wkg` 0.16 writes it.
fn backend_from_wkg_config(section: &str) -> Result<OciBackend, Error> {
    let host = registry().0.host();
    let text = format!("[registry.\"{host}\".oci]\nprotocol = \"https\"\n{section}\n");
    let config =
        registry_config::Config::from_toml_str("wkg-config.toml", &text).map_err(Error::from)?;
    let registry: registry_core::Registry = host.parse().unwrap();
    Ok(
        OciBackend::from_config(&config, &registry, &Default::default())?.with_retry_policy(
            RetryPolicy {
                retries: 0,
                base: std::time::Duration::ZERO,
            },
        ),
    )
}

#[tokio::test]
async fn wkg_0_16_extra_root_certificates_are_trusted() {
    let pem = &registry().1.ca_pem;
    let section =
        format!("extra_root_certificates = [{{ encoding = \"pem\", data = \"\"\"{pem}\"\"\" }}]");
    // The inline form, and the array of tables `wkg config` writes when it saves a file.
    let host = registry().0.host();
    let saved_by_wkg = format!(
        "[[registry.\"{host}\".oci.extra_root_certificates]]\ndata = \"\"\"\n{pem}\"\"\"\nencoding = \"pem\"\n"
    );
    for section in [section, saved_by_wkg] {
        let backend = backend_from_wkg_config(&section).unwrap();
        let err = backend
            .list_versions(&package("tls:wkg-roots"))
            .await
            .unwrap_err();
        // The handshake succeeded: the registry answered that the package does not exist.
        assert!(err.is_not_found(), "{section}: {err}");
    }
    // Without the key, the same registry is refused.
    let plain = backend_from_wkg_config("").unwrap();
    let err = plain
        .list_versions(&package("tls:wkg-roots"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not trusted"), "{err}");
}

#[tokio::test]
async fn wkg_0_16_accept_invalid_certificates_is_honoured() {
    let backend = backend_from_wkg_config("accept_invalid_certificates = true").unwrap();
    let err = backend
        .list_versions(&package("tls:wkg-insecure"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn tls_material_that_does_not_load_is_an_error_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.txt");
    std::fs::write(&not_pem, "this is not a certificate").unwrap();
    for (section, names) in [
        (
            format!("ca_file = {:?}", not_pem.display().to_string()),
            "ca_file",
        ),
        (
            "ca_pem = \"-----BEGIN CERTIFICATE-----\\n!!!\\n-----END CERTIFICATE-----\"".to_owned(),
            "ca_pem",
        ),
        (
            "extra_root_certificates = [{ encoding = \"pem\", data = \"nope\" }]".to_owned(),
            "extra_root_certificates`: entry 0",
        ),
        (
            "extra_root_certificates = [{ encoding = \"der\", data = \"nope\" }]".to_owned(),
            "extra_root_certificates`: entry 0",
        ),
    ] {
        let err = backend_from_wkg_config(&section).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{section}: {err:?}");
        let message = err.to_string();
        assert!(message.contains(names), "{section}: {message}");
    }
    // A typo in a wkg key is still refused, with the likely intended key.
    let err = backend_from_wkg_config("accept_invalid_certificate = true").unwrap_err();
    assert!(
        err.to_string()
            .contains("did you mean `accept_invalid_certificates`?"),
        "{err}"
    );
}
