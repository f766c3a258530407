//! `wreg publish`: a component or WIT package, named by `--package` or by itself.

use std::fmt;

use anyhow::{Context as _, Result};
use std::path::Path;

use registry_client::wkg_manifest::WkgManifest;
use registry_client::{Client, Route, wit};
use registry_core::{ContentDigest, Error, PackageSpec, PublishOptions, Version};
use serde::Serialize;

use super::{route, usage};
use crate::cli::{Global, PublishArgs};
use crate::output::{self, Channel};

/// What was (or, with `--dry-run`, would be) published.
#[derive(Serialize)]
struct Published {
    package: String,
    version: String,
    digest: String,
    size: Option<u64>,
    registry: String,
    dry_run: bool,
    /// Already published with the same bytes (`--skip-existing`): nothing was uploaded.
    skipped: bool,
}

impl fmt::Display for Published {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            package,
            version,
            digest,
            registry,
            ..
        } = self;
        if self.skipped {
            writeln!(
                f,
                "{package}@{version} is already published to {registry} with the same bytes \
                 ({digest}); nothing uploaded"
            )
        } else if self.dry_run {
            let size = self.size.unwrap_or_default();
            writeln!(
                f,
                "would publish {package}@{version} ({size} bytes, {digest}) to {registry}"
            )
        } else {
            writeln!(f, "published {package}@{version} {digest} to {registry}")
        }
    }
}

pub(super) async fn run(client: &Client, global: &Global, args: &PublishArgs) -> Result<()> {
    // A WIT directory is built first (as `wit build` does) into a temporary file.
    let built;
    let file: &Path = if args.file.is_dir() {
        let package = super::wit::build(client, &args.file, &args.lock).await?;
        let mut temp = tempfile::Builder::new()
            .prefix("wreg-publish.")
            .suffix(".wasm")
            .tempfile()?;
        std::io::Write::write_all(&mut temp, &package.bytes)?;
        built = temp.into_temp_path();
        &built
    } else {
        &args.file
    };
    let given: Option<PackageSpec> = args
        .package
        .as_deref()
        .map(|spec| spec.parse().map_err(usage))
        .transpose()?;
    // The file's metadata is read (once) only when `--package` leaves something out.
    let spec = match given {
        Some(spec) if spec.version.is_some() => spec,
        Some(mut spec) => {
            spec.version = wit::read_metadata(file)?.version();
            spec
        }
        None => wit::package_of(file, &wit::read_metadata(file)?)?,
    };
    let Some(version) = spec.version else {
        let (package, file) = (&spec.package, args.file.display());
        return Err(usage(match args.package {
            Some(_) => format!(
                "--package {package} has no version, and {file} has no `version` metadata; \
                 write {package}@1.0.0"
            ),
            None => format!(
                "{file} names itself {package} but has no `version` metadata; give --package \
                 {package}@1.0.0"
            ),
        }));
    };
    let (size, digest, small) = inspect(file).await?;
    let route = route(client, &spec.package, args.registry.as_deref()).await?;
    let mut report = Published {
        package: spec.package.to_string(),
        version: version.to_string(),
        digest: digest.to_string(),
        size: Some(size),
        registry: route.registry().to_string(),
        dry_run: args.dry_run,
        skipped: false,
    };
    let published = published_versions(&route).await?;
    if published.contains(&version) {
        let existing = route.release(&version).await?;
        if args.skip_existing && existing.digest == digest {
            report.skipped = true;
            return output::print(global, &report, Channel::Status);
        }
        let hint = if existing.digest == digest {
            "the same bytes; --skip-existing makes that a success"
        } else {
            "different bytes; publish a new version"
        };
        return Err(usage(format!(
            "{}@{version} is already published in {} ({}), with {hint}",
            spec.package,
            route.registry(),
            existing.digest
        )));
    }
    if !args.skip_semver_check
        && let Some(bytes) = &small
    {
        check_semver(&route, &published, &version, bytes).await?;
    }
    if args.dry_run {
        return output::print(global, &report, Channel::Status);
    }
    let mut options = PublishOptions::default().with_size(size);
    // `wkg.toml` in the working directory (and its workspace root): its `[metadata]` wins
    // over the component's own, as with `wkg publish`.
    if let Some(manifest) = WkgManifest::find(Path::new("."))? {
        options = options.with_metadata(manifest.publish_metadata());
    }
    let content = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let release = route.publish(&version, Box::pin(content), &options).await?;
    report.digest = release.digest.to_string();
    report.size = release.size;
    output::print(global, &report, Channel::Status)
}

/// Files up to this size are read whole to check WIT compatibility (WIT packages are a few
/// KiB; components are not checked).
const SMALL: u64 = 8 * 1024 * 1024;

/// The file's size and digest (read in constant memory), and its bytes when it is small.
async fn inspect(file: &Path) -> Result<(u64, ContentDigest, Option<Vec<u8>>)> {
    let path = file.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Read as _;
        let mut f = std::fs::File::open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let size = f.metadata()?.len();
        let mut magic = [0; 4];
        if f.read_exact(&mut magic).is_err() || &magic != b"\0asm" {
            return Err(usage(format!("{} is not WebAssembly", path.display())));
        }
        if size <= SMALL {
            let bytes = std::fs::read(&path)?;
            return Ok((size, ContentDigest::sha256(&bytes), Some(bytes)));
        }
        let f = std::fs::File::open(&path)?;
        Ok((size, ContentDigest::sha256_reader(f)?, None))
    })
    .await?
}

/// The versions already published (none when the package does not exist yet).
async fn published_versions(route: &Route) -> Result<Vec<Version>> {
    match route.list_versions().await {
        Ok(versions) => Ok(versions.into_iter().map(|v| v.version).collect()),
        Err(Error::PackageNotFound { .. }) => Ok(Vec::new()),
        Err(err) => Err(err.into()),
    }
}

/// The release a new version must stay compatible with: the newest earlier one in its
/// major line (for 0.x, its minor line, as cargo counts).
fn previous_in_line<'a>(published: &'a [Version], version: &Version) -> Option<&'a Version> {
    let line = |v: &Version| {
        if v.major == 0 {
            (0, v.minor)
        } else {
            (v.major, 0)
        }
    };
    published
        .iter()
        .filter(|v| *v < version && line(v) == line(version) && v.pre.is_empty())
        .max()
}

/// Refuses a WIT package that removes or changes items of the previous release in its
/// major line. Components are not checked.
async fn check_semver(
    route: &Route,
    published: &[Version],
    version: &Version,
    bytes: &[u8],
) -> Result<()> {
    if !wit::is_wit_package(bytes) {
        return Ok(());
    }
    let Some(previous) = previous_in_line(published, version) else {
        return Ok(());
    };
    let release = route.release(previous).await?;
    let old = route.fetch_open(&release).await?.read().await?;
    if !wit::is_wit_package(&old) {
        return Ok(());
    }
    let found = wit::incompatibilities(&old, bytes)?;
    if found.is_empty() {
        return Ok(());
    }
    let package = route.package();
    let list: Vec<String> = found.iter().map(|i| format!("  - {i}")).collect();
    let next = if version.major == 0 {
        Version::new(0, version.minor + 1, 0)
    } else {
        Version::new(version.major + 1, 0, 0)
    };
    Err(usage(format!(
        "{package}@{version} is not compatible with {package}@{previous}, the previous release \
         in its line:\n{}\npublish it as {package}@{next}, or pass --skip-semver-check",
        list.join("\n")
    )))
}
