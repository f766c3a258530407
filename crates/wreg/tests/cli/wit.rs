//! The WIT workflow on WIT nobody here wrote: the WASI 0.2 release-candidate packages as
//! the `wit-component` crate ships them (`tests/interfaces/wasi-http`), each built and
//! published with `wreg publish DIR`, then an application world that imports
//! `wasi:http/proxy` fetched with its whole graph into `wit/deps`.

use std::path::{Path, PathBuf};

use test_support::Distribution;
use test_support::shipped::{self, APP_WIT, WASI};

use super::{Home, s};

/// A home whose `wasi` namespace is a fresh docker-registry, with every WASI package of
/// the shipped tree published by `wreg publish DIR` (each build resolving the packages
/// published before it).
pub(crate) fn wasi_registry() -> (Distribution, Home) {
    let registry = Distribution::start().unwrap_or_else(|err| panic!("{err}"));
    let home = Home::new(&format!(
        "[namespace_registries]\nwasi = \"{}\"\n",
        registry.host()
    ));
    for (dir, spec) in WASI {
        let src = home.path(&format!("wasi-src/{spec}").replace([':', '@'], "-"));
        shipped::copy_package(dir, &src);
        let out = home.ok(&["--json", "publish", s(&src), "--lock", "publish.lock"]);
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            format!(
                "{}@{}",
                json["package"].as_str().unwrap(),
                json["version"].as_str().unwrap()
            ),
            *spec
        );
    }
    (registry, home)
}

