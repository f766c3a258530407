//! Signs a release's manifest digest with Sigstore: the writing half of [`verify`].
//!
//! What is signed is an in-toto statement about the manifest's digest, in a DSSE envelope,
//! as cosign 3 and GitHub's `actions/attest` sign. Keyless, the signing key is an ephemeral
//! P-256 key that Fulcio certifies for the identity an OIDC token proves; otherwise it is a
//! managed key. The signature is logged to Rekor as an `intoto` 0.0.2 entry, and the whole
//! is written as a v0.3 bundle, which [`verify`] (and cosign, sigstore-js) check offline.
//!
//! The OIDC token goes to Fulcio and nowhere else: it is never logged, and never in an
//! error, even when Fulcio repeats it. Private keys never leave this process.
//!
//! [`verify`]: super::verify

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use registry_core::provenance::{SIGSTORE_BUNDLE_MEDIA_TYPE, Signer};
use registry_core::{ContentDigest, Error, Registry, Secret, chain_text};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};
use sigstore_verify::crypto::{KeyPair, parse_certificate_info};
use sigstore_verify::types::{Bundle, DerCertificate, DerPublicKey, pae};

/// The DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The `_type` of an in-toto v1 statement.
pub const IN_TOTO_STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The predicate type `cosign sign` (cosign 3) writes: "this was signed", with an empty
/// predicate.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// Fulcio of Sigstore's public-good instance.
pub const PUBLIC_GOOD_FULCIO: &str = "https://fulcio.sigstore.dev";
/// Rekor of Sigstore's public-good instance.
pub const PUBLIC_GOOD_REKOR: &str = "https://rekor.sigstore.dev";

/// The most of an answer read from Fulcio or Rekor (a certificate chain, a log entry).
const MAX_ANSWER: usize = 4 << 20;
/// The most of a refusal read, and the most of it quoted in an error.
const MAX_REFUSAL: usize = 64 << 10;
const MAX_QUOTED: usize = 300;

/// An in-toto v1 statement about one subject: a release's manifest.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Statement {
    /// The subject's name, e.g. the repository `ghcr.io/acme/widget`.
    pub subject_name: String,
    /// The digest of the manifest signed.
    pub subject: ContentDigest,
    /// What the predicate is, e.g. `https://slsa.dev/provenance/v1`.
    pub predicate_type: String,
    /// The predicate itself.
    pub predicate: Value,
}

impl Statement {
    /// A statement that `subject` is signed, as `cosign sign` (cosign 3) writes it: the
    /// predicate type [`COSIGN_SIGN_PREDICATE`] and an empty predicate.
    pub fn cosign_sign(subject_name: impl Into<String>, subject: ContentDigest) -> Self {
        Self {
            subject_name: subject_name.into(),
            subject,
            predicate_type: COSIGN_SIGN_PREDICATE.to_owned(),
            predicate: json!({}),
        }
    }

    /// This statement with another predicate, e.g. SLSA provenance.
    pub fn with_predicate(mut self, predicate_type: impl Into<String>, predicate: Value) -> Self {
        self.predicate_type = predicate_type.into();
        self.predicate = predicate;
        self
    }

    /// The statement's JSON, the DSSE payload.
    pub fn to_json(&self) -> Vec<u8> {
        json!({
            "_type": IN_TOTO_STATEMENT_V1,
            "subject": [{
                "name": self.subject_name,
                "digest": { "sha256": self.subject.hex() },
            }],
            "predicateType": self.predicate_type,
            "predicate": self.predicate,
        })
        .to_string()
        .into_bytes()
    }
}

/// A managed ECDSA P-256 signing key, and the signer it makes (`sha256:` of its public
/// key's DER, as lock files pin it). Its `Debug` shows the signer only.
pub struct ManagedKey {
    pair: KeyPair,
    public: DerPublicKey,
    signer: Signer,
}

