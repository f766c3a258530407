//! A release's container as a registry stores it, copied whole.
//!
//! Signers sign the digest of the container a release's content is in (an OCI manifest),
//! not the content's. A copy of the release that built its own container (with another
//! date, say) would have another digest, and every signature would be lost on the way:
//! bundles and imports copy the container's bytes as they are instead
//! ([`Backend::container`], [`Backend::publish_container`]).
//!
//! [`Backend::container`]: crate::Backend::container
//! [`Backend::publish_container`]: crate::Backend::publish_container

use std::fmt;

use bytes::Bytes;

use crate::ContentDigest;

/// The container a release's content is in: the manifest's bytes and the other blobs it
/// names (its config), each with its digest.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Container {
    /// The manifest's digest: what signers sign.
    pub digest: ContentDigest,
    /// The manifest's media type.
    pub media_type: String,
    /// The manifest's bytes, as stored; they hash to `digest`.
    pub manifest: Bytes,
    /// Every blob the manifest names except the release's content, with its bytes.
    pub blobs: Vec<(ContentDigest, Bytes)>,
}

impl Container {
    /// The container whose manifest is `manifest`, of `media_type`, with no blob yet.
    pub fn new(media_type: impl Into<String>, manifest: Bytes) -> Self {
        Self {
            digest: ContentDigest::sha256(&manifest),
            media_type: media_type.into(),
            manifest,
            blobs: Vec::new(),
        }
    }
}

impl fmt::Debug for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let blobs: Vec<String> = self
            .blobs
            .iter()
            .map(|(digest, bytes)| format!("{digest} ({} bytes)", bytes.len()))
            .collect();
        f.debug_struct("Container")
            .field("digest", &self.digest)
            .field("media_type", &self.media_type)
            .field("manifest_len", &self.manifest.len())
            .field("blobs", &blobs)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_is_named_by_its_manifest_and_debug_shows_no_bytes() {
        let manifest = Bytes::from_static(br#"{"schemaVersion":2}"#);
        let mut container = Container::new("application/vnd.oci.image.manifest.v1+json", manifest);
        assert_eq!(
            container.digest,
            ContentDigest::sha256(br#"{"schemaVersion":2}"#)
        );
        container
            .blobs
            .push((ContentDigest::sha256(b"x"), Bytes::from(vec![b'x'; 5_000])));
        let debug = format!("{container:?}");
        assert!(debug.contains("(5000 bytes)"), "{debug}");
        assert!(debug.len() < 400, "{debug}");
    }
}
