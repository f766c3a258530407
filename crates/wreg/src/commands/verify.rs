//! `wreg verify`: who signed a release, and whether the provenance policy accepts it.

use std::fmt;

use anyhow::Result;
use registry_client::Client;
use registry_client::provenance::Verified;
use registry_core::provenance::Signer;
use registry_core::{BareVersion, Error, PackageReq};
use serde::Serialize;

use super::{route, usage};
use crate::cli::{Global, VerifyArgs};
use crate::output::{self, Channel};

#[derive(Serialize)]
struct Report {
    package: String,
    version: String,
    registry: String,
    /// The manifest digest the signatures must name.
    manifest: Option<String>,
    policy: PolicyReport,
    bundles: Vec<BundleReport>,
    /// Sources that could not be asked.
    unavailable: Vec<Unavailable>,
    verified: bool,
    signer: Option<Signer>,
}

#[derive(Serialize)]
struct PolicyReport {
    /// The table it came from, e.g. `registry."ghcr.io".provenance`.
    table: String,
    /// Where that table is (file:line).
    origin: String,
    /// When it applies: `always`, `command`, `never`.
    verify: String,
    /// What it accepts, in words.
    expected: String,
}

#[derive(Serialize)]
struct BundleReport {
    /// The referrer manifest the bundle came in.
    source: String,
    /// The registry or mirror it was found on.
    registry: String,
    accepted: bool,
    /// Who signed it, when it verified at all.
    signer: Option<Signer>,
    predicate_type: Option<String>,
    logged_at: Option<String>,
    /// Why it was not accepted.
    reason: Option<String>,
}

#[derive(Serialize)]
struct Unavailable {
    registry: String,
    reason: String,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}@{} from {}",
            self.package, self.version, self.registry
        )?;
        if let Some(manifest) = &self.manifest {
            writeln!(f, "  manifest {manifest}")?;
        }
        writeln!(
            f,
            "  policy   {} ({}, verify = {})",
            self.policy.table, self.policy.origin, self.policy.verify
        )?;
        writeln!(f, "  expects  {}", self.policy.expected)?;
        if self.bundles.is_empty() {
            writeln!(f, "  no Sigstore bundle is attached")?;
        }
        for bundle in &self.bundles {
            let mark = if bundle.accepted { "ok  " } else { "FAIL" };
            writeln!(
                f,
                "  {mark} bundle {} on {}",
                bundle.source, bundle.registry
            )?;
            if let Some(signer) = &bundle.signer {
                writeln!(f, "       signed by {signer}")?;
            }
            if let Some(predicate) = &bundle.predicate_type {
                writeln!(f, "       statement {predicate}")?;
            }
            if let Some(logged) = &bundle.logged_at {
                writeln!(f, "       logged at {logged}")?;
            }
            if let Some(reason) = &bundle.reason {
                writeln!(f, "       {reason}")?;
            }
        }
        for source in &self.unavailable {
            writeln!(
                f,
                "  {} could not be asked: {}",
                source.registry, source.reason
            )?;
        }
        match &self.signer {
            Some(signer) => write!(f, "verified: signed by {signer}"),
            None => write!(f, "not verified"),
        }
    }
}

pub(super) async fn run(client: &Client, global: &Global, args: &VerifyArgs) -> Result<()> {
    let req = PackageReq::parse_with(&args.package, BareVersion::Exact).map_err(usage)?;
    let route = route(client, &req.package, args.registry.as_deref()).await?;
    let Some(policy) = route.provenance_policy()? else {
        return Err(Error::InvalidInput {
            message: format!(
                "no provenance policy applies to {} on {}: say whose signatures to accept, \
                 e.g.\n\n  [registry.\"{}\".provenance]\n  identity_regexp = \
                 '^https://github\\.com/<org>/'\n  issuer = \
                 \"https://token.actions.githubusercontent.com\"\n\n(see docs/provenance.md)",
                req.package,
                route.registry(),
                route.registry()
            ),
        }
        .into());
    };
    let release = route.resolve(&req.requirement).await?;
    let policy_report = PolicyReport {
        table: policy.config.table().to_string(),
        origin: policy.config.origin_of("verify").to_string(),
        verify: policy.verify.to_string(),
        expected: format!("{} under {}", policy.allowed, policy.trust.name()),
    };
    let checked = route.check_provenance(&release, policy, None).await?;
    let signer = checked.accepted().map(|p| p.signer);
    let bundles = checked
        .bundles
        .iter()
        .map(|(registry, outcome)| {
            let verified: Option<&Verified> = outcome.verified.as_ref();
            BundleReport {
                source: outcome.source.clone(),
                registry: registry.to_string(),
                accepted: outcome.accepted,
                signer: verified.map(|v| v.signer.clone()),
                predicate_type: verified.and_then(|v| v.predicate_type.clone()),
                logged_at: verified.and_then(|v| v.logged_at.clone()),
                reason: outcome.reason.clone(),
            }
        })
        .collect();
    let report = Report {
        package: req.package.to_string(),
        version: release.version.to_string(),
        registry: route.registry().to_string(),
        manifest: checked.subject.map(|s| s.to_string()),
        policy: policy_report,
        bundles,
        unavailable: checked
            .failures
            .iter()
            .map(|(registry, reason)| Unavailable {
                registry: registry.to_string(),
                reason: reason.clone(),
            })
            .collect(),
        verified: signer.is_some(),
        signer,
    };
    output::print(global, &report, Channel::Data)?;
    if report.verified {
        return Ok(());
    }
    Err(route.rejected(&release, &checked, None).into())
}
