//! `wreg get`: one package, resolved, fetched through the verified cache, written out.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use registry_client::{Client, Route};
use registry_core::{BareVersion, PackageReq, Release};
use serde::Serialize;
use tokio::io::AsyncWriteExt as _;

use super::{route, usage};
use crate::cli::{GetArgs, GetFormat, Global};
use crate::output::{self, Channel};

/// What `get` wrote.
#[derive(Serialize)]
struct Got {
    package: String,
    version: String,
    digest: String,
    size: Option<u64>,
    /// `None` when written to stdout.
    path: Option<String>,
}

impl fmt::Display for Got {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{} {}", self.package, self.version, self.digest)?;
        match &self.path {
            Some(path) => writeln!(f, " -> {path}"),
            None => writeln!(f),
        }
    }
}

pub(super) async fn run(client: &Client, global: &Global, args: &GetArgs) -> Result<()> {
    // As with `wkg get`, `ns:name@1.2.3` names that release exactly.
    let req = PackageReq::parse_with(&args.package, BareVersion::Exact).map_err(usage)?;
    let route = route(client, &req.package, args.registry.as_deref()).await?;
    let release = route.resolve(&req.requirement).await?;
    // Under a provenance policy, nothing is written before the signature is accepted.
    route.enforce_provenance(&release, None).await?;
    let package = route.package();
    let as_wit = args.format == GetFormat::Wit;
    let file_name = format!(
        "{}_{}@{}.{}",
        package.namespace(),
        package.name(),
        release.version,
        if as_wit { "wit" } else { "wasm" }
    );
    let output = args.output.as_deref();
    let to_stdout = output == Some(Path::new("-"));
    let dest = match output {
        _ if to_stdout => None,
        Some(path) if path.is_dir() => Some(path.join(file_name)),
        Some(path) => Some(path.to_owned()),
        None => Some(PathBuf::from(file_name)),
    };
    match &dest {
        _ if as_wit => {
            let bytes = route.fetch_open(&release).await?.read().await?;
            let what = format!("{package}@{}", release.version);
            let text = registry_wit::print_package(&bytes, &what)?;
            match &dest {
                Some(dest) => crate::output::write_file(dest, text.as_bytes())?,
                None => {
                    let mut stdout = tokio::io::stdout();
                    stdout.write_all(text.as_bytes()).await?;
                    stdout.flush().await?;
                }
            }
        }
        None => {
            let cached = route.fetch_open(&release).await?;
            let mut file = tokio::fs::File::from_std(cached.into_file());
            let mut stdout = tokio::io::stdout();
            tokio::io::copy(&mut file, &mut stdout).await?;
            stdout.flush().await?;
        }
        // A warm cache is copied out (verified on the way) without a second pass; a missing
        // or corrupt entry is fetched (verified on the way in), then copied from the still
        // open file.
        Some(dest) => copy_out(&route, &release, dest).await?,
    }
    let report = Got {
        package: package.to_string(),
        version: release.version.to_string(),
        digest: release.digest.to_string(),
        size: release.size,
        path: dest.as_ref().map(|d| d.display().to_string()),
    };
    let channel = if to_stdout {
        Channel::Aside
    } else {
        Channel::Status
    };
    output::print(global, &report, channel)
}

/// Writes `release`'s verified bytes to `dest`: copied from the cache, hashed on the way;
/// when the entry is missing (never fetched, or removed by a concurrent clean) or corrupt,
/// fetched and copied from the file it was verified into.
async fn copy_out(route: &Route, release: &Release, dest: &Path) -> Result<()> {
    let cache = route.client().cache();
    if !cache
        .copy_verified(&release.digest, release.size, dest)
        .await?
    {
        route.fetch_open(release).await?.copy_to(dest).await?;
    }
    Ok(())
}
