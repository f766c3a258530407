//! The trait every registry protocol implements.

use std::fmt;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_core::Stream;
use semver::Version;
use tokio::io::AsyncRead;

use crate::{ContentDigest, Error, PackageRef, Release, VerifyingStream, VersionInfo};

/// Content as it arrives: a stream of chunks, each of which may fail.
pub type ContentStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send + 'static>>;

/// Content to publish, read once from start to end.
pub type ContentReader = Pin<Box<dyn AsyncRead + Send + 'static>>;

/// What the publisher knows about the content, and what it allows.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct PublishOptions {
    /// The content's size in bytes, when known in advance (lets a backend announce it, or
    /// refuse a mismatch).
    pub size: Option<u64>,
    /// The content's digest, when known in advance. A backend that needs the digest before
    /// the upload can then avoid reading the content twice; it still checks it.
    pub digest: Option<ContentDigest>,
    /// Replace a release of the same version if the registry has one. Off by default:
    /// publishing an existing version is an error.
    pub allow_overwrite: bool,
    /// Package metadata (description, authors, licenses, ...) that wins over what the
    /// content's own metadata sections say, e.g. from a `wkg.toml` `[metadata]` table. A
    /// backend that records metadata (OCI, as annotations) records it.
    pub metadata: Vec<(crate::metadata::MetadataField, String)>,
    /// The file the content is read from, when it is one, unchanged while it is published.
    /// A backend that reads the content more than once (OCI: its metadata, then the upload)
    /// may read this file in place, with the declared [`size`](Self::size) and
    /// [`digest`](Self::digest), instead of copying the reader to a temporary file; it
    /// hashes what it sends and publishes nothing when that is not the declared digest.
    pub file: Option<std::path::PathBuf>,
}

impl PublishOptions {
    /// Sets the known size.
    pub fn with_size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    /// Sets the known digest.
    pub fn with_digest(mut self, digest: ContentDigest) -> Self {
        self.digest = Some(digest);
        self
    }

    /// Sets metadata that wins over the content's own.
    pub fn with_metadata(
        mut self,
        metadata: Vec<(crate::metadata::MetadataField, String)>,
    ) -> Self {
        self.metadata = metadata;
        self
    }

    /// Names the file the content is read from ([`file`](Self::file)).
    pub fn with_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Allows replacing an existing release.
    pub fn with_allow_overwrite(mut self, allow: bool) -> Self {
        self.allow_overwrite = allow;
        self
    }
}

/// One registry, spoken to in one protocol (OCI, warg, a local directory, ...).
///
/// A backend is built once per registry by the client and shared between tasks, so it is
/// `Send + Sync`, and it is object-safe so the client can hold `Box<dyn Backend>`.
///
/// Backends report problems with the shared [`Error`]: the variants below are the ones a
/// caller can act on, and every backend must use them for those cases rather than a generic
/// [`Error::Registry`]. Messages never contain credentials.
#[async_trait]
pub trait Backend: Send + Sync + fmt::Debug {
    /// Lists the versions of `package` the registry has, with their yanked state.
    ///
    /// # Contract
    /// The list reflects the registry now, not a stale local copy. It is sorted by version,
    /// lowest first, holds each version once, and includes yanked versions (marked). Entries
    /// the registry holds that are not semantic versions are left out.
    ///
    /// # Errors
    /// [`Error::PackageNotFound`] when the registry does not know the package;
    /// [`Error::Unauthorized`] when it refuses access; [`Error::Registry`] for transport and
    /// protocol failures.
    async fn list_versions(&self, package: &PackageRef) -> Result<Vec<VersionInfo>, Error>;

    /// Describes the release of `package` at exactly `version`.
    ///
    /// # Contract
    /// The returned release has the same version and the digest the registry declares for
    /// its content; its size is set when the registry declares one. A yanked version can
    /// still be described (a lock file may pin it).
    ///
    /// # Errors
    /// [`Error::PackageNotFound`], [`Error::VersionNotFound`] (with the version as the
    /// requirement), [`Error::Unauthorized`], [`Error::Registry`].
    async fn get_release(&self, package: &PackageRef, version: &Version) -> Result<Release, Error>;

    /// Whether this registry can mark versions yanked. When it cannot (OCI), a lock file's
    /// pins are used without listing versions first, saving a round trip per package.
    fn tracks_yanks(&self) -> bool {
        false
    }

