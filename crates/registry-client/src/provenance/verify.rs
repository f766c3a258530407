//! Checks Sigstore bundles against a trusted root and a requirement, offline.
//!
//! The cryptography is `sigstore-verify`'s: the certificate chain to a Fulcio root at the
//! signing time, the embedded SCT, the transparency-log entry (inclusion proof and signed
//! checkpoint, and the inclusion promise when present), the signature over the DSSE
//! envelope, and that the in-toto statement's subject is the container's digest. What is
//! ours: which signers are allowed (exact values or patterns, or a key), the pin a lock file
//! holds, and saying why each bundle was or was not accepted.

use std::fmt;
use std::path::Path;

use registry_config::TrustedRootSource;

use base64::Engine as _;
use registry_core::provenance::{AttachedBundle, Attestations, Signer};
use registry_core::{ContentDigest, Error};
use sigstore_verify::trust_root::{SigstoreInstance, TrustedRoot};
use sigstore_verify::types::{Bundle, DerPublicKey};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy, Verifier};

/// A set of Sigstore authorities (Fulcio CAs, Rekor logs, CT logs, timestamp authorities)
/// whose signatures count, ready to verify with.
pub struct Trust {
    verifier: Verifier,
    name: String,
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trust").field("name", &self.name).finish()
    }
}

impl Trust {
    /// Loads the authorities of `source`.
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be read; [`Error::InvalidInput`] when it is not a
    /// usable trusted root (malformed, a key or certificate that does not parse, duplicate
    /// log IDs), naming the file.
    pub fn load(source: &TrustedRootSource) -> Result<Self, Error> {
        let root = match source {
            TrustedRootSource::PublicGood => {
                TrustedRoot::from_embedded(SigstoreInstance::PublicGood)
            }
            TrustedRootSource::Github => TrustedRoot::from_embedded(SigstoreInstance::GitHub),
            TrustedRootSource::Staging => TrustedRoot::from_embedded(SigstoreInstance::Staging),
            TrustedRootSource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|err| Error::io(path, err))?;
                TrustedRoot::from_json(&text)
            }
            other => {
                return Err(Error::InvalidInput {
                    message: format!("this build cannot load the trusted root {other}"),
                });
            }
        }
        .map_err(|err| bad_root(source, &err))?;
        let verifier = Verifier::new(&root).map_err(|err| bad_root(source, &err))?;
        Ok(Self {
            verifier,
            name: describe(source),
        })
    }

    /// What this trust is, for messages: `the Sigstore public-good root`, `the trusted root
    /// /etc/acme/trusted_root.json`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A trusted root as messages name it.
fn describe(source: &TrustedRootSource) -> String {
    match source {
        TrustedRootSource::PublicGood => "the Sigstore public-good root".into(),
        TrustedRootSource::Github => "GitHub's Sigstore root".into(),
        TrustedRootSource::Staging => "the Sigstore staging root".into(),
        TrustedRootSource::File(path) => format!("the trusted root {}", path.display()),
        other => format!("the trusted root {other}"),
    }
}

fn bad_root(source: &TrustedRootSource, err: &dyn std::error::Error) -> Error {
    Error::InvalidInput {
        message: format!(
            "{} cannot be used to verify signatures: {err}; a trusted root is the JSON \
             `cosign trusted-root create` or `sigstore-js` writes (media type \
             application/vnd.dev.sigstore.trustedroot+json)",
            describe(source)
        ),
    }
}

/// A value a signer's identity or issuer must have: exactly this, or matching a pattern.
#[derive(Clone, Debug)]
pub enum Pattern {
    /// Exactly this string.
    Exact(String),
    /// A regular expression (unanchored, as cosign's `--certificate-identity-regexp`: use
    /// `^` and `$`).
    Regex(regex::Regex),
}

impl Pattern {
    /// Whether `value` is allowed.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(expected) => expected == value,
            Self::Regex(pattern) => pattern.is_match(value),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(value) => write!(f, "`{value}`"),
            Self::Regex(pattern) => write!(f, "matching /{}/", pattern.as_str()),
        }
    }
}

