//! `wreg get --format wit` on a component: the WIT of its world, with the packages it uses,
//! as text wit-parser reads on its own (wkg bug #160: wkg printed the Wasm instead).

use test_support::component::{self, Spec};

use super::{Home, s};

const IMPORT: &str = "wasi:cli/environment@0.2.0";
const EXPORT: &str = "acme:app/api@1.0.0";

/// The world wit-parser finds in `text`: its package's name and the names of what it
/// imports and exports.
fn world_of(text: &str) -> (String, Vec<String>, Vec<String>) {
    let mut resolve = wit_parser::Resolve::default();
    let main = resolve
        .push_str("got.wit", text)
        .unwrap_or_else(|err| panic!("wit-parser cannot read what get printed: {err:#}\n{text}"));
    let package = &resolve.packages[main];
    assert_eq!(package.worlds.len(), 1, "{text}");
    let world = &resolve.worlds[package.worlds[0]];
    let names = |items: &wit_parser::IndexMap<wit_parser::WorldKey, wit_parser::WorldItem>| {
        items
            .keys()
            .map(|key| resolve.name_world_key(key))
            .collect()
    };
    (
        package.name.to_string(),
        names(&world.imports),
        names(&world.exports),
    )
}

#[test]
fn get_format_wit_prints_the_world_of_a_component() {
    let home = Home::new("");
    let app = home.path("app.wasm");
    std::fs::write(
        &app,
        component::build(&Spec {
            imports: &[IMPORT],
            exports: &[EXPORT],
            ..Spec::default()
        }),
    )
    .unwrap();
    home.ok(&["publish", s(&app), "--package", "acme:app@1.0.0"]);

    // To stdout: WIT text, nothing else, that parses with the packages it uses.
    let out = home.wreg(&["get", "--format", "wit", "acme:app@1.0.0", "-o", "-"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.starts_with("\0asm"), "WIT, not the Wasm: {text:?}");
    let (package, imports, exports) = world_of(&text);
    assert_eq!(package, "root:component", "{text}");
    assert_eq!(imports, [IMPORT], "{text}");
    assert_eq!(exports, [EXPORT], "{text}");
    assert!(text.contains(&format!("import {IMPORT};")), "{text}");
    assert!(text.contains("package wasi:cli@0.2.0 {"), "{text}");

    // To a directory: a `.wit` name, as for WIT packages; to a file: that file.
    std::fs::create_dir(home.path("out")).unwrap();
    let out = home.ok(&["get", "--format", "wit", "acme:app@1.0.0", "-o", "out"]);
    assert!(
        out.trim_end().ends_with("-> out/acme_app@1.0.0.wit"),
        "{out}"
    );
    let written = std::fs::read_to_string(home.path("out/acme_app@1.0.0.wit")).unwrap();
    assert_eq!(written, text);
    home.ok(&["get", "--format", "wit", "acme:app@1.0.0", "-o", "app.wit"]);
    assert_eq!(std::fs::read_to_string(home.path("app.wit")).unwrap(), text);

    // Without -o: `<ns>_<name>@<version>.wit` here.
    home.ok(&["get", "--format", "wit", "acme:app@1.0.0"]);
    assert_eq!(
        std::fs::read_to_string(home.path("acme_app@1.0.0.wit")).unwrap(),
        text
    );
}

/// A component of WIT nobody here wrote: the shipped `wasi:http/proxy` world (resources,
/// records, variants, `use` across five packages), encoded by wit-component around a dummy
/// core module.
fn proxy_component() -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let (http, _) = resolve
        .push_dir(test_support::shipped::wasi_http())
        .unwrap();
    let world = resolve.select_world(&[http], Some("proxy")).unwrap();
    let mut module =
        wit_component::dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
        false,
    )
    .unwrap();
    wit_component::ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap()
}

#[test]
fn get_format_wit_prints_a_real_world_that_parses_on_its_own() {
    let home = Home::new("");
    std::fs::write(home.path("proxy.wasm"), proxy_component()).unwrap();
    home.ok(&["publish", "proxy.wasm", "--package", "acme:proxy@1.0.0"]);
    let out = home.wreg(&["get", "--format", "wit", "acme:proxy@1.0.0", "-o", "-"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (package, imports, exports) = world_of(&text);
    assert_eq!(package, "root:component", "{text}");
    let http = "wasi:http/incoming-handler@0.2.0-rc-2023-12-05";
    assert_eq!(exports, [http], "{text}");
    for import in [
        "wasi:http/outgoing-handler@0.2.0-rc-2023-12-05",
        "wasi:io/streams@0.2.0-rc-2023-11-10",
        "wasi:clocks/wall-clock@0.2.0-rc-2023-11-10",
    ] {
        assert!(imports.iter().any(|i| i == import), "{import}: {imports:?}");
    }
    // The resources of the packages it uses are there, in their own packages.
    assert!(
        text.contains("package wasi:io@0.2.0-rc-2023-11-10 {") && text.contains("resource"),
        "{text}"
    );
}

#[test]
fn get_format_wit_refuses_a_core_module_naming_the_package() {
    let home = Home::new("");
    // A core module: WebAssembly, published as it is, but neither a WIT package nor a
    // component.
    let core = home.path("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    home.ok(&["publish", s(&core), "--package", "acme:core@1.0.0"]);
    let err = home.fails(
        &["get", "--format", "wit", "acme:core@1.0.0", "-o", "-"],
        65,
    );
    assert!(
        err.contains(
            "acme:core@1.0.0 is a core WebAssembly module, which has no WIT (WIT packages and \
             components do); use --format wasm for its bytes"
        ),
        "{err}"
    );
    assert!(!home.path("acme_core@1.0.0.wit").exists());
    // The bytes are still there to be had.
    let out = home.wreg(&["get", "acme:core@1.0.0", "-o", "-"]);
    assert_eq!(out.stdout, b"\0asm\x01\0\0\0");
}
