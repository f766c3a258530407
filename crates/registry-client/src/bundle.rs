//! Bundles for sites without a network: package releases written into an OCI image layout
//! (`export`), pushed from one into a registry (`import`), or read as a registry in place
//! (`[registry."<name>".oci-layout] path = "..."`, usually as a mirror).
//!
//! A bundle's blobs are content-addressed and every byte read from one is checked against
//! its digest (the lock file's, when there is one), so a bundle needs no trust.

use std::path::{Path, PathBuf};

use registry_core::{ContentDigest, Error, PackageRef, PublishOptions, Registry, Version};
use registry_oci::{LayoutBackend, LayoutWriter};
use serde::Serialize;

use crate::{Client, LockFile};

/// One release to put in a bundle: from its lock file pin (digest known) or named.
#[derive(Clone, Debug)]
pub struct BundleRequest {
    /// The package.
    pub package: PackageRef,
    /// The release.
    pub version: Version,
    /// The registry to read it from (the configured one when `None`).
    pub registry: Option<Registry>,
    /// The digest it must have (a lock file pin), when known.
    pub digest: Option<ContentDigest>,
}

impl BundleRequest {
    /// Every release `lock` pins, once each.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a pin whose registry name is not valid.
    pub fn from_lock(lock: &LockFile) -> Result<Vec<Self>, Error> {
        let mut requests: Vec<Self> = Vec::new();
        for package in &lock.packages {
            let registry = package.registry_name()?;
            for pin in &package.versions {
                if !requests
                    .iter()
                    .any(|r| r.package == package.name && r.version == pin.version)
                {
                    requests.push(Self {
                        package: package.name.clone(),
                        version: pin.version.clone(),
                        registry: registry.clone(),
                        digest: Some(pin.digest),
                    });
                }
            }
        }
        Ok(requests)
    }
}

/// One release in a bundle.
#[derive(Clone, Debug, Serialize)]
pub struct Bundled {
    /// The package.
    pub package: PackageRef,
    /// The release.
    pub version: Version,
    /// The content's digest.
    pub digest: ContentDigest,
    /// What happened: `added` (export), `published` or `already-there` (import).
    pub action: &'static str,
}

/// Writes the releases `requests` name into the OCI image layout `dir` (created, or added
/// to), each fetched through the verified cache, and its `index.json` last.
///
/// # Errors
/// The first release that cannot be resolved or fetched (nothing is added to the index
/// then); [`Error::Io`] writing the layout.
pub async fn export(
    client: &Client,
    requests: &[BundleRequest],
    dir: &Path,
) -> Result<Vec<Bundled>, Error> {
    let dir = dir.to_owned();
    let mut writer = blocking(move || LayoutWriter::open(dir)).await?;
    let mut bundled = Vec::with_capacity(requests.len());
    for request in requests {
        let route = client
            .route_via(&request.package, request.registry.as_ref())
            .await?;
        let release = match request.digest {
            Some(digest) => registry_core::Release::new(request.version.clone(), digest),
            None => route.release(&request.version).await?,
        };
        let content = route.fetch_open(&release).await?;
        let path = content.path().to_owned();
        let (package, version, digest) = (
            request.package.clone(),
            request.version.clone(),
            release.digest,
        );
        writer = blocking(move || {
            writer.add(&package, &version, &path, &digest)?;
            drop(content);
            Ok(writer)
        })
        .await?;
        bundled.push(Bundled {
            package: request.package.clone(),
            version: request.version.clone(),
            digest: release.digest,
            action: "added",
        });
    }
    blocking(move || writer.finish()).await?;
    Ok(bundled)
}

/// Publishes every release of the bundle in `dir` to its package's registry (or
/// `registry`). A release already there with the same digest is left alone; one there with
/// other bytes is an error naming both digests.
///
/// # Errors
/// As for [`LayoutBackend::open`]; the first release that cannot be published.
pub async fn import(
    client: &Client,
    dir: &Path,
    registry: Option<&Registry>,
) -> Result<Vec<Bundled>, Error> {
    let source_dir: PathBuf = dir.to_owned();
    let bundle = blocking(move || {
        LayoutBackend::open("bundle.invalid".parse().expect("a valid name"), source_dir)
    })
    .await?;
    let mut imported = Vec::new();
    for entry in bundle.entries() {
        let release =
            registry_core::Backend::get_release(&bundle, &entry.package, &entry.version).await?;
        let route = client.route_via(&entry.package, registry).await?;
        let action = match route.release(&entry.version).await {
            Ok(there) if there.digest == release.digest => "already-there",
            Ok(there) => {
                return Err(Error::DigestMismatch {
                    subject: format!(
                        "{}@{} is in registry `{}` with other bytes than in the bundle {}; \
                         it was not replaced",
                        entry.package,
                        entry.version,
                        route.registry(),
                        dir.display()
                    ),
                    expected: release.digest,
                    actual: there.digest,
                });
            }
            Err(err) if err.is_not_found() => {
                let blob = bundle.blob(&release.digest);
                let file = tokio::fs::File::open(&blob)
                    .await
                    .map_err(|err| Error::io(&blob, err))?;
                let mut options = PublishOptions::default();
                options.digest = Some(release.digest);
                options.size = release.size;
                route
                    .publish(&entry.version, Box::pin(file), &options)
                    .await?;
                "published"
            }
            Err(err) => return Err(err),
        };
        imported.push(Bundled {
            package: entry.package.clone(),
            version: entry.version.clone(),
            digest: release.digest,
            action,
        });
    }
    Ok(imported)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| Error::Io {
            path: None,
            source: std::io::Error::other(err),
        })?
}
