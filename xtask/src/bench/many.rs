//! Many small packages: a world importing 10, 100 or 1,000 WIT packages, resolved and
//! fetched cold behind a 20 ms round trip (and 100 on loopback, then warm with the lock
//! file). Every file each contestant writes is checked against its digest after every run.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use super::{
    Row, Sample, Stage, check_digest, measure, more_runs, push_medians, wkg_in_app, wreg_in_app,
};
use crate::peers::{self, Peer};

/// The largest count wkg is timed at; beyond it its time is extrapolated (linear in the
/// count: it fetches one package after another), and said so.
const WKG_MAX: usize = 100;

pub(super) fn many_packages(rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<()> {
    let wkg = peers::install(peers::WKG, Peer::Measured)?
        .display()
        .to_string();
    let stage = Stage::start()?;
    let (dir, home) = (stage.dir(), &stage.home);
    let (direct, delayed) = (&stage.direct, &stage.delayed);

    // 1,000 packages published once; a world imports the first 10, 100 or 1,000.
    let digests = publish_api_packages(1000, home, direct, dir)?;
    notes.push(format!(
        "Many packages: WIT packages `bN:api@1.0.0` on `docker-registry`, fetched for a world \
         importing 10, 100 or 1,000 of them (`wreg fetch --wit`, `wkg wit fetch -t wasm`), \
         every file checked against its digest after each run; the 20 ms round trip is a \
         delay line on loopback (10 ms each way, and one round trip for each new \
         connection); wkg is timed up to {WKG_MAX} packages"
    ));

    // The command each contestant runs in an app directory (its `wit/`, cache and lock).
    let fetch_cmd = |contestant: &str, config: &str, app: &Path, locked: bool| -> Vec<String> {
        if contestant == "ours" {
            let (wit, deps) = (app.join("wit"), app.join("deps"));
            let (wit, deps) = (wit.display().to_string(), deps.display().to_string());
            wreg_in_app(
                home,
                config,
                app,
                &["fetch", "--wit", &wit, "-o", &deps],
                locked,
            )
        } else {
            wkg_in_app(&wkg, home, config, app, "wit fetch wit -t wasm")
        }
    };
    let check = |contestant: &str, app: &Path, count: usize| -> Result<()> {
        check_api_packages(&digests, contestant, app, count)
    };

    let mut app_number = 0;
    let mut new_app = |count: usize| -> Result<std::path::PathBuf> {
        app_number += 1;
        api_app(&dir.join(format!("app-{app_number}")), count)
    };
    // `BENCH_MANY=1000` runs only the rows of those counts (a comma-separated list).
    let counts: Option<Vec<usize>> = match std::env::var("BENCH_MANY") {
        Ok(list) => Some(
            list.split(',')
                .map(|c| c.trim().parse())
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow::anyhow!("BENCH_MANY={list}: {e}"))?,
        ),
        Err(_) => None,
    };
    for (count, label, config) in [
        (100, "loopback", direct),
        (10, "20 ms RTT", delayed),
        (100, "20 ms RTT", delayed),
        (1000, "20 ms RTT", delayed),
    ] {
        if counts.as_ref().is_some_and(|c| !c.contains(&count)) {
            continue;
        }
        let mut samples: Vec<(String, Vec<Sample>)> = vec![("ours".into(), Vec::new())];
        if count <= WKG_MAX {
            samples.push(("wkg wit fetch".into(), Vec::new()));
        }
        let mut last = Vec::new();
        let mut run = 0;
        while more_runs(run, &samples) {
            for (contestant, runs) in &mut samples {
                let app = new_app(count)?;
                let cmd = fetch_cmd(contestant, config, &app, false);
                let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
                runs.push(measure(&cmd)?);
                check(contestant, &app, count)?;
                // The app of each contestant's last run, for the warm row.
                last.retain(|(c, _)| c != contestant);
                last.push((contestant.clone(), app));
            }
            run += 1;
        }
        push_medians(
            rows,
            format!("resolve+fetch {count} packages, cold, {label}"),
            samples,
        );
        if label == "loopback" {
            // The same, with the lock file and warm cache each tool left behind.
            let mut samples: Vec<(String, Vec<Sample>)> = vec![
                ("ours".into(), Vec::new()),
                ("wkg wit fetch".into(), Vec::new()),
            ];
            let mut run = 0;
            while more_runs(run, &samples) {
                run += 1;
                for (contestant, runs) in &mut samples {
                    let app = &last.iter().find(|(c, _)| c == contestant).expect("ran").1;
                    let cmd = fetch_cmd(contestant, config, app, true);
                    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
                    runs.push(measure(&cmd)?);
                    check(contestant, app, count)?;
                }
            }
            push_medians(
                rows,
                format!("fetch {count} packages, lock file + warm cache"),
                samples,
            );
        }
    }
    if let Some(wkg_100) = rows.iter().find(|r| {
        r.contestant == "wkg wit fetch"
            && r.scenario == "resolve+fetch 100 packages, cold, 20 ms RTT"
    }) {
        notes.push(format!(
            "wkg at 1,000 packages behind 20 ms is not timed: extrapolated from its 100-package \
             time (it fetches one package after another), about {:.0} s",
            wkg_100.seconds * 10.0
        ));
    }
    Ok(())
}

