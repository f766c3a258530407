//! `wreg versions`: a package's releases, newest first, yanked ones marked.

use std::fmt;

use anyhow::Result;
use registry_client::Client;
use registry_core::PackageRef;
use serde::Serialize;

use super::{route, usage};
use crate::cli::{Global, VersionsArgs};
use crate::output::{self, Channel};

#[derive(Serialize)]
struct Version {
    version: String,
    yanked: bool,
}

/// The list, as a JSON array or one line per version.
#[derive(Serialize)]
#[serde(transparent)]
struct Versions(Vec<Version>);

impl fmt::Display for Versions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for v in &self.0 {
            let yanked = if v.yanked { " (yanked)" } else { "" };
            writeln!(f, "{}{yanked}", v.version)?;
        }
        Ok(())
    }
}

pub(super) async fn run(client: &Client, global: &Global, args: &VersionsArgs) -> Result<()> {
    let package: PackageRef = args.package.parse().map_err(usage)?;
    let route = route(client, &package, args.registry.as_deref()).await?;
    let mut versions = route.list_versions().await?;
    versions.sort_by(|a, b| b.version.cmp(&a.version));
    let report = Versions(
        versions
            .into_iter()
            .map(|v| Version {
                version: v.version.to_string(),
                yanked: v.yanked,
            })
            .collect(),
    );
    output::print(global, &report, Channel::Data)
}
