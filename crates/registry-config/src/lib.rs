//! Layered, mutable configuration for Wasm package registries.
//!
//! The format is a superset of the `wasm-pkg` format that `wkg` reads from
//! `~/.config/wasm-pkg/config.toml`, so an existing file loads unchanged:
//!
//! ```toml
//! default_registry = "ghcr.io"
//!
//! [namespace_registries]
//! acme = "registry.acme.example"
//! wasi = { registry = "wasi.dev", metadata = { preferredProtocol = "oci" } }
//!
//! [package_registry_overrides]
//! "acme:widget" = "localhost:5000"
//!
//! [registry."ghcr.io"]
//! default = "oci"            # `type` is accepted too
//! [registry."ghcr.io".oci]    # opaque here; the OCI backend reads it
//! auth = { username = "me", password = "..." }
//! ```
//!
//! # Layers
//! Lowest precedence first ([`Scope`]): built-in defaults (`wasi` -> `wasi.dev`,
//! `ba` -> `bytecodealliance.org`); the user file ([`Config::user_config_path`]); project
//! files `.wasm-pkg/config.toml` from the working directory up, nearer files winning; tool
//! layers ([`ToolLayer`]); the environment ([`env`]); explicit overrides
//! ([`ConfigLoader::set_override`]).
//!
//! # Merge rules
//! Tables merge key by key; a plain value (string, number, array) from a higher layer
//! replaces a lower one. A namespace mapping, a package override and an `auth` table in a
//! backend section are replaced whole, never merged (see `REPLACE_WHOLE` in the source).
//! A key that is a table in one layer and a plain value in another is an error naming both.
//!
//! # Origins
//! Every value remembers where it was set ([`Origin`]: built-in; file, line and column;
//! environment variable; tool; override): [`Setting::origin`], [`Config::entries`],
//! [`Config::get`].
//!
//! # Provenance policies
//! Which signatures a release needs, per registry, namespace or package, in a table under
//! the registry (as `mirrors`, so that `wkg` still reads the file):
//!
//! ```toml
//! [registry."ghcr.io".provenance]
//! verify = "always"          # or "command" (only `wreg verify`; the default), "never"
//! trusted_root = "public-good"   # or "github", "staging", a path to a trusted_root.json
//! issuer = "https://token.actions.githubusercontent.com"   # or issuer_regexp
//! identity_regexp = '^https://github\.com/acme/'            # or identity
//! # public_key = "keys/ci.pub"   # a managed key, instead of identity and issuer
//! fulcio_url = "https://fulcio.sigstore.dev"                # for signing
//! rekor_url = "https://rekor.sigstore.dev"
//! [registry."ghcr.io".provenance.namespace.wasi]          # the same keys, for one namespace
//! [registry."ghcr.io".provenance.package."acme:widget"]   # and for one package
//! ```
//!
//! [`Config::provenance`] gives the [`ProvenancePolicy`] for a package: each key from the
//! most specific table that sets it (package, namespace, registry), and in one table from
//! the highest layer. A relative path is taken from the directory of the file that says it
//! (the file its links end at, for a linked config).
//!
//! # Changes
//! [`Config::set`], [`Config::unset`] and the typed `set_*` methods edit one layer's file
//! ([`Target`]); [`Config::save`] writes it back with its comments, blank lines and key order
//! intact, atomically, and refuses to overwrite a file changed on disk since it was loaded.
//!
//! ```
//! use registry_config::{ConfigLoader, Target};
//!
//! let dir = tempfile::tempdir()?;
//! let user = dir.path().join("config.toml");
//! std::fs::write(&user, "# my registries\ndefault_registry = \"ghcr.io\" # work\n")?;
//!
//! let mut config = ConfigLoader::new()
//!     .user_file(&user)
//!     .without_project_files()
//!     .without_env()
//!     .load()?;
//! let pkg = "wasi:http".parse()?;
//! let resolved = config.resolve_registry(&pkg)?;
//! assert_eq!(resolved.value.registry().as_str(), "ghcr.io");
//! assert_eq!(resolved.origin.to_string(), format!("{}:2:1", user.display()));
//!
//! config.set(Target::User, "default_registry", "localhost:5000")?;
//! config.save()?;
//! assert_eq!(
//!     std::fs::read_to_string(&user)?,
//!     "# my registries\ndefault_registry = \"localhost:5000\" # work\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod config;
pub mod fs;
mod layer;
mod load;
mod mutate;
mod node;
mod origin;
mod provenance;
mod schema;

pub use config::{Config, Entry, LayerInfo, RegistryMapping, RegistrySettings, Setting};
pub use load::{ConfigLoader, PROJECT_FILE, ToolLayer, env};
pub use mutate::Target;
pub use origin::SourceText;
pub use provenance::{ProvenancePolicy, TrustedRootSource, VerifyWhen};
pub use registry_core::Secret;
pub use registry_core::{ConfigError, KeyPath, Origin, Scope};
