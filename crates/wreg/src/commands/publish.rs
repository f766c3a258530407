//! `wreg publish`: a component or WIT package, named by `--package` or by itself.

use std::fmt;

use anyhow::Result;
use std::path::Path;

use registry_client::Client;
use registry_client::wkg_manifest::WkgManifest;
use registry_core::{PackageSpec, PublishOptions};
use registry_wit::{self as wit, PublishRequest};
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
        let package = super::wit::build(client, global, &args.file, &args.lock).await?;
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
    let route = route(client, &spec.package, args.registry.as_deref()).await?;
    let mut options = PublishOptions::default();
    // `wkg.toml` in the working directory (and its workspace root): its `[metadata]` wins
    // over the component's own, as with `wkg publish`.
    if let Some(manifest) = WkgManifest::find(Path::new("."))? {
        options = options.with_metadata(manifest.publish_metadata());
    }
    let request = PublishRequest::new(version.clone(), file)
        .with_options(options)
        .skip_semver_check(args.skip_semver_check)
        .skip_existing(args.skip_existing)
        .dry_run(args.dry_run);
    let published = wit::publish(&route, &request).await?;
    let release = published.release();
    let report = Published {
        package: spec.package.to_string(),
        version: version.to_string(),
        digest: release.digest.to_string(),
        size: release.size,
        registry: route.registry().to_string(),
        dry_run: matches!(published, wit::Published::DryRun(_)),
        skipped: matches!(published, wit::Published::Existing(_)),
    };
    output::print(global, &report, Channel::Status)
}
