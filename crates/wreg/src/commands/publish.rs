//! `wreg publish`: a component or WIT package, named by `--package` or by itself.

use std::fmt;

use anyhow::{Context as _, Result};
use std::path::Path;

use registry_client::wkg_manifest::WkgManifest;
use registry_client::{Client, wit};
use registry_core::{ContentDigest, PackageSpec, PublishOptions};
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
        if self.dry_run {
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
    let given: Option<PackageSpec> = args
        .package
        .as_deref()
        .map(|spec| spec.parse().map_err(usage))
        .transpose()?;
    // The file's metadata is read (once) only when `--package` leaves something out.
    let spec = match given {
        Some(spec) if spec.version.is_some() => spec,
        Some(mut spec) => {
            spec.version = wit::read_metadata(&args.file)?.version();
            spec
        }
        None => wit::package_of(&args.file, &wit::read_metadata(&args.file)?)?,
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
    let file = tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let size = file.metadata().await?.len();
    let route = route(client, &spec.package, args.registry.as_deref()).await?;
    let mut report = Published {
        package: spec.package.to_string(),
        version: version.to_string(),
        digest: String::new(),
        size: Some(size),
        registry: route.registry().to_string(),
        dry_run: args.dry_run,
    };
    if args.dry_run {
        let bytes = tokio::fs::read(&args.file).await?;
        if !bytes.starts_with(b"\0asm") {
            return Err(usage(format!("{} is not WebAssembly", args.file.display())));
        }
        report.digest = ContentDigest::sha256(&bytes).to_string();
        return output::print(global, &report, Channel::Status);
    }
    let mut options = PublishOptions::default().with_size(size);
    // `wkg.toml` in the working directory (and its workspace root): its `[metadata]` wins
    // over the component's own, as with `wkg publish`.
    if let Some(manifest) = WkgManifest::find(Path::new("."))? {
        options = options.with_metadata(manifest.publish_metadata());
    }
    let release = route.publish(&version, Box::pin(file), &options).await?;
    report.digest = release.digest.to_string();
    report.size = release.size;
    output::print(global, &report, Channel::Status)
}
