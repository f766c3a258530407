//! wkg 0.16's top-level verbs in a WIT project: `wreg fetch`, `build` and `update` do what
//! `wkg fetch`, `wkg build` and `wkg update` do there (`wit fetch`, `wit build`, the graph
//! resolved afresh), say so on stderr, and refuse a command line that asks for both
//! meanings, naming the command for each.

use std::path::Path;

use super::wit::{publish_dir, wit_dir};
use super::{Home, s};

const BASE_1_0: &str = "package acme:base@1.0.0;\ninterface types { type id = u32; }\n";
const BASE_1_1: &str =
    "package acme:base@1.1.0;\ninterface types { type id = u32; type name = string; }\n";
const LIB: &str = "package acme:lib@1.0.0;\ninterface api { use acme:base/types@1.0.0.{id}; get: func() -> id; }\n";
const APP: &str = "package my:app@0.1.0;\nworld app { import acme:lib/api@1.0.0; }\n";

/// The entries of a directory, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every file under `dir` with its bytes, by relative path.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(next) = todo.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                files.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

fn project() -> Home {
    let home = Home::new("");
    publish_dir(&home, "src/base-1.0", BASE_1_0);
    publish_dir(&home, "src/lib", LIB);
    wit_dir(&home, "wit", APP);
    home
}

