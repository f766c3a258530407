//! `wkg.toml`, the project file `wkg` reads next to `wkg.lock`, read with origins.
//!
//! ```toml
//! [overrides]
//! "wasi:http" = { path = "../wasi-http/wit" }     # use a local WIT package or file
//! "acme:widget" = { version = "=1.4.2" }          # replace the requirement
//!
//! [metadata]                                      # annotations when publishing
//! authors = "The Acme team"                       # (alias `author`)
//! description = "Widgets"
//! licenses = "Apache-2.0"                         # (alias `license`)
//! source = "https://github.com/acme/widget"       # (alias `repository`)
//! homepage = "https://acme.example"
//! revision = "abc123"
//! ```
//!
//! or, in a workspace root, `[workspace] members = ["a", "b"]` and `[workspace.metadata]`
//! (the defaults of each member's `[metadata]`), in which case `[overrides]` and top-level
//! `[metadata]` are refused, as `wkg` refuses them. Every value keeps its file, line and
//! column; every mistake names them.
//!
//! [`WkgManifest::find`] looks where `wkg` looks: `wkg.toml` in the given directory, and
//! for a member, the nearest parent `wkg.toml` whose `[workspace]` lists it.

use std::path::{Path, PathBuf};

use registry_config::{Origin, Scope, SourceText};
use registry_core::metadata::MetadataField;
use registry_core::{BareVersion, Error, PackageRef, VersionReq};
use toml_edit::{Item, TableLike};

use crate::dependency_table::TomlReader;
use crate::wkg_workspace::MemberPattern;
use crate::{Override, Overrides};

/// The file name.
pub const WKG_MANIFEST: &str = "wkg.toml";

/// One `[overrides]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WkgOverride {
    /// The package it applies to.
    pub package: PackageRef,
    /// A local WIT package directory or file, made absolute.
    pub path: Option<PathBuf>,
    /// The requirement to use instead.
    pub requirement: Option<VersionReq>,
    /// Where it was written.
    pub origin: Origin,
}

/// A `wkg.toml` file (and, for a member, its workspace root's metadata).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WkgManifest {
    /// The file.
    pub path: PathBuf,
    /// `[overrides]`, in the order written.
    pub overrides: Vec<WkgOverride>,
    /// `[metadata]`, then what the workspace root's `[workspace.metadata]` adds, each with
    /// where it was written.
    pub metadata: Vec<(MetadataField, String, Origin)>,
    /// `[workspace] members`, made absolute as written (empty for a file that is no
    /// workspace root); [`workspace_members`](Self::workspace_members) expands the globs.
    pub members: Vec<PathBuf>,
    /// `[workspace] members` as written, with where.
    pub member_patterns: Vec<MemberPattern>,
}

impl WkgManifest {
    /// The manifest for `dir`, as `wkg` finds it: `dir/wkg.toml`, with the metadata of the
    /// workspace root that lists `dir` as a member added under its own. `Ok(None)` when
    /// there is no `wkg.toml` in `dir`.
    ///
    /// # Errors
    /// [`Error::Io`] for a file that cannot be read; [`Error::Config`] naming the file,
    /// line, column and key of a value that is wrong.
    pub fn find(dir: &Path) -> Result<Option<Self>, Error> {
        let path = dir.join(WKG_MANIFEST);
        if !path.is_file() {
            return Ok(None);
        }
        let mut manifest = Self::from_path(&path)?;
        if manifest.members.is_empty() {
            let own_dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
            for parent in own_dir.ancestors().skip(1) {
                let candidate = parent.join(WKG_MANIFEST);
                if !candidate.is_file() {
                    continue;
                }
                let root = Self::from_path(&candidate)?;
                // A member is listed as itself or by its WIT directory, perhaps by a glob.
                let listed = root
                    .workspace_members()
                    .unwrap_or_else(|_| root.members.clone());
                if listed.iter().chain(&root.members).any(|m| {
                    let m = m.canonicalize().unwrap_or_else(|_| m.clone());
                    m == own_dir || (m.parent() == Some(own_dir.as_path()) && m.ends_with("wit"))
                }) {
                    for (field, text, origin) in root.metadata {
                        if !manifest.metadata.iter().any(|(f, _, _)| *f == field) {
                            manifest.metadata.push((field, text, origin));
                        }
                    }
                    break;
                }
            }
        }
        Ok(Some(manifest))
    }

