//! Integration tests of registry-client; the modules follow `src/`.

mod cache;
mod client;
mod discovery;
mod links;
mod local;
mod mirrors;
mod oci;
#[cfg(feature = "provenance")]
mod provenance;
#[cfg(feature = "provenance")]
mod provenance_sign;
mod resolver;
mod support;
// warg is an opt-in feature; `cargo xtask test` turns it on (the workspace build does,
// through wreg).
#[cfg(feature = "warg")]
mod warg;
