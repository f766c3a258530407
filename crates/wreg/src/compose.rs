//! Compositions with wac's own crates, every package resolved through the client:
//! [`compose`] a `.wac` document, [`plug`] components into a socket. wac's local forms come
//! first (a `--deps-dir`, `--dep` files, through [`WacResolver`]), then the registries of
//! the layered configuration; registry packages are pinned by the lock file, so a document
//! composes the same bytes tomorrow.
//!
//! Only the command line composes, so only it depends on wac's crates (0.12): a tool that
//! embeds the library, wac itself included, never compiles a second copy of them.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use miette::Diagnostic;
use registry_core::Error;
use wac_types::BorrowedPackageKey;

use registry_adapters::wac::{Resolved, WacPackage, WacResolver};
use registry_client::{LockFile, LockMode};

/// How a document is encoded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ComposeOptions {
    /// Import the packages the composition instantiates instead of defining them inside
    /// it (wac's `--import-dependencies`).
    pub(crate) import_dependencies: bool,
    /// Validate the composed component (wac's default; `--no-validate` turns it off).
    pub(crate) validate: bool,
}

impl Default for ComposeOptions {
    fn default() -> Self {
        Self {
            import_dependencies: false,
            validate: true,
        }
    }
}

/// A composed component and the packages it was made of.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) struct Composition {
    /// The encoded component.
    pub(crate) bytes: Vec<u8>,
    /// Each package used, with its bytes and (for a registry release) its resolution.
    pub(crate) packages: Vec<Resolved>,
}

/// What went wrong, and where: `app.wac:3:15` for a document, the package for a plug.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {message}")]
pub(crate) struct ComposeError {
    /// `file:line:column` in the document, or the file or package at fault.
    pub(crate) location: String,
    /// What went wrong there.
    pub(crate) message: String,
    /// The registry or I/O error behind it, if any (a missing package, a wrong digest).
    #[source]
    pub(crate) source: Option<Error>,
}

