//! Signatures that travel: releases signed on a registry (sigstore-js attaches them as
//! `actions/attest` does) carried by `wreg bundle export` into an OCI layout read as a
//! mirror, pushed by `wreg bundle import` into another registry, and read through a
//! pull-through mirror. Under `verify = "always"` each way accepts the signed release and
//! refuses (exit 10) one signed by someone else, one signed by no one, and the signed one
//! once its signature is dropped.

use std::path::{Path, PathBuf};

use test_support::sigstore::{self, Job};
use test_support::{Distribution, http, is_listening};

use super::{GITHUB, WORKFLOW};
use crate::{Home, s};

const MALLORY: &str = "mallory@evil.example";

/// The three releases every test publishes: one signed by the workflow the policy allows,
/// one by someone else, one by no one.
const RELEASES: [&str; 3] = [
    "acme:signed@1.0.0",
    "acme:stranger@1.0.0",
    "acme:unsigned@1.0.0",
];

/// `GET path` on `registry` accepting `accept`: the status, the `Docker-Content-Digest` and
/// the body.
fn get(registry: &Distribution, path: &str, accept: &str) -> (u16, String, Vec<u8>) {
    let answer = http::request(registry.addr(), "GET", path, &[("Accept", accept)], b"").unwrap();
    let digest = answer
        .header("docker-content-digest")
        .unwrap_or("")
        .to_owned();
    (answer.status, digest, answer.body)
}

/// The digest of the manifest `registry` serves for `acme/<name>:1.0.0`.
fn manifest_of(registry: &Distribution, name: &str) -> String {
    let path = format!("/v2/acme/{name}/manifests/1.0.0");
    let (status, digest, body) = get(
        registry,
        &path,
        "application/vnd.oci.image.manifest.v1+json",
    );
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    digest
}

/// What `registry`'s referrers tag for `acme/<name>`'s manifest `digest` lists: its status
/// and the referrer digests.
fn referrers_tag(registry: &Distribution, name: &str, digest: &str) -> (u16, Vec<String>) {
    let path = format!("/v2/acme/{name}/manifests/{}", digest.replace(':', "-"));
    let (status, _, body) = get(registry, &path, "application/vnd.oci.image.index.v1+json");
    let listed = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|index| {
            let entries = index["manifests"].as_array()?.iter();
            Some(
                entries
                    .filter_map(|m| Some(m["digest"].as_str()?.to_owned()))
                    .collect(),
            )
        })
        .unwrap_or_default();
    (status, listed)
}

/// The releases, published to `registry` and signed there; the trusted root of the
/// signatures (in `keys`) and each release's manifest digest, by name.
struct Signed {
    root: PathBuf,
    manifests: Vec<(&'static str, String)>,
    _keys: tempfile::TempDir,
}

impl Signed {
    fn publish(publisher: &Home, registry: &Distribution) -> Self {
        for release in RELEASES {
            let file = publisher.component(&format!("{release}.wasm"), release);
            publisher.ok(&["publish", s(&file), "--package", release]);
        }
        let manifests: Vec<(&str, String)> = ["signed", "stranger", "unsigned"]
            .into_iter()
            .map(|name| (name, manifest_of(registry, name)))
            .collect();
        let keys = tempfile::tempdir().unwrap();
        let hex = |name: &str| {
            let (_, digest) = manifests.iter().find(|(n, _)| *n == name).unwrap();
            digest.trim_start_matches("sha256:").to_owned()
        };
        let (signed, stranger) = (hex("signed"), hex("stranger"));
        let jobs = [
            Job {
                label: "signed",
                subject_hex: &signed,
                identity: WORKFLOW,
            },
            Job {
                label: "stranger",
                subject_hex: &stranger,
                identity: MALLORY,
            },
        ];
        let root = sigstore::sign(&jobs, GITHUB, keys.path());
        for job in &jobs {
            let bundle = keys.path().join(format!("{}.sigstore.json", job.label));
            let digest = format!("sha256:{}", job.subject_hex);
            let repo = format!("acme/{}", job.label);
            sigstore::attach(&registry.host(), &repo, &digest, &bundle);
        }
        Self {
            root,
            manifests,
            _keys: keys,
        }
    }

    fn manifest(&self, name: &str) -> &str {
        &self.manifests.iter().find(|(n, _)| *n == name).unwrap().1
    }

