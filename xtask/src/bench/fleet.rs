//! A fleet's fetch: 100 packages from a registry 20 ms away, directly and through a
//! pull-through cache next to the machine (a second `docker-registry` with `proxy:
//! remoteurl:`), first when the cache is empty (it fetches from the registry as it
//! serves), then when it is warm (a second machine: an empty local cache).

use std::path::Path;

use anyhow::Result;

use super::many::{api_app, check_api_packages, publish_api_packages};
use super::{RUNS, Row, Sample, measure, push_medians, wkg_in_app, wreg_in_app, write_config};
use crate::peers::{self, Peer};

const COUNT: usize = 100;
/// The fleet's account at the far registry (the cache has its own copy).
const USER: &str = "ci-bot";
const PASSWORD: &str = "s3cr3t-Pa55w0rd";

/// A config at `path` naming `host` as the default registry, with the fleet's credentials
/// for `authed` (for wkg too: it reads `auth` the same way).
fn config_with_auth(path: &Path, host: &str, authed: &str, extra: &str) -> Result<String> {
    std::fs::write(
        path,
        format!(
            "default_registry = \"{host}\"\n{extra}\
             [registry.\"{authed}\".oci]\nprotocol = \"http\"\n\
             auth = {{ username = \"{USER}\", password = \"{PASSWORD}\" }}\n"
        ),
    )?;
    Ok(path.display().to_string())
}

pub(super) fn pull_through(rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<()> {
    let wkg = peers::install(peers::WKG, Peer::Measured)?
        .display()
        .to_string();
    // The registry asks for credentials, as ghcr.io and Docker Hub do (a token service).
    // docker-registry's pull-through cache remembers such a challenge; against a registry
    // that asks for none, it pings it before every request it forwards, one at a time.
    let tokens = test_support::token::TokenServer::start(
        USER,
        PASSWORD,
        std::time::Duration::from_secs(300),
    );
    let upstream =
        test_support::Distribution::start_with_token_auth(&tokens).map_err(anyhow::Error::msg)?;
    let far =
        crate::delay::DelayLine::start(upstream.addr(), std::time::Duration::from_millis(10))?;
    let work = tempfile::tempdir()?;
    let dir = work.path();
    let home = dir.join("home");
    std::fs::create_dir_all(&home)?;
    let direct = config_with_auth(
        &dir.join("publish.toml"),
        &upstream.host(),
        &upstream.host(),
        "",
    )?;
    let digests = publish_api_packages(COUNT, &home, &direct, dir)?;
    // The registry as the fleet sees it: 20 ms away.
    let far_host = far.addr.to_string();
    let far_config = config_with_auth(&dir.join("far.toml"), &far_host, &far_host, "")?;

    notes.push(format!(
        "Fleet: {COUNT} WIT packages on a `docker-registry` that asks for credentials (a token \
         service, as ghcr.io does) behind a 20 ms round trip, fetched \
         (`wreg fetch --wit`, `wkg wit fetch -t wasm`, every file checked against its digest) \
         directly, and through a pull-through cache on loopback (a second `docker-registry`, \
         `proxy: remoteurl:` the far registry): `cache cold` starts a new, empty cache for \
         each run, `cache warm` uses the one the cold run filled, with an empty local cache \
         (another machine), `lock file` the same with the lock file the warm run wrote (so \
         blobs are asked for by digest and a pull-through cache answers them itself; without \
         it, each tag list and manifest is checked with the far registry). Ours lists the cache as the far registry's mirror \
         (`[registry.\"<far>\".mirrors] order = [\"<cache>\", \"<far>\"]`); wkg, which has no \
         mirrors, is pointed at the cache as its registry"
    ));

    let mut app_number = 0;
    let mut new_app = || -> Result<std::path::PathBuf> {
        app_number += 1;
        api_app(&dir.join(format!("app-{app_number}")), COUNT)
    };
    // `locked`: with the lock file already in the app directory (wkg reads its own there).
    let run = |contestant: &str, config: &str, app: &Path, locked: bool| -> Result<Sample> {
        let cmd = if contestant == "ours" {
            let (wit, deps) = (app.join("wit"), app.join("deps"));
            let (wit, deps) = (wit.display().to_string(), deps.display().to_string());
            wreg_in_app(
                &home,
                config,
                app,
                &["fetch", "--wit", &wit, "-o", &deps],
                locked,
            )
        } else {
            wkg_in_app(&wkg, &home, config, app, "wit fetch wit -t wasm")
        };
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let sample = measure(&cmd)?;
        check_api_packages(&digests, contestant, app, COUNT)?;
        Ok(sample)
    };
    let contestants = ["ours", "wkg wit fetch"];
    let empty = || -> Vec<(String, Vec<Sample>)> {
        contestants
            .iter()
            .map(|c| ((*c).to_owned(), Vec::new()))
            .collect()
    };

    let mut direct_samples = empty();
    let (mut cold, mut warm, mut locked) = (empty(), empty(), empty());
    for round in 0..RUNS {
        for (contestant, runs) in &mut direct_samples {
            runs.push(run(contestant, &far_config, &new_app()?, false)?);
        }
        for i in 0..contestants.len() {
            let contestant = contestants[i];
            // A new, empty pull-through cache of the far registry.
            let cache =
                test_support::Distribution::start_pull_through_of(far.addr, Some((USER, PASSWORD)))
                    .map_err(anyhow::Error::msg)?;
            let config = if contestant == "ours" {
                config_with_auth(
                    &dir.join(format!("mirrored-{round}.toml")),
                    &far_host,
                    &far_host,
                    &format!(
                        "[registry.\"{far_host}\".mirrors]\norder = [\"{}\", \"{far_host}\"]\n",
                        cache.host()
                    ),
                )?
            } else {
                write_config(&dir.join(format!("cache-{round}.toml")), &cache.host())?
            };
            cold[i]
                .1
                .push(run(contestant, &config, &new_app()?, false)?);
            let warm_app = new_app()?;
            warm[i].1.push(run(contestant, &config, &warm_app, false)?);
            // Another machine with the lock file the warm run wrote: digests are known, so
            // blobs are asked for by digest and the cache serves them itself.
            let locked_app = new_app()?;
            std::fs::copy(warm_app.join("wkg.lock"), locked_app.join("wkg.lock"))?;
            locked[i]
                .1
                .push(run(contestant, &config, &locked_app, true)?);
        }
    }
    push_medians(
        rows,
        format!("fleet: {COUNT} packages, direct, 20 ms RTT"),
        direct_samples,
    );
    push_medians(
        rows,
        format!("fleet: {COUNT} packages via pull-through cache, cache cold"),
        cold,
    );
    push_medians(
        rows,
        format!("fleet: {COUNT} packages via pull-through cache, cache warm"),
        warm,
    );
    push_medians(
        rows,
        format!("fleet: {COUNT} packages via pull-through cache, cache warm, lock file"),
        locked,
    );
    Ok(())
}
