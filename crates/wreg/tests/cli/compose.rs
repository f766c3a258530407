//! `wreg compose` and `wreg plug` with the real wac crates, against a directory registry.

use test_support::component::{self, Spec};

use super::{Home, s};

fn producer(tag: &str) -> Vec<u8> {
    component::build(&Spec {
        imports: &["dep"],
        exports: &["greet"],
        metadata: &[("description", tag)],
        ..Spec::default()
    })
}

fn consumer() -> Vec<u8> {
    component::build(&Spec {
        imports: &["greet"],
        exports: &["run"],
        ..Spec::default()
    })
}

fn publish(home: &Home, name: &str, bytes: &[u8], spec: &str) {
    let path = home.path(name);
    std::fs::write(&path, bytes).unwrap();
    home.ok(&["publish", s(&path), "--package", spec]);
}

const DOCUMENT: &str = "package app:composition;

let producer = new acme:producer { ... };
let consumer = new acme:consumer { greet: producer.greet };
export consumer...;
";

#[test]
fn compose_resolves_through_the_registry_and_the_lock_keeps_it_reproducible() {
    let home = Home::new("");
    publish(&home, "p1.wasm", &producer("1.0"), "acme:producer@1.0.0");
    publish(&home, "p11.wasm", &producer("1.1"), "acme:producer@1.1.0");
    publish(&home, "c.wasm", &consumer(), "acme:consumer@1.0.0");
    std::fs::write(home.path("app.wac"), DOCUMENT).unwrap();
    let out = home.ok(&["--json", "compose", "app.wac", "-o", "app.wasm"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["packages"][0]["package"], "acme:producer");
    assert_eq!(report["packages"][0]["version"], "1.1.0");
    let first = std::fs::read(home.path("app.wasm")).unwrap();
    component::validate(&first);
    let lock = std::fs::read_to_string(home.path("wkg.lock")).unwrap();
    assert!(
        lock.contains("name = \"acme:producer\"") && lock.contains("version = \"1.1.0\""),
        "{lock}"
    );
    // A newer release does not move the pin: the same document composes the same bytes.
    publish(&home, "p12.wasm", &producer("1.2"), "acme:producer@1.2.0");
    home.ok(&["compose", "app.wac", "-o", "again.wasm", "--locked"]);
    assert_eq!(std::fs::read(home.path("again.wasm")).unwrap(), first);
    // A package the lock does not pin is refused under --locked.
    std::fs::write(
        home.path("more.wac"),
        DOCUMENT.replace("new acme:consumer {", "new acme:consumer@1.0.0 {"),
    )
    .unwrap();
    let err = home.fails(&["compose", "more.wac", "-o", "more.wasm", "--locked"], 8);
    assert!(
        err.contains("wkg.lock would change (new or moved pins: acme:consumer)"),
        "{err}"
    );
    assert!(!home.path("more.wasm").exists());
    // A --dep file wins over the registry, as in wac.
    std::fs::write(home.path("local.wasm"), producer("local")).unwrap();
    let out = home.ok(&[
        "--json",
        "compose",
        "app.wac",
        "--dep",
        "acme:producer=local.wasm",
        "-o",
        "local-app.wasm",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["packages"][0]["version"], serde_json::Value::Null);
    assert_ne!(std::fs::read(home.path("local-app.wasm")).unwrap(), first);
}

#[test]
fn compose_errors_point_at_the_document() {
    let home = Home::new("");
    publish(&home, "c.wasm", &consumer(), "acme:consumer@1.0.0");
    // A package no registry has: not found (2), at the line and column that names it.
    std::fs::write(home.path("app.wac"), DOCUMENT).unwrap();
    let err = home.fails(&["compose", "app.wac", "-o", "app.wasm"], 2);
    assert!(
        err.contains("app.wac:3:20: cannot resolve `acme:producer`"),
        "{err}"
    );
    // A syntax error, where it is.
    std::fs::write(
        home.path("bad.wac"),
        "package app:x;\nlet = new acme:consumer {};\n",
    )
    .unwrap();
    let err = home.fails(&["compose", "bad.wac", "-o", "bad.wasm"], 1);
    assert!(err.contains("bad.wac:2:5:"), "{err}");
    // An argument the socket does not have.
    publish(&home, "p.wasm", &producer("1.0"), "acme:producer@1.0.0");
    std::fs::write(
        home.path("wrong.wac"),
        DOCUMENT.replace("greet: producer.greet", "nope: producer.greet"),
    )
    .unwrap();
    let err = home.fails(&["compose", "wrong.wac", "-o", "wrong.wasm"], 1);
    assert!(err.contains("wrong.wac:4:"), "{err}");
}

#[test]
fn plug_takes_packages_by_name_and_files() {
    let home = Home::new("");
    publish(&home, "p.wasm", &producer("1.0"), "acme:producer@1.0.0");
    publish(&home, "c.wasm", &consumer(), "acme:consumer@1.0.0");
    home.ok(&[
        "plug",
        "acme:consumer",
        "--plug",
        "acme:producer@1.0.0",
        "-o",
        "plugged.wasm",
    ]);
    component::validate(&std::fs::read(home.path("plugged.wasm")).unwrap());
    let lock = std::fs::read_to_string(home.path("wkg.lock")).unwrap();
    assert!(
        lock.contains("acme:consumer") && lock.contains("acme:producer"),
        "{lock}"
    );
    // Files and packages mixed; a plug that fits nothing is an error naming the socket.
    home.ok(&[
        "plug",
        "c.wasm",
        "--plug",
        "acme:producer",
        "-o",
        "mixed.wasm",
    ]);
    component::validate(&std::fs::read(home.path("mixed.wasm")).unwrap());
    let err = home.fails(
        &["plug", "acme:producer", "--plug", "c.wasm", "-o", "x.wasm"],
        1,
    );
    assert!(err.contains("acme:producer: cannot plug"), "{err}");
}
