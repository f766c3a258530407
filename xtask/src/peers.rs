//! The peer tools the benchmarks and the interop matrix run next to us, each pinned to one
//! version here and `cargo install`ed on first use.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Result, anyhow};

use crate::root;

/// A peer tool from crates.io.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tool {
    /// The crate.
    pub(crate) krate: &'static str,
    /// The version every run uses.
    pub(crate) version: &'static str,
    /// The binary it installs.
    pub(crate) binary: &'static str,
}

/// `wkg`, the current wasm-pkg-tools release.
pub(crate) const WKG: Tool = Tool {
    krate: "wkg",
    version: "0.16.1",
    binary: "wkg",
};

/// The `warg` CLI.
pub(crate) const WARG: Tool = Tool {
    krate: "warg-cli",
    version: "0.10.0",
    binary: "warg",
};

/// The `wac` CLI.
pub(crate) const WAC: Tool = Tool {
    krate: "wac-cli",
    version: "0.12.0",
    binary: "wac",
};

impl std::fmt::Display for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.krate, self.version)
    }
}

/// `tool`'s binary, installed for `peer` unless it is there already.
///
/// # Errors
/// When `cargo install` fails; the message names the crate and version.
pub(crate) fn install(tool: Tool, peer: Peer) -> Result<PathBuf> {
    cargo_install(tool.krate, tool.version, tool.binary, peer)
        .ok_or_else(|| anyhow!("could not install {tool} with `cargo install`"))
}

/// What a peer tool is installed for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// Timed next to us: a release build, in `target/bench-tools`.
    Measured,
    /// Only exchanging artifacts with us: a release build if there is one already, else a
    /// debug build in `target/interop-tools`, which compiles in about half the time.
    Interop,
}

/// `binary` from crate `krate` at `version`, `cargo install`ed unless it is there already.
fn cargo_install(krate: &str, version: &str, binary: &str, peer: Peer) -> Option<PathBuf> {
    let release = root().join("target/bench-tools");
    let debug = root().join("target/interop-tools");
    let usable: &[&PathBuf] = match peer {
        Peer::Measured => &[&release],
        Peer::Interop => &[&release, &debug],
    };
    if let Some(path) = usable
        .iter()
        .map(|dir| dir.join("bin").join(binary))
        .find(|path| path.is_file())
    {
        return Some(path);
    }
    let dest = if peer == Peer::Measured {
        release
    } else {
        debug
    };
    let mut install = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    install
        .args(["install", krate, "--locked", "--version", version, "--root"])
        .arg(&dest)
        // One build directory for every peer, so the crates they share are built once.
        .env("CARGO_TARGET_DIR", dest.join("build"));
    if peer == Peer::Interop {
        install.arg("--debug");
    }
    let status = install.status().ok()?;
    let path = dest.join("bin").join(binary);
    (status.success() && path.is_file()).then_some(path)
}
