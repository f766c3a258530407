//! Provenance as a user meets it: releases on a real registry (CNCF distribution, which has
//! no referrers API, so bundles travel by the `sha256-<hex>` tag), signed and attached by
//! sigstore-js as GitHub's `actions/attest` does, checked by `wreg verify`, enforced by
//! `wreg fetch` under a policy, and pinned in `wkg.lock`.

use std::path::Path;

use test_support::sigstore::{self, Job};
use test_support::{Distribution, http};

use crate::{Home, s};

mod bundle;

const GITHUB: &str = "https://token.actions.githubusercontent.com";
const WORKFLOW: &str =
    "https://github.com/acme/widgets/.github/workflows/release.yml@refs/tags/v1.0.0";

/// The digest of the manifest the registry serves for `repo:tag`.
fn manifest_digest(registry: &Distribution, repo: &str, tag: &str) -> String {
    let answer = http::request(
        registry.addr(),
        "GET",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        b"",
    )
    .unwrap();
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.header("docker-content-digest").unwrap().to_owned()
}

fn policy(registry: &str, root: &Path, identity_regexp: &str) -> String {
    format!(
        "[namespace_registries]\nacme = \"{registry}\"\n\n\
         [registry.\"{registry}\".provenance]\n\
         verify = \"always\"\n\
         trusted_root = {root:?}\n\
         issuer = \"{GITHUB}\"\n\
         identity_regexp = '{identity_regexp}'\n",
        root = s(root),
    )
}

