//! Signing: bundles made by `registry_client::provenance::sign` against sigstore-js's mock
//! Fulcio and Rekor verify with `registry_client::provenance::check` and with sigstore-js's
//! `@sigstore/verify` (an independent verifier); refusals name the service and never the
//! token.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use bytes::Bytes;
use registry_client::core::provenance::{AttachedBundle, Attestations, Signer};
use registry_client::core::{ContentDigest, Error, Secret};
use registry_client::provenance::{
    Allowed, COSIGN_SIGN_PREDICATE, ManagedKey, Pattern, Requirement, SignedBundle, SigningKey,
    Statement, Trust, TrustedRootSource, Verified, check, sign,
};
use test_support::sigstore::{self, Expect, MockInstance};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const WORKFLOW: &str =
    "https://github.com/acme/widgets/.github/workflows/release.yml@refs/tags/v2.0.0";

/// The manifest a publisher pushed for release `n`, and its digest (what is signed).
fn pushed(n: u8) -> (Bytes, ContentDigest) {
    let json = format!(r#"{{"schemaVersion":2,"mediaType":"wasm","release":{n}}}"#);
    let digest = ContentDigest::sha256(json.as_bytes());
    (Bytes::from(json), digest)
}

fn http() -> reqwest::Client {
    registry_transport::TlsTrust::default()
        .client_builder()
        .unwrap()
        .build()
        .unwrap()
}

fn keyless(instance: &MockInstance) -> SigningKey {
    SigningKey::Keyless {
        fulcio_url: instance.url.clone(),
        rekor_url: instance.url.clone(),
        oidc_token: Secret::new(instance.token.clone()),
    }
}

/// Our verdict on `signed` as the bundle attached to the manifest `manifest`.
fn our_check(
    signed: &SignedBundle,
    (manifest, digest): &(Bytes, ContentDigest),
    root: &Path,
    allowed: &Allowed,
) -> Result<Verified, Vec<String>> {
    let mut found = Attestations::new(*digest, manifest.clone());
    found
        .bundles
        .push(AttachedBundle::new("sha256:referrer", signed.json.clone()));
    let trust = Trust::load(&TrustedRootSource::File(root.to_owned())).unwrap();
    check(
        &found,
        &Requirement {
            trust: &trust,
            allowed,
            pinned: None,
        },
    )
}

/// sigstore-js's verdict on `signed` for the manifest `digest`: what it printed, or why not.
fn sigstore_js_check(
    signed: &SignedBundle,
    root: &Path,
    digest: &ContentDigest,
    expect: Expect<'_>,
) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("release.sigstore.json");
    std::fs::write(&file, &signed.json).unwrap();
    sigstore::verify(&file, root, &digest.hex(), expect)
}

fn allowed_keyless(identity: &str) -> Allowed {
    Allowed::Keyless {
        identity: Pattern::Exact(identity.into()),
        issuer: Pattern::Exact(ISSUER.into()),
    }
}

/// A P-256 key pair made by Node (not by us): `key.pem` (PKCS#8) and `key.pub` (SPKI).
fn node_key_pair(dir: &Path) -> (PathBuf, PathBuf) {
    let script = "const c = require('crypto'), fs = require('fs'); \
        const { privateKey, publicKey } = c.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }); \
        fs.writeFileSync(process.env.OUT + '/key.pem', privateKey.export({ type: 'pkcs8', format: 'pem' })); \
        fs.writeFileSync(process.env.OUT + '/key.pub', publicKey.export({ type: 'spki', format: 'pem' }));";
    let status = Command::new("node")
        .args(["-e", script])
        .env("OUT", dir)
        .status()
        .unwrap_or_else(|err| panic!("cannot run node: {err}; install Debian `nodejs`"));
    assert!(status.success(), "node could not make a key pair");
    (dir.join("key.pem"), dir.join("key.pub"))
}

#[tokio::test]
async fn a_keyless_signature_verifies_here_and_in_sigstore_js() {
    // A workflow (URI) identity and an email identity, whose proof of possession is over
    // the email rather than the subject.
    for identity in [WORKFLOW, "release@acme.example"] {
        let instance = MockInstance::start(identity, ISSUER);
        let release = pushed(1);
        let statement = Statement::cosign_sign("localhost/acme/widget", release.1);
        let signed = sign(&http(), &statement, &keyless(&instance))
            .await
            .unwrap();

        let expected = Signer::Keyless {
            identity: identity.into(),
            issuer: ISSUER.into(),
        };
        assert_eq!(signed.signer, expected);
        let text = std::str::from_utf8(&signed.json).unwrap();
        assert!(
            !text.contains(&instance.token),
            "the token is in the bundle"
        );

        let allowed = allowed_keyless(identity);
        let verified = our_check(&signed, &release, &instance.trusted_root, &allowed).unwrap();
        assert_eq!(verified.signer, signed.signer);
        assert_eq!(verified.subject, release.1);
        assert_eq!(
            verified.predicate_type.as_deref(),
            Some(COSIGN_SIGN_PREDICATE)
        );
        assert!(
            verified.logged_at.is_some(),
            "Rekor's time is in the bundle"
        );

        let said = sigstore_js_check(
            &signed,
            &instance.trusted_root,
            &release.1,
            Expect::Keyless {
                identity,
                issuer: ISSUER,
            },
        )
        .unwrap_or_else(|err| panic!("sigstore-js refused our bundle: {err}"));
        let said: serde_json::Value = serde_json::from_str(&said).unwrap();
        assert_eq!(said["identity"], identity);
        assert_eq!(said["issuer"], ISSUER);
    }
}

