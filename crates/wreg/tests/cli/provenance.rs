//! Provenance as a user meets it: releases on a real registry (CNCF distribution, which has
//! no referrers API, so bundles travel by the `sha256-<hex>` tag), signed and attached by
//! sigstore-js as GitHub's `actions/attest` does, checked by `wreg verify`, enforced by
//! `wreg fetch` under a policy, and pinned in `wkg.lock`.

use std::path::Path;

use test_support::sigstore::{self, Job};
use test_support::{Distribution, http};

use crate::{Home, s};

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

    // An unsigned release and one signed by someone else: exit 10, saying why.
    let err = home.fails(&["verify", "acme:unsigned@1.0.0"], 10);
    assert!(err.contains("acme:unsigned@1.0.0 from registry"), "{err}");
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

    // Without a policy nothing is asked and nothing changes.
    let plain = Home::new(&format!("[namespace_registries]\nacme = \"{host}\"\n"));
    plain.ok(&["fetch", "--dep", "acme:unsigned@1.0.0"]);
    let lock = std::fs::read_to_string(plain.path("wkg.lock")).unwrap();
    assert!(
        !lock.contains("signer") && !lock.contains("manifest"),
        "{lock}"
    );
}