impl fmt::Debug for ManagedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedKey")
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl ManagedKey {
    /// Reads an unencrypted PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::InvalidInput`] naming it as
    /// [`from_pkcs8_pem`](Self::from_pkcs8_pem) says.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let pem = std::fs::read_to_string(path).map_err(|err| Error::io(path, err))?;
        Self::from_pkcs8_pem(&pem, path)
    }

    /// The key in `pem`, an unencrypted PKCS#8 PEM private key read from `path`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `path` when the text is no such key, or the key is
    /// not ECDSA P-256; the message never quotes the key.
    pub fn from_pkcs8_pem(pem: &str, path: &Path) -> Result<Self, Error> {
        let refused = |why: String| Error::InvalidInput {
            message: format!(
                "{} cannot be used as a signing key: {why}; give an unencrypted PKCS#8 ECDSA \
                 P-256 key (`-----BEGIN PRIVATE KEY-----`, e.g. from `openssl genpkey \
                 -algorithm EC -pkeyopt ec_paramgen_curve:P-256`)",
                path.display()
            ),
        };
        let der = pkcs8_der(pem).map_err(refused)?;
        let pair = KeyPair::from_pkcs8_der(&der)
            .map_err(|err| refused(format!("it is not an ECDSA P-256 key ({err})")))?;
        let public = pair
            .public_key_der()
            .map_err(|err| refused(format!("its public key cannot be encoded ({err})")))?;
        let key = ContentDigest::sha256(public.as_bytes()).to_string();
        let signer = Signer::Key { key };
        Ok(Self {
            pair,
            public,
            signer,
        })
    }

    /// The signer a signature by this key proves.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The public key, PEM (`-----BEGIN PUBLIC KEY-----`), for verifiers.
    pub fn public_key_pem(&self) -> String {
        pem_text(&self.public)
    }
}

/// `key` as PEM with `\n` line ends (the `pem` crate writes `\r\n`).
fn pem_text(key: &DerPublicKey) -> String {
    key.to_pem().replace("\r\n", "\n")
}

/// The DER inside a `PRIVATE KEY` PEM block, or why there is none; never quotes the text.
fn pkcs8_der(pem: &str) -> Result<Vec<u8>, String> {
    const BEGIN: &str = "-----BEGIN ";
    let start = pem.find(BEGIN).ok_or("it holds no PEM block")?;
    let (label, rest) = pem[start + BEGIN.len()..]
        .split_once("-----")
        .ok_or("its BEGIN line is not closed")?;
    let sec1 = "it is a SEC1 key, not PKCS#8 (convert it: `openssl pkcs8 -topk8 -nocrypt`)";
    match label {
        "PRIVATE KEY" => {}
        "EC PRIVATE KEY" => return Err(sec1.to_owned()),
        _ if label.contains("ENCRYPTED") => return Err(format!("it is encrypted (`{label}`)")),
        _ => return Err(format!("it holds a `{label}`, not a `PRIVATE KEY`")),
    }
    let end = rest
        .find("-----END PRIVATE KEY-----")
        .ok_or("its END PRIVATE KEY line is missing")?;
    let body: String = rest[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(body)
        .map_err(|_| "its base64 is broken".to_owned())
}

/// How to sign.
#[derive(Debug)]
#[non_exhaustive]
pub enum SigningKey {
    /// An ephemeral key that Fulcio certifies for the identity `oidc_token` proves; the
    /// signature is logged to Rekor (a keyless signature has no meaning without the log).
    Keyless {
        /// Fulcio's base URL, e.g. [`PUBLIC_GOOD_FULCIO`].
        fulcio_url: String,
        /// Rekor's base URL, e.g. [`PUBLIC_GOOD_REKOR`].
        rekor_url: String,
        /// The OIDC identity token (audience `sigstore`), sent to Fulcio only.
        oidc_token: Secret,
    },
    /// A managed key; the signature is logged to Rekor when `rekor_url` is given (verifiers,
    /// ours included, want a log entry unless told otherwise).
    Key {
        /// The key.
        key: ManagedKey,
        /// Rekor's base URL, e.g. [`PUBLIC_GOOD_REKOR`].
        rekor_url: Option<String>,
    },
}

/// A signed statement: the v0.3 bundle, ready to attach, and who it proves signed.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedBundle {
    /// The bundle's JSON (media type [`SIGSTORE_BUNDLE_MEDIA_TYPE`]).
    pub json: Bytes,
    /// The signer: for a keyless signature, the identity and issuer the certificate Fulcio
    /// issued names (read from the certificate, not from the token).
    pub signer: Signer,
}

impl fmt::Debug for SignedBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedBundle")
            .field("signer", &self.signer)
            .field("json_len", &self.json.len())
            .finish()
    }
}

