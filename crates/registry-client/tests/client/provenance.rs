//! Provenance: Sigstore bundles made by sigstore-js (an independent signer, against mock
//! Fulcio and Rekor services) are verified by `registry_client::provenance`, and every way a
//! bundle can be wrong is refused with a reason.

use std::path::Path;

use base64::Engine as _;
use bytes::Bytes;
use registry_client::core::ContentDigest;
use registry_client::core::provenance::{AttachedBundle, Attestations, Signer};
use registry_client::provenance::{
    Allowed, Pattern, Requirement, Trust, TrustedRootSource, check, inspect,
};
use test_support::sigstore::{self, Job};

const GITHUB: &str = "https://token.actions.githubusercontent.com";
const WORKFLOW: &str =
    "https://github.com/acme/widgets/.github/workflows/release.yml@refs/tags/v1.0.0";

/// A manifest-shaped JSON document and its digest: the container a publisher signs.
fn manifest(n: u8) -> (Bytes, ContentDigest) {
    let bytes = Bytes::from(format!(r#"{{"schemaVersion":2,"layers":[],"n":{n}}}"#));
    let digest = ContentDigest::sha256(&bytes);
    (bytes, digest)
}

fn hex(digest: &ContentDigest) -> String {
    digest.to_string().trim_start_matches("sha256:").to_owned()
}

fn keyless(identity: &str, issuer: &str) -> Allowed {
    Allowed::Keyless {
        identity: Pattern::Exact(identity.into()),
        issuer: Pattern::Exact(issuer.into()),
    }
}

fn found(manifest: &Bytes, digest: ContentDigest, bundles: &[(&str, Vec<u8>)]) -> Attestations {
    let mut found = Attestations::new(digest, manifest.clone());
    for (source, json) in bundles {
        found
            .bundles
            .push(AttachedBundle::new(*source, json.clone()));
    }
    found
}

fn read(dir: &Path, label: &str) -> Vec<u8> {
    std::fs::read(dir.join(format!("{label}.sigstore.json"))).unwrap()
}

/// Bundles signed by sigstore-js under one mock instance: `good` by the workflow for
/// manifest 1, `email` by an email identity for manifest 1, `other` by the workflow for
/// manifest 2; and `foreign` signed for manifest 1 by another instance (another root).
struct Signed {
    dir: tempfile::TempDir,
    root: std::path::PathBuf,
    foreign_root: std::path::PathBuf,
}

fn signed() -> &'static Signed {
    static SIGNED: std::sync::OnceLock<Signed> = std::sync::OnceLock::new();
    SIGNED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (_, one) = manifest(1);
        let (_, two) = manifest(2);
        let (one, two) = (hex(&one), hex(&two));
        let jobs = [
            Job {
                label: "good",
                subject_hex: &one,
                identity: WORKFLOW,
            },
            Job {
                label: "email",
                subject_hex: &one,
                identity: "ci@acme.example",
            },
            Job {
                label: "other",
                subject_hex: &two,
                identity: WORKFLOW,
            },
        ];
        let root = sigstore::sign(&jobs, GITHUB, dir.path());
        let foreign = dir.path().join("foreign");
        std::fs::create_dir(&foreign).unwrap();
        let foreign_root = sigstore::sign(
            &[Job {
                label: "foreign",
                subject_hex: &one,
                identity: WORKFLOW,
            }],
            GITHUB,
            &foreign,
        );
        Signed {
            dir,
            root,
            foreign_root,
        }
    })
}

fn trust(root: &Path) -> Trust {
    Trust::load(&TrustedRootSource::File(root.to_owned())).unwrap()
}

#[test]
fn a_sigstore_js_bundle_verifies_and_names_its_signer() {
    let signed = signed();
    let trust = trust(&signed.root);
    let (bytes, digest) = manifest(1);
    let found = found(
        &bytes,
        digest,
        &[("sha256:r1", read(signed.dir.path(), "good"))],
    );
    let allowed = Allowed::Keyless {
        identity: Pattern::Regex(
            regex::Regex::new(
                r"^https://github\.com/acme/widgets/\.github/workflows/release\.yml@refs/tags/v",
            )
            .unwrap(),
        ),
        issuer: Pattern::Exact(GITHUB.into()),
    };
    let verified = check(
        &found,
        &Requirement {
            trust: &trust,
            allowed: &allowed,
            pinned: None,
        },
    )
    .unwrap();
    assert_eq!(
        verified.signer,
        Signer::Keyless {
            identity: WORKFLOW.into(),
            issuer: GITHUB.into()
        }
    );
    assert_eq!(verified.subject, digest);
    assert_eq!(verified.source, "sha256:r1");
    assert_eq!(
        verified.predicate_type.as_deref(),
        Some("https://slsa.dev/provenance/v1")
    );
    assert!(
        verified.logged_at.is_some(),
        "the log's integrated time is reported"
    );
    // The pin the lock file would hold is accepted too.
    let pinned = verified.signer.clone();
    check(
        &found,
        &Requirement {
            trust: &trust,
            allowed: &allowed,
            pinned: Some(&pinned),
        },
    )
    .unwrap();
}

