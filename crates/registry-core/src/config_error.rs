//! Errors from loading, reading and saving configuration (re-exported by `registry-config`,
//! and kept whole inside [`crate::Error::Config`]).

use std::path::PathBuf;

use crate::{KeyPath, Origin};

/// What went wrong with the configuration. Every variant says where (file, line and column;
/// variable; override) and, where it can, what to do next. No variant shows a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file is not valid TOML.
    #[error("{path}:{line}:{column}: invalid TOML: {message}", path = path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the TOML parser said.
        message: String,
    },

    /// A key this configuration format does not have.
    #[error("{origin}: unknown key `{key}`; {hint}")]
    UnknownKey {
        /// Where the key was set.
        origin: Origin,
        /// The key.
        key: KeyPath,
        /// A likely intended key, or the keys that are allowed there.
        hint: String,
    },

    /// A known key with a value of the wrong type or an invalid value.
    #[error("{origin}: {}{message}", key_prefix(key))]
    Invalid {
        /// Where the value was set.
        origin: Origin,
        /// The key.
        key: KeyPath,
        /// What is wrong and what would be valid.
        message: String,
    },

    /// Two layers give one key values that cannot be merged (a table and a plain value).
    #[error(
        "`{key}` is a {first_kind} at {first} but a {second_kind} at {second}; make them the \
         same kind, or remove one"
    )]
    Conflict {
        /// The key.
        key: KeyPath,
        /// Where the lower-precedence value was set.
        first: Origin,
        /// `table` or `value`.
        first_kind: &'static str,
        /// Where the higher-precedence value was set.
        second: Origin,
        /// `table` or `value`.
        second_kind: &'static str,
    },

    /// A key path given to `get`/`set`/`unset` is not a valid dotted key.
    #[error("`{key}` is not a valid key: {message}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// What is wrong.
        message: String,
    },

    /// There is no file to write a change to.
    #[error("{message}")]
    NotWritable {
        /// Why, and what to do instead.
        message: String,
    },

    /// The file was changed by someone else after it was loaded; saving would lose that
    /// change.
    #[error(
        "`{path}` was changed on disk after it was loaded; nothing was written. Load the \
         configuration again and repeat the change",
        path = path.display()
    )]
    ChangedOnDisk {
        /// The file.
        path: PathBuf,
    },

    /// Reading or writing a file failed.
    #[error("cannot {action} `{path}`", path = path.display())]
    Io {
        /// `read`, `write`, `lock`, ...
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

fn key_prefix(key: &KeyPath) -> String {
    if key.segments().is_empty() {
        String::new()
    } else {
        format!("invalid `{key}`: ")
    }
}

impl ConfigError {
    /// Reading or writing a configuration file (or a file read like one) failed.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// A known key with a bad value, at `origin`: for readers of other files (a Cargo
    /// manifest, a dependency file) and backends checking their sections.
    pub fn invalid(origin: &Origin, key: &KeyPath, message: impl Into<String>) -> Self {
        Self::Invalid {
            origin: origin.clone(),
            key: key.clone(),
            message: message.into(),
        }
    }

    /// The origin the error points at, when it points at one value.
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            Self::UnknownKey { origin, .. } | Self::Invalid { origin, .. } => Some(origin),
            Self::Conflict { second, .. } => Some(second),
            _ => None,
        }
    }
}

impl From<ConfigError> for crate::Error {
    fn from(err: ConfigError) -> Self {
        match err {
            ConfigError::Io { path, source, .. } => Self::Io {
                path: Some(path),
                source,
            },
            // Kept whole, so its origin and key reach whoever matches on the error.
            other => Self::Config(Box::new(other)),
        }
    }
}