    /// Reads the file at `path` alone.
    ///
    /// # Errors
    /// As for [`find`](Self::find).
    pub fn from_path(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Reads a manifest's text; `path` names it in errors and anchors relative paths.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file, line, column and key of a value that is wrong.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let source = SourceText::new(Scope::Project, path, text);
        let reader = TomlReader::new(&source);
        let doc = reader.document()?;
        let base = registry_config::fs::parent_dir(path);
        let mut manifest = Self {
            path: path.to_owned(),
            overrides: Vec::new(),
            metadata: Vec::new(),
            members: Vec::new(),
            member_patterns: Vec::new(),
        };
        for (key, item) in doc.as_table().iter() {
            if !["overrides", "metadata", "workspace"].contains(&key) {
                return Err(reader.error(
                    item,
                    key,
                    "is not a wkg.toml table; use `[overrides]`, `[metadata]` or `[workspace]`",
                ));
            }
        }
        if let Some(workspace) = doc.get("workspace") {
            for other in ["overrides", "metadata"] {
                if let Some(item) = doc.get(other) {
                    return Err(reader.error(
                        item,
                        other,
                        "cannot sit beside `[workspace]`; use `[workspace.metadata]` for \
                         workspace-wide values",
                    ));
                }
            }
            let table = reader.table(workspace, "workspace")?;
            for (key, item) in table.iter() {
                match key {
                    "members" => {
                        let list = item.as_array().ok_or_else(|| {
                            reader.error(item, "workspace.members", "must be a list of paths")
                        })?;
                        for value in list.iter() {
                            let member = value.as_str().ok_or_else(|| {
                                reader.error(item, "workspace.members", "must be a list of paths")
                            })?;
                            manifest.members.push(base.join(member));
                            let origin = source.origin_of(value.span());
                            manifest
                                .member_patterns
                                .push(MemberPattern::new(member, origin));
                        }
                    }
                    "metadata" => {
                        manifest.metadata =
                            read_metadata(&reader, &source, item, "workspace.metadata")?;
                    }
                    other => {
                        return Err(reader.error(
                            item,
                            &format!("workspace.{other}"),
                            "is not a workspace field; use `members` or `metadata`",
                        ));
                    }
                }
            }
            return Ok(manifest);
        }
        if let Some(item) = doc.get("metadata") {
            manifest.metadata = read_metadata(&reader, &source, item, "metadata")?;
        }
        if let Some(item) = doc.get("overrides") {
            for (name, value) in reader.table(item, "overrides")?.iter() {
                let key = format!("overrides.\"{name}\"");
                manifest
                    .overrides
                    .push(read_override(&reader, &source, base, name, value, &key)?);
            }
        }
        Ok(manifest)
    }

    /// The overrides as the resolver applies them.
    pub fn resolver_overrides(&self) -> Overrides {
        let mut overrides = Overrides::new();
        for o in &self.overrides {
            let value = Override {
                path: o.path.clone(),
                requirement: o.requirement.clone(),
                ..Override::default()
            };
            overrides
                .insert(o.package.as_str(), value)
                .expect("a package name is a valid key");
        }
        overrides
    }

    /// The metadata to publish with (`PublishOptions::with_metadata`).
    pub fn publish_metadata(&self) -> Vec<(MetadataField, String)> {
        self.metadata
            .iter()
            .map(|(field, text, _)| (*field, text.clone()))
            .collect()
    }
}

