//! A resolved WIT graph, written out: `wit/deps` as WIT text (what wit-bindgen, wasm-tools,
//! componentize-py and jco read) or as binary packages; a WIT directory built into a
//! binary WIT package; one binary package printed as WIT.

use std::path::{Path, PathBuf};

use registry_core::{Error, PackageRef, Version};
use wit_parser::{PackageName, Resolve, UnresolvedPackageGroup};

use registry_client::{Client, Resolution};

use crate::WitGraph;

/// How `wit/deps` is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DepsFormat {
    /// `deps/<ns>-<name>-<version>/package.wit`, one directory per package (as `wkg` writes).
    #[default]
    Wit,
    /// `deps/<ns>-<name>-<version>.wasm`, the binary packages as published.
    Wasm,
}

/// The directory (or file stem) a package is written under: `wasi:io@0.2.0` is
/// `wasi-io-0.2.0`, the names `wkg` uses, so a `wit/deps` it wrote is replaced cleanly.
fn entry_name(name: &PackageName) -> String {
    name.to_string().replace([':', '@'], "-")
}

fn invalid(path: &Path, message: String) -> Error {
    crate::wit_error(path, message)
}

/// Every package of the graph in one [`Resolve`], each merged after what it uses.
fn merged(graph: &WitGraph) -> Result<Resolve, Error> {
    let mut resolve = Resolve {
        // Keep `@unstable` items: the tools reading the output decide about them.
        all_features: true,
        ..Resolve::default()
    };
    // The releases the root names go last: their own references are to the graph's
    // packages (or travel inside them).
    let resolutions = graph
        .nodes
        .iter()
        .map(|n| &n.resolution)
        .chain(&graph.named);
    for resolution in resolutions {
        let path = resolution.path();
        let package = resolution.package();
        if path.is_dir() {
            let group = UnresolvedPackageGroup::parse_dir(path).map_err(|err| {
                invalid(
                    path,
                    format!(
                        "the WIT in {} (for `{package}`) does not parse: {err:#}",
                        path.display()
                    ),
                )
            })?;
            resolve.push_group(group).map_err(|err| {
                invalid(
                    path,
                    format!(
                        "the WIT in {} (for `{package}`) does not fit its dependencies: {err:#}",
                        path.display()
                    ),
                )
            })?;
            continue;
        }
        let decoded = decode(path, package)?;
        let (wit_parser::decoding::DecodedWasm::WitPackage(other, _)
        | wit_parser::decoding::DecodedWasm::Component(other, _)) = decoded;
        resolve.merge(other).map_err(|err| {
            invalid(
                path,
                format!(
                    "`{package}`{} does not agree with the other packages on what they share: \
                 {err:#}",
                    version_suffix(resolution)
                ),
            )
        })?;
    }
    Ok(resolve)
}

fn version_suffix(resolution: &Resolution) -> String {
    resolution
        .version()
        .map(|v| format!("@{v}"))
        .unwrap_or_default()
}

fn decode(path: &Path, package: &PackageRef) -> Result<wit_parser::decoding::DecodedWasm, Error> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    wit_parser::decoding::decode_reader(std::io::BufReader::new(file)).map_err(|err| {
        invalid(
            path,
            format!(
                "`{package}` ({}) is not a WIT package or component: {err:#}",
                path.display()
            ),
        )
    })
}

fn print(resolve: &Resolve, id: wit_parser::PackageId, what: &str) -> Result<String, Error> {
    print_nested(resolve, id, &[], what)
}

/// `id` printed as WIT, followed by the packages `nested` in `package ns:name { ... }`
/// blocks.
fn print_nested(
    resolve: &Resolve,
    id: wit_parser::PackageId,
    nested: &[wit_parser::PackageId],
    what: &str,
) -> Result<String, Error> {
    let mut printer = wit_component::WitPrinter::default();
    printer.print(resolve, id, nested).map_err(|err| {
        invalid(
            Path::new(what),
            format!(
                "cannot print `{}` as WIT: {err:#}",
                resolve.packages[id].name
            ),
        )
    })?;
    Ok(printer.output.to_string())
}

