//! WIT nobody here wrote: the WASI 0.2 release-candidate packages as the `wit-component`
//! crate ships them in its source (`tests/interfaces/wasi-http`), found where cargo
//! unpacked the version this workspace builds.

use std::path::{Path, PathBuf};

/// The WASI packages of the shipped tree: the directory (relative to the tree) and the
/// package each defines, each after the packages it uses.
pub const WASI: &[(&str, &str)] = &[
    ("deps/io", "wasi:io@0.2.0-rc-2023-11-10"),
    ("deps/random", "wasi:random@0.2.0-rc-2023-11-10"),
    ("deps/clocks", "wasi:clocks@0.2.0-rc-2023-11-10"),
    ("deps/filesystem", "wasi:filesystem@0.2.0-rc-2023-11-10"),
    ("deps/sockets", "wasi:sockets@0.2.0-rc-2023-11-10"),
    ("deps/cli", "wasi:cli@0.2.0-rc-2023-12-05"),
    ("", "wasi:http@0.2.0-rc-2023-12-05"),
];

/// An application world that imports `wasi:http/proxy` from the shipped tree.
pub const APP_WIT: &str =
    "package my:app@0.1.0;\n\nworld app {\n  include wasi:http/proxy@0.2.0-rc-2023-12-05;\n}\n";

/// `tests/interfaces/wasi-http` in the source of the `wit-component` crate in the
/// workspace's Cargo.lock.
///
/// # Panics
/// When that source is not unpacked (say to run `cargo fetch`).
pub fn wasi_http() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let lock = std::fs::read_to_string(workspace.join("Cargo.lock")).expect("Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"wit-component\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_owned())
        .expect("wit-component is in Cargo.lock");
    let cargo_home = std::env::var_os("CARGO_HOME").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"),
        PathBuf::from,
    );
    let src = cargo_home.join("registry/src");
    if let Ok(indexes) = std::fs::read_dir(&src) {
        for index in indexes.flatten() {
            let dir = index.path().join(format!(
                "wit-component-{version}/tests/interfaces/wasi-http"
            ));
            if dir.is_dir() {
                return dir;
            }
        }
    }
    panic!(
        "the source of wit-component {version} is not under {}; run `cargo fetch` in the \
         workspace",
        src.display()
    );
}

/// Copies the top-level `.wit` files of the shipped package at `rel` (from [`WASI`]) into
/// `to`, one WIT directory a publisher would have.
///
/// # Panics
/// On an I/O error.
pub fn copy_package(rel: &str, to: &Path) {
    let from = wasi_http().join(rel);
    std::fs::create_dir_all(to).expect("create the package directory");
    for entry in std::fs::read_dir(&from).expect("read the shipped package") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "wit") {
            std::fs::copy(&path, to.join(path.file_name().expect("a name")))
                .expect("copy a .wit file");
        }
    }
}
