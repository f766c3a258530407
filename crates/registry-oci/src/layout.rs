//! OCI image layouts (`oci-layout`, `index.json`, `blobs/<algorithm>/<hex>`): bundles of
//! packages for sites without a network.
//!
//! [`LayoutWriter`] writes one manifest per package release, the one its registry stores
//! ([`LayoutWriter::add_container`]) or the same Wasm artifact a publish uploads, named in
//! `index.json` by the annotation
//! `org.opencontainers.image.ref.name = "<ns>:<name>@<version>"` (so `skopeo copy
//! oci:DIR:wasi:http@0.2.0 docker://...` finds it). [`LayoutBackend`] reads a layout as a
//! read-only registry: a release is named either that way or the way a copy of a
//! registry's tag is usually named, `<path>/<ns>/<name>:<tag>`.
//!
//! Every blob is content-addressed, so nothing in a layout needs trust: manifests are
//! hashed before they are read, content is verified by the cache like any download.
//!
//! Signatures travel in a layout too, as cosign keeps them there: a Sigstore bundle's
//! referrer manifest in `blobs/`, listed in `index.json` without a name, naming the
//! release's manifest as its `subject`. [`LayoutBackend`] finds them
//! (`Backend::attestations`) and attaches more (`Backend::attach`), the only writes it makes.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use registry_config::Config;
use registry_core::metadata::WasmMetadata;
use registry_core::{
    Backend, ContentDigest, ContentReader, ContentStream, Error, PackageRef, PackageSpec,
    PublishOptions, Registry, Release, Version, VersionInfo, async_trait,
};
use serde::{Deserialize, Serialize};

use registry_core::provenance::Attestations;

use crate::manifest::{self, MANIFEST_MAX_BYTES, OCI_INDEX, OCI_MANIFEST, Parsed};
use crate::publish::Artifact;
use crate::reference::tag_to_version;

mod copy;
mod referrers;

/// The name of the backend in the configuration: `[registry."<name>".oci-layout]`.
pub const BACKEND_NAME: &str = "oci-layout";
/// The annotation naming an entry of `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The largest `index.json` read (about 40,000 entries).
const INDEX_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// `[registry."<name>".oci-layout]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayoutSettings {
    /// The layout's directory.
    path: PathBuf,
}

/// `index.json`. Entries are kept as read, so a rewrite keeps what other tools put there.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexEntry {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// One release in a layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutEntry {
    /// The package.
    pub package: PackageRef,
    /// The release.
    pub version: Version,
    /// The digest of its manifest (or index).
    pub manifest: ContentDigest,
    /// What `index.json` calls it.
    pub ref_name: String,
}

/// The package and version an `index.json` name stands for: `ns:name@version`, or a
/// registry path ending in `ns/name` with a version tag.
pub fn parse_ref_name(name: &str) -> Option<(PackageRef, Version)> {
    if let Ok(spec) = name.parse::<PackageSpec>() {
        return Some((spec.package, spec.version?));
    }
    let (path, tag) = name.rsplit_once(':')?;
    let mut segments = path.rsplit('/');
    let (package, namespace) = (segments.next()?, segments.next()?);
    let package = format!("{namespace}:{package}").parse().ok()?;
    Some((package, tag_to_version(tag)?))
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |err| Error::io(path, err)
}

/// The path of a blob in a layout.
fn blob_path(dir: &Path, digest: &ContentDigest) -> PathBuf {
    dir.join("blobs")
        .join(digest.algorithm())
        .join(digest.hex())
}

