//! The WIT workflow on WIT nobody here wrote: the WASI 0.2 release-candidate packages as
//! the `wit-component` crate ships them (`tests/interfaces/wasi-http`), each built and
//! published with `wreg publish DIR`, then an application world that imports
//! `wasi:http/proxy` fetched with its whole graph into `wit/deps`.

use std::path::{Path, PathBuf};

use test_support::Distribution;

use super::{Home, s};

/// The WASI packages of the shipped tree, each after the packages it uses.
const WASI: &[(&str, &str)] = &[
    ("deps/io", "wasi:io@0.2.0-rc-2023-11-10"),
    ("deps/random", "wasi:random@0.2.0-rc-2023-11-10"),
    ("deps/clocks", "wasi:clocks@0.2.0-rc-2023-11-10"),
    ("deps/filesystem", "wasi:filesystem@0.2.0-rc-2023-11-10"),
    ("deps/sockets", "wasi:sockets@0.2.0-rc-2023-11-10"),
    ("deps/cli", "wasi:cli@0.2.0-rc-2023-12-05"),
    ("", "wasi:http@0.2.0-rc-2023-12-05"),
];

/// `tests/interfaces/wasi-http` in the source of the `wit-component` crate this workspace
/// builds (its version from Cargo.lock, its source where cargo unpacked it).
pub(crate) fn shipped_wasi_http() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let lock = std::fs::read_to_string(workspace.join("Cargo.lock")).unwrap();
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"wit-component\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_owned())
        .expect("wit-component is in Cargo.lock");
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
    let src = cargo_home.join("registry/src");
    for index in std::fs::read_dir(&src).unwrap() {
        let dir = index.unwrap().path().join(format!(
            "wit-component-{version}/tests/interfaces/wasi-http"
        ));
        if dir.is_dir() {
            return dir;
        }
    }
    panic!(
        "the source of wit-component {version} is not under {}; run `cargo fetch` in the \
         workspace",
        src.display()
    );
}

/// Copies the top-level `.wit` files of `from` into `to`.
fn copy_package(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wit") {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// A home whose `wasi` namespace is a fresh docker-registry, with every WASI package of
/// the shipped tree published by `wreg publish DIR` (each build resolving the packages
/// published before it).
pub(crate) fn wasi_registry() -> (Distribution, Home) {
    let registry = Distribution::start().unwrap_or_else(|err| panic!("{err}"));
    let home = Home::new(&format!(
        "[namespace_registries]\nwasi = \"{}\"\n",
        registry.host()
    ));
    let shipped = shipped_wasi_http();
    for (dir, spec) in WASI {
        let src = home.path(&format!("wasi-src/{spec}").replace([':', '@'], "-"));
        copy_package(&shipped.join(dir), &src);
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

const APP: &str =
    "package my:app@0.1.0;\n\nworld app {\n  include wasi:http/proxy@0.2.0-rc-2023-12-05;\n}\n";

/// The packages a `wit/` resolves to when wit-parser reads it with its `deps`.
fn resolved_packages(wit: &Path) -> Vec<String> {
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
    std::fs::write(home.path("wit/app.wit"), APP).unwrap();
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
    std::fs::write(home.path("wit/app.wit"), APP).unwrap();
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