/// The signers a policy allows.
#[derive(Clone)]
pub enum Allowed {
    /// A keyless signature whose certificate names an identity and issuer as given.
    Keyless {
        /// The certificate's subject alternative name.
        identity: Pattern,
        /// The OIDC issuer the certificate records.
        issuer: Pattern,
    },
    /// A signature by this key.
    Key {
        /// The key's DER `SubjectPublicKeyInfo`.
        key: DerPublicKey,
        /// `sha256:<hex>` of that DER, as lock files record it.
        id: String,
    },
}

impl fmt::Debug for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string())
    }
}

impl fmt::Display for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keyless { identity, issuer } => {
                write!(
                    f,
                    "a signature by an identity {identity} issued by {issuer}"
                )
            }
            Self::Key { id, .. } => write!(f, "a signature by key {id}"),
        }
    }
}

impl Allowed {
    /// A key policy from a PEM public key (`-----BEGIN PUBLIC KEY-----`), as `cosign
    /// generate-key-pair` writes `cosign.pub`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `path` when the text is not a PEM public key.
    pub fn key_from_pem(pem: &str, path: &Path) -> Result<Self, Error> {
        let key = DerPublicKey::from_pem(pem).map_err(|err| Error::InvalidInput {
            message: format!(
                "{} is not a PEM public key ({err}); give the `-----BEGIN PUBLIC KEY-----` \
                 file, e.g. cosign.pub",
                path.display()
            ),
        })?;
        let id = ContentDigest::sha256(key.as_bytes()).to_string();
        Ok(Self::Key { key, id })
    }

    /// Whether `signer` is one this policy allows.
    pub fn allows(&self, signer: &Signer) -> bool {
        match (self, signer) {
            (
                Self::Keyless {
                    identity: want_identity,
                    issuer: want_issuer,
                },
                Signer::Keyless { identity, issuer },
            ) => want_identity.matches(identity) && want_issuer.matches(issuer),
            (Self::Key { id, .. }, Signer::Key { key }) => id == key,
            _ => false,
        }
    }
}

/// What a policy asks of a release: a signature by an allowed signer, under a trust.
#[derive(Debug)]
pub struct Requirement<'a> {
    /// The authorities whose signatures count.
    pub trust: &'a Trust,
    /// Who may have signed.
    pub allowed: &'a Allowed,
    /// The signer a lock file pinned: when set, only that signer is accepted, whatever else
    /// the policy allows.
    pub pinned: Option<&'a Signer>,
}

impl fmt::Display for Requirement<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pinned {
            Some(pinned) => write!(
                f,
                "a signature by {pinned} (pinned by the lock file) under {}",
                self.trust.name
            ),
            None => write!(f, "{} under {}", self.allowed, self.trust.name),
        }
    }
}

/// A bundle that verified: who signed, what, and where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The signer the bundle proves.
    pub signer: Signer,
    /// The container digest the statement names (the release's manifest).
    pub subject: ContentDigest,
    /// Where the bundle was found (the referrer's digest).
    pub source: String,
    /// The in-toto statement's `predicateType`, e.g. `https://slsa.dev/provenance/v1`;
    /// `None` for a message signature.
    pub predicate_type: Option<String>,
    /// When the transparency log recorded the signature (RFC 3339), when it says.
    pub logged_at: Option<String>,
}

/// What became of one bundle.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BundleOutcome {
    /// Where the bundle was found.
    pub source: String,
    /// The bundle verified and its signer is allowed (and is the pinned one, if pinned).
    pub accepted: bool,
    /// The signer it proves, when it verified at all.
    pub verified: Option<Verified>,
    /// Why it was not accepted, when it was not.
    pub reason: Option<String>,
}

/// Checks every bundle of `found` against `requirement`, in order, and says what became of
/// each: [`accepted`](BundleOutcome::accepted) for those that verify and whose signer is
/// allowed.
pub fn inspect(found: &Attestations, requirement: &Requirement<'_>) -> Vec<BundleOutcome> {
    found
        .bundles
        .iter()
        .map(|bundle| outcome(found, bundle, requirement))
        .collect()
}

