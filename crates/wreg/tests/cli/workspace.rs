//! `wkg.toml` workspaces as wkg 0.16 reads them: `members` paths and globs, `fetch
//! --workspace` (one lock file at the root, what the members use in `<root>/wkg/deps`,
//! members taken from their directories) and `publish --workspace` (each member after the
//! members it uses); a glob matching nothing, a cycle and a member without WIT refused.

use std::path::{Path, PathBuf};
use std::process::Output;

use super::wit::{publish_dir, wit_dir};
use super::{Home, s};

fn in_dir(home: &Home, dir: &Path, args: &[&str]) -> Output {
    home.command("cache")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn ok_in(home: &Home, dir: &Path, args: &[&str]) -> String {
    let out = in_dir(home, dir, args);
    assert!(
        out.status.success(),
        "wreg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails_in(home: &Home, dir: &Path, args: &[&str], code: i32) -> String {
    let out = in_dir(home, dir, args);
    let stderr = home.redact(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(code), "wreg {args:?}: {stderr}");
    stderr
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A registry with acme:base and acme:lib (which uses base), and a workspace `ws` of two
/// members found by a glob: `app` uses `core` (a member) and acme:lib; `core` uses
/// acme:base. Sorted by name, `app` comes first.
fn workspace() -> (Home, PathBuf) {
    let home = Home::new("");
    publish_dir(
        &home,
        "src/base",
        "package acme:base@1.0.0;\ninterface types { type id = u32; }\n",
    );
    publish_dir(
        &home,
        "src/lib",
        "package acme:lib@1.0.0;\ninterface api { use acme:base/types@1.0.0.{id}; get: func() -> id; }\n",
    );
    let ws = home.path("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("wkg.toml"), "[workspace]\nmembers = [\"*/wit\"]\n").unwrap();
    wit_dir(
        &home,
        "ws/app/wit",
        "package ws:app@0.1.0;\nworld app {\n  import ws:core/api@0.1.0;\n  import acme:lib/api@1.0.0;\n}\n",
    );
    wit_dir(
        &home,
        "ws/core/wit",
        "package ws:core@0.1.0;\ninterface api { use acme:base/types@1.0.0.{id}; get: func() -> id; }\n",
    );
    (home, ws)
}

#[test]
fn fetch_workspace_writes_what_the_members_use_into_wkg_deps() {
    let (home, ws) = workspace();
    let json: serde_json::Value =
        serde_json::from_str(&ok_in(&home, &ws, &["--json", "fetch", "--workspace"])).unwrap();
    let packages: Vec<&str> = json["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["package"].as_str().unwrap())
        .collect();
    assert!(
        packages.contains(&"acme:base") && packages.contains(&"acme:lib"),
        "{json}"
    );
    assert!(
        !packages.contains(&"ws:core"),
        "members are not fetched: {json}"
    );
    // Where wkg writes them: <root>/wkg/deps, <root>/wkg.lock; nothing in the members.
    assert_eq!(
        entries(&ws.join("wkg/deps")),
        ["acme-base-1.0.0", "acme-lib-1.0.0"]
    );
    assert!(!ws.join("app/wit/deps").exists() && !ws.join("core/wit/deps").exists());
    let lock = std::fs::read_to_string(ws.join("wkg.lock")).unwrap();
    assert!(
        lock.contains("acme:base") && lock.contains("acme:lib") && !lock.contains("ws:"),
        "{lock}"
    );
    let written = std::fs::read(ws.join("wkg/deps/acme-lib-1.0.0/package.wit")).unwrap();

    // From a member's directory the root above is found; `wreg fetch` in the root is
    // `fetch --workspace`, as `wkg fetch` there, and says so.
    std::fs::remove_dir_all(ws.join("wkg")).unwrap();
    ok_in(
        &home,
        &ws.join("app"),
        &["fetch", "--workspace", "--locked"],
    );
    assert_eq!(
        std::fs::read(ws.join("wkg/deps/acme-lib-1.0.0/package.wit")).unwrap(),
        written
    );
    let out = in_dir(&home, &ws, &["fetch", "--type", "wasm"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("./wkg.toml is a workspace root"),
        "{stderr}"
    );
    assert_eq!(
        entries(&ws.join("wkg/deps")),
        ["acme-base-1.0.0.wasm", "acme-lib-1.0.0.wasm"]
    );
    let err = fails_in(
        &home,
        &ws,
        &["fetch", "--workspace", "--dep", "acme:lib@1"],
        64,
    );
    assert!(err.contains("give no DIR, --dep"), "{err}");
    fails_in(&home, &home.path("src"), &["fetch", "--workspace"], 64);
}

#[test]
fn publish_workspace_goes_in_dependency_order() {
    let (home, ws) = workspace();
    let json: serde_json::Value =
        serde_json::from_str(&ok_in(&home, &ws, &["--json", "publish", "--workspace"])).unwrap();
    let order: Vec<&str> = json["published"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["package"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["ws:core", "ws:app"], "core first: app uses it");
    assert_eq!(ok_in(&home, &ws, &["versions", "ws:app"]), "0.1.0\n");
    assert_eq!(ok_in(&home, &ws, &["versions", "ws:core"]), "0.1.0\n");
    let file = home.component("c.wasm", "c");
    let err = fails_in(&home, &ws, &["publish", "--workspace", s(&file)], 64);
    assert!(err.contains("--workspace"), "{err}");
}

#[test]
fn bad_workspaces_are_refused_naming_the_file() {
    let (home, ws) = workspace();
    // A glob that matches nothing: a configuration error at its line in wkg.toml.
    std::fs::write(
        ws.join("wkg.toml"),
        "[workspace]\nmembers = [\"*/wit\", \"nothing-*/wit\"]\n",
    )
    .unwrap();
    for args in [&["fetch", "--workspace"][..], &["publish", "--workspace"]] {
        let err = fails_in(&home, &ws, args, 78);
        assert!(
            err.contains("$HOME/ws/wkg.toml:2:21")
                && err.contains("the glob `nothing-*/wit` matches no directory"),
            "{err}"
        );
    }
    // A member without a WIT package.
    std::fs::create_dir_all(ws.join("empty")).unwrap();
    std::fs::write(
        ws.join("wkg.toml"),
        "[workspace]\nmembers = [\"app\", \"empty\"]\n",
    )
    .unwrap();
    let err = fails_in(&home, &ws, &["fetch", "--workspace"], 78);
    assert!(
        err.contains("$HOME/ws/wkg.toml:2:19")
            && err.contains("the member `empty` has no WIT package"),
        "{err}"
    );
    // Members that use each other: the cycle is named.
    wit_dir(
        &home,
        "ws/x",
        "package ws:x@1.0.0;\ninterface i { use ws:y/i@1.0.0.{t}; }\n",
    );
    wit_dir(
        &home,
        "ws/y",
        "package ws:y@1.0.0;\ninterface i { type t = u8; use ws:x/i@1.0.0.{}; }\n",
    );
    std::fs::write(
        ws.join("wkg.toml"),
        "[workspace]\nmembers = [\"x\", \"y\"]\n",
    )
    .unwrap();
    for args in [&["fetch", "--workspace"][..], &["publish", "--workspace"]] {
        let err = fails_in(&home, &ws, args, 64);
        assert!(
            err.contains("the workspace in $HOME/ws/wkg.toml")
                && err.contains("ws:x ($HOME/ws/x) -> ws:y ($HOME/ws/y) -> ws:x"),
            "{err}"
        );
    }
    home.fails(&["versions", "ws:x"], 2);
}