#[tokio::test]
async fn a_managed_key_signature_verifies_here_and_in_sigstore_js() {
    let instance = MockInstance::start(WORKFLOW, ISSUER);
    let dir = tempfile::tempdir().unwrap();
    let (key_file, public_file) = node_key_pair(dir.path());
    let key = ManagedKey::read(&key_file).unwrap();
    let public_pem = std::fs::read_to_string(&public_file).unwrap();
    let allowed = Allowed::key_from_pem(&public_pem, &public_file).unwrap();
    let Allowed::Key { id, .. } = &allowed else {
        panic!("a key policy")
    };
    assert_eq!(key.signer(), &Signer::Key { key: id.clone() });
    assert_eq!(key.public_key_pem().trim(), public_pem.trim());
    assert!(!format!("{key:?}").contains("PRIVATE"), "{key:?}");

    let release = pushed(2);
    let statement = Statement::cosign_sign("localhost/acme/widget", release.1).with_predicate(
        "https://slsa.dev/provenance/v1",
        serde_json::json!({"a": 1}),
    );
    let signed = sign(
        &http(),
        &statement,
        &SigningKey::Key {
            key,
            rekor_url: Some(instance.url.clone()),
        },
    )
    .await
    .unwrap();
    assert_eq!(signed.signer, Signer::Key { key: id.clone() });

    let verified = our_check(&signed, &release, &instance.trusted_root, &allowed).unwrap();
    assert_eq!(verified.signer, signed.signer);
    assert_eq!(
        verified.predicate_type.as_deref(),
        Some("https://slsa.dev/provenance/v1")
    );
    sigstore_js_check(
        &signed,
        &instance.trusted_root,
        &release.1,
        Expect::Key(&public_file),
    )
    .unwrap_or_else(|err| panic!("sigstore-js refused our bundle: {err}"));

    // Another key's policy refuses it.
    let other_dir = tempfile::tempdir().unwrap();
    let (_, other_public) = node_key_pair(other_dir.path());
    let other = std::fs::read_to_string(&other_public).unwrap();
    let other = Allowed::key_from_pem(&other, &other_public).unwrap();
    our_check(&signed, &release, &instance.trusted_root, &other).unwrap_err();
}

#[tokio::test]
async fn a_bundle_for_one_digest_does_not_verify_for_another() {
    let instance = MockInstance::start(WORKFLOW, ISSUER);
    let (signed_for, other) = (pushed(3), pushed(4));
    let statement = Statement::cosign_sign("localhost/acme/widget", signed_for.1);
    let signed = sign(&http(), &statement, &keyless(&instance))
        .await
        .unwrap();
    let allowed = allowed_keyless(WORKFLOW);
    our_check(&signed, &signed_for, &instance.trusted_root, &allowed).unwrap();
    let reasons = our_check(&signed, &other, &instance.trusted_root, &allowed).unwrap_err();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].contains("does not match any subject"),
        "{reasons:?}"
    );
    let refused = sigstore_js_check(
        &signed,
        &instance.trusted_root,
        &other.1,
        Expect::Keyless {
            identity: WORKFLOW,
            issuer: ISSUER,
        },
    );
    let refused = refused.expect_err("sigstore-js accepted it");
    assert!(
        refused.contains(&format!(
            "no subject of the statement has sha256 {}",
            other.1.hex()
        )),
        "{refused}"
    );
}

/// A JWT-shaped token whose signature part is `secret`.
fn token(secret: &str) -> String {
    let part = |json: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    format!(
        "{}.{}.{secret}",
        part(r#"{"alg":"RS256"}"#),
        part(&format!(
            r#"{{"sub":"{WORKFLOW}","iss":"{ISSUER}","aud":"sigstore"}}"#
        ))
    )
}

/// Why signing a statement with `key` failed.
async fn refusal(key: &SigningKey) -> Error {
    let statement = Statement::cosign_sign("localhost/acme/widget", pushed(9).1);
    sign(&http(), &statement, key)
        .await
        .expect_err("signing must fail")
}

fn assert_hidden(err: &Error, secret: &str) {
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(secret), "the token leaked: {text}");
    }
}