/// The packages a `wit/` resolves to when wit-parser reads it with its `deps`.
pub(crate) fn resolved_packages(wit: &Path) -> Vec<String> {
    let mut resolve = wit_parser::Resolve::default();
    let (main, _) = resolve
        .push_dir(wit)
        .unwrap_or_else(|err| panic!("wit-parser cannot resolve {}: {err:#}", wit.display()));
    let mut names: Vec<String> = resolve
        .packages
        .iter()
        .filter(|(id, _)| *id != main)
        .map(|(_, p)| p.name.to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn wit_fetch_writes_the_whole_wasi_graph_as_wit_text() {
    let (_registry, home) = wasi_registry();
    std::fs::create_dir_all(home.path("wit")).unwrap();
    std::fs::write(home.path("wit/app.wit"), APP_WIT).unwrap();
    // A wit/deps left by an earlier tool is replaced, not merged into.
    std::fs::create_dir_all(home.path("wit/deps/stale-pkg-1.0.0")).unwrap();
    let out = home.ok(&["--json", "wit", "fetch"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let graph: Vec<String> = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}@{}",
                p["package"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            )
        })
        .collect();
    // Every package, after the packages it uses; http needs cli, cli needs sockets, ...
    let position = |spec: &str| graph.iter().position(|g| g == spec).unwrap();
    for (_, spec) in WASI {
        position(spec);
    }
    assert_eq!(graph.len(), WASI.len(), "{graph:?}");
    assert!(position("wasi:io@0.2.0-rc-2023-11-10") < position("wasi:clocks@0.2.0-rc-2023-11-10"));
    assert!(
        position("wasi:sockets@0.2.0-rc-2023-11-10") < position("wasi:cli@0.2.0-rc-2023-12-05")
    );
    assert!(position("wasi:cli@0.2.0-rc-2023-12-05") < position("wasi:http@0.2.0-rc-2023-12-05"));
    // The directories wkg writes, and nothing else.
    let mut dirs: Vec<String> = std::fs::read_dir(home.path("wit/deps"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut expected: Vec<String> = WASI
        .iter()
        .map(|(_, spec)| spec.replace([':', '@'], "-"))
        .collect();
    expected.sort();
    assert_eq!(dirs, expected);
    // wit-parser reads the result with no missing package.
    let mut specs: Vec<String> = WASI.iter().map(|(_, spec)| (*spec).to_owned()).collect();
    specs.sort();
    assert_eq!(resolved_packages(&home.path("wit")), specs);
    // The lock file pins all seven; a second run in a fresh cache with --locked asks no
    // registry for a version list.
    let lock = std::fs::read_to_string(home.path("wkg.lock")).unwrap();
    assert_eq!(lock.matches("[[packages]]").count(), WASI.len(), "{lock}");
    let again = home
        .command("second-machine-cache")
        .env("WREG_LOG", "registry_client=debug")
        .args(["wit", "fetch", "--locked"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{log}");
    assert_eq!(
        log.matches("asking the registry for the version list")
            .count(),
        0,
        "{log}"
    );
    assert_eq!(resolved_packages(&home.path("wit")), specs);
    // Offline, the lock file and that cache are enough.
    let offline = home
        .command("second-machine-cache")
        .args(["--offline", "wit", "fetch", "--locked"])
        .output()
        .unwrap();
    assert!(
        offline.status.success(),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    // The locked graph, transitive WIT dependencies included.
    let tree: serde_json::Value = serde_json::from_str(&home.ok(&["--json", "tree"])).unwrap();
    assert_eq!(
        tree["roots"],
        serde_json::json!(["wasi:http@0.2.0-rc-2023-12-05"])
    );
    assert_eq!(
        home.ok(&["why", "wasi:sockets"]),
        "wasi:http@0.2.0-rc-2023-12-05 -> wasi:cli@0.2.0-rc-2023-12-05 -> \
         wasi:sockets@0.2.0-rc-2023-11-10\n"
    );
    // As binaries: one verified package file per node.
    home.ok(&["wit", "fetch", "--type", "wasm"]);
    let wasm = std::fs::read_dir(home.path("wit/deps")).unwrap().count();
    assert_eq!(wasm, WASI.len());
    assert!(
        home.path("wit/deps/wasi-io-0.2.0-rc-2023-11-10.wasm")
            .is_file()
    );
}

#[test]
fn wit_build_names_the_package_and_get_prints_wit() {
    let (_registry, home) = wasi_registry();
    std::fs::create_dir_all(home.path("wit")).unwrap();
    std::fs::write(home.path("wit/app.wit"), APP_WIT).unwrap();
    let out = home.ok(&["wit", "build"]);
    assert!(out.starts_with("built my:app@0.1.0 ("), "{out}");
    let built = std::fs::read(home.path("my:app@0.1.0.wasm")).unwrap();
    let decoded = wit_parser::decoding::decode(&built).unwrap();
    assert_eq!(
        decoded.resolve().packages.len(),
        1 + 5,
        "app, http and what proxy uses"
    );
    // `get --format wit` prints a published WIT package as text that parses.
    home.ok(&[
        "get",
        "wasi:clocks@0.2.0-rc-2023-11-10",
        "--format",
        "wit",
        "-o",
        "clocks.wit",
    ]);
    let text = std::fs::read_to_string(home.path("clocks.wit")).unwrap();
    assert!(
        text.contains("package wasi:clocks@0.2.0-rc-2023-11-10;"),
        "{text}"
    );
    assert!(text.contains("interface wall-clock"), "{text}");
}

/// Writes `wit` as the only file of the WIT directory `dir` under the home.
pub(crate) fn wit_dir(home: &Home, dir: &str, wit: &str) -> PathBuf {
    let path = home.path(dir);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("package.wit"), wit).unwrap();
    path
}

pub(crate) fn publish_dir(home: &Home, dir: &str, wit: &str) {
    let path = wit_dir(home, dir, wit);
    home.ok(&["publish", s(&path), "--lock", "publish.lock"]);
}

const BASE_1_0: &str = "package acme:base@1.0.0;\ninterface types { type id = u32; }\n";
const BASE_1_3: &str =
    "package acme:base@1.3.0;\ninterface types { type id = u32; type name = string; }\n";
const BASE_2_0: &str = "package acme:base@2.0.0;\ninterface types { type id = u64; }\n";

#[test]
fn one_version_per_package_or_an_error_naming_every_requirer() {
    let home = Home::new("");
    publish_dir(&home, "src/base-1.0", BASE_1_0);
    publish_dir(
        &home,
        "src/base-1.2",
        "package acme:base@1.2.0;\ninterface types { type id = u32; }\n",
    );
    publish_dir(&home, "src/base-1.3", BASE_1_3);
    publish_dir(&home, "src/base-2.0", BASE_2_0);
    publish_dir(
        &home,
        "src/lib",
        "package acme:lib@1.0.0;\ninterface api { use acme:base/types@1.0.0.{id}; get: func() -> id; }\n",
    );
    // The root asks for base ^1.2 and lib, lib for base ^1.0: one base, the newest 1.x.
    wit_dir(
        &home,
        "wit",
        "package my:app;\nworld app {\n  import acme:lib/api@1.0.0;\n  import acme:base/types@1.2.0;\n}\n",
    );
    let out = home.ok(&["--json", "wit", "fetch"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let base = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["package"] == "acme:base")
        .unwrap();
    assert_eq!(base["version"], "1.3.0");
    assert_eq!(
        base["required_by"],
        serde_json::json!(["wit/ (^1.2.0)", "acme:lib@1.0.0 (^1.0.0)"])
    );
    // WIT names packages exactly, so the text also holds base 1.2.0 (named by the root,
    // fetched as named) and 1.0.0 (what lib's own encoding refers to, carried inside it).
    assert_eq!(report["named"], serde_json::json!(["acme:base@1.2.0"]));
    assert!(home.path("wit/deps/acme-base-1.3.0/package.wit").is_file());
    assert!(home.path("wit/deps/acme-lib-1.0.0/package.wit").is_file());
    assert_eq!(
        resolved_packages(&home.path("wit")),
        [
            "acme:base@1.0.0",
            "acme:base@1.2.0",
            "acme:base@1.3.0",
            "acme:lib@1.0.0"
        ]
    );
    // Asking for base 2 at the root while lib needs 1.x: no release satisfies both, and
    // the error names both, and wit/deps is left as it was.
    let before = std::fs::read_dir(home.path("wit/deps")).unwrap().count();
    wit_dir(
        &home,
        "wit",
        "package my:app;\nworld app {\n  import acme:lib/api@1.0.0;\n  import acme:base/types@2.0.0;\n}\n",
    );
    let err = home.fails(&["wit", "fetch"], 2);
    assert!(
        err.contains("`acme:base` has no release matching `^1.0.0 (needed by acme:lib@1.0.0) and ^2.0.0 (needed by wit/)`"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(home.path("wit/deps")).unwrap().count(),
        before
    );
}

#[test]
fn a_dependency_cycle_is_refused_naming_it() {
    let home = Home::new("");
    publish_dir(
        &home,
        "src/x-1.0.0",
        "package acme:x@1.0.0;\ninterface t { type n = u8; }\n",
    );
    publish_dir(
        &home,
        "src/y",
        "package acme:y@1.0.0;\ninterface u { use acme:x/t@1.0.0.{n}; type m = n; }\n",
    );
    // x 1.0.1 uses y, which uses x ^1.0.0: x 1.0.1 again.
    publish_dir(
        &home,
        "src/x-1.0.1",
        "package acme:x@1.0.1;\ninterface t { type n = u8; }\ninterface v { use acme:y/u@1.0.0.{m}; }\n",
    );
    wit_dir(
        &home,
        "wit",
        "package my:app;\nworld app { import acme:x/v@1.0.1; }\n",
    );
    let err = home.fails(&["wit", "fetch"], 65);
    assert!(
        err.contains(
            "the WIT dependencies form a cycle: acme:x@1.0.1 -> acme:y@1.0.0 -> acme:x@1.0.1"
        ),
        "{err}"
    );
}

#[test]
fn publish_refuses_incompatible_minor_releases_and_skips_existing_ones() {
    let home = Home::new("");
    publish_dir(
        &home,
        "v1",
        "package acme:api@1.0.0;\ninterface store { get: func(key: string) -> option<string>; put: func(key: string, value: string); }\n",
    );
    let v1_1 = wit_dir(
        &home,
        "v1.1",
        "package acme:api@1.1.0;\ninterface store { get: func(key: string) -> option<list<u8>>; }\n",
    );
    let err = home.fails(&["publish", s(&v1_1)], 9);
    assert!(
        err.contains("`acme:api@1.1.0` is not compatible with `acme:api@1.0.0`")
            && err.contains("  - interface `store`: ")
            && err.contains("publish it as `acme:api@2.0.0`")
            && err.contains("--skip-semver-check"),
        "{err}"
    );
    assert_eq!(home.ok(&["versions", "acme:api"]), "1.0.0\n");
    home.ok(&["publish", s(&v1_1), "--skip-semver-check"]);
    // A new major line is not checked.
    publish_dir(
        &home,
        "v2",
        "package acme:api@2.0.0;\ninterface other { f: func(); }\n",
    );
    // The same bytes again: an error that suggests --skip-existing, which makes it a no-op.
    let built = home.path("api.wasm");
    home.ok(&["wit", "build", "-d", s(&home.path("v2")), "-o", s(&built)]);
    let err = home.fails(&["publish", s(&built)], 6);
    assert!(
        err.contains("already published") && err.contains("skipping existing releases"),
        "{err}"
    );
    let out = home.ok(&["publish", s(&built), "--skip-existing"]);
    assert!(out.contains("nothing uploaded"), "{out}");
    // Other bytes under a published version stay an error even with --skip-existing.
    let other = wit_dir(
        &home,
        "v2b",
        "package acme:api@2.0.0;\ninterface other { g: func(); }\n",
    );
    let err = home.fails(&["publish", s(&other), "--skip-existing"], 6);
    assert!(err.contains("different bytes"), "{err}");
}

#[test]
fn a_wkg_toml_path_override_is_used_as_given() {
    let home = Home::new("");
    publish_dir(&home, "src/base", BASE_1_0);
    // The local copy has an extra type the published one lacks.
    wit_dir(&home, "local-base", BASE_1_3);
    std::fs::write(
        home.path("wkg.toml"),
        "[overrides]\n\"acme:base\" = { path = \"local-base\" }\n",
    )
    .unwrap();
    wit_dir(
        &home,
        "wit",
        "package my:app;\nworld app { import acme:base/types@1.0.0; }\n",
    );
    home.ok(&["wit", "fetch"]);
    let text = std::fs::read_to_string(home.path("wit/deps/acme-base-1.3.0/package.wit")).unwrap();
    assert!(text.contains("type name = string;"), "{text}");
}

#[test]
fn tree_why_outdated_and_update_read_and_move_the_lock_on_purpose() {
    let home = Home::new("");
    publish_dir(&home, "src/base-1.0", BASE_1_0);
    publish_dir(
        &home,
        "src/lib",
        "package acme:lib@1.0.0;\ninterface api { use acme:base/types@1.0.0.{id}; get: func() -> id; }\n",
    );
    wit_dir(
        &home,
        "wit",
        "package my:app;\nworld app { import acme:lib/api@1.0.0; }\n",
    );
    home.ok(&["wit", "fetch"]);
    let tree: serde_json::Value = serde_json::from_str(&home.ok(&["--json", "tree"])).unwrap();
    assert_eq!(tree["roots"], serde_json::json!(["acme:lib@1.0.0"]));
    let lib = tree["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["package"] == "acme:lib")
        .unwrap();
    assert_eq!(lib["dependencies"], serde_json::json!(["acme:base@1.0.0"]));
    let text = home.ok(&["tree"]);
    assert!(
        text.starts_with("acme:lib@1.0.0 (local.test, sha256:")
            && text.contains("\n└── acme:base@1.0.0 (local.test, sha256:"),
        "{text}"
    );
    assert_eq!(
        home.ok(&["why", "acme:base"]),
        "acme:lib@1.0.0 -> acme:base@1.0.0\n"
    );
    home.fails(&["why", "acme:nothing"], 64);

    // New releases: nothing moves until `update` says so.
    publish_dir(&home, "src/base-1.3", BASE_1_3);
    publish_dir(&home, "src/base-2.0", BASE_2_0);
    let lock = std::fs::read_to_string(home.path("wkg.lock")).unwrap();
    home.ok(&["wit", "fetch"]);
    assert_eq!(
        std::fs::read_to_string(home.path("wkg.lock")).unwrap(),
        lock
    );
    let outdated: serde_json::Value =
        serde_json::from_str(&home.ok(&["--json", "outdated"])).unwrap();
    let base = outdated
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["package"] == "acme:base")
        .unwrap();
    assert_eq!(
        (&base["locked"], &base["compatible"], &base["latest"]),
        (&"1.0.0".into(), &"1.3.0".into(), &"2.0.0".into())
    );
    let dry = home.ok(&["update", "--dry-run"]);
    assert!(
        dry.contains("would update acme:base (^1.0.0): 1.0.0 sha256:"),
        "{dry}"
    );
    assert!(dry.contains("-> 1.3.0 sha256:"), "{dry}");
    assert_eq!(
        std::fs::read_to_string(home.path("wkg.lock")).unwrap(),
        lock
    );
    let done = home.ok(&["--json", "update", "acme:base"]);
    let done: serde_json::Value = serde_json::from_str(&done).unwrap();
    assert_eq!(done["changes"][0]["new_version"], "1.3.0");
    assert!(
        std::fs::read_to_string(home.path("wkg.lock"))
            .unwrap()
            .contains("version = \"1.3.0\"")
    );
    assert_eq!(
        home.ok(&["update"]),
        "every pin is at the newest compatible release\n"
    );
    // The fetch after it writes the updated release.
    home.ok(&["wit", "fetch"]);
    let text = std::fs::read_to_string(home.path("wit/deps/acme-base-1.3.0/package.wit")).unwrap();
    assert!(text.contains("type name = string;"), "{text}");
}
