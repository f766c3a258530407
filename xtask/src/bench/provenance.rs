//! What a provenance policy costs: 100 WIT packages, each signed keyless (sigstore-js's mock
//! Fulcio and Rekor on loopback) and its bundle attached by the `sha256-<hex>` tag, fetched
//! cold on loopback without a policy and with `verify = "always"` (every bundle found,
//! fetched and verified: certificate chain, SCT, log inclusion proof and promise, DSSE
//! signature, subject). Every file is checked against its digest after each run, and the
//! policy run's lock file must pin a signer for each package.

use std::path::Path;

use anyhow::{Result, bail};
use test_support::sigstore::MockInstance;

use super::many::{api_app, check_api_packages, publish_api_packages_with};
use super::{Row, Sample, Stage, measure, more_runs, push_medians, wreg_in_app};

const COUNT: usize = 100;
const IDENTITY: &str = "ci@bench.example";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

pub(super) fn provenance_cost(rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<()> {
    let stage = Stage::start()?;
    let (dir, home) = (stage.dir(), &stage.home);
    let sigstore = MockInstance::start(IDENTITY, ISSUER);
    let plain = &stage.direct;
    let base = std::fs::read_to_string(plain)?;
    let host = base
        .split('"')
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("no registry in {plain}"))?
        .to_owned();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, format!("{base}\n{}", sigstore.policy(&host)))?;
    let policy = policy.display().to_string();
    let digests = publish_api_packages_with(COUNT, home, &policy, dir, |publish| {
        publish
            .arg("--sign")
            .env("SIGSTORE_ID_TOKEN", &sigstore.token);
    })?;
    notes.push(format!(
        "Provenance: {COUNT} WIT packages, each signed keyless at publish (`wreg publish \
         --sign` against sigstore-js's mock Fulcio and Rekor) and its bundle attached by the \
         `sha256-<hex>` tag (docker-registry has no referrers API), fetched cold on loopback \
         (`wreg fetch --wit`) without a policy and with `verify = \"always\"`; each run's \
         files are checked against their digests, and the policy run's lock file must pin \
         {COUNT} signers"
    ));
    let mut samples: Vec<(String, Vec<Sample>)> = vec![
        ("ours, no policy".into(), Vec::new()),
        ("ours, verify = always".into(), Vec::new()),
    ];
    let mut app_number = 0;
    let mut run = 0;
    while more_runs(run, &samples) {
        run += 1;
        for (contestant, runs) in &mut samples {
            app_number += 1;
            let app = api_app(&dir.join(format!("app-{app_number}")), COUNT)?;
            let with_policy = contestant.ends_with("always");
            let config = if with_policy { &policy } else { plain };
            runs.push(measure_fetch(home, config, &app)?);
            check_api_packages(&digests, "ours", &app, COUNT)?;
            let lock = std::fs::read_to_string(app.join("wkg.lock"))?;
            let signers = lock.matches(IDENTITY).count();
            if signers != if with_policy { COUNT } else { 0 } {
                bail!("{contestant}: the lock file pins {signers} signers");
            }
        }
    }
    push_medians(
        rows,
        format!("fetch {COUNT} signed packages, cold, loopback"),
        samples,
    );
    Ok(())
}

fn measure_fetch(home: &Path, config: &str, app: &Path) -> Result<Sample> {
    let (wit, deps) = (app.join("wit"), app.join("deps"));
    let (wit, deps) = (wit.display().to_string(), deps.display().to_string());
    let cmd = wreg_in_app(
        home,
        config,
        app,
        &["fetch", "--wit", &wit, "-o", &deps],
        false,
    );
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    measure(&cmd)
}
