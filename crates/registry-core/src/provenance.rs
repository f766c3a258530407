//! What a registry holds about who published a release: the signatures attached to it.
//!
//! A release's content sits in a container the registry stores (an OCI image manifest);
//! signers sign that container's digest, and attach their signatures beside it (OCI
//! referrers). This module names those things; it does no I/O and checks no signature: the
//! client's `provenance` feature verifies, against a policy, what a [`Backend`] finds.
//!
//! [`Backend`]: crate::Backend

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::ContentDigest;

/// The media type of a Sigstore bundle (protobuf-specs v0.3), as cosign 3 and sigstore-js
/// attach it: the referrer manifest's `artifactType`, and its one layer's media type.
pub const SIGSTORE_BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// The signatures a registry holds for one release, and the container they sign.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attestations {
    /// The digest of the container the release's content is in (the OCI manifest), which
    /// is what publishers sign.
    pub subject: ContentDigest,
    /// The container's bytes as the registry served them; they hash to `subject`, and the
    /// backend has checked that they hold the release's content digest.
    pub manifest: Bytes,
    /// Each Sigstore bundle found attached to `subject`, in the order found.
    pub bundles: Vec<AttachedBundle>,
}

impl Attestations {
    /// Attestations for `subject`, whose bytes are `manifest`, with no bundle yet.
    pub fn new(subject: ContentDigest, manifest: Bytes) -> Self {
        Self {
            subject,
            manifest,
            bundles: Vec::new(),
        }
    }
}

impl fmt::Debug for Attestations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attestations")
            .field("subject", &self.subject)
            .field("manifest_len", &self.manifest.len())
            .field("bundles", &self.bundles)
            .finish()
    }
}

/// One Sigstore bundle attached to a release, and where it was found.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttachedBundle {
    /// Where the bundle came from, for messages: the referrer manifest's digest in a
    /// registry, or a file name.
    pub source: String,
    /// The bundle's JSON, as stored.
    pub json: Bytes,
}

impl AttachedBundle {
    /// A bundle whose JSON is `json`, found at `source`.
    pub fn new(source: impl Into<String>, json: impl Into<Bytes>) -> Self {
        Self {
            source: source.into(),
            json: json.into(),
        }
    }
}

impl fmt::Debug for AttachedBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttachedBundle")
            .field("source", &self.source)
            .field("json_len", &self.json.len())
            .finish()
    }
}

/// Who signed a release, as a verified signature proves it: a keyless signer's certificate
/// identity and OIDC issuer, or the fingerprint of a managed key.
///
/// This is what a lock file pins beside a release's digest.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Signer {
    /// A keyless signature: the certificate Fulcio issued named this identity (its subject
    /// alternative name: an email address or a URI such as a CI workflow) and this issuer.
    Keyless {
        /// The certificate's subject alternative name.
        identity: String,
        /// The OIDC issuer the certificate records.
        issuer: String,
    },
    /// A signature by a managed key.
    Key {
        /// `sha256:<hex>` of the public key's DER `SubjectPublicKeyInfo`.
        key: String,
    },
}

impl fmt::Display for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keyless { identity, issuer } => write!(f, "{identity} (issuer {issuer})"),
            Self::Key { key } => write!(f, "key {key}"),
        }
    }
}

/// What a verified signature established about a release, as a lock file pins it: the
/// manifest that was signed and who signed it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Provenance {
    /// The digest of the container (OCI manifest) the signature names.
    pub manifest: ContentDigest,
    /// Who signed it.
    pub signer: Signer,
}

impl Provenance {
    /// The provenance of a release whose manifest `manifest` was signed by `signer`.
    pub fn new(manifest: ContentDigest, signer: Signer) -> Self {
        Self { manifest, signer }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signer_reads_back_as_written_and_says_who_it_is() {
        let keyless = Signer::Keyless {
            identity: "ci@acme.example".into(),
            issuer: "https://issuer.example".into(),
        };
        let key = Signer::Key {
            key: format!("sha256:{}", "ab".repeat(32)),
        };
        for signer in [&keyless, &key] {
            let json = serde_json::to_string(signer).unwrap();
            assert_eq!(&serde_json::from_str::<Signer>(&json).unwrap(), signer);
        }
        assert_eq!(
            keyless.to_string(),
            "ci@acme.example (issuer https://issuer.example)"
        );
        assert!(key.to_string().starts_with("key sha256:abab"));
    }

    #[test]
    fn debug_output_does_not_dump_bundles() {
        let digest = ContentDigest::sha256(b"{}");
        let mut found = Attestations::new(digest, Bytes::from_static(b"{}"));
        found
            .bundles
            .push(AttachedBundle::new("sha256:00", vec![b'x'; 10_000]));
        let debug = format!("{found:?}");
        assert!(debug.len() < 300, "{debug}");
        assert!(debug.contains("json_len: 10000"), "{debug}");
    }
}