/// The first bundle of `found` that satisfies `requirement`.
///
/// # Errors
/// Why none did, one reason per bundle (or that there is none), for
/// [`Error::ProvenanceRejected`].
pub fn check(found: &Attestations, requirement: &Requirement<'_>) -> Result<Verified, Vec<String>> {
    if found.bundles.is_empty() {
        return Err(vec![format!(
            "no Sigstore bundle is attached to its manifest {}",
            found.subject
        )]);
    }
    let mut reasons = Vec::new();
    for outcome in inspect(found, requirement) {
        match (outcome.accepted, outcome.verified, outcome.reason) {
            (true, Some(verified), _) => return Ok(verified),
            (_, _, reason) => reasons.push(format!(
                "bundle {}: {}",
                outcome.source,
                reason.unwrap_or_else(|| "not accepted".into())
            )),
        }
    }
    Err(reasons)
}

fn outcome(
    found: &Attestations,
    bundle: &AttachedBundle,
    requirement: &Requirement<'_>,
) -> BundleOutcome {
    let refused = |reason: String, verified: Option<Verified>| BundleOutcome {
        source: bundle.source.clone(),
        accepted: false,
        verified,
        reason: Some(reason),
    };
    let verified = match verify_one(found, bundle, requirement.trust, requirement.allowed) {
        Ok(verified) => verified,
        Err(reason) => return refused(reason, None),
    };
    if !requirement.allowed.allows(&verified.signer) {
        let reason = format!("signed by {}, not {}", verified.signer, requirement.allowed);
        return refused(reason, Some(verified));
    }
    if let Some(pinned) = requirement.pinned
        && pinned != &verified.signer
    {
        let reason = format!(
            "signed by {}, but the lock file pinned {pinned}; if the publisher's signer really \
             changed, delete that pin's `signer` table from the lock file and fetch again",
            verified.signer
        );
        return refused(reason, Some(verified));
    }
    BundleOutcome {
        source: bundle.source.clone(),
        accepted: true,
        verified: Some(verified),
        reason: None,
    }
}

/// Verifies one bundle's cryptography under `trust`, for the container `found.manifest`,
/// with the kind of policy `allowed` is (keyless or key); the signer is matched by the
/// caller.
fn verify_one(
    found: &Attestations,
    attached: &AttachedBundle,
    trust: &Trust,
    allowed: &Allowed,
) -> Result<Verified, String> {
    let text = std::str::from_utf8(&attached.json).map_err(|_| "not UTF-8 JSON".to_owned())?;
    let bundle = Bundle::from_json(text).map_err(|err| format!("not a Sigstore bundle: {err}"))?;
    let manifest: &[u8] = &found.manifest;
    let signer = match allowed {
        Allowed::Keyless { .. } => {
            let result = trust
                .verifier
                .verify(manifest, &bundle, &VerificationPolicy::any_identity())
                .map_err(|err| err.to_string())?;
            let identity = result
                .identity()
                .map(|san| san.as_str().to_owned())
                .ok_or("its certificate names no identity")?;
            let issuer = result
                .issuer()
                .map(str::to_owned)
                .ok_or("its certificate names no OIDC issuer")?;
            (
                Signer::Keyless { identity, issuer },
                result.integrated_time(),
            )
        }
        Allowed::Key { key, id } => {
            let result = trust
                .verifier
                .verify(
                    manifest,
                    &bundle,
                    &PublicKeyVerificationPolicy::new(key.clone()),
                )
                .map_err(|err| err.to_string())?;
            (Signer::Key { key: id.clone() }, result.integrated_time())
        }
    };
    let (signer, logged_at) = signer;
    Ok(Verified {
        signer,
        subject: found.subject,
        source: attached.source.clone(),
        predicate_type: predicate_type(&attached.json),
        logged_at: logged_at.map(|time| time.to_string()),
    })
}

/// The in-toto statement's `predicateType`, read from the DSSE payload of a bundle that
/// has already verified.
fn predicate_type(json: &[u8]) -> Option<String> {
    let bundle: serde_json::Value = serde_json::from_slice(json).ok()?;
    let payload = bundle.get("dsseEnvelope")?.get("payload")?.as_str()?;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .ok()?;
    let statement: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    Some(statement.get("predicateType")?.as_str()?.to_owned())
}
