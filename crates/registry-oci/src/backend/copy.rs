//! [`OciBackend::copy_out`]: a release's container read whole (its manifest as served and
//! every blob it names beside the content), so that a copy keeps the manifest's digest and
//! the signatures naming it; `Backend::publish_container` writes one back
//! ([`crate::publish::publish_container`]).

use bytes::Bytes;
use registry_core::{Container, ContentDigest, Error, PackageRef, Release, Version};

use super::OciBackend;
use crate::container::{BLOB_MAX_BYTES, beside};
use crate::sigstore::Found;

impl OciBackend {
    /// `release`'s container: the manifest [`attestations`] reads, and each blob it names
    /// beside the content; `None` when one of them is over [`BLOB_MAX_BYTES`].
    ///
    /// [`attestations`]: registry_core::Backend::attestations
    pub(super) async fn copy_out(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<Option<Container>, Error> {
        let manifest = self.release_manifest(package, release).await?;
        let what = format!(
            "the manifest of {package}@{} from {}",
            release.version, self.registry
        );
        let (media_type, named) = beside(&manifest, &release.digest, &what)
            .map_err(|message| Error::registry(&self.registry, message))?;
        let mut container = Container::new(media_type, manifest);
        for blob in named {
            let what = format!("the blob {} of {package}@{}", blob.digest, release.version);
            if let Err(why) = blob.within(BLOB_MAX_BYTES, &what) {
                tracing::debug!(%package, "{why}: the container is not copied whole");
                return Ok(None);
            }
            let bytes = self
                .small_blob(package, &release.version, &blob, BLOB_MAX_BYTES, &what)
                .await?;
            container.blobs.push((blob.digest, bytes));
        }
        Ok(Some(container))
    }

    /// The blob `blob` of `package`'s repository, refused before it is read when it
    /// declares more than `cap` bytes, read with `cap` as its cap and checked against its
    /// digest; `what` names it in errors.
    pub(super) async fn small_blob(
        &self,
        package: &PackageRef,
        version: &Version,
        blob: &Found,
        cap: usize,
        what: &str,
    ) -> Result<Bytes, Error> {
        let repository = self.repository(package).path;
        blob.within(cap, what)
            .map_err(|message| Error::registry(&self.registry, message))?;
        let (_, bytes) = self
            .reader
            .get(
                &format!("/v2/{repository}/blobs/{}", blob.digest),
                &repository,
                &[],
                cap,
                what,
            )
            .await
            .map_err(|err| self.map_read(err, package, Some(version)))?;
        let actual = ContentDigest::sha256(&bytes);
        if actual != blob.digest {
            return Err(Error::DigestMismatch {
                subject: format!("{what} from {}", self.registry),
                expected: blob.digest,
                actual,
            });
        }
        Ok(bytes)
    }
}