/// Signs `statement` with `key`: DSSE over the statement, Fulcio's certificate when keyless,
/// the Rekor entry, all in one v0.3 bundle.
///
/// `http` is the client to reach Fulcio and Rekor with, e.g. built from
/// [`TlsTrust::client_builder`](registry_transport::TlsTrust::client_builder) to trust a
/// private instance's CA, with the caller's timeouts.
///
/// # Errors
/// - [`Error::Unauthorized`] when Fulcio refuses the token (HTTP 401 or 403), naming its
///   URL and status and quoting what it said (the token blanked out).
/// - [`Error::Registry`] when Fulcio or Rekor cannot be reached, answers another error, or
///   answers something unusable (the host as registry, the URL in the message).
/// - [`Error::InvalidInput`] when a URL is not one, the token is not a JWT, the token would
///   go to a non-loopback host over plain HTTP, or the key cannot sign.
pub async fn sign(
    http: &reqwest::Client,
    statement: &Statement,
    key: &SigningKey,
) -> Result<SignedBundle, Error> {
    let payload = statement.to_json();
    let signed = pae(IN_TOTO_PAYLOAD_TYPE, &payload);
    let (signature, material, signer, log) = match key {
        SigningKey::Keyless {
            fulcio_url,
            rekor_url,
            oidc_token,
        } => {
            let pair = KeyPair::generate_ecdsa_p256()
                .map_err(|err| cannot("generate a signing key", &err))?;
            let certified = certify(http, fulcio_url, oidc_token, &pair).await?;
            let material = json!({
                "certificate": { "rawBytes": STANDARD.encode(certified.leaf.as_bytes()) },
            });
            let log = Some((rekor_url.as_str(), certified.leaf_pem));
            let signature = signature_by(&pair, &signed)?;
            (signature, material, certified.signer, log)
        }
        SigningKey::Key { key, rekor_url } => {
            // The hint cosign writes: base64 of the SHA-256 of the key's DER.
            let hint = STANDARD.encode(ContentDigest::sha256(key.public.as_bytes()).as_bytes());
            let material = json!({ "publicKey": { "hint": hint } });
            let log = rekor_url.as_deref().map(|url| (url, key.public_key_pem()));
            let signature = signature_by(&key.pair, &signed)?;
            (signature, material, key.signer.clone(), log)
        }
    };
    let mut material = material;
    material["tlogEntries"] = match log {
        Some((rekor_url, verifier)) => {
            json!([log_entry(http, rekor_url, &payload, &signature, &verifier).await?])
        }
        None => json!([]),
    };
    material["timestampVerificationData"] = json!({ "rfc3161Timestamps": [] });
    let bundle = json!({
        "mediaType": SIGSTORE_BUNDLE_MEDIA_TYPE,
        "verificationMaterial": material,
        "dsseEnvelope": {
            "payload": STANDARD.encode(&payload),
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [{ "sig": STANDARD.encode(&signature), "keyid": "" }],
        },
    })
    .to_string();
    Bundle::from_json(&bundle).map_err(|err| Error::InvalidInput {
        message: format!(
            "the Sigstore bundle made for {} does not parse back ({err}); this is a bug, \
             please report it",
            statement.subject
        ),
    })?;
    tracing::debug!(subject = %statement.subject, %signer, "signed");
    Ok(SignedBundle {
        json: Bytes::from(bundle),
        signer,
    })
}

fn cannot(what: &str, err: &sigstore_verify::crypto::Error) -> Error {
    Error::InvalidInput {
        message: format!("cannot {what}: {err}"),
    }
}

fn signature_by(pair: &KeyPair, data: &[u8]) -> Result<Vec<u8>, Error> {
    let signature = pair
        .sign(data)
        .map_err(|err| cannot("sign with the key", &err))?;
    Ok(signature.as_bytes().to_vec())
}

/// What Fulcio certified: the leaf certificate (DER, and PEM as Fulcio wrote it) and the
/// signer it names.
struct Certified {
    leaf: DerCertificate,
    leaf_pem: String,
    signer: Signer,
}

