//! wkg 0.16's publish: several paths in one call (each after the ones whose packages it
//! uses; the first failure stops the rest and the report says which were published),
//! `--dry-run` for each path, `WKG_PACKAGE` for `--package` with one path only.

use std::process::Output;

use super::wit::wit_dir;
use super::{Home, s};

fn run(home: &Home, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = home.command("cache");
    for (key, value) in env {
        command.env(key, value);
    }
    command.args(args).output().unwrap()
}

fn versions(home: &Home, package: &str) -> String {
    String::from_utf8_lossy(&home.wreg(&["versions", package]).stdout).into_owned()
}

#[test]
fn several_paths_in_order_and_the_first_failure_stops_the_rest() {
    let home = Home::new("");
    let a = wit_dir(
        &home,
        "a",
        "package acme:a@1.0.0;\ninterface i { f: func(); }\n",
    );
    let b = wit_dir(
        &home,
        "b",
        "package acme:b@1.0.0;\ninterface i { f: func(); }\n",
    );
    let c = wit_dir(
        &home,
        "c",
        "package acme:c@1.0.0;\ninterface i { f: func(); }\n",
    );
    let d = wit_dir(
        &home,
        "d",
        "package acme:d@1.0.0;\ninterface i { f: func(); }\n",
    );
    // acme:c@1.0.0 is already there, with other bytes: the third path fails.
    let old_c = wit_dir(
        &home,
        "old-c",
        "package acme:c@1.0.0;\ninterface j { g: func(); }\n",
    );
    home.ok(&["publish", s(&old_c), "--lock", "p.lock"]);

    let args = ["publish", s(&a), s(&b), s(&c), s(&d), "--lock", "p.lock"];
    let out = home.wreg(&args);
    assert_eq!(out.status.code(), Some(6), "the failing one's code");
    let stdout = home.redact(&String::from_utf8_lossy(&out.stdout));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("published acme:a@1.0.0 sha256:"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("published acme:b@1.0.0 sha256:"),
        "{stdout}"
    );
    assert_eq!(
        lines[2],
        "not published: $HOME/c (failed, see below), $HOME/d"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("acme:c"), "{stderr}");
    assert_eq!(versions(&home, "acme:a"), "1.0.0\n");
    assert_eq!(versions(&home, "acme:b"), "1.0.0\n");
    home.fails(&["versions", "acme:d"], 2);

    // A WIT directory goes after the directories whose packages it uses, and is built
    // with them before anything is published.
    let base = wit_dir(
        &home,
        "base",
        "package acme:base@1.0.0;\ninterface types { type id = u32; }\n",
    );
    let app = wit_dir(
        &home,
        "app",
        "package acme:app@1.0.0;\ninterface api { use acme:base/types@1.0.0.{id}; get: func() -> id; }\n",
    );
    let json: serde_json::Value = serde_json::from_str(&home.ok(&[
        "--json",
        "publish",
        s(&app),
        s(&base),
        "--lock",
        "p.lock",
    ]))
    .unwrap();
    let order: Vec<&str> = json["published"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["package"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["acme:base", "acme:app"]);
    assert_eq!(json["not_published"], serde_json::json!([]));
    assert_eq!(versions(&home, "acme:app"), "1.0.0\n");
    // A built WIT package file names itself: a directory using it goes after it too.
    let base2 = wit_dir(
        &home,
        "base2",
        "package acme:base2@1.0.0;\ninterface types { type id = u32; }\n",
    );
    home.ok(&[
        "build",
        "-d",
        s(&base2),
        "-o",
        "base2.wasm",
        "--lock",
        "p.lock",
    ]);
    let app2 = wit_dir(
        &home,
        "app2",
        "package acme:app2@1.0.0;\ninterface api { use acme:base2/types@1.0.0.{id}; get: func() -> id; }\n",
    );
    let out = home.ok(&["publish", s(&app2), "base2.wasm", "--lock", "p.lock"]);
    assert!(
        out.starts_with("published acme:base2@1.0.0")
            && out.contains("\npublished acme:app2@1.0.0"),
        "{out}"
    );

    // Two paths that use each other cannot be ordered: refused, naming the cycle.
    let x = wit_dir(
        &home,
        "x",
        "package acme:x@1.0.0;\ninterface i { use acme:y/i@1.0.0.{t}; }\n",
    );
    let y = wit_dir(
        &home,
        "y",
        "package acme:y@1.0.0;\ninterface i { type t = u8; use acme:x/i@1.0.0.{}; }\n",
    );
    let err = home.fails(&["publish", s(&x), s(&y)], 64);
    assert!(
        err.contains("cycle") && err.contains("acme:x ($HOME/x) -> acme:y ($HOME/y) -> acme:x"),
        "{err}"
    );
}

#[test]
fn dry_run_checks_every_path_and_publishes_nothing() {
    let home = Home::new("");
    let base = wit_dir(
        &home,
        "base",
        "package acme:base@1.0.0;\ninterface types { type id = u32; }\n",
    );
    home.ok(&["publish", s(&base), "--lock", "p.lock"]);
    let newer = wit_dir(
        &home,
        "base11",
        "package acme:base@1.1.0;\ninterface types { type id = u32; type name = string; }\n",
    );
    let other = wit_dir(
        &home,
        "other",
        "package acme:other@1.0.0;\ninterface i { f: func(); }\n",
    );
    let out = home.ok(&[
        "publish",
        s(&newer),
        s(&other),
        "--dry-run",
        "--lock",
        "p.lock",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("would publish acme:base@1.1.0 ("),
        "{out}"
    );
    assert!(
        lines[1].starts_with("would publish acme:other@1.0.0 ("),
        "{out}"
    );
    assert_eq!(versions(&home, "acme:base"), "1.0.0\n");
    home.fails(&["versions", "acme:other"], 2);

    // The semver check runs in a dry run too: 1.2.0 drops `id`.
    let broken = wit_dir(
        &home,
        "base12",
        "package acme:base@1.2.0;\ninterface types { type n = u8; }\n",
    );
    let out = home.wreg(&[
        "publish",
        s(&other),
        s(&broken),
        "--dry-run",
        "--lock",
        "p.lock",
    ]);
    assert_eq!(
        out.status.code(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("would publish acme:other@1.0.0"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(versions(&home, "acme:base"), "1.0.0\n");
    home.fails(&["versions", "acme:other"], 2);
}

#[test]
fn wkg_package_names_the_package_of_one_path() {
    let home = Home::new("");
    let one = home.component("one.wasm", "anonymous one");
    let two = home.component("two.wasm", "anonymous two");
    let out = run(
        &home,
        &[("WKG_PACKAGE", "acme:widget@1.0.0")],
        &["publish", s(&one)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The flag wins over the variable.
    let out = run(
        &home,
        &[("WKG_PACKAGE", "acme:widget@9.0.0")],
        &["publish", s(&two), "--package", "acme:widget@1.1.0"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(versions(&home, "acme:widget"), "1.1.0\n1.0.0\n");

    // With several paths it is a usage error, whichever way it was given; nothing goes.
    let three = home.component("three.wasm", "anonymous three");
    let out = run(
        &home,
        &[("WKG_PACKAGE", "acme:widget@2.0.0")],
        &["publish", s(&three), s(&one)],
    );
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "WKG_PACKAGE (acme:widget@2.0.0) names the package of one path, and 2 paths are given"
        ),
        "{err}"
    );
    let err = home.fails(
        &[
            "publish",
            s(&three),
            s(&one),
            "--package",
            "acme:widget@2.0.0",
        ],
        64,
    );
    assert!(err.contains("--package (acme:widget@2.0.0)"), "{err}");
    assert_eq!(versions(&home, "acme:widget"), "1.1.0\n1.0.0\n");
}
