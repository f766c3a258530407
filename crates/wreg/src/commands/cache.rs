//! `wreg cache`: list, verify and clean the verified cache.

use std::fmt;
use std::time::Duration;

use anyhow::Result;
use registry_client::Client;
use serde::Serialize;

use super::usage;
use crate::cli::{CacheCommand, Global};
use crate::output::{self, Channel};

#[derive(Serialize)]
struct Entry {
    digest: String,
    size: u64,
    path: String,
}

/// `cache ls`: one line per entry.
#[derive(Serialize)]
#[serde(transparent)]
struct Listing(Vec<Entry>);

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for entry in &self.0 {
            writeln!(f, "{} {}", entry.digest, entry.size)?;
        }
        Ok(())
    }
}

/// The line under the listing, on stderr.
#[derive(Serialize)]
struct Summary {
    entries: usize,
    bytes: u64,
    dir: String,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            entries,
            bytes,
            dir,
        } = self;
        write!(f, "{entries} entries, {bytes} bytes in {dir}")
    }
}

#[derive(Serialize)]
struct Verified {
    checked: usize,
    removed: Vec<String>,
}

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (checked, removed) = (self.checked, self.removed.len());
        writeln!(f, "checked {checked} entries, removed {removed} corrupt")?;
        for digest in &self.removed {
            writeln!(f, "removed {digest}")?;
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct Cleaned {
    removed: usize,
    listed: usize,
}

impl fmt::Display for Cleaned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "removed {} of {} entries", self.removed, self.listed)
    }
}

pub(super) async fn run(command: CacheCommand, client: &Client, global: &Global) -> Result<()> {
    let cache = client.cache();
    match command {
        CacheCommand::Ls => {
            let entries = cache.entries().await?;
            let listing = Listing(
                entries
                    .iter()
                    .map(|e| Entry {
                        digest: e.digest.to_string(),
                        size: e.size,
                        path: e.path.display().to_string(),
                    })
                    .collect(),
            );
            output::print(global, &listing, Channel::Data)?;
            let summary = Summary {
                entries: entries.len(),
                bytes: entries.iter().map(|e| e.size).sum(),
                dir: cache.dir().display().to_string(),
            };
            if !global.json {
                output::print(global, &summary, Channel::Aside)?;
            }
            Ok(())
        }
        CacheCommand::Verify => {
            let entries = cache.entries().await?;
            let mut removed = Vec::new();
            for entry in &entries {
                // Every byte hashed, whatever the entry's stamp says.
                if !cache.verify(&entry.digest, None).await? {
                    removed.push(entry.digest.to_string());
                }
            }
            let report = Verified {
                checked: entries.len(),
                removed,
            };
            output::print(global, &report, Channel::Status)
        }
        CacheCommand::Clean { older_than } => {
            let age = older_than.as_deref().map(parse_duration).transpose()?;
            // Safe beside other processes using the cache: downloads in progress land,
            // readers keep their bytes.
            let cleaned = cache.clean(age).await?;
            let report = Cleaned {
                removed: cleaned.removed,
                listed: cleaned.listed,
            };
            output::print(global, &report, Channel::Status)
        }
    }
}

fn parse_duration(text: &str) -> Result<Duration> {
    let bad = || {
        usage(format!(
            "`{text}` is not a duration; write e.g. 7d, 12h, 30m or 45s"
        ))
    };
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(secs))
}