fn read_override(
    reader: &TomlReader<'_>,
    source: &SourceText,
    base: &Path,
    name: &str,
    item: &Item,
    key: &str,
) -> Result<WkgOverride, Error> {
    let package: PackageRef = name
        .parse()
        .map_err(|err| reader.error(item, key, &format!("is not a package name ({err})")))?;
    let table: &dyn TableLike = reader.table(item, key)?;
    let mut path = None;
    let mut requirement = None;
    for (field, value) in table.iter() {
        let field_key = format!("{key}.{field}");
        match field {
            "path" => path = Some(base.join(reader.string(value, &field_key)?)),
            "version" => {
                let text = reader.string(value, &field_key)?;
                requirement = Some(
                    registry_core::parse_requirement(text, BareVersion::Compatible).map_err(
                        |why| {
                            reader.error(
                                value,
                                &field_key,
                                &format!("is not a version requirement: {why}"),
                            )
                        },
                    )?,
                );
            }
            _ => {
                return Err(reader.error(
                    value,
                    &field_key,
                    "is not an override field; use `path` or `version`",
                ));
            }
        }
    }
    Ok(WkgOverride {
        package,
        path,
        requirement,
        origin: source.origin_of(item.span()),
    })
}

fn read_metadata(
    reader: &TomlReader<'_>,
    source: &SourceText,
    item: &Item,
    key: &str,
) -> Result<Vec<(MetadataField, String, Origin)>, Error> {
    let mut metadata = Vec::new();
    for (name, value) in reader.table(item, key)?.iter() {
        let field_key = format!("{key}.{name}");
        let field = match name {
            "authors" | "author" => MetadataField::Authors,
            "description" => MetadataField::Description,
            "licenses" | "license" => MetadataField::Licenses,
            "source" | "repository" => MetadataField::Source,
            "homepage" => MetadataField::Homepage,
            "revision" => MetadataField::Revision,
            _ => {
                return Err(reader.error(
                    value,
                    &field_key,
                    "is not a metadata field; use authors, description, licenses, source, \
                     homepage or revision",
                ));
            }
        };
        let text = reader.string(value, &field_key)?;
        metadata.push((field, text.to_owned(), source.origin_of(value.span())));
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WkgManifest, String> {
        WkgManifest::parse(text, Path::new("/p/wkg.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn every_table_reads_with_origins() {
        let m = parse(
            "[overrides]\n\"wasi:http\" = { path = \"../http/wit\" }\n\
             \"acme:w\" = { version = \"1.2\" }\n[metadata]\nauthor = \"Acme\"\n\
             repository = \"https://example.com/src\"\n",
        )
        .unwrap();
        assert_eq!(
            m.overrides[0].path.as_deref(),
            Some(Path::new("/p/../http/wit"))
        );
        assert_eq!(
            m.overrides[1].requirement.as_ref().unwrap().to_string(),
            "^1.2"
        );
        assert_eq!(m.overrides[1].origin.to_string(), "/p/wkg.toml:3:12");
        assert_eq!(m.metadata[0].0, MetadataField::Authors);
        assert_eq!(m.metadata[1].0, MetadataField::Source);
        assert_eq!(m.metadata[1].2.to_string(), "/p/wkg.toml:6:14");
        let overrides = m.resolver_overrides();
        let dep = crate::Dependency::new("acme:w".parse().unwrap(), VersionReq::STAR);
        assert!(overrides.find(&dep).is_some());
    }

    #[test]
    fn mistakes_are_located() {
        let err =
            parse("[workspace]\nmembers = [\"a\"]\n[metadata]\nauthors = \"x\"\n").unwrap_err();
        assert!(
            err.starts_with("/p/wkg.toml:3:1:") && err.contains("[workspace.metadata]"),
            "{err}"
        );
        let err = parse("[metadata]\nauthours = \"x\"\n").unwrap_err();
        assert!(
            err.starts_with("/p/wkg.toml:2:12:") && err.contains("metadata.authours"),
            "{err}"
        );
        let err = parse("[overrides]\n\"a:b\" = { paht = \"x\" }\n").unwrap_err();
        assert!(err.contains("overrides.\"a:b\".paht"), "{err}");
        let err = parse("[dependencies]\n").unwrap_err();
        assert!(err.contains("not a wkg.toml table"), "{err}");
    }
}
