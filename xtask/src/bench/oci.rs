//! Scenarios 1-3: one large package over OCI, cold and warm pulls and a publish.

use std::path::Path;

use anyhow::{Context, Result};
use test_support::Distribution;

use super::{RUNS, Row, Sample, check_same, measure, push_medians, sha256_of};
use crate::peers::{self, Peer};
use crate::{cargo, root};

pub(super) fn oci_transfers(rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<()> {
    let mib: usize = std::env::var("BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    cargo(&[
        "build",
        "--locked",
        "--profile",
        "profiling",
        "-p",
        "registry-oci",
        "--example",
        "oci-transfer",
    ])?;
    let ours = root().join("target/profiling/examples/oci-transfer");
    let ours = ours.to_str().context("UTF-8 path")?.to_owned();
    let wkg = peers::install(peers::WKG, Peer::Measured)?
        .display()
        .to_string();

    let work = tempfile::tempdir()?;
    // Our tools read no config but what we give them.
    let config_home = work.path().join("config");
    std::fs::create_dir_all(&config_home)?;
    let component = work.path().join("big.wasm");
    std::fs::write(
        &component,
        test_support::component::build(&test_support::component::Spec {
            imports: &["wasi:cli/environment@0.2.0"],
            exports: &[],
            metadata: &[("description", "benchmark payload")],
            padding: mib * 1024 * 1024,
            name: None,
        }),
    )?;
    let component_path = component.to_str().context("UTF-8 path")?.to_owned();
    let size = std::fs::metadata(&component)?.len();
    notes.push(format!(
        "OCI transfers: a {size}-byte component ({mib} MiB of payload), a CNCF distribution \
         registry (`docker-registry` 2.8) on loopback, plain HTTP"
    ));
    let env_cmd = |args: Vec<String>| -> Vec<String> {
        let mut cmd = vec![
            "env".to_owned(),
            format!("XDG_CONFIG_HOME={}", config_home.display()),
            format!("HOME={}", work.path().display()),
        ];
        cmd.extend(args);
        cmd
    };

    // Publish: a fresh registry for every run, so every run uploads the whole layer.
    let mut samples: Vec<(String, Vec<Sample>)> = vec![
        ("ours".into(), Vec::new()),
        ("wkg oci push".into(), Vec::new()),
    ];
    for run in 0..RUNS {
        for (contestant, runs) in &mut samples {
            let registry = Distribution::start().map_err(anyhow::Error::msg)?;
            let host = registry.host();
            let cmd = if contestant == "ours" {
                env_cmd(vec![
                    ours.clone(),
                    "publish".into(),
                    host.clone(),
                    format!("bench:big@1.0.{run}"),
                    component_path.clone(),
                ])
            } else {
                env_cmd(vec![
                    wkg.clone(),
                    "oci".into(),
                    "push".into(),
                    "--insecure".into(),
                    host.clone(),
                    format!("{host}/bench/big:1.0.{run}"),
                    component_path.clone(),
                ])
            };
            let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
            runs.push(measure(&cmd)?);
        }
    }
    push_medians(rows, format!("publish {mib} MiB"), samples);

    // Cold pull: one registry holding the component; every run downloads it whole.
    let registry = Distribution::start().map_err(anyhow::Error::msg)?;
    let host = registry.host();
    let publish = env_cmd(vec![
        ours.clone(),
        "publish".into(),
        host.clone(),
        "bench:big@1.0.0".into(),
        component_path.clone(),
    ]);
    let publish: Vec<&str> = publish.iter().map(String::as_str).collect();
    measure(&publish)?;
    let digest = sha256_of(&component)?;
    let out = work.path().join("pulled.wasm");
    let out_path = out.to_str().context("UTF-8 path")?.to_owned();
    let mut samples: Vec<(String, Vec<Sample>)> = vec![
        ("ours".into(), Vec::new()),
        ("wkg oci pull".into(), Vec::new()),
        ("skopeo copy".into(), Vec::new()),
        ("curl | sha256sum".into(), Vec::new()),
    ];
    let skopeo_dir = work.path().join("skopeo-layout");
    for _run in 0..RUNS {
        for (contestant, runs) in &mut samples {
            let _ = std::fs::remove_file(&out);
            let cmd = match contestant.as_str() {
                "ours" => env_cmd(vec![
                    ours.clone(),
                    "pull".into(),
                    host.clone(),
                    "bench:big@1.0.0".into(),
                    out_path.clone(),
                ]),
                "wkg oci pull" => env_cmd(vec![
                    wkg.clone(),
                    "oci".into(),
                    "pull".into(),
                    "--insecure".into(),
                    host.clone(),
                    format!("{host}/bench/big:1.0.0"),
                    "-o".into(),
                    out_path.clone(),
                ]),
                "skopeo copy" => {
                    let _ = std::fs::remove_dir_all(&skopeo_dir);
                    vec![
                        "skopeo".into(),
                        "copy".into(),
                        "-q".into(),
                        "--src-tls-verify=false".into(),
                        format!("docker://{host}/bench/big:1.0.0"),
                        format!("oci:{}:1.0.0", skopeo_dir.display()),
                    ]
                }
                _ => vec![
                    "sh".into(),
                    "-c".into(),
                    format!(
                        "curl -sf http://{host}/v2/bench/big/blobs/{digest} | sha256sum >/dev/null"
                    ),
                ],
            };
            let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
            runs.push(measure(&cmd)?);
            match contestant.as_str() {
                "curl | sha256sum" => {}
                "skopeo copy" => check_same(
                    &skopeo_dir
                        .join("blobs/sha256")
                        .join(digest.trim_start_matches("sha256:")),
                    &component,
                )?,
                _ => check_same(&out, &component)?,
            }
        }
    }
    push_medians(rows, format!("cold pull {mib} MiB"), samples);

    // Warm pull: the content is in each tool's cache; write it to an output path.
    let config = work.path().join("warm.toml");
    std::fs::write(
        &config,
        format!("default_registry = \"{host}\"\n[registry.\"{host}\".oci]\nprotocol = \"http\"\n"),
    )?;
    let config = config.display().to_string();
    let wreg = root().join("target/profiling/wreg").display().to_string();
    let ours_cache = work.path().join("warm-ours").display().to_string();
    let wkg_cache = work.path().join("warm-wkg").display().to_string();
    let wreg_get = env_cmd(vec![
        wreg.clone(),
        "--config".into(),
        config.clone(),
        "--cache-dir".into(),
        ours_cache.clone(),
        "-q".into(),
        "get".into(),
        "bench:big@1.0.0".into(),
        "-o".into(),
        out_path.clone(),
    ]);
    let wkg_get = env_cmd(vec![
        wkg.clone(),
        "get".into(),
        "bench:big@1.0.0".into(),
        "-o".into(),
        out_path.clone(),
        "--overwrite".into(),
        "--config".into(),
        config.clone(),
        "--cache".into(),
        wkg_cache,
    ]);
    // Prime both caches.
    for cmd in [&wreg_get, &wkg_get] {
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        measure(&cmd)?;
    }
    let cached = Path::new(&ours_cache)
        .join("content/sha256")
        .join(digest.trim_start_matches("sha256:"));
    let cp = vec![
        "cp".to_owned(),
        cached.display().to_string(),
        out_path.clone(),
    ];
    let mut samples: Vec<(String, Vec<Sample>)> = vec![
        ("ours".into(), Vec::new()),
        ("wkg get".into(), Vec::new()),
        ("cp".into(), Vec::new()),
    ];
    for _run in 0..RUNS {
        for (contestant, runs) in &mut samples {
            let _ = std::fs::remove_file(&out);
            let cmd = match contestant.as_str() {
                "ours" => &wreg_get,
                "wkg get" => &wkg_get,
                _ => &cp,
            };
            let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
            runs.push(measure(&cmd)?);
            check_same(&out, &component)?;
        }
    }
    push_medians(rows, format!("warm pull {mib} MiB"), samples);
    Ok(())
}
