//! Bundles for sites without a network: package releases written into an OCI image layout
//! (`export`), pushed from one into a registry (`import`), or read as a registry in place
//! (`[registry."<name>".oci-layout] path = "..."`, usually as a mirror).
//!
//! A bundle's blobs are content-addressed and every byte read from one is checked against
//! its digest (the lock file's, when there is one), so a bundle needs no trust.
//!
//! Signatures travel with the releases: each release keeps the container (OCI manifest)
//! its registry stores, byte for byte, since signers sign that manifest's digest, and the
//! Sigstore bundles attached to it go along as its referrers, in the layout and on into the
//! registry an import publishes to. A release whose registry keeps no container (warg, a
//! directory) gets one made for it, and carries no signature.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use registry_core::{
    Backend, Container, ContentDigest, Error, PackageRef, PublishOptions, Registry, Release,
    Version,
};
use registry_oci::{LayoutBackend, LayoutWriter};
use serde::Serialize;

use crate::{Client, LockFile, Route};

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
    /// How many Sigstore bundles the release carries: put in the bundle (export), or
    /// attached in the registry (import).
    pub signatures: usize,
}

/// Writes the releases `requests` name into the OCI image layout `dir` (created, or added
/// to), each fetched through the verified cache, in the container its registry keeps with
/// the Sigstore bundles attached to it (from the route's sources: the first container with
/// signatures, else the first container), and its `index.json` last.
///
/// # Errors
/// The first release that cannot be resolved or fetched (nothing is added to the index
/// then); [`Error::Io`] writing the layout.
pub async fn export(
    client: &Client,
    requests: &[BundleRequest],
    dir: &Path,
) -> Result<Vec<Bundled>, Error> {
    let opened = dir.to_owned();
    let mut writer = blocking(move || LayoutWriter::open(opened)).await?;
    let mut bundled = Vec::with_capacity(requests.len());
    let mut signed = Vec::new();
    for request in requests {
        let route = client
            .route_via(&request.package, request.registry.as_ref())
            .await?;
        let release = match request.digest {
            Some(digest) => Release::new(request.version.clone(), digest),
            None => route.release(&request.version).await?,
        };
        let content = route.fetch_open(&release).await?;
        let (container, signatures) = carried(&route, &release).await;
        let path = content.path().to_owned();
        let (package, version, digest) = (
            request.package.clone(),
            request.version.clone(),
            release.digest,
        );
        writer = blocking(move || {
            match &container {
                Some(container) => {
                    writer.add_container(&package, &version, container, &path, &digest)?
                }
                None => writer.add(&package, &version, &path, &digest)?,
            };
            drop(content);
            Ok(writer)
        })
        .await?;
        bundled.push(Bundled {
            package: request.package.clone(),
            version: request.version.clone(),
            digest: release.digest,
            action: "added",
            signatures: signatures.len(),
        });
        if !signatures.is_empty() {
            signed.push((request.package.clone(), release, signatures));
        }
    }
    blocking(move || writer.finish()).await?;
    if !signed.is_empty() {
        let layout = open_layout(dir).await?;
        for (package, release, signatures) in signed {
            for json in signatures {
                layout.attach(&package, &release, json).await?;
            }
        }
    }
    Ok(bundled)
}

/// The container `release` is in and the Sigstore bundles attached to it, from the route's
/// sources in order (its mirrors, then its registry): the first container with signatures
/// (with every source's bundles for that same manifest), else the first container, else
/// none (the release gets a container of the layout's making, and no signature). A source
/// that cannot be asked is passed over.
async fn carried(route: &Route, release: &Release) -> (Option<Container>, Vec<Bytes>) {
    let mut chosen: Option<(Container, Vec<Bytes>)> = None;
    for registry in route.sources() {
        let Some(backend) = source_backend(route, registry).await else {
            continue;
        };
        let package = route.package();
        let container = match backend.container(package, release).await {
            Ok(Some(container)) => container,
            Ok(None) => continue,
            Err(err) => {
                tracing::debug!(%package, %registry, "no container to copy from here: {err}");
                continue;
            }
        };
        let bundles = match backend.attestations(package, release).await {
            Ok(Some(found)) if found.subject == container.digest => found.bundles,
            Ok(_) => Vec::new(),
            Err(err) => {
                tracing::debug!(%package, %registry, "signatures not read here: {err}");
                Vec::new()
            }
        };
        let bundles = bundles.into_iter().map(|b| b.json);
        match &mut chosen {
            None => chosen = Some((container, bundles.collect())),
            Some((kept, signatures)) if kept.digest == container.digest => {
                for json in bundles {
                    if !signatures.contains(&json) {
                        signatures.push(json);
                    }
                }
            }
            Some((_, signatures)) if signatures.is_empty() => {
                let bundles: Vec<Bytes> = bundles.collect();
                if !bundles.is_empty() {
                    chosen = Some((container, bundles));
                }
            }
            Some(_) => {}
        }
    }
    match chosen {
        Some((container, signatures)) => (Some(container), signatures),
        None => (None, Vec::new()),
    }
}

