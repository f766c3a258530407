//! The client of the wreg workspace: package names in, verified bytes out.
//!
//! - [`Client::route`] maps a package to a [`Route`], once: its registry (package override
//!   -> namespace mapping -> default registry -> built-in fallback, from a
//!   [`registry_config::Config`]) and the registry's backend (its configured `default`, else
//!   the one its mapping's metadata prefers, else its well-known document's, else OCI),
//!   built once per registry and shared. Listing, resolving, fetching and publishing are
//!   methods of the route.
//! - [`LocalBackend`]: a directory registry, `<root>/<namespace>/<name>/<version>.wasm`, the
//!   layout `wkg` uses; no server.
//! - [`Cache`]: content-addressed, verified before anything becomes visible, safe for
//!   several processes at once, self-healing when an entry is corrupted.
//! - [`Client::resolve_all`]: many dependencies at once, bounded concurrency, with a
//!   `wkg.lock`-compatible [`LockFile`] and `--locked` semantics.
//! - Offline mode ([`ClientBuilder::offline`]): only the cache and lock file.
//! - [`dependency_table`]: the one reader of `{ version, registry, path }` dependency
//!   tables; [`wkg_manifest`]: `wkg.toml` (overrides, publish metadata, workspace).
//!
//! Cargo features choose the backends compiled in: `oci` (default; directory registries
//! are always in), `warg`; `bundle` adds OCI image layout export and import. Workflows
//! live in their own crates: `registry-wit` (WIT graphs, `wit/deps`, checked publishing)
//! and `registry-adapters` (what wac and cargo-component wrap).
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use registry_client::{Client, Dependency};
//! use registry_config::Config;
//!
//! let client = Client::new(Config::load()?);
//! let deps = [Dependency::new("wasi:http".parse()?, "^0.2".parse()?)];
//! for resolution in client.resolve_all(&deps, None, Default::default()).await? {
//!     println!("{} -> {}", resolution.package(), resolution.path().display());
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

#[cfg(feature = "bundle")]
pub mod bundle;
pub mod cache;
mod client;
pub mod dependency_table;
pub mod discovery;
pub mod local;
pub mod lock;
mod progress;
#[cfg(feature = "provenance")]
pub mod provenance;
mod resolver;
pub mod wkg_manifest;
pub mod wkg_workspace;

pub use cache::{Cache, CacheEntry, CachedContent, Cleaned, LinkMode};
pub use client::{Client, ClientBuilder, DEFAULT_MAX_CONTENT_SIZE, Route};
#[cfg(feature = "provenance")]
pub use client::{Policy, ProvenanceReport, SignedRelease, signing_services};
pub use local::{LocalBackend, LocalSettings};
pub use lock::{LOCK_FILE_NAME, LockFile, LockedPackage, LockedVersion};
pub use progress::Progress;
pub use registry_config as config;
pub use registry_core as core;
pub use resolver::{
    CONCURRENCY, DOWNLOADS, Dependency, LARGE_CONTENT, LockMode, Override, Overrides, Resolution,
};
