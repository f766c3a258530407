//! `wreg` as a user runs it: real processes, a local directory registry and a real OCI
//! registry, output snapshots, exit codes, JSON shapes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use expect_test::expect;
use test_support::{Distribution, component};

mod bundle;
mod cargo;
mod compose;
mod config;
mod get_wit;
mod json;
mod links;
mod paths;
mod provenance;
mod publish;
mod race;
mod terminal;
mod verbs;
mod wit;
mod wkg;
mod workspace;

/// A scratch home: a config file, a cache, a local registry, no user environment.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(extra_config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("registry");
        std::fs::write(
            dir.path().join("config.toml"),
            format!(
                "# my config\ndefault_registry = \"local.test\" # the default\n\n\
                 [registry.\"local.test\".local]\nroot = {:?}\n{extra_config}",
                root.display().to_string()
            ),
        )
        .unwrap();
        Self { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `wreg` in this home: working directory, `HOME` and XDG directories here, no other
    /// variable, no flag.
    fn bare(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wreg"));
        command
            .current_dir(self.dir.path())
            .env_clear()
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.path("xdg"))
            .env("XDG_CACHE_HOME", self.path("xdg-cache"));
        command
    }

    /// [`bare`](Self::bare) with this home's config file and the cache in `cache`.
    fn command(&self, cache: &str) -> Command {
        let mut command = self.bare();
        command
            .arg("--config")
            .arg(self.path("config.toml"))
            .arg("--cache-dir")
            .arg(self.path(cache));
        command
    }

    fn wreg(&self, args: &[&str]) -> Output {
        self.command("cache").args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = succeeded(self.wreg(args), args);
        self.redact(&String::from_utf8_lossy(&out))
    }

    /// `wreg` with another config file and the cache in `cache`: its output, after checking
    /// that it succeeded.
    fn ok_with(&self, config: &Path, cache: &str, args: &[&str]) -> Vec<u8> {
        let out = self
            .bare()
            .arg("--config")
            .arg(config)
            .arg("--cache-dir")
            .arg(self.path(cache))
            .args(args)
            .output()
            .unwrap();
        succeeded(out, args)
    }

    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.wreg(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "wreg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.redact(&String::from_utf8_lossy(&out.stderr))
    }

    fn redact(&self, text: &str) -> String {
        text.replace(&self.dir.path().display().to_string(), "$HOME")
    }

    fn component(&self, name: &str, seed: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, component::small(seed)).unwrap();
        path
    }
}

