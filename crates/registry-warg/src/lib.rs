//! The warg backend of the wreg workspace (work in progress).
//!
//! This crate will implement [`registry_core::Backend`] for warg registries with
//! `warg-client` 0.10: listing versions with their yanked state after refreshing the package
//! log, fetching verified content and publishing releases, without ever prompting or
//! touching the OS keyring. Its settings live in the opaque `[registry."<name>".warg]`
//! section of a [`registry_config::Config`].
//!
//! Nothing is implemented yet; the crate exists so the workspace layout and dependency
//! direction are fixed.
#![deny(missing_docs)]

/// The name of this backend's section in `[registry."<name>"]` and of its `type`.
pub const BACKEND_NAME: &str = "warg";