/// Reads `index.json` (at most [`INDEX_MAX_BYTES`]) after checking `oci-layout`.
fn read_index(dir: &Path) -> Result<Index, Error> {
    // A directory that is not there is named itself (not as the `oci-layout` it lacks).
    if let Err(err) = std::fs::metadata(dir) {
        return Err(Error::io(dir, err));
    }
    let marker = dir.join("oci-layout");
    let text = std::fs::read_to_string(&marker).map_err(|err| Error::Io {
        path: Some(marker.clone()),
        source: std::io::Error::new(
            err.kind(),
            format!("{err}; is {} an OCI image layout?", dir.display()),
        ),
    })?;
    let version = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("imageLayoutVersion")?.as_str().map(str::to_owned));
    if version.as_deref() != Some("1.0.0") {
        return Err(Error::InvalidInput {
            message: format!(
                "{}: expected {{\"imageLayoutVersion\": \"1.0.0\"}}, found {}",
                marker.display(),
                text.trim()
            ),
        });
    }
    let path = dir.join("index.json");
    let file = std::fs::File::open(&path).map_err(io_error(&path))?;
    let mut bytes = Vec::new();
    file.take(INDEX_MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error(&path))?;
    if bytes.len() as u64 > INDEX_MAX_BYTES {
        return Err(Error::InvalidInput {
            message: format!(
                "{} is over the {INDEX_MAX_BYTES}-byte limit for an index",
                path.display()
            ),
        });
    }
    serde_json::from_slice(&bytes).map_err(|err| Error::InvalidInput {
        message: format!("{} is not an OCI image index: {err}", path.display()),
    })
}

/// A blob's bytes, at most `limit` of them, checked against its digest.
fn read_blob(dir: &Path, digest: &ContentDigest, limit: usize) -> Result<Vec<u8>, Error> {
    let path = blob_path(dir, digest);
    let file = std::fs::File::open(&path).map_err(io_error(&path))?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error(&path))?;
    if bytes.len() > limit {
        return Err(Error::InvalidInput {
            message: format!("{} is over the {limit}-byte limit", path.display()),
        });
    }
    let actual = ContentDigest::sha256(&bytes);
    if actual != *digest {
        return Err(Error::DigestMismatch {
            subject: path.display().to_string(),
            expected: *digest,
            actual,
        });
    }
    Ok(bytes)
}

/// An OCI image layout read as a registry that can only be read from, but for the
/// signatures attached to its releases.
#[derive(Debug)]
pub struct LayoutBackend {
    registry: Registry,
    dir: PathBuf,
    entries: Vec<LayoutEntry>,
}

impl LayoutBackend {
    /// The layout in `dir`, serving as `registry`.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file that cannot be read; [`Error::InvalidInput`] when
    /// `oci-layout` or `index.json` is not what the OCI image layout specification says.
    pub fn open(registry: Registry, dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        let index = read_index(&dir)?;
        let mut entries = Vec::new();
        for raw in index.manifests {
            let Ok(entry) = serde_json::from_value::<IndexEntry>(raw) else {
                continue;
            };
            let named = entry
                .annotations
                .get(REF_NAME)
                .and_then(|name| Some((name, parse_ref_name(name)?)));
            let (Some((name, (package, version))), Ok(manifest)) = (named, entry.digest.parse())
            else {
                tracing::debug!(digest = %entry.digest, "skipping a layout entry that names no package release");
                continue;
            };
            if !matches!(entry.media_type.as_str(), OCI_MANIFEST | OCI_INDEX | "")
                && !entry.media_type.contains("docker")
            {
                continue;
            }
            entries.push(LayoutEntry {
                package,
                version,
                manifest,
                ref_name: name.clone(),
            });
        }
        tracing::debug!(%registry, dir = %dir.display(), releases = entries.len(), "OCI layout");
        Ok(Self {
            registry,
            dir,
            entries,
        })
    }

    /// The layout named by `[registry."<name>".oci-layout] path = "..."`.
    ///
    /// # Errors
    /// [`Error::Config`] when the section has no `path`; as for [`open`](Self::open).
    pub fn from_config(config: &Config, registry: &Registry) -> Result<Self, Error> {
        let section = config.registry_settings(registry);
        match section.backend::<LayoutSettings>(BACKEND_NAME)? {
            Some(settings) => Self::open(registry.clone(), settings.value.path),
            None => Err(section
                .invalid(
                    BACKEND_NAME,
                    "path",
                    "the registry is an OCI layout but names no directory; add `path = \
                     \"/path/to/bundle\"`",
                )
                .into()),
        }
    }

    /// Every release in the layout, in `index.json` order.
    pub fn entries(&self) -> &[LayoutEntry] {
        &self.entries
    }