/// A binary package printed as WIT text: a WIT package as the package it defines; a
/// component as the WIT of its world, in the package that holds it (`root:component`, the
/// name wit-component gives a component's world), followed by every package the world uses
/// in nested `package ns:name@version { ... }` blocks, so that the text parses on its own.
///
/// # Errors
/// [`Error::InvalidWit`] naming `what` when the bytes are a core module, or neither a WIT
/// package nor a component whose WIT can be read.
pub fn print_package(bytes: &[u8], what: &str) -> Result<String, Error> {
    use wit_parser::decoding::DecodedWasm;
    // wit-parser reads a core module as a component with an empty world; it has no WIT.
    let metadata = registry_core::metadata::WasmMetadata::read(&mut std::io::Cursor::new(bytes));
    if metadata.is_ok_and(|m| !m.is_component) {
        return Err(invalid(
            Path::new(what),
            format!(
                "{what} is a core WebAssembly module, which has no WIT (WIT packages and \
                 components do); use --format wasm for its bytes"
            ),
        ));
    }
    match wit_parser::decoding::decode(bytes) {
        Ok(DecodedWasm::WitPackage(resolve, id)) => print(&resolve, id, what),
        Ok(DecodedWasm::Component(resolve, world)) => {
            let Some(main) = resolve.worlds[world].package else {
                return Err(invalid(
                    Path::new(what),
                    format!("{what} is a component whose world belongs to no WIT package"),
                ));
            };
            let nested: Vec<wit_parser::PackageId> = resolve
                .topological_packages()
                .into_iter()
                .filter(|id| *id != main)
                .collect();
            print_nested(&resolve, main, &nested, what)
        }
        Err(err) => Err(invalid(
            Path::new(what),
            format!(
                "{what} is neither a WIT package nor a component whose WIT can be read \
                 (use --format wasm for its bytes): {err:#}"
            ),
        )),
    }
}

/// Writes the graph into `<wit_dir>/deps`, replacing what was there only once the new
/// directory is complete (a failure leaves the old one as it was). Returns the entries
/// written, in order.
///
/// # Errors
/// [`Error::Io`] naming the path; [`Error::InvalidWit`] when a package does not decode or
/// the packages disagree.
pub async fn write_deps(
    client: &Client,
    graph: &WitGraph,
    wit_dir: &Path,
    format: DepsFormat,
) -> Result<Vec<PathBuf>, Error> {
    // What a killed run was staging (or had set aside) goes; this run's staging directory is
    // claimed so that no other run takes it for such.
    registry_config::fs::remove_abandoned(wit_dir, STAGING, "");
    let staging = tempfile::Builder::new()
        .prefix(STAGING)
        .tempdir_in(wit_dir)
        .map_err(|e| Error::io(wit_dir, e))?;
    let _claimed = registry_config::fs::claim_dir(staging.path());
    let mut written = Vec::new();
    match format {
        DepsFormat::Wit => {
            let resolve = merged(graph)?;
            for id in resolve.topological_packages() {
                let name = entry_name(&resolve.packages[id].name);
                let dir = staging.path().join(&name);
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                let file = dir.join("package.wit");
                std::fs::write(&file, print(&resolve, id, &name)?)
                    .map_err(|e| Error::io(&file, e))?;
                written.push(Path::new("deps").join(name));
            }
        }
        DepsFormat::Wasm => {
            for resolution in graph
                .nodes
                .iter()
                .map(|n| &n.resolution)
                .chain(&graph.named)
            {
                let package = resolution.package();
                let mut name = format!("{}-{}", package.namespace(), package.name());
                if let Some(version) = resolution.version() {
                    name = format!("{name}-{version}");
                }
                if resolution.path().is_dir() {
                    copy_wit_files(resolution.path(), &staging.path().join(&name))?;
                } else {
                    name.push_str(".wasm");
                    let dest = staging.path().join(&name);
                    client
                        .open_resolution(resolution)
                        .await?
                        .copy_to(&dest)
                        .await?;
                }
                written.push(Path::new("deps").join(name));
            }
        }
    }
    replace_dir(staging, &wit_dir.join("deps"))?;
    Ok(written)
}

