//! `cargo xtask bench`: every figure measured in one run, next to its peers, written to
//! `BENCHMARKS.md`. A scenario that cannot run fails the task; no figure is printed that was
//! not measured in this run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use test_support::Distribution;

use crate::{cargo, root};

/// Runs per contestant, alternating between contestants.
const RUNS: usize = 5;

/// Wall time and peak resident memory of one run.
#[derive(Clone, Copy, Debug)]
struct Sample {
    seconds: f64,
    peak_kib: u64,
    /// Timed to the microsecond (a mean over many runs), not to GNU time's 10 ms.
    fine: bool,
}

/// Medians of a contestant's runs.
struct Row {
    scenario: String,
    contestant: String,
    seconds: f64,
    peak_kib: u64,
    fine: bool,
}

pub(crate) fn run() -> Result<()> {
    let mut rows = Vec::new();
    let mut notes = Vec::new();

    // `BENCH_ONLY=warg,oci` runs some scenario groups (config, oci, many, warg) and prints
    // their table without replacing BENCHMARKS.md.
    let only = std::env::var("BENCH_ONLY").ok();
    let wanted = |group: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|g| g == group))
    };
    crate::debian_tools(&[
        ("/usr/bin/time", "time"),
        ("curl", "curl"),
        ("skopeo", "skopeo"),
        ("git", "git"),
        ("docker-registry", "docker-registry"),
    ])?;
    if wanted("config") {
        config_load(&mut rows)?;
    }
    cargo(&["build", "--locked", "--release", "-p", "wreg"])?;
    if wanted("oci") {
        oci_transfers(&mut rows, &mut notes)?;
    }
    if wanted("many") {
        many_packages(&mut rows, &mut notes)?;
    }
    if wanted("warg") {
        warg_fetch(&mut rows, &mut notes)?;
    }
    if wanted("config") {
        config_show(&mut rows, &mut notes)?;
    }

    let report = render(&rows, &notes);
    println!("\n{report}");
    if only.is_some() {
        println!("BENCH_ONLY is set: BENCHMARKS.md left as it was");
        return Ok(());
    }
    std::fs::write(root().join("BENCHMARKS.md"), report).context("write BENCHMARKS.md")?;
    println!("written to BENCHMARKS.md");
    Ok(())
}

/// The Criterion benchmark of loading a six-layer config; its median from Criterion's
/// estimates.
fn config_load(rows: &mut Vec<Row>) -> Result<()> {
    cargo(&[
        "bench",
        "--locked",
        "-p",
        "registry-config",
        "--bench",
        "load",
    ])?;
    for (name, id) in [
        ("config: load 6 layers", "load 6 layers"),
        ("config: resolve_registry", "resolve_registry"),
    ] {
        let path = root()
            .join("target/criterion")
            .join(id)
            .join("new/estimates.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("read Criterion's estimates at {}", path.display()))?;
        let estimates: serde_json::Value = serde_json::from_str(&text)?;
        let nanos = estimates["median"]["point_estimate"]
            .as_f64()
            .context("no median in Criterion's estimates")?;
        rows.push(Row {
            scenario: name.to_owned(),
            contestant: "ours".to_owned(),
            seconds: nanos / 1e9,
            peak_kib: 0,
            fine: true,
        });
    }
    Ok(())
}

/// Runs `command` under GNU time and returns its wall time and peak RSS.
fn measure(command: &[&str]) -> Result<Sample> {
    let out = tempfile::NamedTempFile::new()?;
    let mut timed = under_gnu_time(out.path(), command[0]);
    timed.args(&command[1..]);
    timed_sample(&mut timed, out.path(), &command.join(" "))
}

/// A command running `program` under GNU time, which writes `<wall seconds> <peak KiB>` to
/// `out`; arguments, environment and directory are added to it as to `program`'s own.
fn under_gnu_time(out: &Path, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new("/usr/bin/time");
    command.args(["-f", "%e %M", "-o"]).arg(out).arg(program);
    command
}

/// Runs a command from [`under_gnu_time`] and reads what it measured.
fn timed_sample(command: &mut Command, out: &Path, what: &str) -> Result<Sample> {
    let status = command
        .status()
        .context("run /usr/bin/time (Debian package `time`)")?;
    if !status.success() {
        bail!("`{what}` failed ({status})");
    }
    let text = std::fs::read_to_string(out)?;
    let mut fields = text.split_whitespace();
    let seconds = fields.next().context("no time")?.parse()?;
    let peak_kib = fields.next().context("no memory")?.parse()?;
    Ok(Sample {
        seconds,
        peak_kib,
        fine: false,
    })
}

/// One row per contestant: the medians of its runs.
fn push_medians(rows: &mut Vec<Row>, scenario: String, samples: Vec<(String, Vec<Sample>)>) {
    for (contestant, runs) in samples {
        let m = median(runs);
        rows.push(Row {
            scenario: scenario.clone(),
            contestant,
            seconds: m.seconds,
            peak_kib: m.peak_kib,
            fine: m.fine,
        });
    }
}

fn median(mut samples: Vec<Sample>) -> Sample {
    samples.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let seconds = samples[samples.len() / 2].seconds;
    let mut peaks: Vec<u64> = samples.iter().map(|s| s.peak_kib).collect();
    peaks.sort_unstable();
    Sample {
        seconds,
        peak_kib: peaks[peaks.len() / 2],
        fine: samples[0].fine,
    }
}

pub(crate) fn wkg(peer: Peer) -> Option<PathBuf> {
    cargo_install("wkg", "0.16.1", "wkg", peer)
}

/// What a peer tool is installed for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// Timed next to us: a release build, in `target/bench-tools`.
    Measured,
    /// Only exchanging artifacts with us: a release build if there is one already, else a
    /// debug build in `target/interop-tools`, which compiles in about half the time.
    Interop,
}

