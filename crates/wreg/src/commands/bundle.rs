//! `wreg bundle export|import`: releases into an OCI image layout, and from one into a
//! registry.

use std::fmt;

use anyhow::{Result, bail};
use registry_client::bundle::{self, BundleRequest, Bundled};
use registry_client::{Client, LockFile};
use registry_core::PackageSpec;
use serde::Serialize;

use super::{registry_flag, usage};
use crate::cli::{BundleCommand, Global};
use crate::output::{self, Channel};

/// What a bundle command did, one release per line.
#[derive(Serialize)]
struct Report {
    dir: String,
    releases: Vec<Bundled>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.releases {
            write!(f, "{}@{} {} ({})", r.package, r.version, r.action, r.digest)?;
            match r.signatures {
                0 => writeln!(f)?,
                1 => writeln!(f, ", 1 signature")?,
                n => writeln!(f, ", {n} signatures")?,
            }
        }
        let signatures: usize = self.releases.iter().map(|r| r.signatures).sum();
        write!(
            f,
            "{} release(s), {signatures} signature(s), {}",
            self.releases.len(),
            self.dir
        )
    }
}

pub(super) async fn run(command: BundleCommand, client: &Client, global: &Global) -> Result<()> {
    let (dir, releases) = match command {
        BundleCommand::Export(args) => {
            let registry = registry_flag(args.registry.as_deref())?;
            let requests = if args.packages.is_empty() {
                let Some(lock) = LockFile::load(&args.lock)? else {
                    bail!(
                        "{} does not exist; name releases (`wreg bundle export DIR \
                         ns:name@1.0.0`) or point --lock at a lock file",
                        args.lock.display()
                    );
                };
                BundleRequest::from_lock(&lock)?
            } else {
                args.packages
                    .iter()
                    .map(|text| {
                        let spec: PackageSpec = text.parse().map_err(usage)?;
                        let version = spec.version.ok_or_else(|| {
                            usage(format!(
                                "`{text}`: name an exact release, e.g. {text}@1.0.0"
                            ))
                        })?;
                        Ok(BundleRequest {
                            package: spec.package,
                            version,
                            registry: registry.clone(),
                            digest: None,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?
            };
            let releases = bundle::export(client, &requests, &args.dir).await?;
            (args.dir, releases)
        }
        BundleCommand::Import(args) => {
            let registry = registry_flag(args.registry.as_deref())?;
            let releases = bundle::import(client, &args.dir, registry.as_ref()).await?;
            (args.dir, releases)
        }
    };
    let report = Report {
        dir: dir.display().to_string(),
        releases,
    };
    output::print(global, &report, Channel::Status)
}
