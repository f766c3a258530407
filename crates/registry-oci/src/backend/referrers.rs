//! [`OciBackend::find_attestations`]: the Sigstore bundles attached to a release's
//! manifest, found through the registry's referrers API or, where it has none, its
//! referrers tag (`sha256-<hex>`), as cosign and go-containerregistry read them.
//!
//! The release's manifest is read as [`get_release`](registry_core::Backend::get_release)
//! reads it; its Wasm layer must be the release's digest, and its bytes, as served, are the
//! subject signers sign. Each referrer the registry lists is read by digest and checked
//! against it; those that are not Sigstore bundles are passed over, whatever the index says
//! their `artifactType` is (GHCR's referrers tag says `application/vnd.oci.empty.v1+json`
//! for cosign's bundles). Every answer is bounded ([`crate::sigstore`]).

use bytes::Bytes;
use registry_core::provenance::{AttachedBundle, Attestations};
use registry_core::{ContentDigest, Error, PackageRef, Release};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap};

use super::OciBackend;
use crate::manifest::OCI_INDEX;
use crate::sigstore::{
    BUNDLE_MAX_BYTES, Found, INDEX_MAX_BYTES, REFERRER_MAX_BYTES, REFERRERS_MAX, Subject,
    bundle_in, index_entries,
};

/// The answers of `GET /v2/<repo>/referrers/<digest>` that mean the registry has no
/// referrers API (or not for this request): then the referrers tag is read.
const NO_API: &[StatusCode] = &[
    StatusCode::NOT_FOUND,
    StatusCode::BAD_REQUEST,
    StatusCode::METHOD_NOT_ALLOWED,
    StatusCode::NOT_ACCEPTABLE,
];

/// Where a referrers index is read, and what messages call it.
pub(super) struct IndexAt {
    /// Its path on the registry.
    pub(super) path: String,
    /// What it is, for messages.
    pub(super) what: String,
}

/// The referrers read so far for one release, each once.
struct Seen {
    digests: Vec<ContentDigest>,
    bundles: Vec<AttachedBundle>,
}

