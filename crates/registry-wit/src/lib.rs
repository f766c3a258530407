//! WIT as the registry sees it: the packages a WIT directory uses, and the package a Wasm
//! file says it is.
//!
//! - [`dependencies`]: every package a `./wit` directory uses but does not define, as
//!   [`Dependency`] values. A version in a WIT `use` (`wasi:io/streams@0.2.0`) is read as
//!   every other bare version is ([`registry_core::BareVersion::Compatible`]: `^0.2.0`).
//! - [`package_of`]: the name (and version) a Wasm file gives itself: a WIT package names
//!   itself in its `package` line; a component through its `component-name` section and
//!   `version` section (`wasm-tools metadata add --name ns:name --version 1.2.0`).
//!
//! - [`encode_dir`]: a WIT directory as a binary WIT package.
//! - [`resolve`]: a WIT directory's whole graph, one version per package, locked;
//!   [`write_deps`] writes it as `wit/deps`; [`build`] encodes a package with it.
//! - [`publish`]: a release published through a [`Route`](registry_client::Route) after
//!   [`check_semver`] (wit-component's own check) against the releases that bracket it.
//!
//! WIT that does not parse, resolve or encode is [`Error::InvalidWit`], at the file, line
//! and column wit-parser points at.

#![deny(missing_docs)]

use std::path::Path;

use registry_core::metadata::WasmMetadata;
use registry_core::{BareVersion, Error, PackageRef, PackageReq, PackageSpec};

use registry_client::Dependency;

mod graph;
mod output;
mod publish;
mod semver;

pub use graph::{Requirer, WitGraph, WitNode, WitRequest, dependencies_of, resolve};
pub use output::{BuiltPackage, DepsFormat, build, print_package, write_deps};
pub use publish::{PublishRequest, Published, publish};
pub use semver::{check_semver, neighbours};

/// The packages the WIT in `dir` uses but does not define, each once, in the order first
/// used.
///
/// # Errors
/// [`Error::InvalidWit`] naming the file, line and column when its WIT does not parse.
pub fn dependencies(dir: &Path) -> Result<Vec<Dependency>, Error> {
    let mut deps: Vec<Dependency> = Vec::new();
    for name in foreign_names(dir)? {
        let dep = dependency_on(&name)?;
        if !deps.contains(&dep) {
            deps.push(dep);
        }
    }
    Ok(deps)
}

/// The WIT in the directory `dir`, parsed and not yet resolved.
fn parse_dir(dir: &Path) -> Result<wit_parser::UnresolvedPackageGroup, Error> {
    if !dir.is_dir() {
        return Err(Error::InvalidInput {
            message: format!(
                "{} is not a directory; give the WIT directory (it holds the `.wit` files of \
                 your package)",
                dir.display()
            ),
        });
    }
    wit_parser::UnresolvedPackageGroup::parse_dir(dir).map_err(|err| {
        wit_error(
            dir,
            format!("cannot read the WIT in {}: {err:#}", dir.display()),
        )
    })
}

/// The package the WIT in `dir` defines (its main package), with the version written.
///
/// # Errors
/// [`Error::InvalidWit`] naming the file, line and column when its WIT does not parse;
/// [`Error::InvalidInput`] when `dir` is not a directory or the name is not a package name.
pub fn package_in(dir: &Path) -> Result<PackageSpec, Error> {
    let group = parse_dir(dir)?;
    let name = &group.main.name;
    Ok(PackageSpec {
        package: PackageRef::new(&name.namespace, &name.name)?,
        version: name.version.clone(),
    })
}

/// The names (with the versions written) of the packages the WIT in `dir` uses but does
/// not define, each once, in the order first used.
pub(crate) fn foreign_names(dir: &Path) -> Result<Vec<wit_parser::PackageName>, Error> {
    let group = parse_dir(dir)?;
    let packages: Vec<_> = std::iter::once(&group.main).chain(&group.nested).collect();
    let defined: Vec<(&str, &str)> = packages
        .iter()
        .map(|p| (p.name.namespace.as_str(), p.name.name.as_str()))
        .collect();
    let mut names = Vec::new();
    for package in packages {
        for name in package.foreign_deps.keys() {
            if !defined.contains(&(name.namespace.as_str(), name.name.as_str()))
                && !names.contains(name)
            {
                names.push(name.clone());
            }
        }
    }
    Ok(names)
}

/// The dependency a WIT reference to `name` means: a versioned name asks for the
/// compatible releases (`wasi:io@0.2.0` is `^0.2.0`), as every bare version does.
pub(crate) fn dependency_on(name: &wit_parser::PackageName) -> Result<Dependency, Error> {
    let spec = match &name.version {
        Some(version) => format!("{}:{}@{version}", name.namespace, name.name),
        None => format!("{}:{}", name.namespace, name.name),
    };
    let req = PackageReq::parse_with(&spec, BareVersion::Compatible)?;
    Ok(Dependency::new(req.package, req.requirement))
}

