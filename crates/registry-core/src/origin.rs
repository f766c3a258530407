//! Where a value came from, and which layer wins.

use std::fmt;
use std::path::{Path, PathBuf};

/// The kinds of layer, in order of precedence: a later scope overrides an earlier one.
///
/// Comparing two scopes says which wins; within [`Scope::Project`], a file nearer the
/// working directory wins over one farther up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// Defaults compiled into this crate.
    Builtin,
    /// The user's file, `<config dir>/wasm-pkg/config.toml`, which `wkg` reads too.
    User,
    /// A project's `.wasm-pkg/config.toml`, found walking up from the working directory.
    Project,
    /// The `[wasm-pkg]` table of cargo's configuration files for a cargo project:
    /// `$CARGO_HOME/config.toml`, then `.cargo/config.toml` from the root down to the
    /// manifest's directory (nearer files win, as in cargo).
    Cargo,
    /// Settings handed in by the embedding tool (wac, cargo-component).
    Tool,
    /// Environment variables, and the file `WASM_PKG_CONFIG_FILE` names.
    Environment,
    /// Explicit overrides, typically from command-line flags.
    Override,
}

impl Scope {
    /// A short lowercase name: `builtin`, `user`, `project`, `cargo`, `tool`, `env`,
    /// `override`.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Builtin => "builtin",
            Scope::User => "user",
            Scope::Project => "project",
            Scope::Cargo => "cargo",
            Scope::Tool => "tool",
            Scope::Environment => "env",
            Scope::Override => "override",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// Where one value was set.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// A built-in default.
    Builtin,
    /// A line of a file (1-based line and column, counted in characters).
    File {
        /// The layer the file belongs to.
        scope: Scope,
        /// The file.
        path: PathBuf,
        /// The line of the key.
        line: usize,
        /// The column of the key.
        column: usize,
    },
    /// An environment variable.
    Env {
        /// The variable's name.
        var: String,
    },
    /// A table handed in by a tool, not read from a file.
    Tool {
        /// The tool's name.
        name: String,
    },
    /// An explicit override.
    Override {
        /// What set it, e.g. the flag `--registry`.
        name: String,
    },
}

impl Origin {
    /// The scope of the layer the value belongs to.
    pub fn scope(&self) -> Scope {
        match self {
            Origin::Builtin => Scope::Builtin,
            Origin::File { scope, .. } => *scope,
            Origin::Env { .. } => Scope::Environment,
            Origin::Tool { .. } => Scope::Tool,
            Origin::Override { .. } => Scope::Override,
        }
    }

    /// The file, for a value read from one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Origin::File { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The line, for a value read from a file.
    pub fn line(&self) -> Option<usize> {
        match self {
            Origin::File { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// The column, for a value read from a file.
    pub fn column(&self) -> Option<usize> {
        match self {
            Origin::File { column, .. } => Some(*column),
            _ => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Builtin => f.write_str("built-in default"),
            Origin::File {
                path, line, column, ..
            } => write!(f, "{}:{line}:{column}", path.display()),
            Origin::Env { var } => write!(f, "environment variable `{var}`"),
            Origin::Tool { name } => write!(f, "settings from `{name}`"),
            Origin::Override { name } => write!(f, "override `{name}`"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_ordered_by_precedence() {
        assert!(Scope::Builtin < Scope::User);
        assert!(Scope::User < Scope::Project);
        assert!(Scope::Project < Scope::Cargo);
        assert!(Scope::Cargo < Scope::Tool);
        assert!(Scope::Tool < Scope::Environment);
        assert!(Scope::Environment < Scope::Override);
    }
}
