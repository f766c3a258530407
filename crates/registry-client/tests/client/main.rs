//! Integration tests of registry-client; the modules follow `src/`.

mod cache;
mod client;
mod local;
mod oci;
mod resolver;
mod support;