/// `binary` from crate `krate` at `version`, `cargo install`ed unless it is there already.
pub(crate) fn cargo_install(
    krate: &str,
    version: &str,
    binary: &str,
    peer: Peer,
) -> Option<PathBuf> {
    let release = root().join("target/bench-tools");
    let debug = root().join("target/interop-tools");
    let usable: &[&PathBuf] = match peer {
        Peer::Measured => &[&release],
        Peer::Interop => &[&release, &debug],
    };
    if let Some(path) = usable
        .iter()
        .map(|dir| dir.join("bin").join(binary))
        .find(|path| path.is_file())
    {
        return Some(path);
    }
    let dest = if peer == Peer::Measured {
        release
    } else {
        debug
    };
    let mut install = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    install
        .args(["install", krate, "--locked", "--version", version, "--root"])
        .arg(&dest)
        // One build directory for every peer, so the crates they share are built once.
        .env("CARGO_TARGET_DIR", dest.join("build"));
    if peer == Peer::Interop {
        install.arg("--debug");
    }
    let status = install.status().ok()?;
    let path = dest.join("bin").join(binary);
    (status.success() && path.is_file()).then_some(path)
}

fn oci_transfers(rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<()> {
    let mib: usize = std::env::var("BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    cargo(&[
        "build",
        "--locked",
        "--release",
        "-p",
        "registry-oci",
        "--example",
        "oci-transfer",
    ])?;
    let ours = root().join("target/release/examples/oci-transfer");
    let ours = ours.to_str().context("UTF-8 path")?.to_owned();
    let wkg = wkg(Peer::Measured);
    if wkg.is_none() {
        bail!("could not install wkg 0.16.1 with `cargo install`; the comparison needs it");
    }
    let wkg = wkg.unwrap().display().to_string();

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
    let wreg = root().join("target/release/wreg").display().to_string();
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

/// Resolving and fetching 100 small WIT packages that a world imports: cold (no cache, no
/// lock) on loopback and behind a 20 ms round trip, then with a lock file and warm caches.
fn many_packages(rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<()> {
    const COUNT: usize = 100;
    let wreg = root().join("target/release/wreg").display().to_string();
    let wkg = root()
        .join("target/bench-tools/bin/wkg")
        .display()
        .to_string();
    let registry = Distribution::start().map_err(anyhow::Error::msg)?;
    let proxy =
        crate::delay::DelayLine::start(registry.addr(), std::time::Duration::from_millis(10))?;
    let work = tempfile::tempdir()?;
    let dir = work.path();
    let home = dir.join("home");
    std::fs::create_dir_all(&home)?;
    let config_for = |host: &str, name: &str| -> Result<String> {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!(
                "default_registry = \"{host}\"\n[registry.\"{host}\".oci]\nprotocol = \"http\"\n"
            ),
        )?;
        Ok(path.display().to_string())
    };
    let direct = config_for(&registry.host(), "direct.toml")?;
    let delayed = config_for(&proxy.addr.to_string(), "delayed.toml")?;

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
            .env("HOME", &home)
            .args(["--config", &direct, "--cache-dir"])
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

    for (label, config) in [("loopback", &direct), ("20 ms RTT", &delayed)] {
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

/// Scenario 6: a cold fetch of a 64 MiB release from an in-process warg-server, ours
/// (`wreg get`) against the `warg` CLI (`warg download`), each run with empty state.
fn warg_fetch(rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<()> {
    let mib: usize = std::env::var("BENCH_WARG_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let warg = crate::interop::warg_cli(Peer::Measured)
        .context("could not install warg-cli 0.10.0 with `cargo install`; the comparison needs it")?
        .display()
        .to_string();
    let wreg = root().join("target/release/wreg").display().to_string();
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
    for run in 0..RUNS {
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
    }
    notes.push(format!(
        "warg: a {mib} MiB release from an in-process warg-server 0.10 (memory store) on \
         loopback; each run starts with empty client state (log and content fetched and \
         verified); the peer is the `warg` CLI 0.10.0 (`warg download`)."
    ));
    push_medians(rows, format!("warg fetch {mib} MiB, cold"), samples);
    Ok(())
}

/// Invocations timed together for one sample of a command that takes milliseconds.
const SHORT_REPEATS: u32 = 40;

/// Scenario 7: `wreg config show --origin` reading six layers (built-in defaults, the user
/// file, three nested project files, the environment), process start-up included, next to
/// `git config --list --show-origin` reading six sources (system, global and local files,
/// two included files, the environment): the same job for a tool people know.
fn config_show(rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<()> {
    let wreg = root().join("target/release/wreg");
    let work = tempfile::tempdir()?;
    let home = work.path();
    let mut user =
        String::from("# user settings\ndefault_registry = \"ghcr.io\"\n\n[namespace_registries]\n");
    for i in 0..20 {
        let _ = writeln!(user, "ns{i} = \"registry{i}.example\"");
    }
    user.push_str("\n[package_registry_overrides]\n");
    for i in 0..20 {
        let _ = writeln!(user, "\"ns{i}:pkg{i}\" = \"mirror.example:5000\"");
    }
    for i in 0..10 {
        let _ = write!(
            user,
            "\n[registry.\"registry{i}.example\".oci]\nnamespace_prefix = \"org{i}/\"\n"
        );
    }
    std::fs::write(home.join("user.toml"), user)?;
    let mut project = home.to_owned();
    for level in ["a", "b", "c"] {
        project.push(level);
        std::fs::create_dir_all(project.join(".wasm-pkg"))?;
        std::fs::write(
            project.join(".wasm-pkg/config.toml"),
            format!(
                "# project {level}\n[namespace_registries]\n{level} = \"{level}.example\"\n\
                 [registry.\"{level}.example\".oci]\nprotocol = \"http\"\n"
            ),
        )?;
    }
    // Each takes the command to set up: the program itself, or the program under GNU time.
    let wreg_cmd = |mut cmd: Command, args: &[&str]| {
        cmd.current_dir(&project)
            .env_clear()
            .env("HOME", home)
            .env("WASM_PKG_NAMESPACE_REGISTRIES", "env=env.example")
            .arg("--config")
            .arg(home.join("user.toml"))
            .args(args);
        cmd
    };
    // The six layers are really read: four files, and values from the environment.
    let paths = wreg_cmd(Command::new(&wreg), &["config", "path"]).output()?;
    let shown = wreg_cmd(Command::new(&wreg), &["config", "show", "--origin"]).output()?;
    let shown = String::from_utf8_lossy(&shown.stdout);
    if String::from_utf8_lossy(&paths.stdout).lines().count() != 4
        || !shown.contains("WASM_PKG_NAMESPACE_REGISTRIES")
        || !shown.contains("built-in")
        || !shown.contains("c/.wasm-pkg/config.toml")
    {
        bail!("wreg config show did not read six layers:\n{shown}");
    }

    let repo = home.join("repo");
    std::fs::create_dir_all(&repo)?;
    let git_cmd = |mut cmd: Command, args: &[&str]| {
        cmd.current_dir(&repo)
            .env_clear()
            .env("HOME", home)
            .env("GIT_CONFIG_SYSTEM", home.join("gitconfig-system"))
            .env("GIT_CONFIG_GLOBAL", home.join("gitconfig-global"))
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "env.key")
            .env("GIT_CONFIG_VALUE_0", "value")
            .args(args);
        cmd
    };
    std::fs::write(home.join("gitconfig-system"), "[core]\n\tpager = less\n")?;
    std::fs::write(
        home.join("gitconfig-global"),
        "[user]\n\tname = Bench\n[include]\n\tpath = gitconfig-include-1\n",
    )?;
    let mut include = String::new();
    for i in 0..20 {
        let _ = writeln!(
            include,
            "[remote \"r{i}\"]\n\turl = https://registry{i}.example/x"
        );
    }
    std::fs::write(home.join("gitconfig-include-1"), &include)?;
    if !git_cmd(Command::new("git"), &["init", "-q"])
        .status()?
        .success()
    {
        bail!("git init failed");
    }
    std::fs::write(
        home.join("gitconfig-include-2"),
        include.replace("\"r", "\"s"),
    )?;
    if !git_cmd(
        Command::new("git"),
        &[
            "config",
            "include.path",
            &home.join("gitconfig-include-2").display().to_string(),
        ],
    )
    .status()?
    .success()
    {
        bail!("git config include.path failed");
    }
    let listed = git_cmd(Command::new("git"), &["config", "--list", "--show-origin"]).output()?;
    let listed = String::from_utf8_lossy(&listed.stdout);
    if [
        "gitconfig-system",
        "gitconfig-global",
        "gitconfig-include-1",
        ".git/config",
        "gitconfig-include-2",
        "command line",
    ]
    .iter()
    .any(|source| !listed.contains(source))
    {
        bail!("git config did not read six sources:\n{listed}");
    }

    let mut samples: Vec<(String, Vec<Sample>)> = vec![
        ("ours".into(), Vec::new()),
        ("git config --list --show-origin".into(), Vec::new()),
    ];
    for _ in 0..RUNS {
        for (contestant, runs) in &mut samples {
            let ours = contestant == "ours";
            let program: &std::ffi::OsStr = if ours {
                wreg.as_os_str()
            } else {
                "git".as_ref()
            };
            let set_up = |base: Command| {
                let mut cmd = if ours {
                    wreg_cmd(base, &["config", "show", "--origin"])
                } else {
                    git_cmd(base, &["config", "--list", "--show-origin"])
                };
                cmd.stdout(std::process::Stdio::null());
                cmd
            };
            let mut cmd = set_up(Command::new(program));
            let started = std::time::Instant::now();
            for _ in 0..SHORT_REPEATS {
                if !cmd.status()?.success() {
                    bail!("{contestant} failed");
                }
            }
            let seconds = started.elapsed().as_secs_f64() / f64::from(SHORT_REPEATS);
            // Peak memory from one more run under GNU time.
            let out = tempfile::NamedTempFile::new()?;
            let peak_kib = timed_sample(
                &mut set_up(under_gnu_time(out.path(), program)),
                out.path(),
                contestant,
            )?
            .peak_kib;
            runs.push(Sample {
                seconds,
                peak_kib,
                fine: true,
            });
        }
    }
    notes.push(format!(
        "config show: `wreg config show --origin` over six layers (built-in, a 70-line user \
         file, three nested project files, one environment variable), process start-up \
         included, each run the mean of {SHORT_REPEATS} invocations; the reference is `git \
         config --list --show-origin` over six sources (system, global, local, two includes, \
         the environment)."
    ));
    push_medians(rows, "config show, 6 layers (process)".to_owned(), samples);
    Ok(())
}

fn sha256_of(path: &Path) -> Result<String> {
    let output = Command::new("sha256sum").arg(path).output()?;
    let text = String::from_utf8(output.stdout)?;
    let hex = text.split_whitespace().next().context("sha256sum output")?;
    Ok(format!("sha256:{hex}"))
}

fn check_same(a: &Path, b: &Path) -> Result<()> {
    let same = std::fs::metadata(a)?.len() == std::fs::metadata(b)?.len()
        && sha256_of(a)? == sha256_of(b)?;
    if !same {
        bail!("{} differs from {}", a.display(), b.display());
    }
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
        })
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{} GiB", kib / 1024 / 1024),
        );
    format!("{cpu}, {cores} cores, {mem} memory")
}

fn render(rows: &[Row], notes: &[String]) -> String {
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Measured by `cargo xtask bench` on {}, {}.",
        machine(),
        date.trim()
    );
    let _ = writeln!(
        out,
        "Each figure is the median of {RUNS} runs, contestants alternating; ratios compare \
         figures of the same run only.\n"
    );
    for note in notes {
        let _ = writeln!(out, "- {note}");
    }
    let _ = writeln!(
        out,
        "\n| scenario | contestant | median wall time | peak RSS | ours / this |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for row in rows {
        let ours = rows
            .iter()
            .find(|r| r.scenario == row.scenario && r.contestant == "ours")
            .map(|r| r.seconds);
        let ratio = match ours {
            Some(ours) if row.contestant != "ours" && row.seconds > 0.0 => {
                format!("{:.2}x", ours / row.seconds)
            }
            _ => String::new(),
        };
        let time = if row.fine && row.seconds >= 0.001 && row.seconds < 1.0 {
            format!("{:.2} ms", row.seconds * 1e3)
        } else if !row.fine && row.seconds < 0.01 {
            // GNU time measures processes to 10 ms.
            "< 0.01 s".to_owned()
        } else if row.seconds < 0.001 {
            format!("{:.1} µs", row.seconds * 1e6)
        } else {
            format!("{:.3} s", row.seconds)
        };
        let rss = if row.peak_kib == 0 {
            "n/a (in-process)".to_owned()
        } else {
            format!("{:.1} MiB", row.peak_kib as f64 / 1024.0)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {time} | {rss} | {ratio} |",
            row.scenario,
            row.contestant.replace('|', "\\|")
        );
    }
    out
}
