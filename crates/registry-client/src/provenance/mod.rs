//! Provenance (feature `provenance`): who published a release, verified against a policy
//! and pinned in the lock file.
//!
//! Publishers sign the digest of a release's OCI manifest with Sigstore (keyless through
//! Fulcio and Rekor, as GitHub's `actions/attest` and cosign do, or with a managed key) and
//! attach the bundle to the manifest as an OCI referrer. [`Backend::attestations`] finds
//! them; [`verify`] checks them offline against a [`Trust`] and an [`Allowed`] set of
//! signers.
//!
//! [`Backend::attestations`]: registry_core::Backend::attestations

pub mod sign;
pub mod verify;

pub use sign::{
    COSIGN_SIGN_PREDICATE, IN_TOTO_PAYLOAD_TYPE, ManagedKey, PUBLIC_GOOD_FULCIO, PUBLIC_GOOD_REKOR,
    SignedBundle, SigningKey, Statement, sign,
};
pub use verify::{Allowed, BundleOutcome, Pattern, Requirement, Trust, Verified, check, inspect};

pub use registry_config::{ProvenancePolicy, TrustedRootSource, VerifyWhen};
