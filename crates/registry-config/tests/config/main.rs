//! Integration tests of registry-config; the modules follow `src/`.

mod concurrency;
mod errors;
mod layers;
mod mirrors;
mod mutate;
mod provenance;
mod secrets;
mod support;
mod wkg_compat;
