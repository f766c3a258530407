//! The client of the wreg workspace (work in progress).
//!
//! This crate will combine the backends behind one `Client` built from a
//! [`registry_config::Config`]: mapping a package to its registry, choosing the backend
//! (configured, well-known metadata, or OCI), a local directory backend, a content-addressed
//! cache that verifies before it commits, a resolver, a `wkg.lock`-compatible lock file,
//! offline mode, and the adapters that `wac` and `cargo-component` wrap.
//!
//! Cargo features `oci` and `warg` (both default) choose the backends compiled in.
//!
//! Nothing is implemented yet; the crate exists so the workspace layout and dependency
//! direction are fixed.
#![deny(missing_docs)]

pub use registry_config as config;
pub use registry_core as core;