    /// The layout's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the blob with `digest` is (whether or not it exists).
    pub fn blob(&self, digest: &ContentDigest) -> PathBuf {
        blob_path(&self.dir, digest)
    }

    fn entry(&self, package: &PackageRef, version: &Version) -> Result<&LayoutEntry, Error> {
        let mut same = self.entries.iter().filter(|e| &e.package == package);
        let first = same.next().ok_or_else(|| Error::PackageNotFound {
            registry: self.registry.clone(),
            package: package.clone(),
        })?;
        std::iter::once(first)
            .chain(same)
            .find(|e| &e.version == version)
            .ok_or_else(|| Error::VersionNotFound {
                registry: self.registry.clone(),
                package: package.clone(),
                requirement: version.to_string(),
                newest: self.newest(package),
            })
    }

    fn newest(&self, package: &PackageRef) -> Option<Version> {
        self.entries
            .iter()
            .filter(|e| &e.package == package)
            .map(|e| e.version.clone())
            .max()
    }

    /// The release an entry describes.
    fn describe(&self, entry: &LayoutEntry) -> Result<Release, Error> {
        let (_, digest, size) = self.wasm_manifest(entry)?;
        Ok(Release::new(entry.version.clone(), digest).with_size(size))
    }

    /// The manifest an entry names, read (following an index one level), each manifest
    /// checked against its digest first: the bytes of the one holding the Wasm layer, the
    /// layer's digest and size.
    fn wasm_manifest(&self, entry: &LayoutEntry) -> Result<(Vec<u8>, ContentDigest, u64), Error> {
        let mut digest = entry.manifest;
        for _hop in 0..2 {
            let bytes = read_blob(&self.dir, &digest, MANIFEST_MAX_BYTES)?;
            let what = format!("{} in {}", entry.ref_name, self.dir.display());
            match manifest::parse(&bytes, &what).map_err(|m| Error::registry(&self.registry, m))? {
                // A titled layer's bytes are checked as every layer's are (`fetch_content`).
                Parsed::Layer { digest, size } | Parsed::TitledLayer { digest, size, .. } => {
                    return Ok((bytes, digest, size));
                }
                Parsed::Index { manifest } => {
                    digest = manifest.parse().map_err(|_| {
                        Error::registry(&self.registry, format!("{what}: bad digest {manifest}"))
                    })?;
                }
            }
        }
        Err(Error::registry(
            &self.registry,
            format!("{} is an index of indexes", entry.ref_name),
        ))
    }
}

#[async_trait]
impl Backend for LayoutBackend {
    async fn list_versions(&self, package: &PackageRef) -> Result<Vec<VersionInfo>, Error> {
        let mut versions: Vec<VersionInfo> = self
            .entries
            .iter()
            .filter(|e| &e.package == package)
            .map(|e| VersionInfo::new(e.version.clone()))
            .collect();
        if versions.is_empty() {
            return Err(Error::PackageNotFound {
                registry: self.registry.clone(),
                package: package.clone(),
            });
        }
        versions.sort();
        versions.dedup_by(|a, b| a.version == b.version);
        Ok(versions)
    }

    async fn get_release(&self, package: &PackageRef, version: &Version) -> Result<Release, Error> {
        self.describe(self.entry(package, version)?)
    }

