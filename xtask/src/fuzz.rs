//! `cargo xtask fuzz`: coverage-guided fuzzing of every parser that reads outside input,
//! under libFuzzer, for a bounded time per target.
//!
//! The targets live in `fuzz/` (crate `wreg-fuzz`): one binary per parser, linked against
//! libFuzzer (feature `libfuzzer`), starting from the seeds in `fuzz/seeds/<target>/`. They
//! are built on the stable toolchain with LLVM's coverage instrumentation turned on through
//! codegen flags (what `cargo fuzz` adds, minus the sanitizer, which needs nightly): the
//! checks are safe Rust, so a failure is a panic, which libFuzzer records as a crash.
//!
//! `FUZZ_SECONDS` (default 60) bounds each target; `FUZZ_ONLY=config,lock_file` picks
//! targets. A crash stops the run, naming the input file and how to replay it; add that file
//! to `fuzz/seeds/<target>/` with the fix, and the deterministic test keeps it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::root;

/// Instrumentation for libFuzzer: edge counters, the PC table, comparison tracing; plus the
/// checks a debug build has, and `cfg(fuzzing)`.
const RUSTFLAGS: &[&str] = &[
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "-Cdebug-assertions",
    "-Coverflow-checks",
    "--cfg",
    "fuzzing",
];

struct Outcome {
    target: String,
    seconds: f64,
    executions: u64,
    coverage: u64,
    corpus: usize,
}

pub(crate) fn run() -> Result<()> {
    let seconds: u64 = match std::env::var("FUZZ_SECONDS") {
        Ok(value) => value
            .parse()
            .with_context(|| format!("FUZZ_SECONDS must be a number of seconds, not {value:?}"))?,
        Err(_) => 60,
    };
    let targets = targets()?;
    let host = host_triple()?;
    let target_dir = root().join("target/fuzz");
    println!(
        "building {} fuzz targets with coverage instrumentation (release, {host})",
        targets.len()
    );
    let started = Instant::now();
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--locked", "-p", "wreg-fuzz"])
        .args(["--features", "libfuzzer", "--bins", "--target", &host])
        .arg("--target-dir")
        .arg(&target_dir)
        // With an explicit --target these flags reach the targets' code, not build scripts
        // or proc macros.
        .env("RUSTFLAGS", RUSTFLAGS.join(" "))
        .current_dir(root())
        .status()
        .context("could not run cargo")?;
    if !status.success() {
        bail!("building the fuzz targets failed ({status})");
    }
    println!("  built in {:.0}s", started.elapsed().as_secs_f64());

    let bin_dir = target_dir.join(&host).join("release");
    let mut outcomes = Vec::new();
    for target in &targets {
        outcomes.push(fuzz_one(
            &bin_dir.join(target),
            target,
            seconds,
            &target_dir,
        )?);
    }

    println!("\n| target | seconds | executions | exec/s | coverage (edges) | corpus | crashes |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for o in &outcomes {
        println!(
            "| {} | {:.0} | {} | {:.0} | {} | {} | 0 |",
            o.target,
            o.seconds,
            o.executions,
            o.executions as f64 / o.seconds.max(0.001),
            o.coverage,
            o.corpus
        );
    }
    let total: u64 = outcomes.iter().map(|o| o.executions).sum();
    println!("\n{total} executions, no crash");
    Ok(())
}

/// The targets to run: every directory in `fuzz/seeds`, or those `FUZZ_ONLY` names.
fn targets() -> Result<Vec<String>> {
    let seeds = root().join("fuzz/seeds");
    let mut all: Vec<String> = std::fs::read_dir(&seeds)
        .with_context(|| format!("reading {}", seeds.display()))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    all.sort();
    let Ok(only) = std::env::var("FUZZ_ONLY") else {
        return Ok(all);
    };
    let chosen: Vec<String> = only.split(',').map(|s| s.trim().to_owned()).collect();
    for name in &chosen {
        if !all.contains(name) {
            bail!("FUZZ_ONLY names `{name}`, which is not a target; targets: {all:?}");
        }
    }
    Ok(chosen)
}

fn host_triple() -> Result<String> {
    let output = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("could not run rustc")?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .context("`rustc -vV` printed no host")
}

fn fuzz_one(bin: &Path, target: &str, seconds: u64, target_dir: &Path) -> Result<Outcome> {
    let corpus = target_dir.join("corpus").join(target);
    let artifacts = target_dir.join("artifacts").join(target);
    std::fs::create_dir_all(&corpus)?;
    std::fs::create_dir_all(&artifacts)?;
    let seeds = root().join("fuzz/seeds").join(target);
    println!("\n== {target}: {seconds}s");
    let started = Instant::now();
    // The first directory collects the inputs that found new coverage (kept between runs);
    // the seeds are only read.
    let output = Command::new(bin)
        .arg(&corpus)
        .arg(&seeds)
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .args(["-print_final_stats=1", "-rss_limit_mb=2048", "-timeout=10"])
        .output()
        .with_context(|| format!("could not run {}", bin.display()))?;
    let elapsed = started.elapsed().as_secs_f64();
    let log = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        let crash = newest_file(&artifacts).map_or_else(
            || "(no input file written)".to_owned(),
            |p| p.display().to_string(),
        );
        bail!(
            "the `{target}` target failed ({}):\n{}\n\ninput: {crash}\nreplay: {} {crash}\n\
             fix the parser, then copy the input into fuzz/seeds/{target}/ so the \
             deterministic test (`cargo test -p wreg-fuzz`) keeps it",
            output.status,
            tail.join("\n"),
            bin.display()
        );
    }
    let executions = stat(&log, "stat::number_of_executed_units:")
        .context("libFuzzer printed no execution count")?;
    // The last status line: `#N DONE cov: C ft: F corp: K/...`.
    let coverage = log
        .lines()
        .rev()
        .find_map(|line| line.split(" cov: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let corpus_size = std::fs::read_dir(&corpus)?.count();
    println!("  {executions} executions, coverage {coverage} edges, corpus {corpus_size} inputs");
    Ok(Outcome {
        target: target.to_owned(),
        seconds: elapsed,
        executions,
        coverage,
        corpus: corpus_size,
    })
}

fn stat(log: &str, name: &str) -> Option<u64> {
    log.lines()
        .find_map(|line| line.trim().strip_prefix(name))
        .and_then(|rest| rest.trim().parse().ok())
}

fn newest_file(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok())
        .max_by_key(|entry| entry.metadata().and_then(|m| m.modified()).ok())
        .map(|entry| entry.path())
}