impl OciBackend {
    /// The manifest `release` is in, as served under its version's tag (following an index
    /// one level, as `get_release` does), checked to hold `release.digest` as its Wasm
    /// layer: [`Error::DigestMismatch`] naming the package and registry otherwise. The one
    /// `get_release` read moments ago is used again when it holds that layer
    /// ([`RecentManifests`](super::RecentManifests)).
    pub(super) async fn release_manifest(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<Bytes, Error> {
        let repository = self.repository(package).path;
        if let Some(manifest) = self
            .recent
            .get(&repository, &release.version, &release.digest)
        {
            tracing::debug!(%package, version = %release.version, "the release's manifest, as get_release read it just now");
            return Ok(manifest);
        }
        let (manifest, layer, _) = self.find_layer(package, &release.version).await?;
        if layer != release.digest {
            return Err(Error::DigestMismatch {
                subject: format!(
                    "the Wasm layer of {package}@{} from {}, against the release's digest",
                    release.version, self.registry
                ),
                expected: release.digest,
                actual: layer,
            });
        }
        Ok(manifest)
    }

    /// `release`'s manifest and every Sigstore bundle attached to it.
    pub(super) async fn find_attestations(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<Attestations, Error> {
        let manifest = self.release_manifest(package, release).await?;
        let subject = ContentDigest::sha256(&manifest);
        let bundles = self.bundles_of(package, release, &subject).await?;
        let mut found = Attestations::new(subject, manifest);
        found.bundles = bundles;
        Ok(found)
    }

    /// Every Sigstore bundle attached to `subject`, `release`'s manifest: those the
    /// referrers API lists, or, when it has none (no API, or an index without a bundle, as
    /// GHCR was seen to answer), those the referrers tag lists.
    ///
    /// Once the registry has said it has no referrers API, the tag is read first, and the
    /// API asked only when the tag lists no bundle: one request less per release on a
    /// registry without the API, and the same bundles found on one that has it (for this
    /// repository, or since; its answer is remembered again).
    pub(super) async fn bundles_of(
        &self,
        package: &PackageRef,
        release: &Release,
        subject: &ContentDigest,
    ) -> Result<Vec<AttachedBundle>, Error> {
        let mut seen = Seen {
            digests: Vec::new(),
            bundles: Vec::new(),
        };
        let tag_first = self.referrers_api.known_absent();
        if tag_first {
            let listed = self.referrers_tag(package, release, subject).await?;
            self.read_bundles(package, release, listed, &mut seen)
                .await?;
            if !seen.bundles.is_empty() {
                return Ok(seen.bundles);
            }
            tracing::debug!(%package, %subject, "the referrers tag lists no bundle; asking the referrers API too");
        }
        if let Some(listed) = self.referrers_api(package, release, subject).await? {
            self.read_bundles(package, release, listed, &mut seen)
                .await?;
            if seen.bundles.is_empty() {
                tracing::debug!(%package, %subject, "the referrers API lists no bundle; reading the referrers tag too");
            }
        }
        if seen.bundles.is_empty() && !tag_first {
            let listed = self.referrers_tag(package, release, subject).await?;
            self.read_bundles(package, release, listed, &mut seen)
                .await?;
        }
        Ok(seen.bundles)
    }

    /// What the referrers API lists for `subject`; `None` when the registry has no such
    /// API, or answers with something that is not an OCI index.
    async fn referrers_api(
        &self,
        package: &PackageRef,
        release: &Release,
        subject: &ContentDigest,
    ) -> Result<Option<Vec<Found>>, Error> {
        let repository = self.repository(package).path;
        let at = IndexAt {
            path: format!("/v2/{repository}/referrers/{subject}"),
            what: format!("the referrers of {subject} in `{repository}`"),
        };
        let (status, headers, body) = self.get_index(package, release, &at, NO_API).await?;
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let has_api = !NO_API.contains(&status) && content_type.starts_with(OCI_INDEX);
        self.referrers_api.answered(has_api);
        if !has_api {
            tracing::debug!(%status, %content_type, %repository, "no referrers API; reading the referrers tag");
            return Ok(None);
        }
        index_entries(&body, &at.what)
            .map(Some)
            .map_err(|message| Error::registry(&self.registry, message))
    }

    /// What the referrers tag of `subject` lists; nothing when there is no such tag.
    async fn referrers_tag(
        &self,
        package: &PackageRef,
        release: &Release,
        subject: &ContentDigest,
    ) -> Result<Vec<Found>, Error> {
        let at = self.referrers_tag_at(package, subject);
        let (status, _, body) = self
            .get_index(package, release, &at, &[StatusCode::NOT_FOUND])
            .await?;
        if status == StatusCode::NOT_FOUND {
            tracing::debug!(path = %at.path, "no referrers tag: nothing attached");
            return Ok(Vec::new());
        }
        index_entries(&body, &at.what).map_err(|message| Error::registry(&self.registry, message))
    }

    /// Where the referrers tag of `subject` is, in `package`'s repository.
    pub(super) fn referrers_tag_at(
        &self,
        package: &PackageRef,
        subject: &ContentDigest,
    ) -> IndexAt {
        let repository = self.repository(package).path;
        let tag = Subject::fallback_tag(subject);
        IndexAt {
            path: format!("/v2/{repository}/manifests/{tag}"),
            what: format!("the referrers tag `{repository}:{tag}`"),
        }
    }

    /// `GET` of the referrers index `at` (asking for an OCI index, reading at most
    /// [`INDEX_MAX_BYTES`]): its status, headers and body; an answer whose status is in
    /// `pass` is returned as it is.
    pub(super) async fn get_index(
        &self,
        package: &PackageRef,
        release: &Release,
        at: &IndexAt,
        pass: &[StatusCode],
    ) -> Result<(StatusCode, HeaderMap, Bytes), Error> {
        let repository = self.repository(package).path;
        self.reader
            .get_answer(
                &at.path,
                &repository,
                &[OCI_INDEX],
                (INDEX_MAX_BYTES, &at.what),
                pass,
            )
            .await
            .map_err(|err| self.map_read(err, package, Some(&release.version)))
    }

    /// Reads each referrer in `listed` not read yet, keeping the Sigstore bundles.
    async fn read_bundles(
        &self,
        package: &PackageRef,
        release: &Release,
        listed: Vec<Found>,
        seen: &mut Seen,
    ) -> Result<(), Error> {
        let repository = self.repository(package);
        for referrer in listed {
            if seen.digests.contains(&referrer.digest) {
                continue;
            }
            seen.digests.push(referrer.digest);
            if seen.digests.len() > REFERRERS_MAX {
                return Err(Error::registry(
                    &self.registry,
                    format!(
                        "{package}@{} has more than {REFERRERS_MAX} referrers in `{repository}`, \
                         the most read for one release; its signatures were not read",
                        release.version
                    ),
                ));
            }
            let what = format!(
                "the referrer {} of {package}@{}",
                referrer.digest, release.version
            );
            referrer
                .within(REFERRER_MAX_BYTES, &what)
                .map_err(|message| Error::registry(&self.registry, message))?;
            let read = self
                .read_manifest(
                    &repository.digest(&referrer.digest.to_string()),
                    package,
                    Some(&release.version),
                    REFERRER_MAX_BYTES,
                )
                .await;
            let Some(bytes) = unless_gone(read, &referrer.digest, "the referrer")? else {
                continue;
            };
            let Some(blob) = bundle_in(&bytes, &referrer.digest, &what) else {
                continue;
            };
            let read = self.read_bundle(package, release, &blob).await;
            let Some(json) = unless_gone(read, &referrer.digest, "the bundle of the referrer")?
            else {
                continue;
            };
            seen.bundles
                .push(AttachedBundle::new(referrer.digest.to_string(), json));
        }
        Ok(())
    }

    /// The bundle blob `blob`, at most [`BUNDLE_MAX_BYTES`], checked against its digest.
    async fn read_bundle(
        &self,
        package: &PackageRef,
        release: &Release,
        blob: &Found,
    ) -> Result<Bytes, Error> {
        let what = format!(
            "the Sigstore bundle {} attached to {package}@{}",
            blob.digest, release.version
        );
        self.small_blob(package, &release.version, blob, BUNDLE_MAX_BYTES, &what)
            .await
    }
}

/// What `read` found, or `None` when the registry no longer has it (a referrer an index
/// still lists, or its bundle, after a clean-up): passed over, and logged.
fn unless_gone<T>(
    read: Result<T, Error>,
    referrer: &ContentDigest,
    what: &str,
) -> Result<Option<T>, Error> {
    match read {
        Ok(found) => Ok(Some(found)),
        Err(err) if err.is_not_found() => {
            tracing::debug!(%referrer, "{what} is not in the registry; passed over");
            Ok(None)
        }
        Err(err) => Err(err),
    }
}
