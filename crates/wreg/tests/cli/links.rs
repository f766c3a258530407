//! `wreg get` and `wreg fetch` outputs: files of their own by default; hard links to the
//! cache entry with `--link-mode hardlink` or `WREG_LINK_MODE=hardlink` (one write of the
//! bytes per pull); an output rewritten in place is not served again from the cache.
#![cfg(unix)]

use std::os::unix::fs::MetadataExt as _;

use test_support::component;

use super::{Home, s, succeeded};

fn links(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).unwrap().nlink()
}

#[test]
fn outputs_are_copies_unless_hard_links_are_asked_for() {
    let home = Home::new("");
    // Large enough (2 MiB) that a hit is trusted by its stamp rather than hashed.
    let one = home.path("one.wasm");
    std::fs::write(
        &one,
        component::build(&component::Spec {
            padding: 2 << 20,
            ..component::Spec::default()
        }),
    )
    .unwrap();
    let bytes = std::fs::read(&one).unwrap();
    home.ok(&["publish", s(&one), "--package", "acme:widget@1.0.0"]);

    // Copies, cold then warm, into relative paths.
    home.ok(&["get", "acme:widget@1.0.0", "-o", "cold.wasm"]);
    home.ok(&["get", "acme:widget@1.0.0", "-o", "warm.wasm"]);
    for copy in ["cold.wasm", "warm.wasm"] {
        assert_eq!(links(&home.path(copy)), 1, "{copy} is a file of its own");
        assert_eq!(std::fs::read(home.path(copy)).unwrap(), bytes);
    }

    // Hard links, by the flag and by the variable.
    home.ok(&[
        "--link-mode",
        "hardlink",
        "get",
        "acme:widget@1.0.0",
        "-o",
        "a.wasm",
    ]);
    let out = home
        .command("cache")
        .env("WREG_LINK_MODE", "hardlink")
        .args(["fetch", "--dep", "acme:widget@1.0.0", "-o", "deps"])
        .output()
        .unwrap();
    succeeded(out, &["fetch (WREG_LINK_MODE=hardlink)"]);
    let fetched = home.path("deps/acme/widget.wasm");
    for out in [home.path("a.wasm"), fetched.clone()] {
        assert_eq!(std::fs::read(&out).unwrap(), bytes, "{}", out.display());
        assert_eq!(
            links(&out),
            3,
            "{}: the entry and two outputs",
            out.display()
        );
    }

    // A tool rewrites a linked output in place: the cache entry it shares is not served
    // again, the copies are untouched.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let mine = vec![b'x'; bytes.len()];
    std::fs::write(home.path("a.wasm"), &mine).unwrap();
    home.ok(&["get", "acme:widget@1.0.0", "-o", "again.wasm"]);
    assert_eq!(std::fs::read(home.path("again.wasm")).unwrap(), bytes);
    assert_eq!(
        std::fs::read(&fetched).unwrap(),
        mine,
        "linked outputs are one file"
    );
    assert_eq!(std::fs::read(home.path("warm.wasm")).unwrap(), bytes);

    let err = home.fails(&["--link-mode", "symlink", "get", "acme:widget@1.0.0"], 64);
    assert!(err.contains("possible values: copy, hardlink"), "{err}");
}
