//! Checks of the workspace itself, so `cargo test` enforces them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The crates downstream tools depend on.
const PUBLISHED: &[&str] = &[
    "registry-core",
    "registry-config",
    "registry-transport",
    "registry-oci",
    "registry-warg",
    "registry-client",
    "registry-wit",
    "registry-adapters",
    "wreg",
];

/// What each library crate compiles with its default features, counted as the issue that
/// set the budgets counts it: `cargo tree -p <crate> -e normal --prefix none | sort -u |
/// wc -l` (distinct lines of the normal dependency tree, the crate itself included).
///
/// `registry-client`'s budget is wasm-pkg-client 0.16.1's own count by that method (272),
/// the library wkg and cargo-component embed today: a tool that moves to ours compiles no
/// more. The others were measured when the budgets were set (core 32, config 54,
/// transport 152, oci 210, warg 445, client 214, wit 185, adapters 166) and leave a little
/// room.
const TREE_BUDGETS: &[(&str, usize)] = &[
    ("registry-core", 36),
    ("registry-config", 60),
    ("registry-transport", 160),
    ("registry-oci", 220),
    ("registry-warg", 460),
    ("registry-client", 272),
    ("registry-wit", 200),
    ("registry-adapters", 180),
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

/// The command line reaches the registries only through the library crates (the client,
/// the WIT workflow, the adapters) and the configuration: no backend crate directly.
#[test]
fn wreg_depends_only_on_the_library_crates() {
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
    let allowed = [
        "registry-adapters",
        "registry-client",
        "registry-config",
        "registry-core",
        "registry-wit",
    ];
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

/// The distinct lines of a crate's normal dependency tree (see [`TREE_BUDGETS`]).
fn tree_lines(args: &[&str]) -> Vec<String> {
    let mut command = vec!["tree", "--locked", "-e", "normal", "--prefix", "none"];
    command.extend(args);
    let mut lines: Vec<String> = cargo(&command).lines().map(str::to_owned).collect();
    lines.sort();
    lines.dedup();
    lines
}

#[test]
fn default_trees_are_within_their_budgets() {
    let mut over = Vec::new();
    for (name, budget) in TREE_BUDGETS {
        let count = tree_lines(&["-p", name]).len();
        assert!(count > 10, "{name}: {count} lines; is `cargo tree` broken?");
        if count > *budget {
            over.push(format!(
                "{name} compiles {count} lines, over its budget of {budget}"
            ));
        }
    }
    assert!(
        over.is_empty(),
        "{}\ndrop the new dependency, put it behind a feature, or raise the budget in \
         tests/tests/tidy.rs with the reason",
        over.join("\n")
    );
    // The count sees the tree: the backends are what make it.
    let client = tree_lines(&["-p", "registry-client"]);
    assert!(
        client.iter().any(|l| l.starts_with("registry-oci ")),
        "OCI is a default"
    );
    assert!(
        !client.iter().any(|l| l.starts_with("registry-warg ")),
        "warg is not a default of registry-client"
    );
    // Provenance (sigstore-verify, offline, no HTTP client of its own) is a feature, and a
    // tool that turns it on still compiles no more than wasm-pkg-client (251 lines when it
    // was added).
    assert!(
        !client.iter().any(|l| l.starts_with("sigstore-verify ")),
        "provenance is not a default of registry-client"
    );
    let signed = tree_lines(&["-p", "registry-client", "--features", "provenance"]);
    assert!(
        signed.iter().any(|l| l.starts_with("sigstore-verify ")),
        "the feature brings the verifier"
    );
    assert!(
        signed.len() <= 272,
        "registry-client with `provenance` compiles {} lines, over wasm-pkg-client's 272",
        signed.len()
    );
}

/// Only a crate that composes depends on wac's crates, and only one that encodes WIT on
/// wit-component: the client, whatever its features, needs neither.
#[test]
fn only_composing_and_encoding_crates_depend_on_wac_and_wit_component() {
    let names = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| n.starts_with("wac-") || *n == "wit-component")
            .map(str::to_owned)
            .collect()
    };
    for args in [
        &["-p", "registry-client", "--all-features"][..],
        &["-p", "registry-adapters"],
        &["-p", "registry-oci"],
        &["-p", "registry-warg"],
    ] {
        let found = names(&tree_lines(args));
        assert!(found.is_empty(), "{args:?} pulls in {found:?}");
    }
    let wit = names(&tree_lines(&["-p", "registry-wit"]));
    assert_eq!(
        wit,
        ["wit-component"],
        "registry-wit encodes, and composes nothing"
    );
    let wreg = names(&tree_lines(&["-p", "wreg"]));
    assert!(
        wreg.iter().any(|n| n == "wac-graph"),
        "wreg composes: {wreg:?}"
    );
}

/// A file a reader can hold in their head: none of the crates' (or the xtask's, or the test
/// support's) sources is over 700 lines.
#[test]
fn no_source_file_under_crates_is_over_700_lines() {
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "tests"] {
        rust_files(&root().join(dir), &mut files);
    }
    assert!(
        files.len() > 50,
        "only {} files found: is the walk broken?",
        files.len()
    );
    let long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).unwrap().lines().count();
            (lines > 700).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these files: {long:?}");
    // The embedding examples stay short enough to copy whole.
    for example in ["wac", "cargo_component"] {
        let path = root().join(format!("crates/registry-adapters/examples/{example}.rs"));
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(
            lines < 60,
            "{}: {lines} lines, the README's library section promises under 60",
            path.display()
        );
    }
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