/// Asks Fulcio for a certificate binding `pair`'s public key to the token's identity.
async fn certify(
    http: &reqwest::Client,
    fulcio_url: &str,
    token: &Secret,
    pair: &KeyPair,
) -> Result<Certified, Error> {
    let fulcio = Endpoint::new(&FULCIO, fulcio_url)?;
    let public = pair
        .public_key_der()
        .map_err(|err| cannot("encode the signing key", &err))?;
    // The proof of possession: the token's identity, signed with the key to certify.
    let proof = signature_by(pair, token_identity(token)?.as_bytes())?;
    let request = json!({
        "credentials": { "oidcIdentityToken": token.expose() },
        "publicKeyRequest": {
            "publicKey": { "algorithm": "ECDSA", "content": pem_text(&public) },
            "proofOfPossession": STANDARD.encode(proof),
        },
    });
    let answer = fulcio.post(http, &request, Some(token)).await?;
    let leaf = [
        "signedCertificateEmbeddedSct",
        "signedCertificateDetachedSct",
    ]
    .iter()
    .find_map(|kind| answer.get(kind))
    .and_then(|signed| signed.pointer("/chain/certificates/0"))
    .and_then(Value::as_str)
    .ok_or_else(|| fulcio.unusable("it holds no certificate chain"))?;
    let leaf_pem = leaf.to_owned();
    let leaf = DerCertificate::from_pem(leaf)
        .map_err(|err| fulcio.unusable(format!("its certificate is not PEM ({err})")))?;
    let info = parse_certificate_info(&leaf)
        .map_err(|err| fulcio.unusable(format!("its certificate does not parse ({err})")))?;
    if info.public_key.as_bytes() != public.as_bytes() {
        return Err(fulcio.unusable("its certificate is for another key than the one sent"));
    }
    let identity = info
        .identity
        .ok_or_else(|| fulcio.unusable("its certificate names no identity"))?;
    let issuer = info
        .issuer
        .ok_or_else(|| fulcio.unusable("its certificate names no OIDC issuer"))?;
    Ok(Certified {
        leaf,
        leaf_pem,
        signer: Signer::Keyless {
            identity: identity.as_str().to_owned(),
            issuer,
        },
    })
}

/// The identity Fulcio's proof of possession is over: the token's email when it has one
/// (verified), else its subject.
fn token_identity(token: &Secret) -> Result<String, Error> {
    let refused = |why: &str| Error::InvalidInput {
        message: format!(
            "the OIDC token {why}; give the identity token your CI or identity provider \
             issued for the audience `sigstore`"
        ),
    };
    let parts: Vec<&str> = token.expose().trim().split('.').collect();
    let [_, claims, _] = parts[..] else {
        return Err(refused("is not a JWT (not three parts separated by dots)"));
    };
    let claims = URL_SAFE_NO_PAD
        .decode(claims.trim_end_matches('='))
        .map_err(|_| refused("is not a JWT (its claims are not base64url)"))?;
    let claims: Value = serde_json::from_slice(&claims)
        .map_err(|_| refused("is not a JWT (its claims are not JSON)"))?;
    if let Some(email) = claims.get("email").and_then(Value::as_str) {
        if claims.get("email_verified") != Some(&Value::Bool(true)) {
            return Err(refused(
                "names an email address its issuer has not verified",
            ));
        }
        return Ok(email.to_owned());
    }
    claims
        .get("sub")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| refused("has neither an `email` nor a `sub` claim"))
}

/// Logs the signed envelope to Rekor as an `intoto` 0.0.2 entry, with `verifier` (the
/// certificate or public key, PEM); returns the bundle's `tlogEntries` item.
async fn log_entry(
    http: &reqwest::Client,
    rekor_url: &str,
    payload: &[u8],
    signature: &[u8],
    verifier: &str,
) -> Result<Value, Error> {
    let rekor = Endpoint::new(&REKOR, rekor_url)?;
    let (payload_b64, sig_b64) = (STANDARD.encode(payload), STANDARD.encode(signature));
    // The envelope's hash: the canonical JSON (keys sorted, no spaces) of the envelope with
    // its payload and signature encoded once and the verifier as PEM, as sigstore-js
    // computes it. In the entry itself payload, signature and verifier are base64 again.
    let string = |text: &str| Value::from(text).to_string();
    let canonical = format!(
        r#"{{"payload":{},"payloadType":{},"signatures":[{{"publicKey":{},"sig":{}}}]}}"#,
        string(&payload_b64),
        string(IN_TOTO_PAYLOAD_TYPE),
        string(verifier),
        string(&sig_b64),
    );
    let sha256 = |bytes: &[u8]| json!({ "algorithm": "sha256", "value": ContentDigest::sha256(bytes).hex() });
    let proposed = json!({
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": { "content": {
            "envelope": {
                "payloadType": IN_TOTO_PAYLOAD_TYPE,
                "payload": STANDARD.encode(&payload_b64),
                "signatures": [{
                    "sig": STANDARD.encode(&sig_b64),
                    "publicKey": STANDARD.encode(verifier),
                }],
            },
            "hash": sha256(canonical.as_bytes()),
            "payloadHash": sha256(payload),
        }},
    });
    let answer = rekor.post(http, &proposed, None).await?;
    tlog_entry(&rekor, &answer)
}

