//! Integration tests of registry-client; the modules follow `src/`.

mod cache;
mod client;
mod discovery;
mod local;
mod mirrors;
mod oci;
mod resolver;
mod support;
mod warg;