    /// A configuration mapping `acme` to `registry` under a policy that only the workflow
    /// satisfies, with `more` after it.
    fn policy(&self, registry: &str, more: &str) -> String {
        let policy = super::policy(registry, &self.root, r"^https://github\.com/acme/");
        format!("{policy}{more}")
    }
}

/// `[registry."<upstream>".mirrors]` listing `order`, and each `(name, dir)` as an OCI
/// layout registry.
fn mirrors(upstream: &str, order: &[&str], layouts: &[(&str, &Path)]) -> String {
    let order: Vec<String> = order.iter().map(|m| format!("{m:?}")).collect();
    let mut text = format!(
        "[registry.\"{upstream}\".mirrors]\norder = [{}]\n",
        order.join(", ")
    );
    for (name, dir) in layouts {
        text.push_str(&format!(
            "[registry.\"{name}\".oci-layout]\npath = {:?}\n",
            s(dir)
        ));
    }
    text
}

/// Checks what a policy does in `home` (whose configuration maps `acme` somewhere under
/// it): `acme:signed` verified, by a bundle found on `found_on`, and fetched, its manifest
/// `manifest` and signer pinned; the stranger's and the unsigned release refused with exit
/// 10, nothing written.
fn accepts_only_the_workflow(home: &Home, manifest: &str, found_on: &str) {
    let out = home.ok(&["verify", "acme:signed@1.0.0"]);
    assert!(out.contains(&format!("manifest {manifest}")), "{out}");
    let accepted = out.lines().find(|l| l.contains("ok   bundle sha256:"));
    assert!(
        accepted.is_some_and(|line| line.ends_with(&format!(" on {found_on}"))),
        "{out}"
    );
    assert!(
        out.trim_end()
            .ends_with(&format!("verified: signed by {WORKFLOW} (issuer {GITHUB})")),
        "{out}"
    );
    home.ok(&["fetch", "--dep", "acme:signed@1.0.0"]);
    assert!(home.path("deps/acme/signed.wasm").is_file());
    let lock = std::fs::read_to_string(home.path("wkg.lock")).unwrap();
    assert!(
        lock.contains(&format!("manifest = \"{manifest}\"")),
        "{lock}"
    );
    assert!(lock.contains(WORKFLOW), "{lock}");

    let err = home.fails(&["fetch", "--dep", "acme:stranger@1.0.0"], 10);
    assert!(err.contains(&format!("signed by {MALLORY}")), "{err}");
    let err = home.fails(&["fetch", "--dep", "acme:unsigned@1.0.0"], 10);
    assert!(err.contains("no Sigstore bundle is attached"), "{err}");
    for name in ["stranger", "unsigned"] {
        let path = home.path(&format!("deps/acme/{name}.wasm"));
        assert!(!path.exists(), "nothing is written: {}", path.display());
    }
}

#[test]
fn a_pull_through_mirror_passes_the_signatures_through_and_keeps_them() {
    let upstream = Distribution::start().unwrap_or_else(|e| panic!("{e}"));
    let cache = Distribution::start_pull_through(&upstream).unwrap_or_else(|e| panic!("{e}"));
    let (up, mirror) = (upstream.host(), cache.host());
    let publisher = Home::new(&format!("[namespace_registries]\nacme = \"{up}\"\n"));
    let signed = Signed::publish(&publisher, &upstream);
    let manifest = signed.manifest("signed");

    // Measured: docker-registry 2.8's pull-through serves the manifest as the upstream
    // does, and the referrers tag `sha256-<hex>` too (a tag like any other); it has no
    // referrers API, nor has the upstream.
    let (status, digest, _) = get(
        &cache,
        "/v2/acme/signed/manifests/1.0.0",
        "application/vnd.oci.image.manifest.v1+json",
    );
    assert_eq!((status, digest.as_str()), (200, manifest));
    let through = referrers_tag(&cache, "signed", manifest);
    assert_eq!(through.0, 200);
    assert_eq!(through, referrers_tag(&upstream, "signed", manifest));
    assert_eq!(through.1.len(), 1);
    let api = format!("/v2/acme/signed/referrers/{manifest}");
    assert_eq!(
        get(&cache, &api, "application/vnd.oci.image.index.v1+json").0,
        404
    );

    // So the mirror, asked first, is where the signature is found.
    let config = signed.policy(&up, &mirrors(&up, &[&mirror, &up], &[]));
    let home = Home::new(&config);
    accepts_only_the_workflow(&home, manifest, &mirror);

    // The upstream gone, the mirror still has what it passed on: a machine with an empty
    // cache verifies through it alone, and the refusals stand.
    let addr = upstream.addr();
    drop(upstream);
    assert!(!is_listening(addr));
    let offline = Home::new(&config);
    accepts_only_the_workflow(&offline, manifest, &mirror);
}

/// A copy of the layout `from` at `to` without its signatures: `index.json`'s entries that
/// name no release (the referrers) dropped.
fn without_signatures(from: &Path, to: &Path) {
    let copy = std::process::Command::new("cp")
        .args(["-r", s(from), s(to)])
        .status()
        .unwrap();
    assert!(copy.success());
    let path = to.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let manifests = index["manifests"].as_array_mut().unwrap();
    let before = manifests.len();
    manifests.retain(|m| m.get("annotations").is_some());
    assert_eq!(manifests.len(), before - 2, "two signatures were dropped");
    std::fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
}

#[test]
fn a_bundle_carries_the_signatures_as_a_mirror_and_into_the_registry_it_is_imported_to() {
    let upstream = Distribution::start().unwrap_or_else(|e| panic!("{e}"));
    let up = upstream.host();
    let publisher = Home::new(&format!("[namespace_registries]\nacme = \"{up}\"\n"));
    let signed = Signed::publish(&publisher, &upstream);
    let manifest = signed.manifest("signed");

    // Export: each release in the registry's own manifest, with what is attached to it.
    let mut export = vec!["bundle", "export", "bundle"];
    export.extend(RELEASES);
    let out = publisher.ok(&export);
    for (name, carried) in [
        ("signed", ", 1 signature"),
        ("stranger", ", 1 signature"),
        ("unsigned", ""),
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("acme:{name}@1.0.0 added (sha256:")))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(line.ends_with(&format!("){carried}")), "{out}");
    }
    assert!(
        out.trim_end()
            .ends_with("3 release(s), 2 signature(s), bundle"),
        "{out}"
    );
    let bundle = publisher.path("bundle");
    let index = std::fs::read_to_string(bundle.join("index.json")).unwrap();
    let entries: serde_json::Value = serde_json::from_str(&index).unwrap();
    for (name, digest) in &signed.manifests {
        let named = entries["manifests"].as_array().unwrap().iter().find(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"] == format!("acme:{name}@1.0.0")
        });
        assert_eq!(named.unwrap()["digest"], digest.as_str(), "{index}");
    }
    // Exporting again changes nothing, and says the same in JSON.
    let json: serde_json::Value = serde_json::from_str(&publisher.ok(&[
        "--json",
        "bundle",
        "export",
        "bundle",
        "acme:signed@1.0.0",
    ]))
    .unwrap();
    assert_eq!(json["releases"][0]["signatures"], 1, "{json}");
    assert_eq!(
        std::fs::read_to_string(bundle.join("index.json")).unwrap(),
        index
    );
    let dropped = publisher.path("dropped");
    without_signatures(&bundle, &dropped);

    // A mirror without the signatures, the registry with them: they are found on the
    // registry.
    let layouts = [
        ("offline", bundle.as_path()),
        ("stripped", dropped.as_path()),
    ];
    let fallback = Home::new(&signed.policy(&up, &mirrors(&up, &["stripped", &up], &layouts)));
    accepts_only_the_workflow(&fallback, manifest, &up);

    // (a) The registry is down: the bundle, as its mirror, carries the signatures alone.
    let addr = upstream.addr();
    drop(upstream);
    assert!(!is_listening(addr));
    let site = Home::new(&signed.policy(&up, &mirrors(&up, &["offline", &up], &layouts)));
    accepts_only_the_workflow(&site, manifest, "offline");
    // Without them no source has a signature: refused.
    let stripped = Home::new(&signed.policy(&up, &mirrors(&up, &["stripped", &up], &layouts)));
    let err = stripped.fails(&["fetch", "--dep", "acme:signed@1.0.0"], 10);
    assert!(err.contains("no Sigstore bundle is attached"), "{err}");
    assert!(!stripped.path("deps/acme/signed.wasm").exists());

    // (b) Imported into the site's registry: the same manifests, the signatures attached.
    let registry = Distribution::start().unwrap_or_else(|e| panic!("{e}"));
    let host = registry.host();
    let out = publisher.ok(&["bundle", "import", "bundle", "--registry", &host]);
    assert!(
        out.contains("acme:signed@1.0.0 published (sha256:"),
        "{out}"
    );
    assert!(
        out.trim_end()
            .ends_with("3 release(s), 2 signature(s), bundle"),
        "{out}"
    );
    for (name, digest) in &signed.manifests {
        assert_eq!(&manifest_of(&registry, name), digest);
    }
    // Imported again: left alone, and each signature attached once.
    let out = publisher.ok(&["bundle", "import", "bundle", "--registry", &host]);
    assert!(
        out.contains("acme:signed@1.0.0 already-there (sha256:"),
        "{out}"
    );
    assert!(out.contains("), 1 signature\n"), "{out}");
    assert_eq!(referrers_tag(&registry, "signed", manifest).1.len(), 1);
    let imported = Home::new(&signed.policy(&host, ""));
    accepts_only_the_workflow(&imported, manifest, &host);

    // The bundle without its signatures, imported elsewhere: nothing is signed there.
    let bare = Distribution::start().unwrap_or_else(|e| panic!("{e}"));
    let out = publisher.ok(&["bundle", "import", "dropped", "--registry", &bare.host()]);
    assert!(
        out.trim_end()
            .ends_with("3 release(s), 0 signature(s), dropped"),
        "{out}"
    );
    assert_eq!(referrers_tag(&bare, "signed", manifest).0, 404);
    let unsigned = Home::new(&signed.policy(&bare.host(), ""));
    let err = unsigned.fails(&["fetch", "--dep", "acme:signed@1.0.0"], 10);
    assert!(err.contains("no Sigstore bundle is attached"), "{err}");
}