/// Publishes `count` WIT packages `bN:api@1.0.0` with `wreg publish` through `config`; their
/// digests by N.
pub(super) fn publish_api_packages(
    count: usize,
    home: &Path,
    config: &str,
    dir: &Path,
) -> Result<BTreeMap<usize, String>> {
    publish_api_packages_with(count, home, config, dir, |_| {})
}

/// [`publish_api_packages`], each `wreg publish` command first given to `adjust` (e.g. to
/// sign: `--sign` and the token in the environment).
pub(super) fn publish_api_packages_with(
    count: usize,
    home: &Path,
    config: &str,
    dir: &Path,
    adjust: impl Fn(&mut Command),
) -> Result<BTreeMap<usize, String>> {
    let wreg = super::wreg();
    let mut digests = BTreeMap::new();
    for i in 0..count {
        let mut resolve = wit_parser::Resolve::default();
        let id = resolve.push_str(
            "p.wit",
            &format!("package b{i}:api@1.0.0;\ninterface i {{ f: func(); }}\n"),
        )?;
        let file = dir.join(format!("b{i}.wasm"));
        let bytes = wit_component::encode(&resolve, id, false)?;
        digests.insert(i, registry_core::ContentDigest::sha256(&bytes).to_string());
        std::fs::write(&file, bytes)?;
        let mut publish = Command::new(&wreg);
        publish
            .env("HOME", home)
            .args(["--config", config, "--cache-dir"])
            .arg(dir.join("publish-cache"))
            .args(["-q", "publish"])
            .arg(&file);
        adjust(&mut publish);
        let status = publish.status()?;
        if !status.success() {
            bail!("publishing b{i}:api failed");
        }
    }
    Ok(digests)
}

/// An app directory at `app` whose `wit/world.wit` imports the first `count` packages.
pub(super) fn api_app(app: &Path, count: usize) -> Result<std::path::PathBuf> {
    let imports: String = (0..count)
        .map(|i| format!("  import b{i}:api/i@1.0.0;\n"))
        .collect();
    std::fs::create_dir_all(app.join("wit"))?;
    std::fs::write(
        app.join("wit/world.wit"),
        format!("package bench:app@0.1.0;\n\nworld app {{\n{imports}}}\n"),
    )?;
    Ok(app.to_owned())
}

/// Every file a contestant wrote in `app` has its package's digest.
pub(super) fn check_api_packages(
    digests: &BTreeMap<usize, String>,
    contestant: &str,
    app: &Path,
    count: usize,
) -> Result<()> {
    for i in 0..count {
        let file = if contestant.starts_with("ours") {
            app.join(format!("deps/b{i}/api.wasm"))
        } else {
            app.join(format!("wit/deps/b{i}-api-1.0.0.wasm"))
        };
        check_digest(&file, &digests[&i])?;
    }
    Ok(())
}