    async fn fetch_content(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<ContentStream, Error> {
        // Any blob with the digest will do: a layout is content-addressed.
        let path = blob_path(&self.dir, &release.digest);
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::VersionNotFound {
                    registry: self.registry.clone(),
                    package: package.clone(),
                    requirement: format!("{} ({})", release.version, release.digest),
                    newest: None,
                });
            }
            Err(err) => return Err(Error::io(&path, err)),
        };
        let stream = Box::pin(crate::publish::file_chunks(file, move |err| {
            Error::io(&path, err)
        }));
        Ok(crate::magic::wasm_only(
            stream,
            &self.registry,
            package,
            release,
        ))
    }

    async fn publish(
        &self,
        package: &PackageRef,
        _version: &Version,
        _content: ContentReader,
        _options: &PublishOptions,
    ) -> Result<Release, Error> {
        Err(Error::Unsupported {
            registry: Some(self.registry.clone()),
            package: package.clone(),
            what: format!(
                "an OCI layout ({}) is read-only; write bundles with `wreg bundle export`",
                self.dir.display()
            ),
        })
    }

    async fn attestations(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<Option<Attestations>, Error> {
        self.find_attestations(package, release).map(Some)
    }

    async fn attach(
        &self,
        package: &PackageRef,
        release: &Release,
        bundle: bytes::Bytes,
    ) -> Result<String, Error> {
        self.attach_bundle(package, release, &bundle)
    }

    async fn container(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<Option<registry_core::Container>, Error> {
        self.copy_out(package, release).map(Some)
    }
}

/// Writes package releases into an OCI image layout, adding to one that exists. Blobs are
/// written under temporary names and renamed; `index.json` is replaced in one rename by
/// [`finish`](Self::finish), so an interrupted export leaves the previous index whole.
#[derive(Debug)]
pub struct LayoutWriter {
    dir: PathBuf,
    index: Index,
}

impl LayoutWriter {
    /// A writer for the layout in `dir` (created when missing; its entries are kept).
    ///
    /// # Errors
    /// [`Error::Io`] when the directory cannot be made; as for [`LayoutBackend::open`] when
    /// `dir` holds something that is not a layout.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        let index = if dir.join("oci-layout").exists() {
            read_index(&dir)?
        } else {
            if dir.exists()
                && std::fs::read_dir(&dir)
                    .map_err(io_error(&dir))?
                    .next()
                    .is_some()
                && !is_unfinished_new_layout(&dir)
            {
                return Err(Error::InvalidInput {
                    message: format!(
                        "{} is not empty and is not an OCI image layout; name a new or empty \
                         directory",
                        dir.display()
                    ),
                });
            }
            Index {
                schema_version: 2,
                media_type: Some(OCI_INDEX.to_owned()),
                manifests: Vec::new(),
            }
        };
        let blobs = dir.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs).map_err(io_error(&blobs))?;
        // Blobs a killed export was copying are not left in the bundle.
        registry_config::fs::remove_abandoned(&dir.join("blobs"), ".tmp-", "");
        // A new layout is a valid one at once (an empty index), so an export that fails
        // half way leaves a layout a later export can take up, never one without an index.
        if !dir.join("index.json").exists() {
            let text = serde_json::to_vec_pretty(&index).map_err(|err| Error::Io {
                path: Some(dir.join("index.json")),
                source: std::io::Error::other(err),
            })?;
            write_file(&dir.join("index.json"), &text)?;
        }
        write_file(
            &dir.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )?;
        Ok(Self { dir, index })
    }

    /// Adds `package@version`, whose verified content is the file `content` with `digest`.
    /// The manifest is the artifact a publish writes (dated 1970-01-01, so the same release
    /// always makes the same manifest); an entry of the same name is replaced.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file; [`Error::InvalidInput`] when the content is not Wasm.
    pub fn add(
        &mut self,
        package: &PackageRef,
        version: &Version,
        content: &Path,
        digest: &ContentDigest,
    ) -> Result<ContentDigest, Error> {
        let mut file = std::fs::File::open(content).map_err(io_error(content))?;
        let size = file.metadata().map_err(io_error(content))?.len();
        let info = WasmMetadata::read(&mut file).map_err(|err| Error::InvalidInput {
            message: format!("{package}@{version} ({}): {err}", content.display()),
        })?;
        self.put_content(content, digest)?;
        let artifact = Artifact::new(package, version, &info, digest, size, UNIX_EPOCH);
        let config: ContentDigest = artifact.config_digest.parse().expect("we wrote it");
        put_blob(&self.dir, &config, &artifact.config)?;
        let manifest = ContentDigest::sha256(&artifact.manifest);
        put_blob(&self.dir, &manifest, &artifact.manifest)?;
        self.set_entry(package, version, OCI_MANIFEST, &artifact.manifest);
        Ok(manifest)
    }

    /// Writes `index.json`; returns the layout's directory.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn finish(self) -> Result<PathBuf, Error> {
        let text = serde_json::to_vec_pretty(&self.index).expect("the index serializes");
        write_file(&self.dir.join("index.json"), &text)?;
        Ok(self.dir)
    }

    fn temp(&self) -> Result<tempfile::NamedTempFile, Error> {
        let blobs = self.dir.join("blobs");
        let temp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&blobs)
            .map_err(io_error(&blobs))?;
        registry_config::fs::claim(temp.as_file());
        Ok(temp)
    }
}

