//! The error type shared by every crate of the workspace.

use std::fmt;
use std::path::PathBuf;

use semver::Version;

use crate::{ConfigError, ContentDigest, PackageRef, Registry};

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

    /// The registry cannot do what was asked of it: store signatures (warg, a directory
    /// registry), accept a publish (an OCI image layout is read-only). Another registry
    /// can; nothing is wrong with the request itself.
    #[error("{}{package}: {what}", registry.as_ref().map(|r| format!("registry `{r}`, ")).unwrap_or_default())]
    Unsupported {
        /// The registry, when the caller knows it.
        registry: Option<Registry>,
        /// The package the operation was for.
        package: PackageRef,
        /// What cannot be done, and what to do instead.
        what: String,
    },

    /// A name, version, digest or argument given by the caller is not valid.
    #[error("{message}")]
    InvalidInput {
        /// What is wrong, with a valid example.
        message: String,
    },

    /// A configuration value is wrong or missing, wherever it was noticed (loading a file,
    /// a backend reading its section, a manifest, a dependency file or a lock file): the
    /// [`ConfigError`] names the file, line, column and key.
    #[error(transparent)]
    Config(Box<ConfigError>),

    /// The release is already published. Publishing never overwrites a release.
    #[error(
        "`{package}@{version}` is already published in registry `{registry}`{}; {}",
        existing.as_ref().map(|d| format!(" as {d}")).unwrap_or_default(),
        already_published_hint(existing.as_ref(), attempted.as_ref())
    )]
    AlreadyPublished {
        /// The registry that has it.
        registry: Registry,
        /// The package.
        package: PackageRef,
        /// The version.
        version: Version,
        /// The digest of the release that is there, when the registry says.
        existing: Option<ContentDigest>,
        /// The digest of the content that was to be published, when known.
        attempted: Option<ContentDigest>,
    },

    /// Offline, and what was asked for is not in the cache (or the lock file).
    #[error(
        "`{package}`: {what} is not in the cache, and the client is offline; run once online \
         (without --offline) to fill the cache"
    )]
    NotCached {
        /// The package.
        package: PackageRef,
        /// What is missing: `the version list`, `release 1.2.0`, `content sha256:..`.
        what: String,
    },

    /// The lock file would have to change, and changes are not allowed (`--locked`).
    #[error(
        "the lock file is out of date for `{package}`: {reason}; run without --locked to \
         update it"
    )]
    LockOutOfDate {
        /// The package whose entry would change.
        package: PackageRef,
        /// What would change.
        reason: String,
    },

    /// WIT that does not parse, resolve or encode.
    #[error("{}{message}", location(path, *line, *column))]
    InvalidWit {
        /// The file or directory.
        path: PathBuf,
        /// 1-based line, when the parser says.
        line: Option<usize>,
        /// 1-based column, when the parser says.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },

    /// A new release of a WIT package removes or changes what an earlier (or later)
    /// release of its series offers.
    #[error(
        "`{package}@{new}` is not compatible with `{package}@{previous}`:\n{}\npublish it as \
         `{package}@{}` (a new major version; for 0.x, a new minor), or skip the semver check \
         (--skip-semver-check)",
        breaks.iter().map(|b| format!("  - {b}")).collect::<Vec<_>>().join("\n"),
        next_breaking(new)
    )]
    SemverIncompatible {
        /// The package.
        package: PackageRef,
        /// The release it was compared with.
        previous: Version,
        /// The release being published.
        new: Version,
        /// Every item that broke, one sentence each.
        breaks: Vec<String>,
    },

    /// A policy requires a signature from a given signer, and the release has none that
    /// verifies: no bundle is attached, none verifies under the trusted root, or none is by
    /// an allowed signer (or by the signer the lock file pinned).
    #[error(
        "`{package}@{version}` from registry `{registry}`: provenance not verified: expected \
         {expected}; {}. The release was not used: ask its publisher to sign it, or change \
         the `provenance` policy (`wreg verify {package}@{version}` shows what is attached)",
        reasons.join("; ")
    )]
    ProvenanceRejected {
        /// The package.
        package: PackageRef,
        /// The release's version.
        version: Version,
        /// The registry the release came from.
        registry: Registry,
        /// What the policy (or the lock file's pin) asked for, e.g. `a signature by
        /// ci@acme.example (issuer https://...)`.
        expected: String,
        /// Why each bundle found was refused, or why none was found; at least one.
        reasons: Vec<String>,
    },

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

