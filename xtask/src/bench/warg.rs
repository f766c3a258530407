//! Scenario 6: a cold fetch from a warg registry.

use anyhow::{Context, Result};

use super::{Row, Sample, check_same, measure, more_runs, push_medians};
use crate::peers::{self, Peer};

/// Scenario 6: a cold fetch of a 64 MiB release from an in-process warg-server, ours
/// (`wreg get`) against the `warg` CLI (`warg download`), each run with empty state.
pub(super) fn warg_fetch(rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<()> {
    let mib: usize = std::env::var("BENCH_WARG_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let warg = peers::install(peers::WARG, Peer::Measured)?
        .display()
        .to_string();
    let wreg = super::wreg();
    let server = test_support::warg::WargServer::builder()
        .namespaces(&["bench"])
        .start();
    let (registry, url) = (server.registry(), server.url());
    let work = tempfile::tempdir()?;
    let dir = work.path();
    let component = dir.join("big.wasm");
    std::fs::write(
        &component,
        test_support::component::build(&test_support::component::Spec {
            padding: mib << 20,
            ..Default::default()
        }),
    )?;
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[namespace_registries]\nbench = \"{registry}\"\n[registry.\"{registry}\"]\n\
             default = \"warg\"\n[registry.\"{registry}\".warg]\nsigning_key = \"{}\"\n",
            test_support::warg::signing_key(21)
        ),
    )?;
    let config = config.display().to_string();
    let out = dir.join("fetched.wasm");
    let out_path = out.display().to_string();
    let (cache, component_arg) = (
        dir.join("publisher-cache").display().to_string(),
        component.display().to_string(),
    );
    let publish = [
        wreg.as_str(),
        "--config",
        &config,
        "--cache-dir",
        &cache,
        "-q",
        "publish",
        &component_arg,
        "--package",
        "bench:big@1.0.0",
    ];
    measure(&publish).context("publishing the warg benchmark release")?;

    let mut samples: Vec<(String, Vec<Sample>)> = vec![
        ("ours".into(), Vec::new()),
        ("warg download".into(), Vec::new()),
    ];
    let mut run = 0;
    while more_runs(run, &samples) {
        for (contestant, runs) in &mut samples {
            let _ = std::fs::remove_file(&out);
            // Fresh state every run: a cold fetch of the log and the content.
            let state = dir.join(format!("state-{contestant}-{run}").replace(' ', "-"));
            std::fs::create_dir_all(&state)?;
            let cmd: Vec<String> = if contestant == "ours" {
                vec![
                    wreg.clone(),
                    "--config".into(),
                    config.clone(),
                    "--cache-dir".into(),
                    state.display().to_string(),
                    "-q".into(),
                    "get".into(),
                    "bench:big@1.0.0".into(),
                    "-o".into(),
                    out_path.clone(),
                ]
            } else {
                let warg_config = state.join("warg-config.json");
                std::fs::write(
                    &warg_config,
                    serde_json::json!({
                        "homeUrl": url,
                        "registriesDir": state.join("registries"),
                        "contentDir": state.join("content"),
                        "namespaceMapPath": state.join("namespaces"),
                        "disableInteractive": true,
                    })
                    .to_string(),
                )?;
                vec![
                    warg.clone(),
                    "download".into(),
                    "bench:big".into(),
                    "--version".into(),
                    "1.0.0".into(),
                    "--config".into(),
                    warg_config.display().to_string(),
                    "--registry".into(),
                    url.clone(),
                    "-o".into(),
                    out_path.clone(),
                ]
            };
            let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
            runs.push(measure(&cmd)?);
            check_same(&out, &component)?;
            std::fs::remove_dir_all(&state)?;
        }
        run += 1;
    }
    notes.push(format!(
        "warg: a {mib} MiB release from an in-process warg-server 0.10 (memory store) on \
         loopback; each run starts with empty client state (log and content fetched and \
         verified); the peer is the `warg` CLI (`warg download`)."
    ));
    push_medians(rows, format!("warg fetch {mib} MiB, cold"), samples);
    Ok(())
}
