//! Where a value is in a file: byte offsets and TOML spans turned into [`Origin`]s.

use std::path::{Path, PathBuf};

use crate::{Origin, Scope};

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
}