/// The WIT package in `dir` (its `deps/` included), encoded as a binary WIT package.
///
/// # Errors
/// [`Error::InvalidWit`] naming the file, line and column when its WIT does not parse or
/// encode.
pub fn encode_dir(dir: &Path) -> Result<Vec<u8>, Error> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve.push_dir(dir).map_err(|err| {
        wit_error(
            dir,
            format!("WIT directory `{}` does not parse: {err:#}", dir.display()),
        )
    })?;
    wit_component::encode(&resolve, package, false).map_err(|err| {
        wit_error(
            dir,
            format!(
                "WIT directory `{}` cannot be encoded as a package: {err:#}",
                dir.display()
            ),
        )
    })
}

/// Whether `bytes` are a binary WIT package (rather than a component or something else).
pub fn is_wit_package(bytes: &[u8]) -> bool {
    matches!(
        wit_parser::decoding::decode(bytes),
        Ok(wit_parser::decoding::DecodedWasm::WitPackage(..))
    )
}

/// The metadata of the Wasm file at `path` ([`WasmMetadata::read`]), read in constant
/// memory.
///
/// # Errors
/// [`Error::Io`] when it cannot be opened; [`Error::InvalidInput`] naming the file when it
/// is not readable WebAssembly.
pub fn read_metadata(path: &Path) -> Result<WasmMetadata, Error> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    WasmMetadata::read(&mut file).map_err(|err| Error::InvalidInput {
        message: format!("{}: {err}", path.display()),
    })
}

/// The package the Wasm file at `path` says it is, with its version when it says.
///
/// A binary-encoded WIT package names itself (`package acme:api@1.2.0;`); a component names
/// itself when its `component-name` section holds `ns:name` (its version then from its
/// `version` section, if any). A component without such a name, or a WIT package without a
/// version, is an error that says which flag to give.
///
/// # Errors
/// [`Error::InvalidInput`] naming the file and the fix.
pub fn package_of(path: &Path, metadata: &WasmMetadata) -> Result<PackageSpec, Error> {
    let fail = |message: String| Error::InvalidInput { message };
    if let Some(name) = &metadata.name {
        let package: PackageRef = name.parse().map_err(|err| {
            fail(format!(
                "{} is named `{name}`, which is not a package name ({err}); give --package \
                 ns:name@version",
                path.display()
            ))
        })?;
        return Ok(PackageSpec {
            package,
            version: metadata.version(),
        });
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    match wit_parser::decoding::decode_reader(std::io::BufReader::new(file)) {
        Ok(wit_parser::decoding::DecodedWasm::WitPackage(resolve, id)) => {
            let name = &resolve.packages[id].name;
            let package = PackageRef::new(&name.namespace, &name.name)?;
            let Some(version) = name.version.clone() else {
                return Err(fail(format!(
                    "the WIT package {package} in {} has no version; give --package \
                     {package}@1.0.0",
                    path.display()
                )));
            };
            Ok(PackageSpec {
                package,
                version: Some(version),
            })
        }
        Ok(wit_parser::decoding::DecodedWasm::Component(..)) => Err(fail(format!(
            "{} does not say which package it is; give --package ns:name@version, or name \
             the component with `wasm-tools metadata add --name ns:name`",
            path.display()
        ))),
        Err(err) => Err(fail(format!(
            "{} is not a component or WIT package ({err}); give --package ns:name@version \
             to publish it anyway",
            path.display()
        ))),
    }
}

/// An [`Error::InvalidWit`] about `path`, located at the file, line and column that
/// wit-parser's message points at (its `--> file:line:column` line) when it has one. The
/// message is kept whole: its excerpt of the source shows the place.
pub(crate) fn wit_error(path: &Path, message: String) -> Error {
    let location = message.lines().find_map(|line| {
        let at = line.trim_start().strip_prefix("--> ")?;
        let mut parts = at.trim().rsplitn(3, ':');
        let column = parts.next()?.parse().ok()?;
        let line = parts.next()?.parse().ok()?;
        Some((std::path::PathBuf::from(parts.next()?), line, column))
    });
    match location {
        Some((file, line, column)) => Error::InvalidWit {
            path: file,
            line: Some(line),
            column: Some(column),
            message,
        },
        None => Error::InvalidWit {
            path: path.to_owned(),
            line: None,
            column: None,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wit_that_does_not_parse_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("world.wit");
        std::fs::write(
            &file,
            "package a:b@1.0.0;\n\ninterface i {\n  f: func() -> nope;\n}\n",
        )
        .unwrap();
        let err = dependencies(dir.path()).unwrap_err();
        let Error::InvalidWit {
            path, line, column, ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!((path, *line, *column), (&file, Some(4), Some(16)), "{err}");
        assert!(
            err.to_string()
                .starts_with(&format!("{}:4:16: ", file.display())),
            "{err}"
        );
        assert_eq!(err.exit_code(), 65);
    }
}