#[test]
fn fetch_in_a_wit_project_is_wit_fetch() {
    let home = project();
    let out = home.wreg(&["fetch"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("./wit is a WIT project: fetching its whole graph into wit/deps"),
        "{stderr}"
    );
    // The whole graph, as WIT text, where `wit fetch` writes it; no ./deps.
    assert_eq!(
        entries(&home.path("wit/deps")),
        ["acme-base-1.0.0", "acme-lib-1.0.0"]
    );
    assert!(home.path("wit/deps/acme-base-1.0.0/package.wit").is_file());
    assert!(!home.path("deps").exists());
    let fetched = tree(&home.path("wit/deps"));
    let lock = std::fs::read_to_string(home.path("wkg.lock")).unwrap();
    home.ok(&["wit", "fetch"]);
    assert_eq!(
        tree(&home.path("wit/deps")),
        fetched,
        "the same as `wit fetch`"
    );
    assert_eq!(
        std::fs::read_to_string(home.path("wkg.lock")).unwrap(),
        lock
    );

    // -q says nothing; --type and a directory argument are wkg's.
    let quiet = home.wreg(&["-q", "fetch", "--type", "wasm"]);
    assert!(quiet.status.success());
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
    assert_eq!(
        entries(&home.path("wit/deps")),
        ["acme-base-1.0.0.wasm", "acme-lib-1.0.0.wasm"]
    );
    home.ok(&["fetch", "wit"]);
    assert_eq!(tree(&home.path("wit/deps")), fetched);

    // A dependency source keeps the other meaning: the direct imports, as binaries.
    home.ok(&["fetch", "--wit", "wit"]);
    assert_eq!(entries(&home.path("deps/acme")), ["lib.wasm"]);

    // Both meanings at once are refused, naming the command for each.
    let err = home.fails(&["fetch", "-o", "out"], 64);
    assert!(
        err.contains("run `wreg fetch --wit wit -o DIR`") && err.contains("`wreg wit fetch`"),
        "{err}"
    );
    let err = home.fails(&["fetch", "wit", "--dep", "acme:base@1"], 64);
    assert!(err.contains("`wreg fetch --wit wit -o DIR`"), "{err}");
    let err = home.fails(&["fetch", "--dep", "acme:base@1", "--type", "wasm"], 64);
    assert!(err.contains("`wreg wit fetch --type`"), "{err}");
    assert!(!home.path("out").exists());
}

#[test]
fn build_is_wit_build() {
    let home = project();
    let out = home.ok(&["build"]);
    assert!(out.starts_with("built my:app@0.1.0 ("), "{out}");
    let built = std::fs::read(home.path("my:app@0.1.0.wasm")).unwrap();
    home.ok(&["wit", "build", "-o", "by-wit-build.wasm"]);
    assert_eq!(
        built,
        std::fs::read(home.path("by-wit-build.wasm")).unwrap()
    );
    home.ok(&["build", "-d", "src/lib", "-o", "lib.wasm"]);
    assert!(
        std::fs::read(home.path("lib.wasm"))
            .unwrap()
            .starts_with(b"\0asm")
    );
}

#[test]
fn update_in_a_wit_project_resolves_the_graph_afresh_as_wkg_update() {
    let home = project();
    home.ok(&["fetch"]);
    // A pin the graph does not use (from `wreg lock --dep`): wkg's update clears it.
    let extra = home.component("extra.wasm", "extra");
    home.ok(&["publish", s(&extra), "--package", "acme:extra@1.0.0"]);
    home.ok(&["lock", "--dep", "acme:extra@1"]);
    publish_dir(&home, "src/base-1.1", BASE_1_1);
    let lock = std::fs::read_to_string(home.path("wkg.lock")).unwrap();
    let deps = tree(&home.path("wit/deps"));

    let dry = home.ok(&["update", "--dry-run"]);
    assert!(
        dry.contains("would update acme:base (^1.0.0): 1.0.0 sha256:")
            && dry.contains("-> 1.1.0 sha256:"),
        "{dry}"
    );
    // The pin the graph does not use is reported as going, text and JSON.
    assert!(
        dry.contains("would remove acme:extra (^1): 1.0.0 sha256:"),
        "{dry}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&home.ok(&["--json", "update", "--dry-run"])).unwrap();
    assert_eq!(json["removed"][0]["package"], "acme:extra", "{json}");
    assert_eq!(json["removed"][0]["version"], "1.0.0", "{json}");
    assert_eq!(json["added"], serde_json::json!([]), "{json}");
    assert_eq!(
        std::fs::read_to_string(home.path("wkg.lock")).unwrap(),
        lock
    );
    assert_eq!(
        tree(&home.path("wit/deps")),
        deps,
        "--dry-run writes nothing"
    );

    let out = home.wreg(&["update"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("./wit is a WIT project: resolving its graph again"),
        "{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("updated acme:base (^1.0.0): 1.0.0"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let lock = std::fs::read_to_string(home.path("wkg.lock")).unwrap();
    assert!(lock.contains("version = \"1.1.0\""), "{lock}");
    assert!(!lock.contains("acme:extra"), "wkg clears the lock: {lock}");
    assert!(home.path("wit/deps/acme-base-1.1.0/package.wit").is_file());
    assert_eq!(
        home.ok(&["update"]),
        "every pin is at the newest compatible release\n"
    );

    // Outside a WIT project `update` moves the lock file's pins, and --type is refused.
    std::fs::rename(home.path("wit"), home.path("not-wit")).unwrap();
    home.fails(&["update", "--type", "wasm"], 64);
    home.ok(&["update"]);
    // --wit-dir names the WIT project anywhere; `wit update` is the same, wkg's spelling.
    home.ok(&["update", "--wit-dir", "not-wit", "--type", "wasm"]);
    assert!(home.path("not-wit/deps/acme-base-1.1.0.wasm").is_file());
    std::fs::rename(home.path("not-wit"), home.path("wit")).unwrap();
    std::fs::remove_dir_all(home.path("wit/deps")).unwrap();
    std::fs::remove_file(home.path("wkg.lock")).unwrap();
    home.ok(&["wit", "update"]);
    assert!(home.path("wit/deps/acme-base-1.1.0/package.wit").is_file());
    let lock = std::fs::read_to_string(home.path("wkg.lock")).unwrap();
    assert!(lock.contains("version = \"1.1.0\""), "{lock}");
}

#[test]
fn wkg_spellings_of_flags_are_read() {
    let home = Home::new("");
    let file = home.component("c.wasm", "spelled");
    // `--cache DIR`, wkg's name for `--cache-dir`.
    let out = home
        .bare()
        .args(["--config", s(&home.path("config.toml")), "--cache"])
        .arg(home.path("wkg-cache"))
        .args(["publish", s(&file), "--package", "acme:spelled@1.0.0"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = home
        .bare()
        .args(["--config", s(&home.path("config.toml")), "--cache"])
        .arg(home.path("wkg-cache"))
        .args(["get", "acme:spelled@1.0.0", "-o", "got.wasm"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_dir(home.path("wkg-cache"))
            .unwrap()
            .next()
            .is_some(),
        "the cache is where --cache says"
    );
    // `--skip-dupes`, read as `--skip-existing`: the same bytes again are skipped...
    let out = home.ok(&[
        "publish",
        s(&file),
        "--package",
        "acme:spelled@1.0.0",
        "--skip-dupes",
    ]);
    assert!(out.contains("nothing uploaded"), "{out}");
    // ...and other bytes under that version are still refused.
    let other = home.component("other.wasm", "other bytes");
    home.fails(
        &[
            "publish",
            s(&other),
            "--package",
            "acme:spelled@1.0.0",
            "--skip-dupes",
        ],
        6,
    );
}
