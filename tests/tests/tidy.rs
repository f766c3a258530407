//! Checks of the workspace itself, so `cargo test` enforces them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The crates downstream tools depend on.
const PUBLISHED: &[&str] = &[
    "registry-core",
    "registry-config",
    "registry-oci",
    "registry-warg",
    "registry-client",
    "wreg",
];

/// Crates for our own development only: never published.
const DEV_ONLY: &[&str] = &["tests", "test-support", "xtask", "wreg-fuzz"];

/// Crates that must stay light: no async runtime, no HTTP client.
const LIGHT: &[&str] = &["registry-core", "registry-config"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn cargo(args: &[&str]) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(args)
        .current_dir(root())
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn metadata() -> Value {
    serde_json::from_str(&cargo(&["metadata", "--format-version", "1", "--no-deps"])).unwrap()
}

#[test]
fn published_crates_carry_full_metadata() {
    let metadata = metadata();
    let packages = metadata["packages"].as_array().unwrap();
    for name in PUBLISHED {
        let package = packages
            .iter()
            .find(|p| p["name"] == *name)
            .unwrap_or_else(|| panic!("{name} is not a workspace member"));
        let field = |key: &str| package[key].as_str().unwrap_or_default().to_owned();
        assert!(!field("description").is_empty(), "{name}: no description");
        assert_eq!(field("license"), "Apache-2.0 WITH LLVM-exception", "{name}");
        assert!(
            field("repository").starts_with("https://"),
            "{name}: no repository"
        );
        let readme = field("readme");
        assert!(!readme.is_empty(), "{name}: no readme");
        let dir = Path::new(package["manifest_path"].as_str().unwrap())
            .parent()
            .unwrap()
            .to_owned();
        assert!(
            dir.join(&readme).is_file(),
            "{name}: readme {readme} is missing"
        );
        assert!(
            dir.join("LICENSE").is_file(),
            "{name}: no LICENSE next to the manifest"
        );
        let keywords = package["keywords"].as_array().unwrap();
        assert!(
            (1..=5).contains(&keywords.len()),
            "{name}: crates.io takes 1 to 5 keywords"
        );
        let categories = package["categories"].as_array().unwrap();
        assert!(!categories.is_empty(), "{name}: no categories");
        assert!(
            !field("rust_version").is_empty(),
            "{name}: no rust-version (MSRV)"
        );
        assert!(
            package["metadata"]["docs"]["rs"].is_object(),
            "{name}: no [package.metadata.docs.rs]"
        );
        assert!(
            package["publish"].is_null(),
            "{name} must be publishable to crates.io"
        );
    }
    for name in DEV_ONLY {
        let package = packages
            .iter()
            .find(|p| p["name"] == *name)
            .unwrap_or_else(|| panic!("{name} is not a workspace member"));
        assert_eq!(
            package["publish"],
            serde_json::json!([]),
            "{name} is for development only: it needs `publish = false`"
        );
    }
    let license = std::fs::read_to_string(root().join("LICENSE")).unwrap();
    assert!(license.contains("Apache License") && license.contains("LLVM Exceptions"));
}

#[test]
fn light_crates_pull_in_no_runtime_and_no_http_client() {
    for name in LIGHT {
        let tree = cargo(&[
            "tree", "--locked", "-p", name, "-e", "normal", "--prefix", "none", "-f", "{p} {f}",
        ]);
        for line in tree.lines() {
            let crate_name = line.split_whitespace().next().unwrap_or_default();
            assert!(
                ![
                    "hyper",
                    "reqwest",
                    "h2",
                    "rustls",
                    "oci-client",
                    "warg-client"
                ]
                .contains(&crate_name),
                "{name} depends on {line}"
            );
            if crate_name == "tokio" {
                let features = line.split_whitespace().nth(2).unwrap_or_default();
                assert!(
                    !features
                        .split(',')
                        .any(|f| f.starts_with("rt") || f == "net" || f == "fs"),
                    "{name} depends on tokio with runtime features: {line}"
                );
            }
        }
    }
}

/// The command line reaches the registries only through the client: it may use the client,
/// the configuration and the vocabulary, and no backend crate directly.
#[test]
fn wreg_depends_only_on_client_config_and_core() {
    let metadata = metadata();
    let packages = metadata["packages"].as_array().unwrap();
    let wreg = packages.iter().find(|p| p["name"] == "wreg").unwrap();
    let ours: Vec<&str> = wreg["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"].is_null())
        .map(|d| d["name"].as_str().unwrap())
        .filter(|name| PUBLISHED.contains(name) || name.starts_with("registry-"))
        .collect();
    let allowed = ["registry-client", "registry-config", "registry-core"];
    for name in &ours {
        assert!(
            allowed.contains(name),
            "wreg depends on {name}; reach it through registry-client instead"
        );
    }
    assert_eq!(
        ours.len(),
        allowed.len(),
        "wreg's own dependencies: {ours:?}"
    );
}

#[test]
fn library_crates_deny_missing_docs() {
    for name in PUBLISHED.iter().filter(|n| **n != "wreg") {
        let lib = root().join("crates").join(name).join("src/lib.rs");
        let text = std::fs::read_to_string(&lib).unwrap();
        assert!(
            text.starts_with("//!"),
            "{name}: lib.rs starts without crate docs"
        );
        assert!(
            text.contains("#![deny(missing_docs)]"),
            "{name}: missing_docs not denied"
        );
    }
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The credentials the tests write literally are all listed in
/// `test_support::secrets::LITERALS`, so `cargo xtask test` searches the run's output for
/// every one of them.
#[test]
fn every_test_credential_is_known_to_the_leak_search() {
    let mut files = Vec::new();
    for dir in ["crates", "tests", "fuzz"] {
        rust_files(&root().join(dir), &mut files);
    }
    // Where a test writes a credential: config text, `Secret` values, basic auth helpers.
    let markers = [
        "password = \\\"",
        "password = \"",
        "auth_token = \"",
        "Secret::new(\"",
        "basic(\"",
        "start_with_basic_auth(\"user\", \"",
    ];
    let mut found = 0;
    for file in files.iter().filter(|f| {
        let s = f.to_string_lossy();
        s.contains("/tests/") || s.contains("/fuzz/")
    }) {
        let text = std::fs::read_to_string(file).unwrap();
        for marker in markers {
            for (at, _) in text.match_indices(marker) {
                let rest = &text[at + marker.len()..];
                let value: String = rest
                    .chars()
                    .take_while(|c| *c != '"' && *c != '\\')
                    .collect();
                if value.is_empty() || value.starts_with(['{', '<']) {
                    continue;
                }
                found += 1;
                assert!(
                    test_support::secrets::LITERALS
                        .iter()
                        .any(|known| value.contains(known)),
                    "{}: the credential {value:?} is not in test_support::secrets::LITERALS",
                    file.display()
                );
            }
        }
    }
    assert!(
        found >= 10,
        "only {found} credentials found: is the scan broken?"
    );
}
