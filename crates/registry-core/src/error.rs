//! The error type shared by every crate of the workspace.

use std::fmt;
use std::path::PathBuf;

use semver::Version;

use crate::{ContentDigest, PackageRef, Registry};

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while naming, finding, fetching or publishing a package.
///
/// Callers match on the variant to decide what to do (retry, ask for credentials, report a
/// typo); the `Display` text is written for the person who ran the tool and says what to do
/// next. No variant ever carries a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry answered, and it does not have this package.
    #[error(
        "package `{package}` was not found in registry `{registry}`; check the spelling, and \
         which registry its namespace maps to"
    )]
    PackageNotFound {
        /// The registry that was asked.
        registry: Registry,
        /// The package that was asked for.
        package: PackageRef,
    },

    /// The package exists, but no release matches the version or requirement asked for.
    #[error(
        "package `{package}` has no release matching `{requirement}` in registry `{registry}`{}",
        newest_hint(newest.as_ref())
    )]
    VersionNotFound {
        /// The registry that was asked.
        registry: Registry,
        /// The package that was asked for.
        package: PackageRef,
        /// The exact version or version requirement that matched nothing.
        requirement: String,
        /// The newest release that is available, when the registry has any.
        newest: Option<Version>,
    },

    /// No registry is configured for a package's namespace, and there is no default registry.
    #[error(
        "no registry is configured for namespace `{namespace}`; set `default_registry`, or add \
         `{namespace} = \"<registry>\"` under `[namespace_registries]` in your config file"
    )]
    NoRegistryForNamespace {
        /// The namespace that has no registry.
        namespace: String,
    },

    /// The registry refused the credentials it was given, or asked for credentials it did
    /// not get.
    #[error("registry `{registry}` refused access: {message}")]
    Unauthorized {
        /// The registry that refused.
        registry: Registry,
        /// What the registry said, and what to do about it. Never contains a credential.
        message: String,
    },

    /// Content hashed to a digest other than the one it was published under.
    #[error(
        "{subject}: content digest mismatch: expected {expected}, got {actual}; the bytes were \
         not used, fetch again or report it to the registry's operator"
    )]
    DigestMismatch {
        /// What was being verified, e.g. `wasi:http@0.2.0 from wasi.dev`.
        subject: String,
        /// The digest the release declares.
        expected: ContentDigest,
        /// The digest of the bytes that arrived.
        actual: ContentDigest,
    },

    /// Content was longer or shorter than the size it was published with.
    #[error(
        "{subject}: content size mismatch: expected {expected} bytes, got {}{actual} bytes; the \
         bytes were not used, fetch again or report it to the registry's operator",
        if *actual > *expected { "at least " } else { "" }
    )]
    SizeMismatch {
        /// What was being verified.
        subject: String,
        /// The size the release declares.
        expected: u64,
        /// The number of bytes that arrived (for a body that was too long, the count at the
        /// moment it went past the expected size).
        actual: u64,
    },

    /// The registry's own proofs failed: a log, checkpoint or signature did not verify (warg
    /// registries sign and prove what they serve). Nothing it sent was used.
    #[error(
        "registry `{registry}` failed verification: {message}; nothing it sent was used. Do \
         not trust this registry's answers until its operator explains; report it to them"
    )]
    Untrusted {
        /// The registry whose proofs failed.
        registry: Registry,
        /// What failed to verify.
        message: String,
    },

    /// A name, version, digest or argument given by the caller is not valid.
    #[error("{message}")]
    InvalidInput {
        /// What is wrong, with a valid example.
        message: String,
    },

    /// A configuration value is wrong or missing. The source is the configuration crate's
    /// error (`registry_config::ConfigError` for a loaded file), which names the file, line,
    /// column and key; [`Error::config_source`] gives it back for callers that match on it.
    #[error(transparent)]
    Config(Box<dyn std::error::Error + Send + Sync + 'static>),

    /// The registry failed, or answered with something that breaks its protocol.
    #[error("registry `{registry}`: {message}")]
    Registry {
        /// The registry at fault.
        registry: Registry,
        /// What happened.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },

    /// Reading or writing a local file failed.
    #[error("{}", io_message(path.as_deref()))]
    Io {
        /// The file or directory involved, when there is one.
        path: Option<PathBuf>,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

fn newest_hint(newest: Option<&Version>) -> String {
    match newest {
        Some(version) => format!(" (the newest release is {version})"),
        None => String::new(),
    }
}

fn io_message(path: Option<&std::path::Path>) -> String {
    match path {
        Some(path) => format!("I/O error on `{}`", path.display()),
        None => "I/O error".to_owned(),
    }
}

impl Error {
    /// Builds an [`Error::Registry`] with a message and no source.
    pub fn registry(registry: &Registry, message: impl fmt::Display) -> Self {
        Self::Registry {
            registry: registry.clone(),
            message: message.to_string(),
            source: None,
        }
    }

    /// Builds an [`Error::Registry`] that wraps an underlying error.
    pub fn registry_with_source(
        registry: &Registry,
        message: impl fmt::Display,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Self::Registry {
            registry: registry.clone(),
            message: message.to_string(),
            source: Some(source.into()),
        }
    }

    /// Builds an [`Error::Io`] for a path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: Some(path.into()),
            source,
        }
    }

    /// Wraps a configuration error, keeping it as the source.
    pub fn config(source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self::Config(source.into())
    }

    /// The configuration error behind an [`Error::Config`], to downcast (for example to
    /// `registry_config::ConfigError` and its origin).
    pub fn config_source(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self {
            Self::Config(source) => Some(source.as_ref()),
            _ => None,
        }
    }

    /// Whether the package or version asked for does not exist (as opposed to a failure
    /// to find out).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::PackageNotFound { .. } | Self::VersionNotFound { .. }
        )
    }

    /// Whether the error means that bytes failed verification.
    pub fn is_integrity(&self) -> bool {
        matches!(
            self,
            Self::DigestMismatch { .. } | Self::SizeMismatch { .. }
        )
    }
}

impl From<crate::ParseError> for Error {
    fn from(err: crate::ParseError) -> Self {
        Self::InvalidInput {
            message: err.to_string(),
        }
    }
}