    /// Streams the content of `release`, as the registry serves it.
    ///
    /// # Contract
    /// The stream yields the content's bytes in order, in chunks of any size, without
    /// holding the whole content in memory. A backend does not have to verify the bytes:
    /// callers must, which [`fetch_verified`](Self::fetch_verified) does. A backend that does
    /// verify reports a mismatch as [`Error::DigestMismatch`] or [`Error::SizeMismatch`].
    ///
    /// # Errors
    /// As for [`get_release`](Self::get_release), either from this call or as an item of
    /// the stream when the failure happens mid-transfer.
    async fn fetch_content(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<ContentStream, Error>;

    /// Streams the content of `release`, verified against its digest and size.
    ///
    /// The last item is an error if the bytes do not match; see [`VerifyingStream`]. Do not
    /// override this.
    async fn fetch_verified(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<ContentStream, Error> {
        let inner = self.fetch_content(package, release).await?;
        let subject = format!("{package}@{}", release.version);
        Ok(Box::pin(VerifyingStream::new(
            inner,
            release.digest,
            release.size,
            subject,
        )))
    }

    /// Finds the signatures attached to `release`: the container its content is in and
    /// every Sigstore bundle attached to that container.
    ///
    /// # Contract
    /// `Ok(None)` means this registry does not store signatures (warg, a local directory):
    /// a policy that requires one then refuses the release. `Ok(Some(_))` with no bundle
    /// means the registry could hold some and holds none. The returned manifest hashes to
    /// [`Attestations::subject`](crate::provenance::Attestations) and the backend has
    /// checked that it holds `release.digest`. Bundles are returned unverified: verifying
    /// them is the caller's job. Each bundle is bounded in size.
    ///
    /// # Errors
    /// As for [`get_release`](Self::get_release); [`Error::DigestMismatch`] when the
    /// container does not hold the release's content.
    async fn attestations(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<Option<crate::provenance::Attestations>, Error> {
        let _ = (package, release);
        Ok(None)
    }

    /// Attaches a Sigstore bundle to `release` (a referrer of its container), so that
    /// [`attestations`](Self::attestations) finds it. Returns where it was stored.
    ///
    /// # Errors
    /// [`Error::Unsupported`] from a backend that cannot store signatures (the default);
    /// [`Error::Unauthorized`], [`Error::Registry`] as for [`publish`](Self::publish).
    async fn attach(
        &self,
        package: &PackageRef,
        release: &Release,
        bundle: Bytes,
    ) -> Result<String, Error> {
        let _ = (release, bundle);
        Err(Error::Unsupported {
            registry: None,
            package: package.clone(),
            what: "this registry cannot store signatures; sign releases on an OCI registry".into(),
        })
    }

    /// The container `release`'s content is in, whole, to copy the release without
    /// changing the digest its signatures name (see [`Container`](crate::Container)).
    ///
    /// # Contract
    /// `Ok(None)` when this registry keeps no container a copy could keep (warg, a
    /// directory: the default) or this release's is not copied whole (a blob beside the
    /// content is too large); the caller then makes its own. The manifest is the one
    /// [`attestations`](Self::attestations) returns, checked to hold `release.digest`; each
    /// blob is bounded in size and checked against its digest.
    ///
    /// # Errors
    /// As for [`attestations`](Self::attestations).
    async fn container(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<Option<crate::Container>, Error> {
        let _ = (package, release);
        Ok(None)
    }

    /// Publishes `content` as `version` of `package` in `container` as it is: its blobs,
    /// the content, then its manifest's bytes, unchanged, so the release keeps the
    /// container's digest and the signatures that name it.
    ///
    /// # Contract
    /// As for [`publish`](Self::publish); the content must be the one layer of the
    /// manifest that is a Wasm package. A backend that keeps no containers publishes the
    /// content as [`publish`](Self::publish) does (the default).
    ///
    /// # Errors
    /// As for [`publish`](Self::publish); [`Error::InvalidInput`] for content or blobs the
    /// manifest does not name.
    async fn publish_container(
        &self,
        package: &PackageRef,
        version: &Version,
        container: &crate::Container,
        content: ContentReader,
        options: &PublishOptions,
    ) -> Result<Release, Error> {
        let _ = container;
        self.publish(package, version, content, options).await
    }

    /// Publishes `content` as `version` of `package`, reading it once.
    ///
    /// # Contract
    /// Returns the release as the registry now lists it, with the digest of the bytes read.
    /// Content is streamed, not held in memory. The registry is not left with a half-written
    /// release: either the version is published whole, or it is not listed. Publishing a
    /// version that exists is refused unless `options.allow_overwrite` is set. When
    /// `options` declares a size or digest, content that does not match is refused.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the version exists and overwriting is not allowed, or
    /// the content does not match `options`; [`Error::Unauthorized`] when the registry
    /// refuses the publisher; [`Error::Io`] when reading `content` fails;
    /// [`Error::Registry`] for the rest.
    async fn publish(
        &self,
        package: &PackageRef,
        version: &Version,
        content: ContentReader,
        options: &PublishOptions,
    ) -> Result<Release, Error>;
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use futures::executor::block_on;
    use futures::{StreamExt, stream};
    use tokio::io::AsyncReadExt as _;

    use super::*;
    use crate::Registry;

    /// A backend over a map, to show the trait is object-safe and that `fetch_verified`
    /// catches a backend that serves the wrong bytes.
    #[derive(Debug, Default)]
    struct MapBackend {
        releases: Mutex<BTreeMap<(PackageRef, Version), Vec<u8>>>,
        serve_instead: Option<Vec<u8>>,
    }

    fn registry() -> Registry {
        "example.com".parse().unwrap()
    }

    #[async_trait]
    impl Backend for MapBackend {
        async fn list_versions(&self, package: &PackageRef) -> Result<Vec<VersionInfo>, Error> {
            let releases = self.releases.lock().unwrap();
            let versions: Vec<_> = releases
                .keys()
                .filter(|(p, _)| p == package)
                .map(|(_, v)| VersionInfo::new(v.clone()))
                .collect();
            if versions.is_empty() {
                return Err(Error::PackageNotFound {
                    registry: registry(),
                    package: package.clone(),
                });
            }
            Ok(versions)
        }

        async fn get_release(
            &self,
            package: &PackageRef,
            version: &Version,
        ) -> Result<Release, Error> {
            let releases = self.releases.lock().unwrap();
            let bytes = releases
                .get(&(package.clone(), version.clone()))
                .ok_or_else(|| Error::VersionNotFound {
                    registry: registry(),
                    package: package.clone(),
                    requirement: version.to_string(),
                    newest: None,
                })?;
            Ok(Release::new(version.clone(), ContentDigest::sha256(bytes))
                .with_size(bytes.len() as u64))
        }

        async fn fetch_content(
            &self,
            package: &PackageRef,
            release: &Release,
        ) -> Result<ContentStream, Error> {
            let bytes = match &self.serve_instead {
                Some(other) => other.clone(),
                None => self.releases.lock().unwrap()[&(package.clone(), release.version.clone())]
                    .clone(),
            };
            Ok(Box::pin(stream::iter([Ok(Bytes::from(bytes))])))
        }

        async fn publish(
            &self,
            package: &PackageRef,
            version: &Version,
            mut content: ContentReader,
            _options: &PublishOptions,
        ) -> Result<Release, Error> {
            let mut bytes = Vec::new();
            content
                .read_to_end(&mut bytes)
                .await
                .map_err(|source| Error::Io { path: None, source })?;
            let release = Release::new(version.clone(), ContentDigest::sha256(&bytes))
                .with_size(bytes.len() as u64);
            self.releases
                .lock()
                .unwrap()
                .insert((package.clone(), version.clone()), bytes);
            Ok(release)
        }
    }

    fn read_all(stream: ContentStream) -> Result<Vec<u8>, Error> {
        block_on(stream.collect::<Vec<_>>())
            .into_iter()
            .try_fold(Vec::new(), |mut acc, chunk| {
                acc.extend_from_slice(&chunk?);
                Ok(acc)
            })
    }

    #[test]
    fn a_dyn_backend_publishes_lists_and_fetches() {
        let backend: Box<dyn Backend> = Box::new(MapBackend::default());
        let pkg: PackageRef = "acme:widget".parse().unwrap();
        let version = Version::new(1, 0, 0);
        let content: &'static [u8] = b"\0asm fake component";
        let release = block_on(backend.publish(
            &pkg,
            &version,
            Box::pin(content),
            &PublishOptions::default(),
        ))
        .unwrap();
        assert_eq!(release.digest, ContentDigest::sha256(content));

        let versions = block_on(backend.list_versions(&pkg)).unwrap();
        assert_eq!(versions, vec![VersionInfo::new(version.clone())]);
        let got = block_on(backend.get_release(&pkg, &version)).unwrap();
        assert_eq!(got, release);
        let bytes = read_all(block_on(backend.fetch_verified(&pkg, &got)).unwrap()).unwrap();
        assert_eq!(bytes, content);

        let missing = block_on(backend.get_release(&pkg, &Version::new(2, 0, 0))).unwrap_err();
        assert!(missing.is_not_found());
        assert_eq!(
            missing.to_string(),
            "package `acme:widget` has no release matching `2.0.0` in registry `example.com`"
        );
    }

    #[test]
    fn fetch_verified_rejects_bytes_that_do_not_match() {
        let backend = MapBackend {
            serve_instead: Some(b"\0asm tampered!!!!!!".to_vec()),
            ..MapBackend::default()
        };
        let pkg: PackageRef = "acme:widget".parse().unwrap();
        let version = Version::new(1, 0, 0);
        let content: &'static [u8] = b"\0asm fake component";
        block_on(backend.publish(
            &pkg,
            &version,
            Box::pin(content),
            &PublishOptions::default(),
        ))
        .unwrap();
        let release = block_on(backend.get_release(&pkg, &version)).unwrap();
        let err = read_all(block_on(backend.fetch_verified(&pkg, &release)).unwrap()).unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("acme:widget@1.0.0: content digest mismatch")
        );
    }
}
