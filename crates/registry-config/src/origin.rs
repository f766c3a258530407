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

/// A file's text, turning byte offsets and TOML spans into [`Origin`]s: the one way a
/// reader of any TOML file (a config layer, a Cargo manifest, a dependency file, a lock
/// file) says where a value is.
///
/// ```
/// use registry_config::{Scope, SourceText};
///
/// let source = SourceText::new(Scope::Tool, "deps.toml", "[dependencies]\n\"a:b\" = \"1\"\n");
/// let doc = toml_edit::Document::parse(source.text().to_owned()).unwrap();
/// let item = &doc["dependencies"]["a:b"];
/// assert_eq!(source.origin_of(item.span()).to_string(), "deps.toml:2:9");
/// ```
#[derive(Clone, Debug)]
pub struct SourceText {
    scope: Scope,
    path: PathBuf,
    text: String,
    index: LineIndex,
}

impl SourceText {
    /// The text of the file at `path`, which belongs to the layer `scope`.
    pub fn new(scope: Scope, path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            scope,
            path: path.into(),
            index: LineIndex::new(&text),
            text,
        }
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The text parsed as TOML, spans kept.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] at the line and column of the syntax error.
    pub fn parse(&self) -> Result<toml_edit::Document<String>, crate::ConfigError> {
        toml_edit::Document::parse(self.text.clone()).map_err(|err| {
            let origin = self.origin_of(err.span());
            crate::ConfigError::Parse {
                path: self.path.clone(),
                line: origin.line().unwrap_or(1),
                column: origin.column().unwrap_or(1),
                message: err.message().trim_end().replace('\n', "; "),
            }
        })
    }

    /// The origin of byte `offset`: file, line and column.
    pub fn origin_at(&self, offset: usize) -> Origin {
        let (line, column) = self.index.position(&self.text, offset);
        Origin::File {
            scope: self.scope,
            path: self.path.clone(),
            line,
            column,
        }
    }

    /// The origin of a span's start (a TOML item's or key's `span()`); the file's first
    /// line when there is no span.
    pub fn origin_of(&self, span: Option<std::ops::Range<usize>>) -> Origin {
        self.origin_at(span.map_or(0, |s| s.start))
    }
}

/// Maps byte offsets of a text to 1-based line and column.
#[derive(Clone, Debug)]
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { starts }
    }

    /// The line and column of byte `offset` of `text` (the text the index was built from).
    pub(crate) fn position(&self, text: &str, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let end = offset.min(text.len());
        let column = text.get(start..end).map_or(1, |s| s.chars().count() + 1);
        (line, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index() {
        let text = "a = 1\nbé = 2\n\nc = 3";
        let index = LineIndex::new(text);
        assert_eq!(index.position(text, 0), (1, 1));
        assert_eq!(index.position(text, 4), (1, 5));
        assert_eq!(index.position(text, 6), (2, 1));
        // `é` is two bytes but one column.
        assert_eq!(index.position(text, 9), (2, 3));
        assert_eq!(index.position(text, 14), (3, 1));
        assert_eq!(index.position(text, 15), (4, 1));
    }

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