/// Each wrong bundle is refused, with a reason that says what was wrong.
#[test]
fn every_wrong_bundle_is_refused_with_its_reason() {
    let signed = signed();
    let dir = signed.dir.path();
    let trust = trust(&signed.root);
    let (bytes, digest) = manifest(1);
    let good = read(dir, "good");
    let workflow = keyless(WORKFLOW, GITHUB);

    let refused = |bundle: Vec<u8>, allowed: &Allowed, pinned: Option<&Signer>, trust: &Trust| {
        let found = found(&bytes, digest, &[("sha256:r", bundle)]);
        let reasons = check(
            &found,
            &Requirement {
                trust,
                allowed,
                pinned,
            },
        )
        .expect_err("the bundle must be refused");
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        reasons.into_iter().next().unwrap()
    };

    // Another identity, another issuer.
    let reason = refused(read(dir, "email"), &workflow, None, &trust);
    assert!(reason.contains("signed by ci@acme.example"), "{reason}");
    let reason = refused(
        good.clone(),
        &keyless(WORKFLOW, "https://accounts.example"),
        None,
        &trust,
    );
    assert!(
        reason.contains(&format!("signed by {WORKFLOW} (issuer {GITHUB})")),
        "{reason}"
    );
    // A pattern that does not match.
    let pattern = Allowed::Keyless {
        identity: Pattern::Regex(regex::Regex::new("^https://github.com/WebAssembly/").unwrap()),
        issuer: Pattern::Exact(GITHUB.into()),
    };
    let reason = refused(good.clone(), &pattern, None, &trust);
    assert!(
        reason.contains("matching /^https://github.com/WebAssembly//"),
        "{reason}"
    );
    // The lock file pinned another signer.
    let pinned = Signer::Keyless {
        identity: "ci@acme.example".into(),
        issuer: GITHUB.into(),
    };
    let any = Allowed::Keyless {
        identity: Pattern::Regex(regex::Regex::new(".").unwrap()),
        issuer: Pattern::Exact(GITHUB.into()),
    };
    let reason = refused(good.clone(), &any, Some(&pinned), &trust);
    assert!(
        reason.contains("the lock file pinned ci@acme.example"),
        "{reason}"
    );
    // A statement about another release's manifest.
    let reason = refused(read(dir, "other"), &workflow, None, &trust);
    assert!(reason.contains("artifact mismatch"), "{reason}");
    // A bundle for the right digest from an untrusted root (another Fulcio and Rekor).
    let reason = refused(
        read(&dir.join("foreign"), "foreign"),
        &workflow,
        None,
        &trust,
    );
    assert!(reason.contains("No log key valid"), "{reason}");
    // ... which verifies under its own root, so it is the root that made the difference.
    let foreign = found(
        &bytes,
        digest,
        &[("sha256:f", read(&dir.join("foreign"), "foreign"))],
    );
    check(
        &foreign,
        &Requirement {
            trust: &self::trust(&signed.foreign_root),
            allowed: &workflow,
            pinned: None,
        },
    )
    .unwrap();

    // A tampered envelope: the statement rewritten (same subject, another predicate).
    let mut bundle: serde_json::Value = serde_json::from_slice(&good).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = bundle["dsseEnvelope"]["payload"].as_str().unwrap();
    let statement = String::from_utf8(b64.decode(payload).unwrap()).unwrap();
    let forged = statement.replace("https://wreg.invalid/test", "https://wreg.invalid/forged");
    assert_ne!(statement, forged);
    bundle["dsseEnvelope"]["payload"] = b64.encode(forged).into();
    let reason = refused(
        serde_json::to_vec(&bundle).unwrap(),
        &workflow,
        None,
        &trust,
    );
    assert!(
        reason.contains("DSSE signature verification failed"),
        "{reason}"
    );

    // A tampered certificate: one byte of the signing certificate changed.
    let mut bundle: serde_json::Value = serde_json::from_slice(&good).unwrap();
    let cert = &mut bundle["verificationMaterial"]["certificate"]["rawBytes"];
    let mut der = b64.decode(cert.as_str().unwrap()).unwrap();
    let at = der.len() / 2;
    der[at] ^= 0x01;
    *cert = b64.encode(der).into();
    let reason = refused(
        serde_json::to_vec(&bundle).unwrap(),
        &workflow,
        None,
        &trust,
    );
    assert!(reason.contains("certificate chain is invalid"), "{reason}");

    // A log entry signed by another key than the one the root trusts for that log: the
    // root's Rekor key swapped for the foreign instance's under the same log ID, and (second
    // case) the foreign log alone trusted; Fulcio and the CT log kept.
    let root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&signed.root).unwrap()).unwrap();
    let foreign_root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&signed.foreign_root).unwrap()).unwrap();
    let mut same_id = root.clone();
    same_id["tlogs"][0]["publicKey"] = foreign_root["tlogs"][0]["publicKey"].clone();
    let mut other_log = root;
    other_log["tlogs"] = foreign_root["tlogs"].clone();
    for (name, root, expected) in [
        ("same_id", same_id, "SET verification failed"),
        ("other_log", other_log, "No log key valid"),
    ] {
        let path = dir.join(format!("{name}_root.json"));
        std::fs::write(&path, serde_json::to_vec(&root).unwrap()).unwrap();
        let reason = refused(good.clone(), &workflow, None, &self::trust(&path));
        assert!(reason.contains(expected), "{name}: {reason}");
    }

    // Not a bundle at all.
    let reason = refused(b"{\"mediaType\":\"x\"}".to_vec(), &workflow, None, &trust);
    assert!(
        reason.starts_with("bundle sha256:r: not a Sigstore bundle"),
        "{reason}"
    );
}

