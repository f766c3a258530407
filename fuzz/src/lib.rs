//! Fuzzing of every parser that reads input from outside the process: config files (and
//! the merge of two layers), package names and specs, `wkg.lock` files, well-known
//! documents, OCI manifests and indexes, Cargo manifests' component tables, dependency
//! files, `wkg.toml` files.
//!
//! [`check`] holds one function per parser: it feeds the input to the parser and asserts the
//! property every input must satisfy (parse, or fail with an error that says where; never
//! panic; what parses round-trips; no credential in an error). The same functions run in two
//! ways:
//! - coverage-guided, under libFuzzer, for a bounded time: `cargo xtask fuzz` builds the
//!   binaries in `fuzz_targets/` (feature `libfuzzer`) with coverage instrumentation on the
//!   stable toolchain and starts from `seeds/<target>/`;
//! - deterministically in the test suite (`tests/deterministic.rs`): every seed file, then
//!   thousands of [`mutate`]d variants from a fixed sequence, so a failure reproduces.
//!
//! A crash libFuzzer finds is added to `seeds/<target>/`, so it stays a regression test.

use std::path::{Path, PathBuf};

pub mod check;
pub mod mutate;

/// The fuzz targets, each a function in [`check`], a binary and a directory of seeds.
pub const TARGETS: &[&str] = &[
    "config",
    "package_ref",
    "lock_file",
    "well_known",
    "oci_manifest",
    "cargo_component",
    "dependency_file",
    "wkg_toml",
];

/// The directory of a target's seed inputs (and regressions).
pub fn seed_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target)
}

/// Every seed input of a target, sorted by file name.
///
/// # Panics
/// If the directory cannot be read or is empty: a target without seeds tests nothing.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = seed_dir(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("cannot read the seeds in {}: {err}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no seeds in {}", dir.display());
    paths
        .iter()
        .map(|path| std::fs::read(path).unwrap_or_else(|err| panic!("{}: {err}", path.display())))
        .collect()
}

/// The check for a target by name.
pub fn check_for(target: &str) -> Option<fn(&[u8])> {
    Some(match target {
        "config" => check::config,
        "package_ref" => check::package_ref,
        "lock_file" => check::lock_file,
        "well_known" => check::well_known,
        "oci_manifest" => check::oci_manifest,
        "cargo_component" => check::cargo_component,
        "dependency_file" => check::dependency_file,
        "wkg_toml" => check::wkg_toml,
        _ => return None,
    })
}
