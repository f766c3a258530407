//! Scenario: the WIT workflow's transitive fetch. The WASI packages as the wit-component
//! crate ships them, published with `wreg publish DIR`; an application world importing
//! `wasi:http/proxy`, fetched into `wit/deps` as WIT text by `wreg wit fetch` (the whole
//! graph: seven packages, five levels deep) and by `wkg fetch` (`wasi:http` and the partial
//! packages inside its encoding), cold and then with each tool's lock file and warm cache.

use std::path::Path;

use anyhow::{Result, bail};
use test_support::shipped;

use super::{Row, Sample, Stage, measure, more_runs, push_medians, wkg_in_app, wreg_in_app};
use crate::peers::{self, Peer};

pub(super) fn wasi_fetch(rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<()> {
    let wreg = super::wreg();
    let wkg = peers::install(peers::WKG, Peer::Measured)?
        .display()
        .to_string();
    let stage = Stage::start()?;
    let (dir, home) = (stage.dir(), &stage.home);
    let (direct, delayed) = (&stage.direct, &stage.delayed);
    for (rel, spec) in shipped::WASI {
        let src = dir.join("src").join(spec.replace([':', '@'], "-"));
        shipped::copy_package(rel, &src);
        let status = std::process::Command::new(&wreg)
            .current_dir(dir)
            .env("HOME", home)
            .args([
                "-q",
                "--config",
                direct,
                "--cache-dir",
                "publish-cache",
                "publish",
            ])
            .arg(&src)
            .args(["--lock", "publish.lock"])
            .status()?;
        if !status.success() {
            bail!("publishing {spec} failed");
        }
    }
    notes.push(
        "WASI graph: the WASI 0.2 release-candidate WIT shipped in the wit-component crate \
         (7 packages), published with `wreg publish DIR`; a world including \
         `wasi:http/proxy`. `wreg wit fetch` writes all 7 packages whole (5 levels of \
         dependencies); `wkg fetch` resolves `wasi:http` alone and writes the 5 partial \
         packages inside its encoding. Each output is read back with wit-parser."
            .to_owned(),
    );

    let fetch_cmd = |contestant: &str, config: &str, app: &Path, locked: bool| -> Vec<String> {
        if contestant == "ours" {
            let wit = app.join("wit").display().to_string();
            wreg_in_app(home, config, app, &["wit", "fetch", &wit], locked)
        } else {
            wkg_in_app(&wkg, home, config, app, "fetch")
        }
    };
    let contestants = || -> Vec<(String, Vec<Sample>)> {
        vec![
            ("ours".into(), Vec::new()),
            ("wkg fetch".into(), Vec::new()),
        ]
    };
    for (label, config) in [("loopback", direct), ("20 ms RTT", delayed)] {
        let mut samples = contestants();
        let mut last = Vec::new();
        let mut run = 0;
        while more_runs(run, &samples) {
            for (contestant, runs) in &mut samples {
                let app = dir.join(format!("app-{}-{run}-{}", label.len(), contestant.len()));
                std::fs::create_dir_all(app.join("wit"))?;
                std::fs::write(app.join("wit/app.wit"), shipped::APP_WIT)?;
                let cmd = fetch_cmd(contestant, config, &app, false);
                let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
                runs.push(measure(&cmd)?);
                check_output(&app, contestant)?;
                // The app of each contestant's last run, for the warm row.
                last.retain(|(c, _)| c != contestant);
                last.push((contestant.clone(), app));
            }
            run += 1;
        }
        push_medians(
            rows,
            format!("WASI graph to wit/deps, cold, {label}"),
            samples,
        );
        if label == "loopback" {
            let mut samples = contestants();
            let mut run = 0;
            while more_runs(run, &samples) {
                run += 1;
                for (contestant, runs) in &mut samples {
                    let app = &last.iter().find(|(c, _)| c == contestant).expect("ran").1;
                    let cmd = fetch_cmd(contestant, config, app, true);
                    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
                    runs.push(measure(&cmd)?);
                    check_output(app, contestant)?;
                }
            }
            push_medians(
                rows,
                "WASI graph to wit/deps, lock file + warm cache".to_owned(),
                samples,
            );
        }
    }
    Ok(())
}

/// The `wit/deps` a contestant wrote reads back with wit-parser, with every package.
fn check_output(app: &Path, contestant: &str) -> Result<()> {
    let mut resolve = wit_parser::Resolve::default();
    resolve.push_dir(app.join("wit")).map_err(|e| {
        anyhow::anyhow!("{contestant} wrote a wit/deps wit-parser cannot read: {e:#}")
    })?;
    let expected = if contestant == "ours" { 8 } else { 6 };
    if resolve.packages.len() != expected {
        bail!(
            "{contestant}: wit/deps holds {} packages with the app, expected {expected}",
            resolve.packages.len()
        );
    }
    Ok(())
}
