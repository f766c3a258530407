//! `cargo xtask bench`: every figure measured in one run, next to its peers, written to
//! `BENCHMARKS.md`, the rows that grow with a size or a count drawn as SVG plots in
//! `docs/bench/` (linked from it). A scenario that cannot run fails the task; no figure is
//! printed or drawn that was not measured in this run.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, root};

mod config;
mod fleet;
mod headlines;
mod many;
pub(super) mod oci;
mod plot;
mod provenance;
mod report;
mod warg;
mod wit;

/// Runs per contestant, alternating between contestants.
pub(super) const RUNS: usize = 5;
/// Runs per contestant where some contestant's median is under [`SHORT`] seconds.
pub(super) const SHORT_RUNS: usize = 15;
/// Rows whose median is under this many seconds take [`SHORT_RUNS`] runs.
pub(super) const SHORT: f64 = 0.5;

/// Wall time and peak resident memory of one run.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sample {
    pub(super) seconds: f64,
    pub(super) peak_kib: u64,
    /// Timed by a monotonic clock in this process (`Instant`), to the microsecond.
    pub(super) fine: bool,
}

/// A contestant's runs: the median wall time with the fastest and slowest run, and the
/// median peak memory.
pub(super) struct Row {
    pub(super) scenario: String,
    pub(super) contestant: String,
    pub(super) seconds: f64,
    pub(super) min: f64,
    pub(super) max: f64,
    pub(super) runs: usize,
    pub(super) peak_kib: u64,
    pub(super) fine: bool,
}

/// Whether the contestants of a scenario run again after `done` runs each: always up to
/// [`RUNS`], and up to [`SHORT_RUNS`] while some contestant's median is under [`SHORT`]
/// seconds (a spread over five runs of a few milliseconds says little).
pub(super) fn more_runs(done: usize, samples: &[(String, Vec<Sample>)]) -> bool {
    // Decided on the first `RUNS` runs alone, so that every contestant has an odd count.
    done < RUNS
        || (done < SHORT_RUNS
            && samples.iter().any(|(_, runs)| {
                let first = &runs[..runs.len().min(RUNS)];
                !first.is_empty() && median(first.to_vec()).seconds < SHORT
            }))
}

pub(crate) fn run() -> Result<()> {
    let mut rows = Vec::new();
    let mut notes = Vec::new();

    // `BENCH_ONLY=warg,oci` runs some scenario groups (config, oci, many, provenance, fleet, warg, wit) and prints
    // their table without replacing BENCHMARKS.md.
    let only = std::env::var("BENCH_ONLY").ok();
    let wanted = |group: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|g| g == group))
    };
    crate::debian_tools(&[
        ("/usr/bin/time", "time"),
        ("curl", "curl"),
        ("openssl", "openssl"),
        ("skopeo", "skopeo"),
        ("git", "git"),
        ("docker-registry", "docker-registry"),
    ])?;
    if wanted("config") {
        config::config_load(&mut rows)?;
    }
    // The binary a user installs: the release profile.
    cargo(&["build", "--locked", "--release", "-p", "wreg"])?;
    notes.push(timing_note()?);
    if wanted("oci") {
        oci::oci_transfers(&mut rows, &mut notes)?;
    }
    if wanted("many") {
        many::many_packages(&mut rows, &mut notes)?;
    }
    if wanted("provenance") {
        provenance::provenance_cost(&mut rows, &mut notes)?;
    }
    if wanted("fleet") {
        fleet::pull_through(&mut rows, &mut notes)?;
    }
    if wanted("warg") {
        warg::warg_fetch(&mut rows, &mut notes)?;
    }
    if wanted("wit") {
        wit::wasi_fetch(&mut rows, &mut notes)?;
    }
    if wanted("config") {
        config::config_show(&mut rows, &mut notes)?;
    }

    let plots = plot::plots(&rows);
    if only.is_some() {
        // The plots where they can be looked at, linked from the table printed below.
        let dir = crate::target_dir().join("bench-plots");
        plot::write(&dir, &plots)?;
        println!(
            "\n{}",
            report::render(&rows, &notes, &plots, &dir.display().to_string())
        );
        println!(
            "README headlines from this run:\n\n{}",
            headlines::render(&rows)
        );
        println!(
            "BENCH_ONLY is set: BENCHMARKS.md, README.md and {} left as they were (the plots \
             are in {})",
            plot::DIR,
            dir.display()
        );
        return Ok(());
    }
    let report = report::render(&rows, &notes, &plots, plot::DIR);
    println!("\n{report}");
    plot::write(&root().join(plot::DIR), &plots)?;
    std::fs::write(root().join("BENCHMARKS.md"), report).context("write BENCHMARKS.md")?;
    headlines::write_readme(&root().join("README.md"), &rows)?;
    println!(
        "written to BENCHMARKS.md, the plots to {}, and the headlines to README.md",
        plot::DIR
    );
    Ok(())
}