/// The backend `route` reads `registry` (one of its sources) with: the route's own for its
/// registry, else the registry's as a route of its own would have it.
async fn source_backend(route: &Route, registry: &Registry) -> Option<std::sync::Arc<dyn Backend>> {
    if registry == route.registry() {
        return Some(route.backend().clone());
    }
    match route.client().route_to(route.package(), registry).await {
        Ok(mirror) => Some(mirror.backend().clone()),
        Err(err) => {
            tracing::debug!(package = %route.package(), %registry, "mirror not asked: {err}");
            None
        }
    }
}

/// Publishes every release of the bundle in `dir` to its package's registry (or
/// `registry`) in the container the bundle holds it in, and attaches the signatures the
/// bundle holds for it. A release already there with the same digest is left alone (its
/// signatures are attached when the registry holds the same manifest); one there with other
/// bytes is an error naming both digests.
///
/// # Errors
/// As for [`LayoutBackend::open`]; the first release that cannot be published, or whose
/// signatures cannot be attached.
pub async fn import(
    client: &Client,
    dir: &Path,
    registry: Option<&Registry>,
) -> Result<Vec<Bundled>, Error> {
    let bundle = open_layout(dir).await?;
    let mut imported = Vec::new();
    for entry in bundle.entries() {
        let (package, version) = (&entry.package, &entry.version);
        let release = bundle.get_release(package, version).await?;
        let container = bundle.container(package, &release).await?;
        let signatures = match bundle.attestations(package, &release).await? {
            Some(found) => found.bundles,
            None => Vec::new(),
        };
        let route = client.route_via(package, registry).await?;
        let action = match route.release(version).await {
            Ok(there) if there.digest == release.digest => "already-there",
            Ok(there) => {
                return Err(Error::DigestMismatch {
                    subject: format!(
                        "{package}@{version} is in registry `{}` with other bytes than in the \
                         bundle {}; it was not replaced",
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
                match &container {
                    Some(container) => {
                        let target = route.backend();
                        let published = target
                            .publish_container(
                                package,
                                version,
                                container,
                                Box::pin(file),
                                &options,
                            )
                            .await;
                        // As `Route::publish` does: the stored version list is out of date.
                        client.cache().forget_versions(route.registry(), package);
                        published?
                    }
                    None => route.publish(version, Box::pin(file), &options).await?,
                };
                "published"
            }
            Err(err) => return Err(err),
        };
        let manifest = container.as_ref().map(|c| c.digest);
        let signatures = match (manifest, signatures.is_empty()) {
            (Some(manifest), false) => attach_all(&route, &release, manifest, signatures).await?,
            _ => 0,
        };
        imported.push(Bundled {
            package: package.clone(),
            version: version.clone(),
            digest: release.digest,
            action,
            signatures,
        });
    }
    Ok(imported)
}

/// Attaches `signatures` (bundles signing `manifest`) to `release` in `route`'s registry
/// unless it holds them already; how many it holds now. None when the registry stores no
/// signatures, or holds the release in another manifest than the one they sign (each
/// logged).
async fn attach_all(
    route: &Route,
    release: &Release,
    manifest: ContentDigest,
    signatures: Vec<registry_core::provenance::AttachedBundle>,
) -> Result<usize, Error> {
    let (package, target) = (route.package(), route.backend());
    let there = match target.attestations(package, release).await? {
        Some(found) if found.subject == manifest => found.bundles,
        Some(found) => {
            tracing::warn!(
                "{package}@{} is in registry `{}` in the manifest {}, not in the bundle's {manifest}, \
                 which its {} signature(s) sign; they were not attached",
                release.version,
                route.registry(),
                found.subject,
                signatures.len()
            );
            return Ok(0);
        }
        None => {
            tracing::warn!(
                "registry `{}` stores no signatures; the {} of {package}@{} were not attached",
                route.registry(),
                signatures.len(),
                release.version
            );
            return Ok(0);
        }
    };
    for bundle in &signatures {
        if !there.iter().any(|b| b.json == bundle.json) {
            target.attach(package, release, bundle.json.clone()).await?;
        }
    }
    Ok(signatures.len())
}

/// The layout in `dir`, read as a registry.
async fn open_layout(dir: &Path) -> Result<LayoutBackend, Error> {
    let dir: PathBuf = dir.to_owned();
    blocking(move || LayoutBackend::open("bundle.invalid".parse().expect("a valid name"), dir))
        .await
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
