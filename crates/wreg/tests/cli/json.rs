//! The `--json` shapes in docs/json.md are what `wreg` prints.

use std::collections::{BTreeMap, BTreeSet};

use test_support::component::{self, Spec};

use super::{Home, s};

/// Every object key anywhere in `value`, with the path of objects above it.
pub(crate) fn keys(value: &serde_json::Value, at: &str, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                let path = format!("{at}.{key}");
                out.insert(path.clone());
                keys(value, &path, out);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                keys(item, &format!("{at}[]"), out);
            }
        }
        _ => {}
    }
}

/// The documented example of each `### \`wreg <command> --json\`` heading.
pub(crate) fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/json.md"))
        .unwrap();
    let mut shapes = BTreeMap::new();
    for section in doc.split("### `wreg ").skip(1) {
        let command = section.split(" --json`").next().unwrap().to_owned();
        let block = section
            .split("```json\n")
            .nth(1)
            .and_then(|b| b.split("\n```").next())
            .unwrap_or_else(|| panic!("no JSON example for `{command}` in docs/json.md"));
        let value: serde_json::Value = serde_json::from_str(block)
            .unwrap_or_else(|e| panic!("the example for `{command}` is not JSON: {e}"));
        let mut set = BTreeSet::new();
        keys(&value, "", &mut set);
        shapes.insert(command, set);
    }
    shapes
}

#[test]
fn every_documented_json_shape_is_what_wreg_prints() {
    let home = Home::new("");
    let dir = |name: &str, wit: &str| {
        let path = home.path(name);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("p.wit"), wit).unwrap();
        path
    };
    let base = dir(
        "base",
        "package acme:base@1.0.0;\ninterface types { type id = u32; }\n",
    );
    let newer = dir(
        "base11",
        "package acme:base@1.1.0;\ninterface types { type id = u32; type n = string; }\n",
    );
    let lib = dir(
        "lib",
        "package acme:lib@1.0.0;\ninterface api { use acme:base/types@1.0.0.{id}; get: func() -> id; }\n",
    );
    dir(
        "wit",
        "package my:app@0.1.0;\nworld app { import acme:lib/api@1.0.0; }\n",
    );
    home.ok(&["publish", s(&base), "--lock", "p.lock"]);
    home.ok(&["publish", s(&lib), "--lock", "p.lock"]);
    let producer = home.path("producer.wasm");
    std::fs::write(
        &producer,
        component::build(&Spec {
            imports: &["dep"],
            exports: &["greet"],
            ..Spec::default()
        }),
    )
    .unwrap();
    let consumer = home.path("consumer.wasm");
    std::fs::write(
        &consumer,
        component::build(&Spec {
            imports: &["greet"],
            exports: &["run"],
            ..Spec::default()
        }),
    )
    .unwrap();
    home.ok(&["publish", s(&producer), "--package", "acme:producer@1.1.0"]);
    std::fs::write(
        home.path("app.wac"),
        "package app:c;\nlet producer = new acme:producer { ... };\n\
         let consumer = new acme:consumer { greet: producer.greet };\nexport consumer...;\n",
    )
    .unwrap();

    let mut printed: BTreeMap<String, String> = BTreeMap::new();
    printed.insert("wit fetch".into(), home.ok(&["--json", "wit", "fetch"]));
    printed.insert("wit build".into(), home.ok(&["--json", "wit", "build"]));
    printed.insert(
        "publish".into(),
        home.ok(&["--json", "publish", s(&newer), "--lock", "p.lock"]),
    );
    let base12 = dir(
        "base12",
        "package acme:base@1.2.0;\ninterface types { type id = u32; type n = string; }\n",
    );
    let lib11 = dir(
        "lib11",
        "package acme:lib@1.1.0;\ninterface api { use acme:base/types@1.2.0.{id}; get: func() -> id; }\n",
    );
    printed.insert(
        "publish PATH PATH...".into(),
        home.ok(&[
            "--json",
            "publish",
            s(&lib11),
            s(&base12),
            "--dry-run",
            "--lock",
            "p.lock",
        ]),
    );
    printed.insert(
        "compose".into(),
        home.ok(&[
            "--json",
            "compose",
            "app.wac",
            "--dep",
            &format!("acme:consumer={}", s(&consumer)),
            "-o",
            "app.wasm",
            "--lock",
            "c.lock",
        ]),
    );
    printed.insert("tree".into(), home.ok(&["--json", "tree"]));
    printed.insert("why".into(), home.ok(&["--json", "why", "acme:base"]));
    printed.insert("outdated".into(), home.ok(&["--json", "outdated"]));
    printed.insert("update".into(), home.ok(&["--json", "update", "--dry-run"]));
    printed.insert(
        "bundle export".into(),
        home.ok(&["--json", "bundle", "export", "bundle", "--lock", "p.lock"]),
    );

    let mut documented = documented();
    // `verify` needs a signed release on an OCI registry: provenance.rs checks its shape.
    assert!(
        documented.remove("verify").is_some(),
        "docs/json.md documents verify"
    );
    assert_eq!(
        documented.keys().collect::<Vec<_>>(),
        printed.keys().collect::<Vec<_>>(),
        "docs/json.md documents these commands"
    );
    for (command, out) in &printed {
        let value: serde_json::Value = serde_json::from_str(out).unwrap();
        let mut actual = BTreeSet::new();
        keys(&value, "", &mut actual);
        assert_eq!(
            &actual, &documented[command],
            "`wreg {command} --json` printed:\n{out}\nwhich differs from docs/json.md"
        );
    }
}
