//! [`OciBackend::attach_bundle`]: a Sigstore bundle attached to a release's manifest as
//! cosign 3 and sigstore-js attach it, so that [`find_attestations`] finds it, here or with
//! their tools.
//!
//! A bundle attached already (the same bytes) is not attached again: its referrer is
//! returned. Otherwise the empty config and the bundle are pushed as blobs, then the referrer manifest by its
//! digest (never under a tag). A registry that indexes referrers says so with an
//! `OCI-Subject` header on that answer; for one that does not, the referrer is added to the
//! subject's referrers tag (`sha256-<hex>`, an OCI index), whose other entries are kept,
//! sent back with `If-Match` when the registry gave an `ETag`, and read again if another
//! writer changed it meanwhile.
//!
//! [`find_attestations`]: OciBackend::find_attestations

use bytes::Bytes;
use oci_client::secrets::RegistryAuth;
use registry_core::{ContentDigest, Error, PackageRef, Release};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, HeaderMap, HeaderValue, IF_MATCH};

use super::OciBackend;
use crate::manifest::{OCI_INDEX, OCI_MANIFEST};
use crate::publish::blob_exists;
use crate::sigstore::{Attaching, EMPTY_BLOB, Subject, check_bundle, index_entry, with_entry};

/// How many times the referrers tag is read and written again when another writer changed
/// it between our read and our write.
const TAG_ATTEMPTS: usize = 3;

impl OciBackend {
    /// Attaches `bundle` to `release`'s manifest; returns the referrer manifest's digest.
    pub(super) async fn attach_bundle(
        &self,
        package: &PackageRef,
        release: &Release,
        bundle: Bytes,
    ) -> Result<String, Error> {
        check_bundle(package, release, &bundle)?;
        let manifest = self.release_manifest(package, release).await?;
        let subject = Subject::of(&manifest);
        let attaching = Attaching::new(&subject, &bundle);
        let attached = self.bundles_of(package, release, &subject.digest).await?;
        if let Some(same) = attaching.already(attached) {
            return Ok(same);
        }
        let repository = self.repository(package);
        let reference = repository.tag(&release.version);
        let version = Some(&release.version);
        let (client, auth) = self.publisher(package).await?;

        let empty = Bytes::from_static(EMPTY_BLOB);
        for blob in [empty, bundle.clone()] {
            let digest = ContentDigest::sha256(&blob).to_string();
            if !blob_exists(self, &client, &auth, &reference, &digest, package).await? {
                client
                    .push_blob(&reference, blob, &digest)
                    .await
                    .map_err(|err| self.map_error(err, package, version))?;
            }
        }

        let (referrer, digest) = (&attaching.referrer, attaching.digest);
        let (_, answer) = self
            .reader
            .put(
                &format!("/v2/{}/manifests/{digest}", repository.path),
                &auth,
                content_type(OCI_MANIFEST),
                Bytes::from(referrer.clone()),
                &[],
            )
            .await
            .map_err(|err| self.map_read(err, package, version))?;
        if answer.contains_key("oci-subject") {
            tracing::debug!(%package, referrer = %digest, "attached; the registry indexes referrers");
        } else {
            self.add_to_referrers_tag(package, release, &auth, &subject, referrer)
                .await?;
            tracing::debug!(%package, referrer = %digest, "attached, and listed under the referrers tag");
        }
        Ok(digest.to_string())
    }

    /// Adds the referrer manifest `referrer` to `subject`'s referrers tag, keeping what the
    /// tag lists already.
    async fn add_to_referrers_tag(
        &self,
        package: &PackageRef,
        release: &Release,
        auth: &RegistryAuth,
        subject: &Subject,
        referrer: &[u8],
    ) -> Result<(), Error> {
        let at = self.referrers_tag_at(package, &subject.digest);
        for _attempt in 0..TAG_ATTEMPTS {
            let (status, headers, body) = self
                .get_index(package, release, &at, &[StatusCode::NOT_FOUND])
                .await?;
            let existing = (status != StatusCode::NOT_FOUND).then_some(&body[..]);
            let Some(index) = with_entry(existing, index_entry(referrer), &at.what)
                .map_err(|message| Error::registry(&self.registry, message))?
            else {
                tracing::debug!(path = %at.path, "the referrers tag lists the referrer already");
                return Ok(());
            };
            let mut send = content_type(OCI_INDEX);
            if let Some(etag) = headers.get(ETAG).filter(|_| existing.is_some()) {
                send.insert(IF_MATCH, etag.clone());
            }
            let (status, _) = self
                .reader
                .put(
                    &at.path,
                    auth,
                    send,
                    Bytes::from(index),
                    &[StatusCode::PRECONDITION_FAILED],
                )
                .await
                .map_err(|err| self.map_read(err, package, Some(&release.version)))?;
            if status != StatusCode::PRECONDITION_FAILED {
                return Ok(());
            }
            tracing::debug!(path = %at.path, "the referrers tag changed since it was read; reading it again");
        }
        Err(Error::registry(
            &self.registry,
            format!(
                "{} kept changing while the signature of {package}@{} was added to it; \
                 attach it again",
                at.what, release.version
            ),
        ))
    }
}

/// Headers with `Content-Type: media_type`.
fn content_type(media_type: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers
}