/// The bundle's transparency-log entry (protobuf-specs JSON) made from Rekor's answer,
/// `{"<uuid>": {body, integratedTime, logID, logIndex, verification}}`.
fn tlog_entry(rekor: &Endpoint, answer: &Value) -> Result<Value, Error> {
    let entries = answer.as_object().filter(|entries| entries.len() == 1);
    let Some(entry) = entries.and_then(|entries| entries.values().next()) else {
        return Err(rekor.unusable("it is not one log entry"));
    };
    let field = |name: &str| {
        entry
            .get(name)
            .ok_or_else(|| rekor.unusable(format!("the entry has no `{name}`")))
    };
    let body = field("body")?.as_str().unwrap_or_default();
    let kind = STANDARD
        .decode(body)
        .ok()
        .and_then(|body| serde_json::from_slice::<Value>(&body).ok())
        .map(|body| (body["kind"].clone(), body["apiVersion"].clone()));
    if kind != Some((json!("intoto"), json!("0.0.2"))) {
        return Err(rekor.unusable("its body is not the intoto 0.0.2 entry sent"));
    }
    let mut tlog = json!({
        "logIndex": integer(rekor, field("logIndex")?)?,
        "logId": { "keyId": sha256_base64(rekor, field("logID")?)? },
        "kindVersion": { "kind": "intoto", "version": "0.0.2" },
        "integratedTime": integer(rekor, field("integratedTime")?)?,
        "canonicalizedBody": body,
    });
    let verification = entry.get("verification");
    if let Some(set) = verification.and_then(|v| v.get("signedEntryTimestamp")) {
        tlog["inclusionPromise"] = json!({ "signedEntryTimestamp": set });
    }
    if let Some(proof) = verification.and_then(|v| v.get("inclusionProof")) {
        let hashes = proof
            .get("hashes")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|hash| sha256_base64(rekor, hash))
            .collect::<Result<Vec<_>, _>>()?;
        let part = |name: &str| {
            proof
                .get(name)
                .ok_or_else(|| rekor.unusable(format!("its inclusion proof has no `{name}`")))
        };
        tlog["inclusionProof"] = json!({
            "logIndex": integer(rekor, proof.get("logIndex").unwrap_or(&json!(0)))?,
            "rootHash": sha256_base64(rekor, part("rootHash")?)?,
            "treeSize": integer(rekor, part("treeSize")?)?,
            "hashes": hashes,
            "checkpoint": { "envelope": part("checkpoint")? },
        });
    }
    Ok(tlog)
}

/// A JSON integer (or a string of digits), as the decimal string protobuf JSON wants.
fn integer(rekor: &Endpoint, value: &Value) -> Result<String, Error> {
    let number = value
        .as_u64()
        .or_else(|| value.as_str()?.parse::<u64>().ok());
    number
        .map(|number| number.to_string())
        .ok_or_else(|| rekor.unusable(format!("`{value}` is not a log index or time")))
}

/// A SHA-256 value in hex (Rekor's log ID and tree hashes), in base64 (protobuf JSON).
fn sha256_base64(rekor: &Endpoint, value: &Value) -> Result<String, Error> {
    value
        .as_str()
        .and_then(|hex| format!("sha256:{hex}").parse::<ContentDigest>().ok())
        .map(|hash| STANDARD.encode(hash.as_bytes()))
        .ok_or_else(|| rekor.unusable(format!("`{value}` is not a SHA-256 hash in hex")))
}

/// Fulcio or Rekor: its name, its endpoint, what to do when it refuses (HTTP 401 or 403),
/// an example base URL, and whether the OIDC token goes to it.
#[derive(Debug)]
struct Service {
    name: &'static str,
    path: &'static str,
    refused: &'static str,
    example: &'static str,
    gets_token: bool,
}

const FULCIO: Service = Service {
    name: "Fulcio",
    path: "/api/v2/signingCert",
    refused: "the OIDC token was refused: get a fresh one (they expire within minutes) issued \
              for the audience `sigstore`, by an issuer this Fulcio accepts",
    example: PUBLIC_GOOD_FULCIO,
    gets_token: true,
};

