//! The adapters Wasm tools wrap to load packages through [`registry_client`]:
//!
//! - [`wac::WacResolver`]: the packages a `wac` document names, from a dependencies
//!   directory, `--dep` overrides, then the registries, pinned by a lock file.
//! - [`cargo_component`]: a `cargo-component` manifest's `[package.metadata.component]`
//!   table read as dependencies and as a configuration layer, resolved with a lock file.
//!
//! Neither depends on the tool's own crates, so each works with whichever version the tool
//! builds with. Feature `wit` lets the wac resolver encode WIT directories (wit-component).
#![deny(missing_docs)]

pub mod cargo_component;
pub mod wac;
