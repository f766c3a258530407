//! The OCI backend of the wreg workspace (work in progress).
//!
//! This crate will implement [`registry_core::Backend`] for OCI registries (ghcr.io, Docker
//! Hub, Harbor, a CNCF `distribution` server) with `oci-client`: mapping `namespace:name` to
//! `<registry>/<prefix><namespace>/<name>:<version>`, listing tags, pulling the Wasm layer
//! as a verified stream, and publishing the CNCF "Wasm OCI Artifact" layout. Its settings
//! live in the opaque `[registry."<name>".oci]` section of a [`registry_config::Config`].
//!
//! Nothing is implemented yet; the crate exists so the workspace layout and dependency
//! direction (core <- config <- oci <- client) are fixed.
#![deny(missing_docs)]

/// The name of this backend's section in `[registry."<name>"]` and of its `type`.
pub const BACKEND_NAME: &str = "oci";
