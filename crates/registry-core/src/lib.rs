//! The shared vocabulary of Wasm package registries.
//!
//! - Names: [`PackageRef`] (`wasi:http`), [`PackageSpec`] (`wasi:http@0.2.0`, an exact
//!   release), [`PackageReq`] (`wasi:http@^0.2`, the grammar of every dependency), [`Registry`]
//!   (`ghcr.io`, `localhost:5000`), [`ContentDigest`] (`sha256:...`), re-exported
//!   [`Version`] and [`VersionReq`].
//! - What registries return: [`Release`] and [`VersionInfo`].
//! - The [`Backend`] trait that each registry protocol implements.
//! - [`DigestVerifier`] and [`VerifyingStream`], which check bytes against a digest and size
//!   as they pass, so nothing unverified is ever committed.
//! - [`Error`], the one error type of the workspace, and [`Secret`] for credentials.
//! - [`metadata`]: what a Wasm binary says about itself (name, version, description, ...),
//!   read from any reader in constant memory.
//!
//! This crate does no I/O and reads no configuration.
//!
//! ```
//! use registry_core::{ContentDigest, DigestVerifier, PackageSpec};
//!
//! let spec: PackageSpec = "wasi:http@0.2.0".parse()?;
//! assert_eq!(spec.package.namespace(), "wasi");
//!
//! let content = b"\0asm\x0d\0\x01\0";
//! let mut verifier = DigestVerifier::new(ContentDigest::sha256(content), Some(8), spec.to_string());
//! verifier.update(content)?;
//! verifier.finish()?;
//! # Ok::<(), registry_core::Error>(())
//! ```
#![deny(missing_docs)]

mod backend;
mod config_error;
mod container;
mod digest;
mod error;
mod key;
pub mod metadata;
mod origin;
mod package;
mod parse;
pub mod provenance;
mod registry;
mod release;
mod secret;

pub use backend::{Backend, ContentReader, ContentStream, PublishOptions};
pub use config_error::ConfigError;
pub use container::Container;
pub use digest::{ContentDigest, DigestVerifier, VerifyingStream};
pub use error::{Error, Result, chain_text, error_chain};
pub use key::{KeyPath, is_secret_key};
pub use origin::{Origin, Scope};
pub use package::{BareVersion, PackageRef, PackageReq, PackageSpec, parse_requirement};
pub use parse::ParseError;
pub use registry::Registry;
pub use release::{Release, VersionInfo};
pub use secret::Secret;
pub use semver::{Comparator, Op, Version, VersionReq};

/// Re-exported so backends implement [`Backend`] with the same macro version.
pub use async_trait::async_trait;
