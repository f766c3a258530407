//! A warg registry behind a private CA: warg-client's own HTTP client trusts the public
//! roots only, so its requests go through our relay, which trusts what the section says.

use registry_core::{Backend as _, Error};
use registry_warg::{WargBackend, WargSettings};
use test_support::component;
use test_support::tls::{TestCa, TlsTerminator};
use test_support::warg::WargServer;

use crate::support::{fetch, listed, publish, settings};

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_behind_a_private_ca_is_used_with_its_ca_file() {
    let server = WargServer::start();
    let ca = TestCa::new();
    let tls = TlsTerminator::start(&ca, server.registry().parse().unwrap())
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!("https://localhost:{}", tls.addr().port());
    let registry: registry_core::Registry =
        format!("localhost:{}", tls.addr().port()).parse().unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Without the CA: refused, naming the certificate problem.
    let mut untrusting = settings(1);
    untrusting.url = Some(url.clone());
    untrusting.connect_timeout = Some(5);
    let backend = WargBackend::new(registry.clone(), untrusting, dir.path().join("a")).unwrap();
    let err = backend
        .list_versions(&"test:tls".parse().unwrap())
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(matches!(err, Error::Registry { .. }), "{err:?}");
    assert!(text.to_lowercase().contains("certificate"), "{text}");

    // With it, from a file: publish, list and fetch, all over TLS.
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let mut trusting: WargSettings = settings(1);
    trusting.url = Some(url.clone());
    trusting.ca_file = Some(ca_file);
    let backend = WargBackend::new(registry.clone(), trusting, dir.path().join("b")).unwrap();
    let bytes = component::small("over tls");
    let release = publish(&backend, "test:tls", "1.0.0", &bytes)
        .await
        .unwrap();
    assert_eq!(
        listed(&backend, "test:tls").await,
        [("1.0.0".to_owned(), false)]
    );

    // Another client (inline PEM this time) fetches the content through the relay.
    let mut inline = settings(2);
    inline.url = Some(url.clone());
    inline.ca_pem = Some(ca.ca_pem.clone());
    let reader = WargBackend::new(registry.clone(), inline, dir.path().join("c")).unwrap();
    assert_eq!(fetch(&reader, "test:tls", &release).await.unwrap(), bytes);

    // And one with the OCI section's form, `extra_root_certificates`.
    let mut listed_roots = settings(3);
    listed_roots.url = Some(url);
    listed_roots.extra_root_certificates = vec![registry_transport::InlineCertificate {
        encoding: registry_transport::CertificateEncoding::Pem,
        data: ca.ca_pem.clone(),
    }];
    let reader = WargBackend::new(registry, listed_roots, dir.path().join("d")).unwrap();
    assert_eq!(fetch(&reader, "test:tls", &release).await.unwrap(), bytes);
}
