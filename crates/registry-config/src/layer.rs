//! One layer of configuration: its scope, its file (if any) and its values.

use std::path::{Path, PathBuf};

use toml_edit::DocumentMut;

use crate::node::Node;
use crate::origin::SourceText;
use crate::{ConfigError, Scope, schema};

/// A layer: the values it sets and, for a file, the editable document behind them.
///
/// `Debug` shows where the layer comes from, never its values, which may be credentials.
#[derive(Clone)]
pub(crate) struct Layer {
    pub(crate) scope: Scope,
    /// A name for listings: the tool's name, `environment`, `overrides`, ...
    pub(crate) name: String,
    pub(crate) file: Option<LayerFile>,
    pub(crate) tree: Node,
}

/// The file behind a layer.
#[derive(Clone)]
pub(crate) struct LayerFile {
    pub(crate) path: PathBuf,
    /// The text on disk when it was loaded or last saved; `None` if there was no file.
    pub(crate) on_disk: Option<String>,
    /// The document as edited; equal to `on_disk` until an edit.
    pub(crate) doc: DocumentMut,
    pub(crate) dirty: bool,
}

impl std::fmt::Debug for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layer")
            .field("scope", &self.scope)
            .field("name", &self.name)
            .field("path", &self.file.as_ref().map(|file| &file.path))
            .finish_non_exhaustive()
    }
}

impl Layer {
    /// A layer read from a file's text.
    pub(crate) fn from_file_text(
        scope: Scope,
        name: impl Into<String>,
        path: &Path,
        text: Option<String>,
    ) -> Result<Self, ConfigError> {
        let (doc, tree) = parse_file(scope, path, text.as_deref().unwrap_or(""))?;
        Ok(Self {
            scope,
            name: name.into(),
            file: Some(LayerFile {
                path: path.to_owned(),
                on_disk: text,
                doc,
                dirty: false,
            }),
            tree,
        })
    }

    /// A layer read from a file, or an empty one if the file does not exist (so it can be
    /// written to later).
    pub(crate) fn read(
        scope: Scope,
        name: impl Into<String>,
        path: &Path,
        must_exist: bool,
    ) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && !must_exist => None,
            Err(err) => return Err(ConfigError::io("read", path, err)),
        };
        Self::from_file_text(scope, name, path, text)
    }

    /// A layer of values built in code, each with its own origin.
    pub(crate) fn from_tree(
        scope: Scope,
        name: impl Into<String>,
        mut tree: Node,
    ) -> Result<Self, ConfigError> {
        schema::check_layer(&mut tree)?;
        Ok(Self {
            scope,
            name: name.into(),
            file: None,
            tree,
        })
    }

    /// Replaces the document of a file layer with an edited one, after checking it.
    pub(crate) fn replace_doc(&mut self, doc: DocumentMut) -> Result<(), ConfigError> {
        let file = self.file.as_mut().expect("only file layers are edited");
        let text = doc.to_string();
        let (doc, tree) = parse_file(self.scope, &file.path, &text)?;
        file.doc = doc;
        file.dirty = true;
        self.tree = tree;
        Ok(())
    }
}

/// The `[wasm-pkg]` table of a cargo configuration file, as a read-only layer whose values
/// carry the file's lines; `Ok(None)` when the file has no such table.
pub(crate) fn read_cargo_table(path: &Path) -> Result<Option<Layer>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|err| ConfigError::io("read", path, err))?;
    let source = SourceText::new(Scope::Cargo, path, text.as_str());
    let doc = source.parse()?;
    let Some(item) = doc.get(CARGO_TABLE) else {
        return Ok(None);
    };
    let origin_at = |span: Option<std::ops::Range<usize>>| source.origin_of(span);
    let Some(table) = item.as_table_like() else {
        return Err(ConfigError::invalid(
            &origin_at(item.span()),
            &crate::KeyPath::new([CARGO_TABLE]),
            "must be a table of the config format's keys",
        ));
    };
    let mut tree = Node::from_table_like(table, origin_at(item.span()), &origin_at);
    schema::check_layer(&mut tree)?;
    Ok(Some(Layer {
        scope: Scope::Cargo,
        name: "cargo".to_owned(),
        file: Some(LayerFile {
            path: path.to_owned(),
            on_disk: Some(text.clone()),
            doc: doc.into_mut(),
            dirty: false,
        }),
        tree,
    }))
}

/// The table of a cargo configuration file that holds our keys.
pub(crate) const CARGO_TABLE: &str = "wasm-pkg";

/// Parses a file's text into an editable document and a checked tree whose origins carry
/// the file's lines and columns.
pub(crate) fn parse_file(
    scope: Scope,
    path: &Path,
    text: &str,
) -> Result<(DocumentMut, Node), ConfigError> {
    let source = SourceText::new(scope, path, text);
    let at = |offset: usize| source.origin_at(offset);
    let doc = source.parse()?;
    let origin_at = |span: Option<std::ops::Range<usize>>| at(span.map_or(0, |s| s.start));
    let mut tree = Node::from_table_like(doc.as_table(), at(0), &origin_at);
    schema::check_layer(&mut tree)?;
    Ok((doc.into_mut(), tree))
}