/// Writes the blob `bytes` with `digest` into the layout in `dir`, unless it is there.
fn put_blob(dir: &Path, digest: &ContentDigest, bytes: &[u8]) -> Result<(), Error> {
    let path = blob_path(dir, digest);
    if blob_is(&path, digest) {
        return Ok(());
    }
    write_file(&path, bytes)
}

/// Whether the file at `path` exists and hashes to `digest`.
fn blob_is(path: &Path, digest: &ContentDigest) -> bool {
    std::fs::File::open(path)
        .and_then(ContentDigest::sha256_reader)
        .is_ok_and(|actual| actual == *digest)
}

/// Writes `bytes` to `path` atomically, unsynced: every reader of a layout checks each
/// blob against its digest, and `index.json` names only blobs written before it.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    registry_config::fs::write_atomic(path, bytes, registry_config::fs::Durability::Renamed)
        .map_err(io_error(path))
}

/// Whether `dir` holds no more than what [`LayoutWriter::open`] makes before `oci-layout`
/// (a `blobs/` tree without files, an `index.json` that names nothing): a new layout whose
/// first open was cut short (killed), which the next export takes up.
fn is_unfinished_new_layout(dir: &Path) -> bool {
    fn holds_no_file(dir: &Path) -> bool {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .flatten()
                .all(|e| e.file_type().is_ok_and(|t| t.is_dir()) && holds_no_file(&e.path()))
        })
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries
        .flatten()
        .all(|entry| match entry.file_name().to_str() {
            Some("blobs") => holds_no_file(&entry.path()),
            Some("index.json") => std::fs::read(entry.path())
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Index>(&bytes).ok())
                .is_some_and(|index| index.manifests.is_empty()),
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_both_spellings() {
        let (package, version) = parse_ref_name("wasi:http@0.2.0").unwrap();
        assert_eq!(
            (package.to_string(), version.to_string()),
            ("wasi:http".into(), "0.2.0".into())
        );
        let (package, version) =
            parse_ref_name("ghcr.io/webassembly/wasi/http:0.2.0_build").unwrap();
        assert_eq!(
            (package.to_string(), version.to_string()),
            ("wasi:http".into(), "0.2.0+build".into())
        );
        assert_eq!(parse_ref_name("latest"), None);
        assert_eq!(parse_ref_name("wasi:http"), None);
        assert_eq!(parse_ref_name("repo:latest"), None);
    }

    #[test]
    fn a_writer_refuses_a_directory_that_is_not_a_layout() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        let err = LayoutWriter::open(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("is not empty and is not an OCI image layout"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_new_layout_whose_first_open_was_cut_short_is_taken_up() {
        // Killed after `blobs/sha256` was made, then after the empty index was written.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
        LayoutWriter::open(dir.path()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
        std::fs::write(
            dir.path().join("index.json"),
            r#"{"schemaVersion":2,"manifests":[]}"#,
        )
        .unwrap();
        LayoutWriter::open(dir.path()).unwrap();
        assert!(dir.path().join("oci-layout").is_file());
        // The control: anything more and it is not a layout of ours.
        for extra in ["blobs/sha256/abc", "index.json.bak"] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
            std::fs::write(dir.path().join(extra), "x").unwrap();
            let err = LayoutWriter::open(dir.path()).unwrap_err().to_string();
            assert!(err.contains("is not an OCI image layout"), "{extra}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("index.json"),
            r#"{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:00","size":1}]}"#,
        )
        .unwrap();
        assert!(LayoutWriter::open(dir.path()).is_err());
    }
}