/// A fresh `docker-registry` for a scenario, reachable directly and through a delay line
/// (a 20 ms round trip), a config file for each, and a scratch directory with a `home`.
pub(super) struct Stage {
    pub(super) work: tempfile::TempDir,
    pub(super) home: std::path::PathBuf,
    /// The config file that reaches the registry directly.
    pub(super) direct: String,
    /// The config file that reaches it through the delay line.
    pub(super) delayed: String,
    _proxy: crate::delay::DelayLine,
    _registry: test_support::Distribution,
}

impl Stage {
    pub(super) fn start() -> Result<Self> {
        let registry = test_support::Distribution::start().map_err(anyhow::Error::msg)?;
        let proxy =
            crate::delay::DelayLine::start(registry.addr(), std::time::Duration::from_millis(10))?;
        let work = tempfile::tempdir()?;
        let home = work.path().join("home");
        std::fs::create_dir_all(&home)?;
        let direct = write_config(&work.path().join("direct.toml"), &registry.host())?;
        let delayed = write_config(&work.path().join("delayed.toml"), &proxy.addr.to_string())?;
        Ok(Self {
            work,
            home,
            direct,
            delayed,
            _proxy: proxy,
            _registry: registry,
        })
    }

    pub(super) fn dir(&self) -> &Path {
        self.work.path()
    }
}

/// A config file at `path` naming `host` (plain HTTP) as the default registry; its path.
pub(super) fn write_config(path: &Path, host: &str) -> Result<String> {
    std::fs::write(
        path,
        format!("default_registry = \"{host}\"\n[registry.\"{host}\".oci]\nprotocol = \"http\"\n"),
    )?;
    Ok(path.display().to_string())
}

/// `wreg` as a row runs it for an app directory: `HOME` set, quiet, the cache in
/// `<app>/cache` and the lock file `<app>/wkg.lock` (`--locked` when asked), then `args`.
pub(super) fn wreg_in_app(
    home: &Path,
    config: &str,
    app: &Path,
    args: &[&str],
    locked: bool,
) -> Vec<String> {
    let app = app.display();
    let mut cmd: Vec<String> = vec![
        "env".into(),
        format!("HOME={}", home.display()),
        wreg(),
        "-q".into(),
        "--config".into(),
        config.to_owned(),
        "--cache-dir".into(),
        format!("{app}/cache"),
    ];
    cmd.extend(args.iter().map(|a| (*a).to_owned()));
    cmd.extend(["--lock".into(), format!("{app}/wkg.lock")]);
    if locked {
        cmd.push("--locked".into());
    }
    cmd
}

/// `wkg <args>` as a row runs it in an app directory (its cache in `<app>/cache`), output
/// discarded.
pub(super) fn wkg_in_app(
    wkg: &str,
    home: &Path,
    config: &str,
    app: &Path,
    args: &str,
) -> Vec<String> {
    let app = app.display();
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "cd {app} && HOME={} {wkg} {args} --config {config} --cache {app}/cache \
             >/dev/null 2>&1",
            home.display()
        ),
    ]
}

/// The `wreg` every row runs: the release build a user installs.
pub(super) fn wreg() -> String {
    crate::target_dir()
        .join("release/wreg")
        .display()
        .to_string()
}

/// Runs `command` and returns its wall time and peak RSS (see [`timed_sample`]).
pub(super) fn measure(command: &[&str]) -> Result<Sample> {
    let out = tempfile::NamedTempFile::new()?;
    let mut timed = under_gnu_time(out.path(), command[0]);
    timed.args(&command[1..]);
    timed_sample(&mut timed, out.path(), &command.join(" "))
}

/// A command running `program` under GNU time, which writes the peak KiB of `program` and
/// its descendants to `out`; arguments, environment and directory are added to it as to
/// `program`'s own.
pub(super) fn under_gnu_time(out: &Path, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new("/usr/bin/time");
    command.args(["-f", "%M", "-o"]).arg(out).arg(program);
    command
}

