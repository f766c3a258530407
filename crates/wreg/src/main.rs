//! `wreg`: the command-line tool over `registry-client` (work in progress).
//!
//! It will offer `get`, `publish`, `versions`, `fetch`/`lock`, `config` and `cache`
//! commands. Until those land it only says so.

fn main() -> anyhow::Result<()> {
    anyhow::bail!(
        "wreg {} has no commands yet; the library crates are usable today (see README.md)",
        env!("CARGO_PKG_VERSION")
    )
}