/// The `.wit` files of a local WIT directory (not its own `deps`), copied.
fn copy_wit_files(from: &Path, to: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let path = entry.map_err(|e| Error::io(from, e))?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "wit") {
            let dest = to.join(path.file_name().expect("a file has a name"));
            std::fs::copy(&path, &dest).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

/// How `wit/deps` staging directories (and an old `deps` set aside) begin, followed by
/// `tempfile`'s six random characters.
const STAGING: &str = ".deps.wreg-";

/// Moves the complete `staging` directory to `dest`, the old `dest` out of the way first
/// (to a name [`remove_abandoned`](registry_config::fs::remove_abandoned) takes away if a
/// kill leaves it there) and back again if the move fails.
fn replace_dir(staging: tempfile::TempDir, dest: &Path) -> Result<(), Error> {
    let parent = registry_config::fs::parent_dir(dest);
    // Claimed before it moves (the lock stays with the directory), so no other run takes
    // the old `deps` for abandoned while it is set aside.
    let claimed_old = registry_config::fs::claim_dir(dest);
    let old = match &claimed_old {
        Some(_) => {
            // An empty directory of a fresh name, which the rename then replaces.
            let aside = tempfile::Builder::new()
                .prefix(STAGING)
                .tempdir_in(parent)
                .map_err(|e| Error::io(parent, e))?;
            Some(aside.keep())
        }
        None => None,
    };
    let had_old = match &old {
        Some(old) => match std::fs::rename(dest, old) {
            Ok(()) => true,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let _ = std::fs::remove_dir(old);
                false
            }
            Err(err) => {
                let _ = std::fs::remove_dir(old);
                return Err(Error::io(dest, err));
            }
        },
        None => false,
    };
    let staged = staging.keep();
    if let Err(err) = std::fs::rename(&staged, dest) {
        if let Some(old) = old.as_ref().filter(|_| had_old) {
            let _ = std::fs::rename(old, dest);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(Error::io(dest, err));
    }
    if let Some(old) = old.filter(|_| had_old) {
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(())
}

/// A WIT directory built into a binary WIT package.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BuiltPackage {
    /// The package the directory defines.
    pub package: PackageRef,
    /// Its version, when its `package` line gives one.
    pub version: Option<Version>,
    /// The encoded package.
    pub bytes: Vec<u8>,
}

impl BuiltPackage {
    /// The file name `wkg wit build` gives it: `ns:name@version.wasm`.
    pub fn file_name(&self) -> String {
        match &self.version {
            Some(version) => format!("{}@{version}.wasm", self.package),
            None => format!("{}.wasm", self.package),
        }
    }
}

/// The WIT package in `wit_dir` (its top-level `.wit` files; `deps/` is not read),
/// encoded with the resolved `graph` of its dependencies.
///
/// # Errors
/// [`Error::InvalidWit`] naming the directory when it does not parse, does not fit its
/// dependencies, or does not encode.
pub fn build(graph: &WitGraph, wit_dir: &Path) -> Result<BuiltPackage, Error> {
    let mut resolve = merged(graph)?;
    let group = UnresolvedPackageGroup::parse_dir(wit_dir).map_err(|err| {
        invalid(
            wit_dir,
            format!("the WIT in {} does not parse: {err:#}", wit_dir.display()),
        )
    })?;
    let id = resolve.push_group(group).map_err(|err| {
        invalid(
            wit_dir,
            format!(
                "the WIT in {} does not fit its dependencies: {err:#}",
                wit_dir.display()
            ),
        )
    })?;
    let bytes = wit_component::encode(&resolve, id, false).map_err(|err| {
        invalid(
            wit_dir,
            format!(
                "the WIT in {} cannot be encoded as a package: {err:#}",
                wit_dir.display()
            ),
        )
    })?;
    let name = &resolve.packages[id].name;
    Ok(BuiltPackage {
        package: PackageRef::new(&name.namespace, &name.name)?,
        version: name.version.clone(),
        bytes,
    })
}
