//! Every credential the workspace's tests use, so the output of a whole test run can be
//! searched for them: `cargo xtask test` fails if one appears anywhere in what the tests,
//! the servers they start and the tools they run print. A test that adds a credential
//! lists it here (`tests/tests/tidy.rs` checks that the test sources use no other).

/// Credential values written literally in the tests (each also covers the longer values
/// that contain it, e.g. `hunter2-pw`).
pub const LITERALS: &[&str] = &[
    "hunter2",
    "sesame",
    "s3cr3t-Pa55w0rd",
    "wrong-password",
    "right-password",
    "tok-123456",
    "tok-SECRET-123",
    "idtok-REFRESH-8c1f",
    "idtok-REVOKED-2b7d",
    "idtok-config",
    "idtok-helper",
];

/// Every credential to search for: the literals, the basic-auth encoding of the OCI test
/// account, and the warg signing keys of every seed [`crate::warg::signing_key`] takes.
pub fn all() -> Vec<String> {
    let mut all: Vec<String> = LITERALS.iter().map(|s| (*s).to_owned()).collect();
    all.push(crate::token::base64(b"ci-bot:s3cr3t-Pa55w0rd", false));
    for seed in 1..=254 {
        let key = crate::warg::signing_key(seed);
        let encoded = key.strip_prefix("ecdsa-p256:").unwrap_or(&key);
        all.push(encoded.to_owned());
    }
    all
}
