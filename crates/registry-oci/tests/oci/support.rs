//! A backend for the shared registry, and helpers.

use futures_util::StreamExt as _;
use registry_core::{Backend, ContentStream, Error, PackageRef, PublishOptions, Release, Version};
use registry_oci::{OciBackend, OciSettings};
use test_support::Distribution;

pub(crate) fn registry() -> &'static Distribution {
    Distribution::shared()
}

/// A backend for a wiremock registry, retrying quickly (2 retries, 10 ms apart at first).
pub(crate) fn mock_backend(server: &wiremock::MockServer, settings: OciSettings) -> OciBackend {
    OciBackend::new(server.address().to_string().parse().unwrap(), settings)
        .unwrap()
        .with_retry_policy(registry_oci::RetryPolicy {
            retries: 2,
            base: std::time::Duration::from_millis(10),
        })
}

/// A backend for the shared registry, with default settings (loopback: plain HTTP).
pub(crate) fn backend() -> OciBackend {
    OciBackend::new(registry().host().parse().unwrap(), OciSettings::default()).unwrap()
}

pub(crate) fn package(name: &str) -> PackageRef {
    name.parse().unwrap()
}

pub(crate) fn version(v: &str) -> Version {
    Version::parse(v).unwrap()
}

pub(crate) async fn publish(
    backend: &OciBackend,
    package: &PackageRef,
    version: &Version,
    bytes: Vec<u8>,
) -> Result<Release, Error> {
    backend
        .publish(
            package,
            version,
            Box::pin(std::io::Cursor::new(bytes)),
            &PublishOptions::default(),
        )
        .await
}

/// The versions `backend` lists for `package`, as text, in its order.
pub(crate) async fn version_names(backend: &OciBackend, package: &PackageRef) -> Vec<String> {
    backend
        .list_versions(package)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version.to_string())
        .collect()
}

pub(crate) async fn read_all(mut stream: ContentStream) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// The size of the manifest stored under `reference`.
pub(crate) fn manifest_size(
    addr: std::net::SocketAddr,
    repository: &str,
    reference: &str,
) -> usize {
    let response = test_support::http::request(
        addr,
        "GET",
        &format!("/v2/{repository}/manifests/{reference}"),
        &[("Accept", registry_oci::manifest::OCI_MANIFEST)],
        &[],
    )
    .unwrap();
    assert_eq!(response.status, 200);
    response.body.len()
}

/// A writer that keeps what is written, for a log subscriber.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged, at every level of every crate, while `session` runs on a runtime of
/// this thread.
pub(crate) fn logs_of<F: std::future::Future<Output = ()>>(session: impl FnOnce() -> F) -> String {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        // Interest in each log site is cached for all threads; another test's thread can
        // cache "no one listens" while this subscriber is being set, and then the session
        // would be logged in part. Asked again now that it is set.
        tracing::callsite::rebuild_interest_cache();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(session());
    });
    String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
}