/// The first version after `version` that may break compatibility, as cargo counts it.
fn next_breaking(version: &Version) -> Version {
    match (version.major, version.minor) {
        (0, 0) => Version::new(0, 0, version.patch + 1),
        (0, minor) => Version::new(0, minor + 1, 0),
        (major, _) => Version::new(major + 1, 0, 0),
    }
}

fn already_published_hint(
    existing: Option<&ContentDigest>,
    attempted: Option<&ContentDigest>,
) -> &'static str {
    match (existing, attempted) {
        (Some(a), Some(b)) if a == b => {
            "it has the same bytes, so skipping existing releases makes this a success"
        }
        (Some(_), Some(_)) => "it has different bytes; publish a new version",
        _ => "publish a new version",
    }
}

fn location(path: &std::path::Path, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!("{}:{line}:{column}: ", path.display()),
        (Some(line), None) => format!("{}:{line}: ", path.display()),
        _ => format!("{}: ", path.display()),
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

    /// The configuration error behind an [`Error::Config`].
    pub fn config_error(&self) -> Option<&ConfigError> {
        match self {
            Self::Config(err) => Some(err),
            _ => None,
        }
    }

    /// The exit code a command-line tool gives for this error, one per kind of condition
    /// (`wreg` uses these; they follow `sysexits.h` where it has a fitting code):
    ///
    /// | code | condition | variants |
    /// |---|---|---|
    /// | 2 | not found | `PackageNotFound`, `VersionNotFound` |
    /// | 3 | unauthorized | `Unauthorized` |
    /// | 4 | registry or network failure | `Registry` |
    /// | 5 | integrity | `DigestMismatch`, `SizeMismatch`, `Untrusted` |
    /// | 6 | already published | `AlreadyPublished` |
    /// | 7 | offline and not cached | `NotCached` |
    /// | 8 | lock file out of date | `LockOutOfDate` |
    /// | 9 | semver incompatible | `SemverIncompatible` |
    /// | 10 | provenance not verified | `ProvenanceRejected` |
    /// | 64 | usage (`EX_USAGE`) | `InvalidInput`, `Unsupported` |
    /// | 65 | invalid WIT (`EX_DATAERR`) | `InvalidWit` |
    /// | 74 | local I/O (`EX_IOERR`) | `Io` |
    /// | 78 | configuration (`EX_CONFIG`) | `Config`, `NoRegistryForNamespace` |
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::PackageNotFound { .. } | Self::VersionNotFound { .. } => 2,
            Self::Unauthorized { .. } => 3,
            Self::Registry { .. } => 4,
            Self::DigestMismatch { .. } | Self::SizeMismatch { .. } | Self::Untrusted { .. } => 5,
            Self::AlreadyPublished { .. } => 6,
            Self::NotCached { .. } => 7,
            Self::LockOutOfDate { .. } => 8,
            Self::SemverIncompatible { .. } => 9,
            Self::ProvenanceRejected { .. } => 10,
            Self::InvalidInput { .. } | Self::Unsupported { .. } => 64,
            Self::InvalidWit { .. } => 65,
            Self::Io { .. } => 74,
            Self::Config(_) | Self::NoRegistryForNamespace { .. } => 78,
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

/// An error's own sentence, then each cause that adds something: causes whose text is
/// empty or already said by an earlier one are left out. The one walk of an error chain;
/// [`chain_text`] joins it on one line, a command line prints it as "caused by" lines.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut parts = vec![err.to_string()];
    let mut cause = err.source();
    while let Some(next) = cause {
        let more = next.to_string();
        if !more.is_empty() && !parts.iter().any(|said| said.contains(&more)) {
            parts.push(more);
        }
        cause = next.source();
    }
    parts
}

