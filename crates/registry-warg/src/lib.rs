//! The warg backend: Wasm packages in warg registries.
//!
//! [`WargBackend`] implements [`registry_core::Backend`] with `warg-client` 0.10:
//!
//! - Listing refreshes the package log from the registry and verifies it (record
//!   signatures, the signed checkpoint, inclusion and consistency proofs) before answering;
//!   versions come with their yanked state.
//! - Content streams are checked against the digest the log records; a mismatch is
//!   [`registry_core::Error::DigestMismatch`], a failed proof
//!   [`registry_core::Error::Untrusted`] naming the registry.
//! - Publishing spools the content ([`registry_transport::Spool`]: hashed, its declared size
//!   and digest checked), refuses a version the log has with
//!   [`registry_core::Error::AlreadyPublished`] (naming both digests), streams the spool into
//!   warg's content storage, creates the package when it does not exist (unless
//!   `auto_init = false`), signs the record with the configured key and waits, within
//!   `publish_timeout`, for the registry to accept it.
//! - It never prompts, follows no federation hint nobody configured, and reads the OS
//!   keyring only when `keyring_backend` is set. warg's logs and content live under our
//!   cache directory (or `storage_dir`); a process shares one client per directory set,
//!   and waits for another process's lock without blocking a thread.
//! - Settings come from the opaque `[registry."<name>".warg]` section ([`WargSettings`]); TLS
//!   trust is read with [`registry_transport::TlsTrust`], as for OCI, and every bad value
//!   is a [`registry_core::Error::Config`] naming its file, line and key.
//!
//! ```no_run
//! # async fn example() -> Result<(), registry_core::Error> {
//! use registry_core::Backend;
//! use registry_warg::{WargBackend, WargSettings};
//!
//! let backend = WargBackend::new("127.0.0.1:8090".parse()?, WargSettings::default(), "/tmp/warg")?;
//! let versions = backend.list_versions(&"example:hello".parse()?).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod backend;
mod error;
mod relay;
mod settings;
mod storage;

pub use backend::WargBackend;
pub use settings::WargSettings;

/// The name of this backend's section in `[registry."<name>"]` and of its `default`.
pub const BACKEND_NAME: &str = "warg";