#[test]
fn no_bundle_is_refused_and_inspect_reports_each_bundle() {
    let signed = signed();
    let trust = trust(&signed.root);
    let (bytes, digest) = manifest(1);
    let workflow = keyless(WORKFLOW, GITHUB);
    let none = found(&bytes, digest, &[]);
    let reasons = check(
        &none,
        &Requirement {
            trust: &trust,
            allowed: &workflow,
            pinned: None,
        },
    )
    .unwrap_err();
    assert_eq!(
        reasons,
        [format!(
            "no Sigstore bundle is attached to its manifest {digest}"
        )]
    );

    // Two bundles, the first by another identity: the second is accepted, and inspect
    // says what became of both.
    let both = found(
        &bytes,
        digest,
        &[
            ("sha256:a", read(signed.dir.path(), "email")),
            ("sha256:b", read(signed.dir.path(), "good")),
        ],
    );
    let requirement = Requirement {
        trust: &trust,
        allowed: &workflow,
        pinned: None,
    };
    assert_eq!(check(&both, &requirement).unwrap().source, "sha256:b");
    let outcomes = inspect(&both, &requirement);
    assert_eq!(outcomes.len(), 2);
    assert!(
        !outcomes[0].accepted && outcomes[0].verified.is_some(),
        "{outcomes:?}"
    );
    assert!(
        outcomes[1].accepted && outcomes[1].reason.is_none(),
        "{outcomes:?}"
    );
}

#[test]
fn shipped_roots_load_and_a_bad_root_file_is_named() {
    for source in [
        TrustedRootSource::PublicGood,
        TrustedRootSource::Github,
        TrustedRootSource::Staging,
    ] {
        let trust = Trust::load(&source).unwrap_or_else(|err| panic!("{source}: {err}"));
        assert!(trust.name().contains("Sigstore"), "{}", trust.name());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trusted_root.json");
    std::fs::write(&path, "{\"tlogs\": 7}").unwrap();
    let err = Trust::load(&TrustedRootSource::File(path.clone())).unwrap_err();
    assert_eq!(err.exit_code(), 64);
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    let missing = Trust::load(&TrustedRootSource::File(dir.path().join("nope.json"))).unwrap_err();
    assert_eq!(missing.exit_code(), 74, "{missing}");
}