/// The standard output of a run that must have succeeded.
fn succeeded(out: Output, args: &[&str]) -> Vec<u8> {
    assert!(
        out.status.success(),
        "wreg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn publish_versions_get_and_fetch_on_a_local_registry() {
    let home = Home::new("");
    let one = home.component("one.wasm", "one");
    let two = home.component("two.wasm", "two");
    home.ok(&["publish", s(&one), "--package", "acme:widget@1.0.0"]);
    home.ok(&["publish", s(&two), "--package", "acme:widget@1.1.0"]);
    expect![[r#"
        1.1.0
        1.0.0
    "#]]
    .assert_eq(&home.ok(&["versions", "acme:widget"]));

    let out = home.ok(&["get", "acme:widget@^1.0", "-o", "got.wasm"]);
    assert!(out.starts_with("acme:widget@1.1.0 sha256:"), "{out}");
    assert!(out.trim_end().ends_with("-> got.wasm"), "{out}");
    assert_eq!(
        std::fs::read(home.path("got.wasm")).unwrap(),
        std::fs::read(&two).unwrap()
    );

    // To stdout: the bytes and nothing else.
    let out = home.wreg(&["get", "acme:widget@1.0.0", "-o", "-"]);
    assert!(out.status.success());
    assert_eq!(out.stdout, std::fs::read(&one).unwrap());

    // Into a directory, with the default name.
    std::fs::create_dir(home.path("dl")).unwrap();
    home.ok(&["get", "acme:widget@1.0.0", "-o", "dl"]);
    assert!(home.path("dl/acme_widget@1.0.0.wasm").is_file());

    let json: serde_json::Value =
        serde_json::from_str(&home.ok(&["--json", "fetch", "--dep", "acme:widget@~1.0"])).unwrap();
    assert_eq!(json[0]["package"], "acme:widget");
    assert_eq!(json[0]["version"], "1.0.0");
    assert_eq!(json[0]["registry"], "local.test");
    assert_eq!(json[0]["path"], "deps/acme/widget.wasm");
    assert!(json[0]["digest"].as_str().unwrap().starts_with("sha256:"));
    let lock = std::fs::read_to_string(home.path("wkg.lock")).unwrap();
    assert!(
        lock.contains("requirement = \"~1.0\"") && lock.contains("version = \"1.0.0\""),
        "{lock}"
    );

    // --locked passes with the lock file, and fails when a new dependency would change it.
    home.ok(&["fetch", "--dep", "acme:widget@~1.0", "--locked"]);
    let err = home.fails(&["fetch", "--dep", "acme:widget@^1.1", "--locked"], 8);
    assert!(err.contains("run without --locked"), "{err}");
}

#[test]
fn exit_codes_and_messages() {
    let home = Home::new("");
    expect![[r#"
        error: package `acme:nothing` was not found in registry `local.test`; check the spelling, and which registry its namespace maps to
    "#]]
    .assert_eq(&home.fails(&["get", "acme:nothing"], 2));
    let err = home.fails(&["get", "Acme:widget"], 64);
    assert!(
        err.contains("namespace must be lowercase, e.g. \"acme:widget\""),
        "{err}"
    );
    home.fails(&["frobnicate"], 64);
    let err = home.fails(&["get", "acme:widget@latest"], 64);
    assert!(
        err.contains("is neither a version nor a version requirement"),
        "{err}"
    );
    let component = home.component("c.wasm", "anonymous");
    let err = home.fails(&["publish", s(&component)], 64);
    assert!(
        err.contains("does not say which package it is; give --package ns:name@version"),
        "{err}"
    );

    // A registry nobody listens on: a network error.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = home.fails(
        &[
            "versions",
            "acme:widget",
            "--registry",
            &format!("127.0.0.1:{port}"),
        ],
        4,
    );
    assert!(err.contains("Connection refused"), "{err}");
    assert_eq!(home.wreg(&["--help"]).status.code(), Some(0));
}

#[test]
fn one_get_works_out_its_route_once() {
    let home = Home::new("");
    let one = home.component("one.wasm", "routed");
    home.ok(&["publish", s(&one), "--package", "acme:widget@1.0.0"]);
    // A cold `get` (empty cache): list, describe, fetch and copy out, all through one route.
    let out = home
        .command("cold-cache")
        .env("WREG_LOG", "registry_client=debug")
        .args(["get", "acme:widget@^1", "-o", "got.wasm"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    let routes = log.matches("route resolved").count();
    let backends = log.matches("building a backend").count();
    assert_eq!(
        (routes, backends),
        (1, 1),
        "one registry lookup, one backend:\n{log}"
    );
    assert_eq!(
        std::fs::read(home.path("got.wasm")).unwrap(),
        std::fs::read(&one).unwrap()
    );
}

#[test]
fn bad_config_values_exit_with_78_wherever_they_are_noticed() {
    // Noticed while loading the file ...
    let home = Home::new("[namespace_registries]\nacme = 5\n");
    let err = home.fails(&["versions", "acme:widget"], 78);
    assert!(err.contains("config.toml:7:"), "{err}");
    // ... and by a backend reading its own section.
    let home = Home::new("[registry.\"odd.test\"]\ndefault = \"ftp\"\n");
    let err = home.fails(&["versions", "acme:widget", "--registry", "odd.test"], 78);
    assert!(err.contains("`ftp` backend"), "{err}");
    let home = Home::new("[registry.\"localhost:1\".oci]\nprotocol = \"gopher\"\n");
    let err = home.fails(
        &["versions", "acme:widget", "--registry", "localhost:1"],
        78,
    );
    assert!(err.contains("protocol"), "{err}");
}

#[test]
fn credentials_are_never_printed() {
    let home = Home::new(
        "[registry.\"ghcr.io\".oci]\nauth = { username = \"me\", password = \"hunter2-secret\" }\n",
    );
    let out = home.ok(&["config", "show"]);
    assert!(
        !out.contains("hunter2-secret") && out.contains("<redacted>"),
        "{out}"
    );
    let out = home.ok(&["config", "get", "registry.\"ghcr.io\""]);
    assert!(!out.contains("hunter2-secret"), "{out}");
}

#[test]
fn cache_and_offline() {
    let home = Home::new("");
    let one = home.component("one.wasm", "cached");
    home.ok(&["publish", s(&one), "--package", "acme:widget@1.0.0"]);
    home.ok(&["fetch", "--dep", "acme:widget@^1"]);
    let ls = home.ok(&["cache", "ls"]);
    assert_eq!(ls.lines().count(), 1, "{ls}");
    // Offline with the lock file and a warm cache works; a new package does not.
    home.ok(&["--offline", "fetch", "--dep", "acme:widget@^1"]);
    let err = home.fails(&["--offline", "get", "acme:other"], 7);
    assert!(
        err.contains("not in the cache, and the client is offline") && err.contains("acme:other"),
        "{err}"
    );
    // Corruption is found and removed by verify.
    let digest = ls
        .split_whitespace()
        .next()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    std::fs::write(home.path("cache/content/sha256").join(&digest), b"rot").unwrap();
    let out = home.ok(&["cache", "verify"]);
    assert!(
        out.starts_with("checked 1 entries, removed 1 corrupt"),
        "{out}"
    );
    home.ok(&["cache", "clean"]);
    assert_eq!(home.ok(&["cache", "ls"]), "");
    let err = home.fails(&["cache", "clean", "--older-than", "soon"], 64);
    assert!(err.contains("is not a duration"), "{err}");
}

#[test]
fn against_a_real_oci_registry() {
    let registry = Distribution::shared();
    let home = Home::new(&format!(
        "[namespace_registries]\noci = \"{}\"\n",
        registry.host()
    ));
    let file = home.component("c.wasm", "oci cli");
    let out = home.ok(&[
        "--json",
        "publish",
        s(&file),
        "--package",
        "oci:widget@2.0.0",
    ]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["registry"], registry.host());
    assert_eq!(home.ok(&["versions", "oci:widget"]), "2.0.0\n");
    let out = home.wreg(&["get", "oci:widget", "-o", "-"]);
    assert!(out.status.success());
    assert_eq!(out.stdout, std::fs::read(&file).unwrap());
    let out = home.ok(&[
        "publish",
        s(&file),
        "--package",
        "oci:widget@3.0.0",
        "--dry-run",
    ]);
    assert!(out.starts_with("would publish oci:widget@3.0.0"), "{out}");
    assert_eq!(
        home.ok(&["versions", "oci:widget"]),
        "2.0.0\n",
        "a dry run publishes nothing"
    );
}

#[test]
fn refused_credentials_exit_with_3() {
    let registry = Distribution::start_with_basic_auth("user", "right-password").unwrap();
    let home = Home::new(&format!(
        "[namespace_registries]\nprivate = \"{host}\"\n[registry.\"{host}\".oci]\nauth = {{ username = \"user\", password = \"wrong-password\" }}\n",
        host = registry.host()
    ));
    let err = home.fails(&["versions", "private:widget"], 3);
    assert!(err.contains("not found or not authorized"), "{err}");
    assert!(!err.contains("wrong-password"), "{err}");
}

#[test]
fn completions_are_printed() {
    let home = Home::new("");
    let out = home.ok(&["completions", "bash"]);
    assert!(out.contains("_wreg()"), "{out}");
}

#[test]
fn fetch_reads_the_imports_of_a_wit_directory() {
    let home = Home::new("");
    for (name, seed) in [
        ("wasi:io@0.2.1", "io"),
        ("wasi:io@0.3.0", "io3"),
        ("acme:logger@1.4.0", "log"),
    ] {
        let file = home.component(&format!("{seed}.wasm"), seed);
        home.ok(&["publish", s(&file), "--package", name]);
    }
    std::fs::create_dir(home.path("wit")).unwrap();
    std::fs::write(
        home.path("wit/world.wit"),
        "package my:app@0.1.0;\n\n\
         interface local { }\n\n\
         world app {\n  import wasi:io/streams@0.2.0;\n  import acme:logger/log@1.0.0;\n  export local;\n}\n",
    )
    .unwrap();
    let out = home.ok(&["fetch", "--wit", "wit"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("wasi:io@0.2.1 sha256:"),
        "^0.2.0 takes 0.2.1, not 0.3.0: {out}"
    );
    assert!(lines[0].ends_with("-> deps/wasi/io.wasm"), "{out}");
    assert!(lines[1].starts_with("acme:logger@1.4.0 sha256:"), "{out}");
    assert!(home.path("deps/acme/logger.wasm").is_file());
    let err = home.fails(&["fetch", "--wit", "nowhere"], 64);
    assert!(err.contains("nowhere is not a directory"), "{err}");
}

#[test]
fn a_wit_package_names_itself_when_published() {
    let home = Home::new("");
    let mut resolve = wit_parser::Resolve::default();
    let id = resolve
        .push_str(
            "api.wit",
            "package acme:api@1.2.0;\ninterface greet { hello: func() -> string; }\n",
        )
        .unwrap();
    let bytes = wit_component::encode(&resolve, id, false).unwrap();
    std::fs::write(home.path("api.wasm"), &bytes).unwrap();
    let out = home.ok(&["publish", "api.wasm"]);
    assert!(out.starts_with("published acme:api@1.2.0 sha256:"), "{out}");
    assert_eq!(home.ok(&["versions", "acme:api"]), "1.2.0\n");
}

#[test]
fn lock_versions_json_and_config_path() {
    let home = Home::new("");
    let one = home.component("one.wasm", "lock one");
    home.ok(&["publish", s(&one), "--package", "acme:widget@1.0.0"]);
    home.ok(&["publish", s(&one), "--package", "acme:widget@1.1.0-rc.1"]);
    let json: serde_json::Value =
        serde_json::from_str(&home.ok(&["--json", "versions", "acme:widget"])).unwrap();
    assert_eq!(
        json,
        serde_json::json!([
            {"version": "1.1.0-rc.1", "yanked": false},
            {"version": "1.0.0", "yanked": false}
        ])
    );

    let out = home.ok(&["lock", "--dep", "acme:widget@^1", "--lock", "my.lock"]);
    assert!(out.starts_with("acme:widget@1.0.0 sha256:"), "{out}");
    assert!(!home.path("deps").exists(), "lock writes no deps directory");
    let lock = std::fs::read_to_string(home.path("my.lock")).unwrap();
    assert!(
        lock.starts_with("# This file is automatically generated.\n"),
        "{lock}"
    );

    let out = home.ok(&["config", "path"]);
    assert_eq!(out, "user     $HOME/config.toml\n");
}

#[test]
fn a_version_in_the_components_metadata_completes_the_package() {
    let home = Home::new("");
    std::fs::write(
        home.path("v.wasm"),
        component::build(&component::Spec {
            metadata: &[("version", "2.3.4")],
            ..component::Spec::default()
        }),
    )
    .unwrap();
    let out = home.ok(&["publish", "v.wasm", "--package", "acme:versioned"]);
    assert!(out.starts_with("published acme:versioned@2.3.4 "), "{out}");
    let bare = home.component("bare.wasm", "no version");
    let err = home.fails(&["publish", s(&bare), "--package", "acme:bare"], 64);
    assert!(err.contains("has no `version` metadata"), "{err}");
}

#[test]
fn against_a_real_warg_registry() {
    let server = test_support::warg::WargServer::start();
    let registry = server.registry();
    let home = Home::new(&format!(
        "[namespace_registries]\ntest = \"{registry}\"\n\
         [registry.\"{registry}\"]\ndefault = \"warg\"\n\
         [registry.\"{registry}\".warg]\nsigning_key_env = \"WREG_TEST_WARG_KEY\"\n"
    ));
    let file = home.component("w.wasm", "warg cli");
    let key = test_support::warg::signing_key(5);
    let publish = |version: &str| {
        let mut cmd = home.command("cache");
        cmd.env("WREG_TEST_WARG_KEY", &key)
            .args(["publish", s(&file), "--package"])
            .arg(format!("test:gizmo@{version}"));
        cmd.output().unwrap()
    };
    let out = publish("1.0.0");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&key[11..])
            && !String::from_utf8_lossy(&out.stderr).contains(&key[11..]),
        "the key is never printed"
    );
    assert_eq!(home.ok(&["versions", "test:gizmo"]), "1.0.0\n");
    let out = home.wreg(&["get", "test:gizmo", "-o", "-"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, std::fs::read(&file).unwrap());

    // Without the variable, publishing says what is missing; an unknown package exits 2.
    let err = home.fails(&["publish", s(&file), "--package", "test:gizmo@2.0.0"], 78);
    assert!(err.contains("WREG_TEST_WARG_KEY"), "{err}");
    let err = home.fails(&["get", "test:nothing", "-o", "-"], 2);
    assert!(err.contains("test:nothing"), "{err}");
}

#[test]
fn a_registry_that_changes_a_locked_release_exits_with_5() {
    let home = Home::new("");
    let one = home.component("one.wasm", "locked bytes");
    home.ok(&["publish", s(&one), "--package", "acme:widget@1.0.0"]);
    home.ok(&["fetch", "--dep", "acme:widget@^1"]);
    let lock = std::fs::read_to_string(home.path("wkg.lock")).unwrap();

    // Publishing the same version again is refused, and changes nothing.
    let other = home.component("other.wasm", "other bytes");
    let err = home.fails(&["publish", s(&other), "--package", "acme:widget@1.0.0"], 6);
    assert!(
        err.contains("acme:widget@1.0.0") && err.contains("already published"),
        "{err}"
    );

    // Someone swaps the bytes behind the registry's back; the lock file's digest catches it
    // once the cache no longer holds the original.
    std::fs::copy(&other, home.path("registry/acme/widget/1.0.0.wasm")).unwrap();
    home.ok(&["cache", "clean"]);
    let err = home.fails(&["fetch", "--dep", "acme:widget@^1"], 5);
    assert!(err.contains("acme:widget"), "{err}");
    assert!(err.contains("sha256:"), "names the digests: {err}");
    assert!(
        !home.path("deps/acme/widget.wasm").exists()
            || std::fs::read(home.path("deps/acme/widget.wasm")).unwrap()
                == std::fs::read(&one).unwrap(),
        "no wrong bytes are written out"
    );
    assert_eq!(
        std::fs::read_to_string(home.path("wkg.lock")).unwrap(),
        lock,
        "the lock file is left as it was"
    );
}

#[test]
fn every_command_has_help_with_examples() {
    let home = Home::new("");
    for command in [
        &["get"][..],
        &["publish"],
        &["versions"],
        &["fetch"],
        &["build"],
        &["update"],
        &["lock"],
        &["config", "show"],
        &["config", "get"],
        &["config", "set"],
        &["config", "unset"],
        &["config", "path"],
        &["cache", "ls"],
        &["cache", "verify"],
        &["cache", "clean"],
        &["completions"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let out = home.ok(&args);
        assert!(
            out.contains("Examples:\n  wreg "),
            "wreg {command:?} --help:\n{out}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&home.ok(&["--json", "config", "path"])).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{"scope": "user", "path": "$HOME/config.toml", "exists": true}])
    );
}

#[test]
fn a_component_named_in_its_metadata_publishes_without_package() {
    let home = Home::new("");
    let named = |name: &str, metadata: &[(&str, &str)]| {
        component::build(&component::Spec {
            name: Some(name),
            metadata,
            ..component::Spec::default()
        })
    };
    std::fs::write(
        home.path("named.wasm"),
        named("acme:named", &[("version", "0.4.0")]),
    )
    .unwrap();
    let out = home.ok(&["publish", "named.wasm"]);
    assert!(
        out.starts_with("published acme:named@0.4.0 sha256:"),
        "{out}"
    );
    assert_eq!(home.ok(&["versions", "acme:named"]), "0.4.0\n");

    // Named but unversioned: --package gives the version; without it, the error says so.
    std::fs::write(home.path("bare.wasm"), named("acme:named", &[])).unwrap();
    let err = home.fails(&["publish", "bare.wasm"], 64);
    assert!(
        err.contains("names itself acme:named but has no `version` metadata"),
        "{err}"
    );
    let out = home.ok(&["publish", "bare.wasm", "--package", "acme:named@0.5.0"]);
    assert!(out.starts_with("published acme:named@0.5.0 "), "{out}");

    // A name that is not `ns:name` is refused, naming it.
    std::fs::write(
        home.path("odd.wasm"),
        named("my component", &[("version", "1.0.0")]),
    )
    .unwrap();
    let err = home.fails(&["publish", "odd.wasm"], 64);
    assert!(
        err.contains("is named `my component`, which is not a package name"),
        "{err}"
    );
}