const REKOR: Service = Service {
    name: "Rekor",
    path: "/api/v1/log/entries",
    refused: "the transparency log refused to record the signature",
    example: PUBLIC_GOOD_REKOR,
    gets_token: false,
};

/// One service's endpoint, and the host to name as the registry in errors.
struct Endpoint {
    service: &'static Service,
    url: String,
    host: Registry,
}

impl Endpoint {
    /// The endpoint of `service` under `base`. The OIDC token goes to Fulcio, so Fulcio
    /// must be HTTPS unless it is on this machine.
    fn new(service: &'static Service, base: &str) -> Result<Self, Error> {
        let url = format!("{}{}", base.trim_end_matches('/'), service.path);
        let bad = |why: String| Error::InvalidInput {
            message: format!(
                "{} URL `{base}` cannot be used: {why}; give its base URL, e.g. `{}`",
                service.name, service.example
            ),
        };
        let parsed = reqwest::Url::parse(&url).map_err(|err| bad(err.to_string()))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| bad("it has no host".into()))?;
        let host: Registry = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
        .parse()
        .map_err(|err: registry_core::ParseError| bad(err.to_string()))?;
        match parsed.scheme() {
            "https" => {}
            "http" if host.is_loopback() || !service.gets_token => {}
            "http" => return Err(bad("the OIDC token would be sent over plain HTTP".into())),
            scheme => return Err(bad(format!("`{scheme}` is not HTTP"))),
        }
        Ok(Self { service, url, host })
    }

    /// POSTs `body` as JSON and returns the JSON answer; `secret` is blanked out of any
    /// refusal quoted.
    async fn post(
        &self,
        http: &reqwest::Client,
        body: &Value,
        secret: Option<&Secret>,
    ) -> Result<Value, Error> {
        let name = self.service.name;
        tracing::debug!(url = %self.url, "asking {name}");
        let response = http
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|err| {
                let message = format!("{name} at {} cannot be reached", self.url);
                Error::registry_with_source(&self.host, message, err)
            })?;
        let status = response.status();
        if !status.is_success() {
            let said = match read_capped(response, MAX_REFUSAL).await {
                Ok(body) => quote(&body, secret),
                Err(why) => format!("(what it said {why})"),
            };
            let message = format!("{name} at {} answered HTTP {status}: {said}", self.url);
            return Err(match status.as_u16() {
                401 | 403 => Error::Unauthorized {
                    registry: self.host.clone(),
                    message: format!("{message}; {}", self.service.refused),
                },
                _ => Error::registry(&self.host, message),
            });
        }
        let answer = read_capped(response, MAX_ANSWER)
            .await
            .map_err(|why| self.unusable(why))?;
        serde_json::from_slice(&answer)
            .map_err(|err| self.unusable(format!("it is not JSON ({err})")))
    }

    fn unusable(&self, why: impl fmt::Display) -> Error {
        let (name, url) = (self.service.name, &self.url);
        Error::registry(
            &self.host,
            format!("{name} at {url} answered something unusable: {why}"),
        )
    }
}

/// The body of `response`, at most `cap` bytes.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > cap => {
                return Err(format!("is over {cap} bytes"));
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(body),
            Err(err) => return Err(format!("cannot be read: {}", chain_text(&err))),
        }
    }
}

/// What a refusal said, for an error: its JSON `message` when it has one, with `secret` (and
/// each long part of it) blanked out, control characters dropped, at most [`MAX_QUOTED`]
/// characters.
fn quote(body: &[u8], secret: Option<&Secret>) -> String {
    let text = String::from_utf8_lossy(body);
    let json = serde_json::from_str::<Value>(&text).unwrap_or_default();
    let mut said = match json.get("message").and_then(Value::as_str) {
        Some(message) => message.to_owned(),
        None => text.into_owned(),
    };
    if let Some(secret) = secret {
        let secret = secret.expose();
        let parts = std::iter::once(secret).chain(secret.split('.'));
        for part in parts.filter(|part| part.len() >= 8) {
            said = said.replace(part, "<redacted>");
        }
    }
    let said: String = said.trim().chars().filter(|c| !c.is_control()).collect();
    match said.char_indices().nth(MAX_QUOTED) {
        Some((end, _)) => format!("{}…", &said[..end]),
        None if said.is_empty() => "(no message)".to_owned(),
        None => said,
    }
}