#[tokio::test]
async fn a_refused_token_names_fulcio_and_its_status_and_never_the_token() {
    let fulcio = MockServer::start().await;
    let secret = "c2lnbmF0dXJlLW9mLXRoZS1pZGVudGl0eS10b2tlbg";
    let token = token(secret);
    // Fulcio refuses the token, and (worst case) repeats it.
    Mock::given(method("POST"))
        .and(path("/api/v2/signingCert"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "code": 16,
            "message": format!(
                "There was an error processing the identity token {token} (signature {secret})"
            ),
        })))
        .expect(1)
        .mount(&fulcio)
        .await;
    let key = SigningKey::Keyless {
        fulcio_url: fulcio.uri(),
        rekor_url: fulcio.uri(),
        oidc_token: Secret::new(token.clone()),
    };
    assert!(!format!("{key:?}").contains(secret), "{key:?}");
    let err = refusal(&key).await;
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    let text = err.to_string();
    let url = format!("{}/api/v2/signingCert", fulcio.uri());
    assert!(
        text.contains(&format!("Fulcio at {url} answered HTTP 401")),
        "{text}"
    );
    assert!(
        text.contains("error processing the identity token"),
        "{text}"
    );
    assert_hidden(&err, secret);

    // A token that is no JWT is refused before anything is sent.
    let garbage = format!("not-a-jwt-{secret}");
    let key = SigningKey::Keyless {
        fulcio_url: fulcio.uri(),
        rekor_url: fulcio.uri(),
        oidc_token: Secret::new(garbage),
    };
    let err = refusal(&key).await;
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(err.to_string().contains("is not a JWT"), "{err}");
    assert_hidden(&err, secret);

    // Nor does a token go to a remote Fulcio over plain HTTP.
    let key = SigningKey::Keyless {
        fulcio_url: "http://fulcio.example".into(),
        rekor_url: fulcio.uri(),
        oidc_token: Secret::new(token),
    };
    let err = refusal(&key).await;
    assert!(err.to_string().contains("plain HTTP"), "{err}");
    assert_hidden(&err, secret);
}

#[tokio::test]
async fn a_rekor_refusal_names_rekor_and_its_status() {
    let rekor = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/log/entries"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_string(format!("the log is full{}", ".".repeat(5000))),
        )
        .expect(1)
        .mount(&rekor)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let (key_file, _) = node_key_pair(dir.path());
    let key = SigningKey::Key {
        key: ManagedKey::read(&key_file).unwrap(),
        rekor_url: Some(format!("{}/", rekor.uri())),
    };
    let err = refusal(&key).await;
    assert!(matches!(err, Error::Registry { .. }), "{err:?}");
    let text = err.to_string();
    let url = format!("{}/api/v1/log/entries", rekor.uri());
    assert!(
        text.contains(&format!(
            "Rekor at {url} answered HTTP 500 Internal Server Error: the log is full"
        )),
        "{text}"
    );
    assert!(
        text.len() < url.len() + 400,
        "the refusal is quoted whole: {text}"
    );
}

#[test]
fn a_statement_is_in_toto_v1_about_the_manifest_digest() {
    let digest = pushed(7).1;
    let statement = Statement::cosign_sign("ghcr.io/acme/widget", digest);
    let json: serde_json::Value = serde_json::from_slice(&statement.to_json()).unwrap();
    assert_eq!(json["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(json["subject"][0]["name"], "ghcr.io/acme/widget");
    assert_eq!(json["subject"][0]["digest"]["sha256"], digest.hex());
    assert_eq!(json["predicateType"], COSIGN_SIGN_PREDICATE);
    assert_eq!(json["predicate"], serde_json::json!({}));
}

#[test]
fn a_key_file_that_is_not_pkcs8_is_refused_naming_it_and_without_quoting_it() {
    let path = Path::new("/keys/cosign.key");
    let block = |label: &str| {
        format!("-----BEGIN {label}-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END {label}-----\n")
    };
    for (pem, why) in [
        ("not pem".to_owned(), "holds no PEM block"),
        (block("EC PRIVATE KEY"), "SEC1"),
        (block("ENCRYPTED SIGSTORE PRIVATE KEY"), "encrypted"),
        (block("PUBLIC KEY"), "not a `PRIVATE KEY`"),
        (block("PRIVATE KEY"), "not an ECDSA P-256 key"),
    ] {
        let err = ManagedKey::from_pkcs8_pem(&pem, path).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with("/keys/cosign.key cannot be used"),
            "{text}"
        );
        assert!(text.contains(why), "{text}");
        assert!(!text.contains("c2VjcmV0"), "the key is quoted: {text}");
    }
}