/// `file:line:column` of byte `offset` in `source`.
fn location(path: &Path, source: &str, offset: usize) -> String {
    let mut at = offset.min(source.len());
    while !source.is_char_boundary(at) {
        at -= 1;
    }
    let before = &source[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("{}:{line}:{column}", path.display())
}

/// A wac diagnostic, located at its first label, with its label text and causes.
fn located(path: &Path, source: &str, err: &(dyn Diagnostic + 'static)) -> ComposeError {
    let label = err.labels().and_then(|mut labels| labels.next());
    let mut message = err.to_string();
    if let Some(text) = label.as_ref().and_then(|l| l.label()) {
        message = format!("{message} ({text})");
    }
    if let Some(cause) = std::error::Error::source(err) {
        message = format!("{message}: {}", registry_core::chain_text(cause));
    }
    ComposeError {
        location: match &label {
            Some(label) => location(path, source, label.offset()),
            None => path.display().to_string(),
        },
        message,
        source: None,
    }
}

/// Parses, resolves and encodes the wac document `source` (read from `path`, which names
/// it in errors).
///
/// # Errors
/// [`ComposeError`] at the document's line and column for a syntax or resolution error,
/// and for a package that cannot be resolved (the registry error as its source).
pub(crate) async fn compose(
    resolver: &WacResolver,
    path: &Path,
    source: &str,
    lock: Option<&mut LockFile>,
    mode: LockMode,
    options: ComposeOptions,
) -> Result<Composition, ComposeError> {
    let document = wac_parser::Document::parse(source).map_err(|e| located(path, source, &e))?;
    let keys = wac_resolver::packages(&document).map_err(|e| located(path, source, &e))?;
    let mut wanted = Vec::with_capacity(keys.len());
    for (key, span) in &keys {
        let version = key.version.map(ToString::to_string);
        let package =
            WacPackage::new(key.name, version.as_deref()).map_err(|err| ComposeError {
                location: location(path, source, span.offset()),
                message: format!("`{}` is not a package this client can resolve", key.name),
                source: Some(err),
            })?;
        wanted.push(package.with_span(span.offset()..span.offset() + span.len()));
    }
    let packages = resolver
        .resolve_locked(&wanted, lock, mode)
        .await
        .map_err(|err| ComposeError {
            location: match &err.span {
                Some(span) => location(path, source, span.start),
                None => path.display().to_string(),
            },
            message: format!("cannot resolve `{}`", err.package),
            source: Some(err.source),
        })?;
    // The resolver answers each distinct key once, in order: as wac listed them.
    let by_key: IndexMap<BorrowedPackageKey<'_>, Vec<u8>> = keys
        .keys()
        .zip(&packages)
        .map(|(key, (_, bytes, _))| (*key, bytes.clone()))
        .collect();
    let resolution = document
        .resolve(by_key)
        .map_err(|e| located(path, source, &e))?;
    let bytes = resolution
        .encode(wac_graph::EncodeOptions {
            define_components: !options.import_dependencies,
            validate: options.validate,
            ..Default::default()
        })
        .map_err(|e| located(path, source, &e))?;
    Ok(Composition { bytes, packages })
}

/// A socket or plug: a component file, or a package from a registry.
#[derive(Clone, Debug)]
pub(crate) enum PlugSource {
    /// A component file.
    File(PathBuf),
    /// A package (`ns:name`, newest release; `ns:name@1.2.0`, that release).
    Package(WacPackage),
}

impl PlugSource {
    /// How wac reads a `--plug`/socket argument: `ns:name[@version]` when it parses as a
    /// package name, else a path.
    pub(crate) fn parse(text: &str) -> Self {
        let (name, version) = match text.split_once('@') {
            Some((name, version)) => (name, Some(version)),
            None => (text, None),
        };
        match WacPackage::new(name, version) {
            Ok(package) if !Path::new(text).exists() => Self::Package(package),
            _ => Self::File(PathBuf::from(text)),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Package(package) => package.to_string(),
        }
    }
}

/// Plugs the exports of each plug into the socket's imports, as `wac plug` does (the same
/// package names, order and encoding), resolving packages through `resolver`.
///
/// # Errors
/// [`ComposeError`] naming the socket or plug at fault.
pub(crate) async fn plug(
    resolver: &WacResolver,
    socket: &PlugSource,
    plugs: &[PlugSource],
    lock: Option<&mut LockFile>,
    mode: LockMode,
) -> Result<Composition, ComposeError> {
    let fail = |what: &PlugSource, message: String, source: Option<Error>| ComposeError {
        location: what.describe(),
        message,
        source,
    };
    let wanted: Vec<WacPackage> = std::iter::once(socket)
        .chain(plugs)
        .filter_map(|s| match s {
            PlugSource::Package(p) => Some(p.clone()),
            PlugSource::File(_) => None,
        })
        .collect();
    let packages = resolver
        .resolve_locked(&wanted, lock, mode)
        .await
        .map_err(|err| ComposeError {
            location: err.package.clone(),
            message: "cannot resolve it".to_owned(),
            source: Some(err.source),
        })?;
    let bytes_of = |source: &PlugSource| -> Result<Vec<u8>, ComposeError> {
        match source {
            PlugSource::File(path) => std::fs::read(path).map_err(|e| {
                fail(
                    source,
                    "cannot read it".to_owned(),
                    Some(Error::io(path, e)),
                )
            }),
            PlugSource::Package(p) => Ok(packages
                .iter()
                .find(|(k, _, _)| k.name == p.name && k.version == p.version)
                .map(|(_, bytes, _)| bytes.clone())
                .expect("every package source was resolved")),
        }
    };
    let mut graph = wac_graph::CompositionGraph::new();
    let socket_package =
        wac_types::Package::from_bytes("socket", None, bytes_of(socket)?, graph.types_mut())
            .map_err(|e| fail(socket, format!("not a component: {e:#}"), None))?;
    let socket_id = graph
        .register_package(socket_package)
        .map_err(|e| fail(socket, e.to_string(), None))?;
    // Grouped by name in first-seen order, a group of several numbered, as wac names them.
    let mut groups: IndexMap<String, Vec<&PlugSource>> = IndexMap::new();
    for plug in plugs {
        let key = match plug {
            PlugSource::Package(p) => p.name.to_string(),
            PlugSource::File(path) => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .ok_or_else(|| fail(plug, "is not a file".to_owned(), None))?,
        };
        groups.entry(key).or_default().push(plug);
    }
    let mut ids = Vec::new();
    for (key, group) in &groups {
        for (i, plug) in group.iter().enumerate() {
            let mut name = match plug {
                PlugSource::Package(_) => key.clone(),
                PlugSource::File(_) => format!("plug:{key}"),
            };
            if group.len() > 1 {
                name.push_str(&i.to_string());
            }
            let package =
                wac_types::Package::from_bytes(&name, None, bytes_of(plug)?, graph.types_mut())
                    .map_err(|e| fail(plug, format!("not a component: {e:#}"), None))?;
            ids.push(
                graph
                    .register_package(package)
                    .map_err(|e| fail(plug, e.to_string(), None))?,
            );
        }
    }
    wac_graph::plug(&mut graph, ids, socket_id)
        .map_err(|e| fail(socket, format!("cannot plug: {e}"), None))?;
    let bytes = graph
        .encode(wac_graph::EncodeOptions::default())
        .map_err(|e| fail(socket, format!("cannot encode the result: {e}"), None))?;
    Ok(Composition { bytes, packages })
}
