//! Shared helpers.

use futures_util::TryStreamExt;
use registry_core::{Backend, ContentReader, PackageRef, PublishOptions, Release};
use registry_warg::{WargBackend, WargSettings};
use semver::Version;
use test_support::warg::{WargServer, signing_key};

/// A backend for `server` with its own storage directory, signing with key `seed`.
pub(crate) fn backend(server: &WargServer, seed: u8) -> (WargBackend, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let backend = with_settings(server, settings(seed), dir.path());
    (backend, dir)
}

/// Settings that sign with key `seed`.
pub(crate) fn settings(seed: u8) -> WargSettings {
    let mut settings = WargSettings::default();
    settings.signing_key = Some(registry_config::Secret::new(signing_key(seed)));
    settings.publish_timeout = Some(30);
    settings
}

pub(crate) fn with_settings(
    server: &WargServer,
    settings: WargSettings,
    storage: &std::path::Path,
) -> WargBackend {
    WargBackend::new(server.registry().parse().unwrap(), settings, storage).unwrap()
}

pub(crate) fn package(name: &str) -> PackageRef {
    name.parse().unwrap()
}

pub(crate) fn version(text: &str) -> Version {
    text.parse().unwrap()
}

pub(crate) fn reader(bytes: Vec<u8>) -> ContentReader {
    Box::pin(std::io::Cursor::new(bytes))
}

pub(crate) async fn publish(
    backend: &WargBackend,
    name: &str,
    ver: &str,
    bytes: &[u8],
) -> Result<Release, registry_core::Error> {
    backend
        .publish(
            &package(name),
            &version(ver),
            reader(bytes.to_vec()),
            &PublishOptions::default(),
        )
        .await
}

pub(crate) async fn fetch(
    backend: &WargBackend,
    name: &str,
    release: &Release,
) -> Result<Vec<u8>, registry_core::Error> {
    let stream = backend.fetch_verified(&package(name), release).await?;
    let chunks: Vec<_> = stream.try_collect().await?;
    Ok(chunks.concat())
}

/// `(version, yanked)` pairs as listed.
pub(crate) async fn listed(backend: &WargBackend, name: &str) -> Vec<(String, bool)> {
    backend
        .list_versions(&package(name))
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.version.to_string(), v.yanked))
        .collect()
}
