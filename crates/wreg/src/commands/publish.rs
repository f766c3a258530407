//! `wreg publish`: components or WIT packages, named by `--package` or by themselves; several
//! paths one by one, in the order of [`plan`](super::plan).

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use registry_client::provenance::{ManagedKey, SigningKey};
use registry_client::wkg_manifest::WkgManifest;
use registry_client::{Client, Route};
use registry_core::{PackageRef, PackageSpec, PublishOptions, Version};
use registry_wit::{self as wit, PublishRequest};
use serde::Serialize;
use tempfile::TempPath;

use super::plan::{self, Item};
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
    /// Who the signature attached by `--sign`/`--sign-key` proves signed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    signed_by: Option<registry_core::provenance::Signer>,
    /// The referrer the signature was attached as.
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
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
        }?;
        if let (Some(signer), Some(signature)) = (&self.signed_by, &self.signature) {
            writeln!(f, "  signed by {signer}; signature attached as {signature}")?;
        }
        Ok(())
    }
}

/// What a publish of several paths did: those published (or that would be), in order,
/// and the paths left unpublished after a failure, the failed one first.
#[derive(Serialize)]
struct PublishedMany {
    published: Vec<Published>,
    not_published: Vec<String>,
}

impl fmt::Display for PublishedMany {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for published in &self.published {
            write!(f, "{published}")?;
        }
        if let Some((failed, rest)) = self.not_published.split_first() {
            write!(f, "not published: {failed} (failed, see below)")?;
            for path in rest {
                write!(f, ", {path}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// One path, checked and ready to go: built if it was a directory, named, routed.
struct Prepared {
    file: PathBuf,
    _built: Option<TempPath>,
    package: PackageRef,
    version: Version,
    route: Route,
}

pub(super) async fn run(client: &Client, global: &Global, args: &PublishArgs) -> Result<()> {
    if args.workspace {
        return super::workspace::publish(client, global, args).await;
    }
    match &args.paths[..] {
        [] => Err(usage(
            "nothing to publish: give a component or WIT package file, or a WIT directory (or --workspace for every member of a wkg.toml workspace)",
        )),
        [path] => {
            let wit_dir = path.is_dir().then(|| path.clone());
            let item = Item {
                path: path.clone(),
                wit_dir,
                package: None,
                uses: Vec::new(),
            };
            let prepared = prepare(client, global, args, &item, &[]).await?;
            let report = push(&prepared, args).await?;
            output::print(global, &report, Channel::Status)
        }
        paths => {
            if let Some(package) = &args.package {
                // The flag wins over the variable: the value says which one it came from.
                let from = if std::env::var_os("WKG_PACKAGE")
                    .is_some_and(|value| value == package.as_str())
                {
                    "WKG_PACKAGE"
                } else {
                    "--package"
                };
                return Err(usage(format!(
                    "{from} ({package}) names the package of one path, and {} paths are \
                     given; each of several must name itself (publish them one by one to \
                     name each, or unset {from})",
                    paths.len()
                )));
            }
            let items = paths
                .iter()
                .map(|p| Item::new(p, p.is_dir().then(|| p.clone())))
                .collect::<Result<Vec<_>>>()?;
            many(client, global, args, plan::order(items)?).await
        }
    }
}

/// Publishes `items` in order: all are built and checked first (a failure there publishes
/// nothing), then each is published; the first failure stops the rest, those before it
/// stay published, and the report says which were and which were not.
pub(super) async fn many(
    client: &Client,
    global: &Global,
    args: &PublishArgs,
    items: Vec<Item>,
) -> Result<()> {
    let local = plan::local_packages(&items);
    let mut prepared = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match prepare(client, global, args, item, &local).await {
            Ok(ready) => prepared.push(ready),
            Err(err) => {
                // Nothing is published: the failed one first, then every other.
                let mut rest = vec![items[i].clone()];
                rest.extend(
                    items
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, o)| o.clone()),
                );
                return stop(global, Vec::new(), &rest, err);
            }
        }
    }
    let mut published = Vec::with_capacity(items.len());
    for (i, ready) in prepared.iter().enumerate() {
        match push(ready, args).await {
            Ok(report) => published.push(report),
            Err(err) => return stop(global, published, &items[i..], err),
        }
    }
    let report = PublishedMany {
        published,
        not_published: Vec::new(),
    };
    output::print(global, &report, Channel::Status)
}

/// Reports what was published and what not, and returns `err` (its exit code is the run's).
fn stop(
    global: &Global,
    published: Vec<Published>,
    rest: &[Item],
    err: anyhow::Error,
) -> Result<()> {
    let report = PublishedMany {
        published,
        not_published: rest.iter().map(|i| i.path.display().to_string()).collect(),
    };
    output::print(global, &report, Channel::Status)?;
    Err(err)
}

/// Builds `item` if it is a WIT directory (the packages in `local` taken from their
/// directories), names it and works out its route.
async fn prepare(
    client: &Client,
    global: &Global,
    args: &PublishArgs,
    item: &Item,
    local: &[(PackageRef, PathBuf)],
) -> Result<Prepared> {
    // A WIT directory is built first (as `wit build` does) into a temporary file.
    let (file, built) = match &item.wit_dir {
        Some(dir) => {
            let package = super::wit::build_with(client, global, dir, &args.lock, local).await?;
            let mut temp = tempfile::Builder::new()
                .prefix("wreg-publish.")
                .suffix(".wasm")
                .tempfile()?;
            std::io::Write::write_all(&mut temp, &package.bytes)?;
            let built = temp.into_temp_path();
            (built.to_path_buf(), Some(built))
        }
        None => (item.path.clone(), None),
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
            spec.version = wit::read_metadata(&file)?.version();
            spec
        }
        None => wit::package_of(&file, &wit::read_metadata(&file)?)?,
    };
    let Some(version) = spec.version else {
        let (package, file) = (&spec.package, item.path.display());
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
    Ok(Prepared {
        file,
        _built: built,
        package: spec.package,
        version,
        route,
    })
}

/// Publishes one prepared path (or, with `--dry-run`, checks it all the same).
async fn push(prepared: &Prepared, args: &PublishArgs) -> Result<Published> {
    let mut options = PublishOptions::default();
    // `wkg.toml` in the working directory (and its workspace root): its `[metadata]` wins
    // over the component's own, as with `wkg publish`.
    if let Some(manifest) = WkgManifest::find(Path::new("."))? {
        options = options.with_metadata(manifest.publish_metadata());
    }
    let request = PublishRequest::new(prepared.version.clone(), &prepared.file)
        .with_options(options)
        .skip_semver_check(args.skip_semver_check)
        .skip_existing(args.skip_existing)
        .dry_run(args.dry_run);
    let key = signing_key(args, &prepared.route)?;
    let published = wit::publish(&prepared.route, &request).await?;
    let release = published.release();
    let signed = match (&key, &published) {
        (Some(key), wit::Published::Uploaded(_) | wit::Published::Existing(_)) => {
            Some(prepared.route.sign_release(release, key).await?)
        }
        _ => None,
    };
    Ok(Published {
        signed_by: signed.as_ref().map(|s| s.provenance.signer.clone()),
        signature: signed.map(|s| s.referrer),
        package: prepared.package.to_string(),
        version: prepared.version.to_string(),
        digest: release.digest.to_string(),
        size: release.size,
        registry: prepared.route.registry().to_string(),
        dry_run: matches!(published, wit::Published::DryRun(_)),
        skipped: matches!(published, wit::Published::Existing(_)),
    })
}

/// The key `--sign`/`--sign-key` ask for, read before anything is published: keyless with
/// the OIDC token in `SIGSTORE_ID_TOKEN` (the variable cosign reads), or a key file.
fn signing_key(args: &PublishArgs, route: &Route) -> Result<Option<SigningKey>> {
    if !args.sign && args.sign_key.is_none() {
        return Ok(None);
    }
    let policy = route
        .client()
        .config()
        .provenance(route.registry(), route.package())?;
    let (fulcio_url, rekor_url) = registry_client::signing_services(policy.as_ref());
    if let Some(path) = &args.sign_key {
        let key = ManagedKey::read(path)?;
        return Ok(Some(SigningKey::Key {
            key,
            rekor_url: Some(rekor_url),
        }));
    }
    let token = std::env::var("SIGSTORE_ID_TOKEN").unwrap_or_default();
    if token.trim().is_empty() {
        return Err(usage(
            "--sign signs keyless, with an OIDC identity token in SIGSTORE_ID_TOKEN (in GitHub \
             Actions: `permissions: id-token: write`, then request one with audience \
             `sigstore`); or sign with a key: --sign-key key.pem",
        ));
    }
    Ok(Some(SigningKey::Keyless {
        fulcio_url,
        rekor_url,
        oidc_token: registry_core::Secret::new(token.trim().to_owned()),
    }))
}
