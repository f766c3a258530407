//! The OCI backend: Wasm packages in OCI registries.
//!
//! [`OciBackend`] implements [`registry_core::Backend`] with `oci-client` for any OCI
//! distribution registry (ghcr.io, Docker Hub, Harbor, a CNCF `distribution` server).
//!
//! - A package maps to a repository, `<oci registry>/<namespace prefix><namespace>/<name>`,
//!   and a version to a tag; semver build metadata, which tags cannot hold, is written with
//!   `_` for `+` ([`reference::version_to_tag`]).
//! - Reading is lenient: a manifest with exactly one layer whose media type contains `wasm`
//!   is a package, whatever its config type ([`manifest::parse`]); so is one whose only layer
//!   is titled `*.wasm` (what `oras push` writes). Whatever layer is fetched, however the
//!   release was found (a lock file's pin included), its bytes must start with `\0asm`,
//!   which is checked as they stream, before a byte is passed on.
//! - Publishing writes the CNCF "Wasm OCI Artifact" layout: config
//!   `application/vnd.wasm.config.v0+json` with the component's imports and exports, one
//!   `application/wasm` layer, `org.opencontainers.image.*` annotations from the component's
//!   metadata. Content is streamed through a temporary file, never held in memory.
//! - Signatures: Sigstore bundles attached to a release's manifest as OCI referrers, the way
//!   cosign 3 and sigstore-js attach them, are found (`Backend::attestations`: the
//!   referrers API, else the referrers tag `sha256-<hex>`) and attached (`Backend::attach`,
//!   with the credentials a publish uses). The subject is the manifest, whose Wasm layer
//!   must be the release's digest; every referrer and bundle is bounded and checked against
//!   its digest; referrers that are not bundles are passed over.
//! - Credentials, in order: the section's `auth`; `WASM_PKG_OCI_{USERNAME,PASSWORD,TOKEN}_<HOST>`
//!   variables; Docker's `config.json` (`credHelpers`, `credsStore`, `auths`; an identity
//!   token, as `docker login` to Azure Container Registry keeps, is exchanged at the
//!   registry's token service); anonymous.
//! - Settings come from the opaque `[registry."<name>".oci]` section of a
//!   [`registry_config::Config`] ([`OciSettings`]), a superset of what `wkg` reads there.
//!
//! ```no_run
//! # async fn example() -> Result<(), registry_core::Error> {
//! use registry_core::Backend;
//! use registry_oci::{OciBackend, OciSettings};
//!
//! let backend = OciBackend::new("localhost:5000".parse()?, OciSettings::default())?;
//! let versions = backend.list_versions(&"wasi:http".parse()?).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod backend;
pub mod component;
mod container;
mod credentials;
mod http;
pub mod layout;
mod magic;
pub mod manifest;
mod publish;
pub mod reference;
mod retry;
mod settings;
mod sigstore;

pub use backend::OciBackend;
pub use credentials::{
    CredentialOrigin, CredentialSources, ENV_PREFIX, HELPER_TIMEOUT, HelperTimedOut,
    IDENTITY_TOKEN_USERNAME, env_suffix,
};
pub use layout::{LayoutBackend, LayoutWriter};
pub use registry_transport::{CertificateEncoding, InlineCertificate, RootCertificate, TlsTrust};
pub use retry::RetryPolicy;
pub use settings::{Auth, OciDefaults, OciSettings, Protocol};

/// The name of this backend's section in `[registry."<name>"]` and of its `default`.
pub const BACKEND_NAME: &str = "oci";
