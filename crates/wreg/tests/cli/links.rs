//! `wreg get` and `wreg fetch` outputs: hard links to the cache entry by default (one
//! write of the bytes per pull), copies with `--link-mode copy` or `WREG_LINK_MODE=copy`;
//! an output rewritten in place is not served again from the cache.
#![cfg(unix)]

use std::os::unix::fs::MetadataExt as _;

use super::{Home, s, succeeded};

fn links(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).unwrap().nlink()
}

#[test]
fn outputs_are_linked_to_the_cache_unless_copies_are_asked_for() {
    let home = Home::new("");
    let one = home.component("one.wasm", "linked");
    let bytes = std::fs::read(&one).unwrap();
    home.ok(&["publish", s(&one), "--package", "acme:widget@1.0.0"]);

    // Cold, then warm, into relative paths.
    home.ok(&["get", "acme:widget@1.0.0", "-o", "cold.wasm"]);
    home.ok(&["get", "acme:widget@1.0.0", "-o", "warm.wasm"]);
    home.ok(&["fetch", "--dep", "acme:widget@1.0.0", "-o", "deps"]);
    let fetched = home.path("deps/acme/widget.wasm");
    for out in [home.path("cold.wasm"), home.path("warm.wasm"), fetched] {
        assert_eq!(std::fs::read(&out).unwrap(), bytes, "{}", out.display());
        assert_eq!(
            links(&out),
            4,
            "{}: the entry and three outputs",
            out.display()
        );
    }

    home.ok(&[
        "--link-mode",
        "copy",
        "get",
        "acme:widget@1.0.0",
        "-o",
        "flag.wasm",
    ]);
    let out = home
        .command("cache")
        .env("WREG_LINK_MODE", "copy")
        .args(["get", "acme:widget@1.0.0", "-o", "env.wasm"])
        .output()
        .unwrap();
    succeeded(out, &["get (WREG_LINK_MODE=copy)"]);
    for copy in ["flag.wasm", "env.wasm"] {
        assert_eq!(links(&home.path(copy)), 1, "{copy} is a file of its own");
        assert_eq!(std::fs::read(home.path(copy)).unwrap(), bytes);
    }

    // A tool rewrites an output in place: the cache entry it shares is not served again.
    let mine = vec![b'x'; bytes.len()];
    std::fs::write(home.path("cold.wasm"), &mine).unwrap();
    home.ok(&["get", "acme:widget@1.0.0", "-o", "again.wasm"]);
    assert_eq!(std::fs::read(home.path("again.wasm")).unwrap(), bytes);
    assert_eq!(std::fs::read(home.path("cold.wasm")).unwrap(), mine);

    let err = home.fails(&["--link-mode", "symlink", "get", "acme:widget@1.0.0"], 64);
    assert!(err.contains("possible values: auto, copy"), "{err}");
}