/// An error and its causes as one text ([`error_chain`], `: `-joined).
pub fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    error_chain(err).join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One of each variant. The match below has no wildcard: a new variant does not compile
    /// until it is listed here, and so until the README's table gives it a code.
    fn one_of_each() -> Vec<Error> {
        let registry: Registry = "example.com".parse().unwrap();
        let package: PackageRef = "acme:widget".parse().unwrap();
        let digest = ContentDigest::sha256(b"x");
        let all = vec![
            Error::PackageNotFound {
                registry: registry.clone(),
                package: package.clone(),
            },
            Error::VersionNotFound {
                registry: registry.clone(),
                package: package.clone(),
                requirement: "^1".into(),
                newest: None,
            },
            Error::NoRegistryForNamespace {
                namespace: "acme".into(),
            },
            Error::Unauthorized {
                registry: registry.clone(),
                message: "no".into(),
            },
            Error::DigestMismatch {
                subject: "s".into(),
                expected: digest,
                actual: digest,
            },
            Error::SizeMismatch {
                subject: "s".into(),
                expected: 1,
                actual: 2,
            },
            Error::Untrusted {
                registry: registry.clone(),
                message: "m".into(),
            },
            Error::InvalidInput {
                message: "m".into(),
            },
            Error::Config(Box::new(ConfigError::InvalidKey {
                key: "k".into(),
                message: "m".into(),
            })),
            Error::AlreadyPublished {
                registry: registry.clone(),
                package: package.clone(),
                version: Version::new(1, 0, 0),
                existing: Some(digest),
                attempted: Some(digest),
            },
            Error::NotCached {
                package: package.clone(),
                what: "the version list".into(),
            },
            Error::Unsupported {
                registry: None,
                package: package.clone(),
                what: "w".into(),
            },
            Error::LockOutOfDate {
                package: package.clone(),
                reason: "r".into(),
            },
            Error::InvalidWit {
                path: "wit".into(),
                line: Some(1),
                column: Some(2),
                message: "m".into(),
            },
            Error::SemverIncompatible {
                package: package.clone(),
                previous: Version::new(1, 0, 0),
                new: Version::new(1, 1, 0),
                breaks: vec!["b".into()],
            },
            Error::ProvenanceRejected {
                package,
                version: Version::new(1, 0, 0),
                registry: registry.clone(),
                expected: "e".into(),
                reasons: vec!["r".into()],
            },
            Error::Registry {
                registry,
                message: "m".into(),
                source: None,
            },
            Error::Io {
                path: None,
                source: std::io::Error::other("x"),
            },
        ];
        for err in &all {
            match err {
                Error::PackageNotFound { .. }
                | Error::VersionNotFound { .. }
                | Error::NoRegistryForNamespace { .. }
                | Error::Unauthorized { .. }
                | Error::DigestMismatch { .. }
                | Error::SizeMismatch { .. }
                | Error::Untrusted { .. }
                | Error::InvalidInput { .. }
                | Error::Unsupported { .. }
                | Error::Config(_)
                | Error::AlreadyPublished { .. }
                | Error::NotCached { .. }
                | Error::LockOutOfDate { .. }
                | Error::InvalidWit { .. }
                | Error::SemverIncompatible { .. }
                | Error::ProvenanceRejected { .. }
                | Error::Registry { .. }
                | Error::Io { .. } => {}
            }
        }
        all
    }

    fn variant_name(err: &Error) -> String {
        let debug = format!("{err:?}");
        debug
            .split(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn every_error_variant_has_its_documented_exit_code() {
        let readme = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
        )
        .unwrap();
        // The table rows: `| code | condition | `Variant`, `Variant` |`.
        let mut documented = std::collections::BTreeMap::new();
        for line in readme.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let [_, code, _, variants, _] = cells[..] else {
                continue;
            };
            let Ok(code) = code.parse::<u8>() else {
                continue;
            };
            for variant in variants.split(',').map(|v| v.trim().trim_matches('`')) {
                if !variant.is_empty() {
                    documented.insert(variant.to_owned(), code);
                }
            }
        }
        let all = one_of_each();
        assert_eq!(documented.len(), all.len(), "README rows: {documented:?}");
        let mut codes = std::collections::BTreeSet::new();
        for err in &all {
            let name = variant_name(err);
            assert_eq!(
                documented.get(&name),
                Some(&err.exit_code()),
                "{name}: the README's exit code table and Error::exit_code disagree"
            );
            codes.insert(err.exit_code());
        }
        // The codes a caller tells apart: 13 conditions, none sharing a code by accident.
        assert_eq!(codes.len(), 13, "{codes:?}");
    }

    #[test]
    fn chain_text_adds_each_cause_once() {
        let inner = std::io::Error::other("disk full");
        let err = Error::io("/x/wkg.lock", inner);
        assert_eq!(chain_text(&err), "I/O error on `/x/wkg.lock`: disk full");
        let config = Error::from(ConfigError::InvalidKey {
            key: "a..b".into(),
            message: "bad".into(),
        });
        assert_eq!(chain_text(&config), "`a..b` is not a valid key: bad");
    }
}
