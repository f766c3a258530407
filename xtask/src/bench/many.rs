//! Scenarios 4-5: many small packages, cold (loopback and a 20 ms round trip) and warm.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use super::{RUNS, Row, Sample, Stage, measure, push_medians};
use crate::root;

/// Resolving and fetching 100 small WIT packages that a world imports: cold (no cache, no
/// lock) on loopback and behind a 20 ms round trip, then with a lock file and warm caches.
pub(super) fn many_packages(rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<()> {
    const COUNT: usize = 100;
    let wreg = root().join("target/profiling/wreg").display().to_string();
    let wkg = root()
        .join("target/bench-tools/bin/wkg")
        .display()
        .to_string();
    let stage = Stage::start()?;
    let (dir, home) = (stage.dir(), &stage.home);
    let (direct, delayed) = (&stage.direct, &stage.delayed);

    // The packages, published once, and a world importing all of them.
    let mut imports = String::new();
    for i in 0..COUNT {
        let mut resolve = wit_parser::Resolve::default();
        let id = resolve.push_str(
            "p.wit",
            &format!("package b{i}:api@1.0.0;\ninterface i {{ f: func(); }}\n"),
        )?;
        let file = dir.join(format!("b{i}.wasm"));
        std::fs::write(&file, wit_component::encode(&resolve, id, false)?)?;
        let status = Command::new(&wreg)
            .env("HOME", home)
            .args(["--config", direct, "--cache-dir"])
            .arg(dir.join("publish-cache"))
            .args(["-q", "publish"])
            .arg(&file)
            .status()?;
        if !status.success() {
            bail!("publishing b{i}:api failed");
        }
        imports.push_str(&format!("  import b{i}:api/i@1.0.0;\n"));
    }
    let world = format!("package bench:app@0.1.0;\n\nworld app {{\n{imports}}}\n");
    notes.push(format!(
        "{COUNT} packages: WIT packages `bN:api@1.0.0` on `docker-registry`, fetched for a world \
         importing all of them (`wreg fetch --wit`, `wkg wit fetch -t wasm`); the 20 ms round \
         trip is a delay line on loopback (10 ms each way)"
    ));

    // The command each contestant runs in an app directory (its `wit/`, cache and lock).
    let fetch_cmd = |contestant: &str, config: &str, app: &Path, locked: bool| -> Vec<String> {
        let app_dir = app.display().to_string();
        let cache = format!("{app_dir}/cache");
        if contestant == "ours" {
            let mut cmd = vec![
                "env".into(),
                format!("HOME={}", home.display()),
                wreg.clone(),
                "-q".into(),
                "--config".into(),
                config.to_owned(),
                "--cache-dir".into(),
                cache,
                "fetch".into(),
                "--wit".into(),
                format!("{app_dir}/wit"),
                "-o".into(),
                format!("{app_dir}/deps"),
                "--lock".into(),
                format!("{app_dir}/wkg.lock"),
            ];
            if locked {
                cmd.push("--locked".into());
            }
            cmd
        } else {
            vec![
                "sh".into(),
                "-c".into(),
                format!(
                    "cd {app_dir} && HOME={} {wkg} wit fetch wit -t wasm --config {config} \
                     --cache {cache} >/dev/null 2>&1",
                    home.display()
                ),
            ]
        }
    };

    for (label, config) in [("loopback", direct), ("20 ms RTT", delayed)] {
        let mut samples: Vec<(String, Vec<Sample>)> = vec![
            ("ours".into(), Vec::new()),
            ("wkg wit fetch".into(), Vec::new()),
        ];
        let mut last = Vec::new();
        for run in 0..RUNS {
            for (contestant, runs) in &mut samples {
                let app = dir.join(format!("app-{}-{run}-{}", label.len(), contestant.len()));
                std::fs::create_dir_all(app.join("wit"))?;
                std::fs::write(app.join("wit/world.wit"), &world)?;
                let cmd = fetch_cmd(contestant, config, &app, false);
                let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
                runs.push(measure(&cmd)?);
                if run == RUNS - 1 {
                    last.push((contestant.clone(), app));
                }
            }
        }
        push_medians(
            rows,
            format!("resolve+fetch {COUNT} packages, cold, {label}"),
            samples,
        );
        if label == "loopback" {
            // The same, with the lock file and warm cache each tool left behind.
            let mut samples: Vec<(String, Vec<Sample>)> = vec![
                ("ours".into(), Vec::new()),
                ("wkg wit fetch".into(), Vec::new()),
            ];
            for _run in 0..RUNS {
                for (contestant, runs) in &mut samples {
                    let app = &last.iter().find(|(c, _)| c == contestant).expect("ran").1;
                    let cmd = fetch_cmd(contestant, config, app, true);
                    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
                    runs.push(measure(&cmd)?);
                }
            }
            push_medians(
                rows,
                format!("fetch {COUNT} packages, lock file + warm cache"),
                samples,
            );
        }
    }
    Ok(())
}