#[test]
fn a_policy_accepts_signed_releases_refuses_the_rest_and_pins_the_signer() {
    let registry = Distribution::start().unwrap_or_else(|e| panic!("{e}"));
    let host = registry.host();
    // Publish two releases; sign only `acme:signed`, as CI would after pushing it.
    let setup = Home::new(&format!("[namespace_registries]\nacme = \"{host}\"\n"));
    for name in ["signed", "unsigned", "stranger"] {
        let file = setup.component(&format!("{name}.wasm"), name);
        setup.ok(&[
            "publish",
            s(&file),
            "--package",
            &format!("acme:{name}@1.0.0"),
        ]);
    }
    let signed = manifest_digest(&registry, "acme/signed", "1.0.0");
    let stranger = manifest_digest(&registry, "acme/stranger", "1.0.0");
    let hex = |d: &str| d.trim_start_matches("sha256:").to_owned();
    let keys = tempfile::tempdir().unwrap();
    let (signed_hex, stranger_hex) = (hex(&signed), hex(&stranger));
    let root = sigstore::sign(
        &[
            Job {
                label: "signed",
                subject_hex: &signed_hex,
                identity: WORKFLOW,
            },
            Job {
                label: "stranger",
                subject_hex: &stranger_hex,
                identity: "mallory@evil.example",
            },
        ],
        GITHUB,
        keys.path(),
    );
    for (repo, digest, label) in [
        ("acme/signed", &signed, "signed"),
        ("acme/stranger", &stranger, "stranger"),
    ] {
        let bundle = keys.path().join(format!("{label}.sigstore.json"));
        let referrer = sigstore::attach(&host, repo, digest, &bundle);
        assert!(referrer.starts_with("sha256:"), "{referrer}");
    }

    let home = Home::new(&policy(&host, &root, r"^https://github\.com/acme/"));

    // wreg verify says who signed, and that the policy accepts it.
    let out = home.ok(&["verify", "acme:signed@1.0.0"]);
    assert!(out.contains(&format!("manifest {signed}")), "{out}");
    assert!(
        out.contains(&format!("signed by {WORKFLOW} (issuer {GITHUB})")),
        "{out}"
    );
    assert!(
        out.contains("statement https://slsa.dev/provenance/v1"),
        "{out}"
    );
    assert!(
        out.trim_end()
            .ends_with(&format!("verified: signed by {WORKFLOW} (issuer {GITHUB})")),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&home.ok(&["--json", "verify", "acme:signed@1"])).unwrap();
    assert_eq!(json["verified"], true);
    assert_eq!(json["manifest"], signed.as_str());
    assert_eq!(json["signer"]["identity"], WORKFLOW);
    assert_eq!(json["bundles"][0]["accepted"], true);
    assert!(
        json["policy"]["origin"]
            .as_str()
            .unwrap()
            .contains("config.toml:"),
        "{json}"
    );
    let mut printed = std::collections::BTreeSet::new();
    crate::json::keys(&json, "", &mut printed);
    assert_eq!(
        printed,
        crate::json::documented()["verify"],
        "docs/json.md's `wreg verify --json`"
    );

    // An unsigned release and one signed by someone else: exit 10, saying why.
    let err = home.fails(&["verify", "acme:unsigned@1.0.0"], 10);
    assert!(err.contains("`acme:unsigned@1.0.0` from registry"), "{err}");
    assert!(err.contains("no Sigstore bundle is attached"), "{err}");
    let err = home.fails(&["fetch", "--dep", "acme:stranger@1.0.0"], 10);
    assert!(err.contains("signed by mallory@evil.example"), "{err}");
    assert!(
        err.contains("identity matching /^https://github\\.com/acme//"),
        "{err}"
    );
    assert!(
        !home.path("deps/acme/stranger.wasm").exists(),
        "nothing is written"
    );
    // `get` is held to the policy too, before anything is written.
    home.fails(&["get", "acme:unsigned@1.0.0", "-o", "unsigned.wasm"], 10);
    assert!(!home.path("unsigned.wasm").exists());
    home.ok(&["get", "acme:signed@1.0.0", "-o", "signed.wasm"]);
    assert!(home.path("signed.wasm").is_file());

    // A table that only says where to sign is no policy: fetches are not checked.
    let signing_only = Home::new(&format!(
        "[namespace_registries]\nacme = \"{host}\"\n\n\
         [registry.\"{host}\".provenance]\nrekor_url = \"https://rekor.example\"\n"
    ));
    signing_only.ok(&["fetch", "--dep", "acme:unsigned@1.0.0"]);

    // fetch under the policy writes the release and pins its signer in wkg.lock.
    home.ok(&["fetch", "--dep", "acme:signed@^1"]);
    assert!(home.path("deps/acme/signed.wasm").is_file());
    let lock = std::fs::read_to_string(home.path("wkg.lock")).unwrap();
    assert!(lock.contains(&format!("manifest = \"{signed}\"")), "{lock}");
    assert!(lock.contains(WORKFLOW) && lock.contains(GITHUB), "{lock}");
    home.ok(&["fetch", "--dep", "acme:signed@^1", "--locked"]);

    // A lock file that pinned another signer: the release is refused even though the
    // policy's pattern would allow the one who signed it.
    let other = "https://github.com/acme/widgets/.github/workflows/other.yml@refs/heads/main";
    std::fs::write(home.path("wkg.lock"), lock.replace(WORKFLOW, other)).unwrap();
    let err = home.fails(&["fetch", "--dep", "acme:signed@^1", "--locked"], 10);
    assert!(
        err.contains(&format!("the lock file pinned {other}")),
        "{err}"
    );
    // Offline, a pinned signer stands only if the policy allows it.
    let mallory = lock.replace(WORKFLOW, "mallory@evil.example");
    std::fs::write(home.path("wkg.lock"), &mallory).unwrap();
    let err = home.fails(
        &["--offline", "fetch", "--dep", "acme:signed@^1", "--locked"],
        10,
    );
    assert!(
        err.contains("pins a signer the policy does not allow: mallory@evil.example"),
        "{err}"
    );

    // A lock file rewritten by wkg (which drops the fields it does not know) still passes
    // --locked: the pins are the same, and the signature is verified all the same.
    let stripped: String = lock
        .lines()
        .filter(|l| {
            !l.starts_with("manifest = ")
                && !l.starts_with("signer")
                && !l.starts_with("identity")
                && !l.starts_with("issuer")
                && !l.starts_with("[packages.versions.signer]")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!stripped.contains(WORKFLOW), "{stripped}");
    std::fs::write(home.path("wkg.lock"), &stripped).unwrap();
    home.ok(&["fetch", "--dep", "acme:signed@^1", "--locked"]);
    assert_eq!(
        std::fs::read_to_string(home.path("wkg.lock")).unwrap(),
        stripped
    );
    // Offline, a pin without a recorded signer cannot be checked: not cached (7).
    let err = home.fails(
        &["--offline", "fetch", "--dep", "acme:signed@^1", "--locked"],
        7,
    );
    assert!(err.contains("signatures"), "{err}");
    // Without --locked the signer is recorded again.
    home.ok(&["fetch", "--dep", "acme:signed@^1"]);
    assert!(
        std::fs::read_to_string(home.path("wkg.lock"))
            .unwrap()
            .contains(WORKFLOW)
    );
    // ... and offline the recorded signer stands (it was verified when it was pinned).
    home.ok(&["--offline", "fetch", "--dep", "acme:signed@^1", "--locked"]);

    // Without a policy nothing is asked and nothing changes.
    let plain = Home::new(&format!("[namespace_registries]\nacme = \"{host}\"\n"));
    plain.ok(&["fetch", "--dep", "acme:unsigned@1.0.0"]);
    let lock = std::fs::read_to_string(plain.path("wkg.lock")).unwrap();
    assert!(
        !lock.contains("signer") && !lock.contains("manifest"),
        "{lock}"
    );
}

/// The Sigstore bundle attached to `repo`'s manifest `digest`, read by hand through the
/// `sha256-<hex>` tag index (docker-registry has no referrers API).
fn attached_bundle(registry: &Distribution, repo: &str, digest: &str) -> Vec<u8> {
    let get = |path: String, accept: &str| {
        let answer =
            http::request(registry.addr(), "GET", &path, &[("Accept", accept)], b"").unwrap();
        assert_eq!(
            answer.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        answer.body
    };
    let tag = digest.replace(':', "-");
    let index: serde_json::Value = serde_json::from_slice(&get(
        format!("/v2/{repo}/manifests/{tag}"),
        "application/vnd.oci.image.index.v1+json",
    ))
    .unwrap();
    let referrer = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&get(
        format!("/v2/{repo}/manifests/{referrer}"),
        "application/vnd.oci.image.manifest.v1+json",
    ))
    .unwrap();
    assert_eq!(manifest["subject"]["digest"], digest, "{manifest}");
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    get(format!("/v2/{repo}/blobs/{layer}"), "*/*")
}

#[test]
fn publish_signs_keyless_and_with_a_key_and_sigstore_js_verifies_what_it_signed() {
    let registry = Distribution::start().unwrap_or_else(|e| panic!("{e}"));
    let host = registry.host();
    let identity = "ci@acme.example";
    let sigstore = sigstore::MockInstance::start(identity, GITHUB);
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = (keys.path().join("key.pem"), keys.path().join("key.pub"));
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl (Debian `openssl`)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        s(&key),
    ]);
    openssl(&["pkey", "-in", s(&key), "-pubout", "-out", s(&public)]);

    let home = Home::new(&format!(
        "[namespace_registries]\nacme = \"{host}\"\n\n{}\n\
         [registry.\"{host}\".provenance.package.\"acme:keyed\"]\n\
         public_key = {public:?}\n",
        sigstore.policy(&host),
        public = s(&public),
    ));
    let publish = |package: &str, extra: &[&str], token: Option<&str>| {
        let file = home.component(&format!("{package}.wasm"), package);
        let mut command = home.command("cache");
        command
            .args([
                "publish",
                s(&file),
                "--package",
                &format!("{package}@1.0.0"),
            ])
            .args(extra);
        if let Some(token) = token {
            command.env("SIGSTORE_ID_TOKEN", token);
        }
        command.output().unwrap()
    };

    // --sign without a token: a usage error before anything is published.
    let out = publish("acme:signed", &["--sign"], None);
    assert_eq!(
        out.status.code(),
        Some(64),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("SIGSTORE_ID_TOKEN"));
    let err = home.fails(&["versions", "acme:signed"], 2);
    assert!(err.contains("was not found"), "{err}");

    // Keyless: Fulcio certifies the token's identity, Rekor logs it, the bundle is attached.
    let out = publish("acme:signed", &["--sign"], Some(&sigstore.token));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "signed by {identity} (issuer {GITHUB}); signature attached as sha256:"
        )),
        "{stdout}"
    );
    assert!(
        !stdout.contains(&sigstore.token),
        "the token is never printed"
    );
    let verified = home.ok(&["verify", "acme:signed@1.0.0"]);
    assert!(
        verified.contains("statement https://sigstore.dev/cosign/sign/v1"),
        "{verified}"
    );
    home.ok(&["fetch", "--dep", "acme:signed@^1"]);

    // sigstore-js verifies the bundle we attached, under the same trusted root.
    let digest = manifest_digest(&registry, "acme/signed", "1.0.0");
    let bundle = keys.path().join("ours.sigstore.json");
    std::fs::write(&bundle, attached_bundle(&registry, "acme/signed", &digest)).unwrap();
    let hex = digest.trim_start_matches("sha256:");
    let signer = sigstore::verify(
        &bundle,
        &sigstore.trusted_root,
        hex,
        sigstore::Expect::Keyless {
            identity,
            issuer: GITHUB,
        },
    )
    .unwrap_or_else(|err| panic!("sigstore-js refused our bundle: {err}"));
    assert!(signer.contains(identity), "{signer}");
    // ... and refuses it for another identity: the check is real.
    let refused = sigstore::verify(
        &bundle,
        &sigstore.trusted_root,
        hex,
        sigstore::Expect::Keyless {
            identity: "x@y.example",
            issuer: GITHUB,
        },
    );
    assert!(refused.is_err());

    // A managed key: the package's policy names its public key.
    let out = publish("acme:keyed", &["--sign-key", s(&key)], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("signed by key sha256:"));
    let verified = home.ok(&["verify", "acme:keyed@1.0.0"]);
    assert!(
        verified.contains("verified: signed by key sha256:"),
        "{verified}"
    );
    let digest = manifest_digest(&registry, "acme/keyed", "1.0.0");
    let bundle = keys.path().join("keyed.sigstore.json");
    std::fs::write(&bundle, attached_bundle(&registry, "acme/keyed", &digest)).unwrap();
    sigstore::verify(
        &bundle,
        &sigstore.trusted_root,
        digest.trim_start_matches("sha256:"),
        sigstore::Expect::Key(&public),
    )
    .unwrap_or_else(|err| panic!("sigstore-js refused our keyed bundle: {err}"));

    // A release published unsigned is refused by the same policy.
    let out = publish("acme:plain", &[], None);
    assert!(out.status.success());
    let err = home.fails(&["fetch", "--dep", "acme:plain@^1"], 10);
    assert!(err.contains("no Sigstore bundle is attached"), "{err}");
}