/// Runs a command from [`under_gnu_time`]: its wall time by `Instant` around spawning and
/// waiting for it, its peak memory as GNU time read it from `wait4`.
///
/// GNU time is kept for memory alone: `rustix` offers no `wait4` with a `rusage` nor
/// `getrusage`, calling `libc::wait4` needs `unsafe` (forbidden in this workspace),
/// `getrusage(RUSAGE_CHILDREN)` keeps the largest peak of every child this process ever
/// reaped (not this run's), and `/proc/<pid>/status` `VmHWM` is gone once the child exits
/// and never counts its own children (the `sh -c` pipelines). GNU time's `fork` and `exec`
/// fall inside the clock; [`timing_note`] measures that cost in the same run.
pub(super) fn timed_sample(command: &mut Command, out: &Path, what: &str) -> Result<Sample> {
    let started = std::time::Instant::now();
    let status = command
        .status()
        .context("run /usr/bin/time (Debian package `time`)")?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("`{what}` failed ({status})");
    }
    let text = std::fs::read_to_string(out)?;
    let peak_kib = text
        .split_whitespace()
        .last()
        .context("no memory")?
        .parse()?;
    Ok(Sample {
        seconds,
        peak_kib,
        fine: true,
    })
}

/// How every figure is timed, and what running a process under GNU time adds to it (the
/// median of [`SHORT_RUNS`] runs of `true` with and without it, measured now).
fn timing_note() -> Result<String> {
    let mut bare = Vec::new();
    let mut wrapped = Vec::new();
    for _ in 0..SHORT_RUNS {
        let started = std::time::Instant::now();
        if !Command::new("true").status()?.success() {
            bail!("`true` failed");
        }
        bare.push(Sample {
            seconds: started.elapsed().as_secs_f64(),
            peak_kib: 0,
            fine: true,
        });
        wrapped.push(measure(&["true"])?);
    }
    let overhead = median(wrapped).seconds - median(bare).seconds;
    Ok(format!(
        "Timing: each run's wall time is read by a monotonic clock in the bench process \
         (`Instant` around spawning and waiting for the command), to the microsecond; peak \
         memory is GNU time's `%M` (`wait4`'s `ru_maxrss`: the largest single process of the \
         command, its children included), GNU time being the one safe way to read it. GNU \
         time's own start-up is inside every figure alike: {:.2} ms in this run (`true` \
         with and without it, medians of {SHORT_RUNS}). Rows show the median, fastest and \
         slowest of {RUNS} runs, or {SHORT_RUNS} where a contestant's median is under \
         {SHORT} s.",
        overhead * 1e3
    ))
}

/// One row per contestant: the medians of its runs.
pub(super) fn push_medians(
    rows: &mut Vec<Row>,
    scenario: String,
    samples: Vec<(String, Vec<Sample>)>,
) {
    for (contestant, runs) in samples {
        let (min, max) = runs.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), s| {
            (lo.min(s.seconds), hi.max(s.seconds))
        });
        let count = runs.len();
        let m = median(runs);
        rows.push(Row {
            scenario: scenario.clone(),
            contestant,
            seconds: m.seconds,
            min,
            max,
            runs: count,
            peak_kib: m.peak_kib,
            fine: m.fine,
        });
    }
}

pub(super) fn median(mut samples: Vec<Sample>) -> Sample {
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

/// The SHA-256 of a file (OpenSSL: fast enough to check gigabytes after every run).
pub(super) fn sha256_of(path: &Path) -> Result<String> {
    let output = Command::new("openssl")
        .args(["dgst", "-sha256", "-r"])
        .arg(path)
        .output()
        .context("run openssl (Debian package `openssl`)")?;
    if !output.status.success() {
        bail!(
            "openssl dgst {}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8(output.stdout)?;
    let hex = text
        .split_whitespace()
        .next()
        .context("openssl dgst output")?;
    Ok(format!("sha256:{hex}"))
}

/// Fails unless the file at `path` has `digest` (`sha256:<hex>`).
pub(super) fn check_digest(path: &Path, digest: &str) -> Result<()> {
    let actual = sha256_of(path)?;
    if actual != digest {
        bail!("{} has {actual}, expected {digest}", path.display());
    }
    Ok(())
}

pub(super) fn check_same(a: &Path, b: &Path) -> Result<()> {
    check_digest(a, &sha256_of(b)?)
}
