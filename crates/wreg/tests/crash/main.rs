//! Crashes: `wreg` killed with SIGKILL at random moments, then run again.
//!
//! Seven commands that write files (`get`, `fetch`, `wit fetch`, `publish`, `bundle export`,
//! `config set`, `update`), each in a throwaway home with a directory registry, are started
//! and killed after a random delay, uniform in [0, 1.2 x] the time an uninterrupted run of
//! the same command took, until each has been killed `KILLS_PER_COMMAND` times while it ran
//! (a run that ends before its kill is counted apart). After every kill:
//!
//! - every file the command writes is whole: absent or as it was before, or exactly as the
//!   rerun leaves it (an output file, a `deps/` or `wit/deps` tree as a whole, `wkg.lock`,
//!   the config file, a bundle's `index.json`, a published release), never a mix;
//! - every cache entry (`content/sha256/<hex>`) hashes to its name;
//! - `wkg.lock` parses, the config file loads (`wreg config show`), a bundle is a layout
//!   whose index names only blobs that are there and verify;
//!
//! then the same command runs again without a kill and must succeed, and all of that is
//! checked again, with `wreg cache verify` finding nothing to remove.
//!
//! The delays and the choices each round makes (a fresh cache or project, which version) come
//! from a seeded generator: `WREG_CRASH_SEED=<n>` replays a run's sequence (the seed is in
//! every failure message). The per-command figures are in the assertion messages and in
//! `$CARGO_TARGET_TMPDIR/crash-figures.txt`; docs/reliability.md records them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use registry_core::ContentDigest;
use test_support::component::{self, Spec};
use test_support::shipped::{self, WASI};

mod cases;
mod check;

use cases::{BundleExport, Case, ConfigSet, Fetch, Get, Publish, Update, WitFetch, args};
use check::{State, cache_entries, leftovers, lock_file};

/// Kills that land while `wreg` runs, per command.
const KILLS_PER_COMMAND: usize = 30;
/// Rounds per command at most (a kill that comes after the run ended is no kill).
const MAX_ROUNDS: usize = 200;
/// Uninterrupted runs that time a command before its kills.
const CALIBRATION_RUNS: usize = 3;
/// The seed when `WREG_CRASH_SEED` is not set.
const DEFAULT_SEED: u64 = 0x5eed_0c4a_5e5d_2026;
const MIB: usize = 1024 * 1024;
/// The size of the components `get`, `fetch`, `publish` and `bundle export` move: large
/// enough that a run takes some milliseconds, so kills land inside it.
const BIG: usize = 4 * MIB;

/// splitmix64: small, seeded, the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        // 53 random bits, exactly representable.
        let bits = u32::try_from(self.next() >> 43).expect("21 bits");
        let low = u32::try_from(self.next() >> 32).expect("32 bits");
        (f64::from(bits) * 4_294_967_296.0 + f64::from(low)) / 9_007_199_254_740_992.0
    }

    /// True once in `n` times.
    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }
}

fn seed() -> u64 {
    match std::env::var("WREG_CRASH_SEED") {
        Ok(text) => {
            let text = text.trim();
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            parsed.unwrap_or_else(|err| panic!("WREG_CRASH_SEED={text}: {err}"))
        }
        Err(_) => DEFAULT_SEED,
    }
}

/// A scratch home: a config file naming a directory registry, a cache, a project directory
/// where the commands run, no user environment.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("registry");
        std::fs::write(
            dir.path().join("config.toml"),
            format!(
                "# crash test\ndefault_registry = \"local.test\"\n\n\
                 [registry.\"local.test\".local]\nroot = {:?}\n",
                root.display().to_string()
            ),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("project")).unwrap();
        Self { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn project(&self, rel: &str) -> PathBuf {
        self.dir.path().join("project").join(rel)
    }

    /// `wreg args` in the project directory, with this home's config file and cache.
    fn command(&self, args: &[String]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wreg"));
        command
            .current_dir(self.path("project"))
            .env_clear()
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.path("xdg"))
            .env("XDG_CACHE_HOME", self.path("xdg-cache"))
            .arg("--config")
            .arg(self.path("config.toml"))
            .arg("--cache-dir")
            .arg(self.path("cache"))
            .args(args);
        command
    }

    /// Runs `wreg args` to its end: its stdout, or what it said on stderr when it failed.
    fn run(&self, args: &[String]) -> Result<String, String> {
        let out = self.command(args).output().unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "`wreg {}` exited with {}: {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        self.run(&args).unwrap_or_else(|err| panic!("{err}"))
    }

    /// Publishes `bytes` as `spec`; returns the digest `wreg` reports.
    fn publish(&self, bytes: &[u8], spec: &str) -> String {
        let file = self.path(&format!("src-{}.wasm", spec.replace([':', '@'], "-")));
        std::fs::write(&file, bytes).unwrap();
        let out = self.ok(&[
            "--json",
            "publish",
            file.to_str().unwrap(),
            "--package",
            spec,
        ]);
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        json["digest"].as_str().unwrap().to_owned()
    }

    fn remove(&self, rel: &str) {
        let path = self.path(rel);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&path).unwrap(),
            Ok(_) => std::fs::remove_file(&path).unwrap(),
            Err(_) => {}
        }
    }
}

/// A component of about `size` bytes whose bytes differ with `seed`.
fn big_component(seed: &str, size: usize) -> Vec<u8> {
    component::build(&Spec {
        imports: &["wasi:cli/environment@0.2.0"],
        metadata: &[("description", seed)],
        padding: size,
        ..Spec::default()
    })
}

/// The bytes of every release the test published, by digest (`sha256:<hex>`): a cache entry
/// or blob with one of these names is compared instead of hashed.
type Known = BTreeMap<String, Vec<u8>>;

/// What the kills of one command did.
#[derive(Default)]
struct Figures {
    command: &'static str,
    /// The uninterrupted run's time (the median of the calibration runs).
    duration: Duration,
    rounds: usize,
    /// SIGKILLs that reached a running `wreg`.
    kills: usize,
    /// Runs that had ended before their kill came.
    ended_first: usize,
    /// Kills after which what the command writes was all as before (the kill came before
    /// the work was done) ...
    before_work: usize,
    /// ... all as the rerun leaves it (the work was done) ...
    after_work: usize,
    /// ... partly (each file whole: say `wkg.lock` written and `deps/` not yet) ...
    part_done: usize,
    /// ... or the same either way (nothing to tell).
    same_either_way: usize,
    /// Kills after which `wit/deps` was missing while the old one was set aside.
    deps_missing: usize,
    /// Reruns that downloaded content the killed run had not got into the cache.
    refetched: usize,
    /// Temporary files left by kills, and how many of those the reruns took away.
    temp_left: usize,
    temp_removed: usize,
    /// ... and of those not removed, how many were outside the cache.
    temp_kept_outside_cache: usize,
    /// Those, by name.
    kept: BTreeSet<String>,
    failures: usize,
}

impl Figures {
    fn line(&self) -> String {
        format!(
            "{}: {} kills in {} rounds ({} runs ended before their kill; uninterrupted run \
             {} ms); after the kill the work was undone {}, done {}, partly done {}, the same \
             either way {} (wit/deps missing {}); {} reruns refetched content; {} temporary \
             files left by kills, {} of them removed by the reruns ({} kept outside the \
             cache); {} failures",
            self.command,
            self.kills,
            self.rounds,
            self.ended_first,
            self.duration.as_millis(),
            self.before_work,
            self.after_work,
            self.part_done,
            self.same_either_way,
            self.deps_missing,
            self.refetched,
            self.temp_left,
            self.temp_removed,
            self.temp_kept_outside_cache,
            self.failures,
        ) + &if self.kept.is_empty() {
            String::new()
        } else {
            format!("; kept: {:?}", self.kept)
        }
    }
}

/// Kills `case` until it has been killed `KILLS_PER_COMMAND` times while it ran, checking
/// and rerunning after each kill; failures are added to `failures`.
fn exercise(
    case: &mut dyn Case,
    home: &Home,
    known: &Known,
    rng: &mut Rng,
    seed: u64,
    failures: &mut Vec<String>,
) -> Figures {
    let mut figures = Figures {
        command: case.name(),
        ..Figures::default()
    };
    let mut times = Vec::new();
    for round in 0..CALIBRATION_RUNS {
        let args = case.prepare(home, round, rng);
        let start = Instant::now();
        home.run(&args).unwrap_or_else(|err| panic!("{err}"));
        times.push(start.elapsed());
        case.check(home, known, true)
            .unwrap_or_else(|err| panic!("{} without a kill: {err}", case.name()));
    }
    times.sort();
    let duration = times[CALIBRATION_RUNS / 2];
    figures.duration = duration;

    let mut round = CALIBRATION_RUNS;
    while figures.kills < KILLS_PER_COMMAND && figures.rounds < MAX_ROUNDS {
        figures.rounds += 1;
        let args = case.prepare(home, round, rng);
        let fraction = rng.unit() * 1.2;
        let delay = duration.mul_f64(fraction);
        let watched = case.watched();
        let before: Vec<State> = watched.iter().map(|p| State::of(&home.path(p))).collect();
        let temp_before = leftovers(home);

        let mut child = home
            .command(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        // SIGKILL; a run that has already ended keeps its exit status.
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.signal() == Some(9) {
            figures.kills += 1;
        } else {
            figures.ended_first += 1;
        }

        let mut problems = Vec::new();
        let killed: Vec<State> = watched.iter().map(|p| State::of(&home.path(p))).collect();
        let temp_after_kill: BTreeSet<PathBuf> =
            leftovers(home).difference(&temp_before).cloned().collect();
        figures.temp_left += temp_after_kill.len();
        if watched.iter().any(|p| p.ends_with("wit/deps"))
            && killed[0] == State::Absent
            && before[0] != State::Absent
        {
            figures.deps_missing += 1;
        }
        let cached = match cache_entries(home, known) {
            Ok(names) => names,
            Err(err) => {
                problems.push(format!("after the kill: {err}"));
                BTreeSet::new()
            }
        };
        if let Err(err) = lock_file(home) {
            problems.push(format!("after the kill: {err}"));
        }
        if let Err(err) = case.check(home, known, false) {
            problems.push(format!("after the kill: {err}"));
        }

        match home.run(&args) {
            Err(err) => problems.push(format!("the rerun failed: {err}")),
            Ok(_) => {
                let after: Vec<State> = watched.iter().map(|p| State::of(&home.path(p))).collect();
                let mut old = 0;
                let mut new = 0;
                for (i, path) in watched.iter().enumerate() {
                    let is_old = killed[i] == before[i];
                    let is_new = killed[i] == after[i];
                    let aside = path.ends_with("wit/deps") && killed[i] == State::Absent;
                    let interim = case.interim(path, &killed[i]);
                    if !is_old && !is_new && !aside && !interim {
                        problems.push(format!(
                            "after the kill {path} was {}; before it was {}, after the rerun {}",
                            killed[i].describe(),
                            before[i].describe(),
                            after[i].describe()
                        ));
                    }
                    old += usize::from(is_old && !is_new);
                    new += usize::from(is_new && !is_old);
                }
                match (old, new) {
                    (0, 0) => figures.same_either_way += 1,
                    (_, 0) => figures.before_work += 1,
                    (0, _) => figures.after_work += 1,
                    _ => figures.part_done += 1,
                }
                match cache_entries(home, known) {
                    Ok(now) => figures.refetched += usize::from(!now.is_subset(&cached)),
                    Err(err) => problems.push(format!("after the rerun: {err}")),
                }
                if let Err(err) = lock_file(home) {
                    problems.push(format!("after the rerun: {err}"));
                }
                if let Err(err) = case.check(home, known, true) {
                    problems.push(format!("after the rerun: {err}"));
                }
                match home.run(&args_json_verify()) {
                    Ok(out) => {
                        let report: serde_json::Value =
                            serde_json::from_str(&out).unwrap_or_default();
                        let removed = report["removed"].as_array().map_or(0, Vec::len);
                        if removed > 0 {
                            problems.push(format!("`wreg cache verify` removed {out}"));
                        }
                    }
                    Err(err) => problems.push(format!("after the rerun: {err}")),
                }
            }
        }
        let temp_now = leftovers(home);
        figures.temp_removed += temp_after_kill.difference(&temp_now).count();
        // Left by the kill, there after the rerun, outside the cache (whose `tmp/` a
        // `cache clean` empties): in a directory the user sees.
        let cache = home.path("cache");
        for kept in temp_after_kill
            .intersection(&temp_now)
            .filter(|p| !p.starts_with(&cache))
        {
            figures.temp_kept_outside_cache += 1;
            let empty = std::fs::read_dir(kept).map_or_else(
                |_| std::fs::metadata(kept).is_ok_and(|m| m.len() == 0),
                |mut entries| entries.next().is_none(),
            );
            let name = kept.strip_prefix(home.dir.path()).unwrap_or(kept);
            if !empty {
                // Written to, so claimed before the kill: the rerun's write of its kind
                // (or, for a lock file, taking the project lock) must take it away.
                problems.push(format!(
                    "{} (with content), left by the kill, was still there after the rerun",
                    name.display()
                ));
            }
            figures.kept.insert(format!(
                "{}{}",
                name.display(),
                if empty { " (empty)" } else { "" }
            ));
        }

        if !problems.is_empty() {
            figures.failures += 1;
            failures.push(format!(
                "`wreg {}` (round {round}, WREG_CRASH_SEED={seed:#x}), SIGKILL after {} us \
                 ({fraction:.3} of the {} us an uninterrupted run took; {}): {}",
                args.join(" "),
                delay.as_micros(),
                duration.as_micros(),
                if status.signal() == Some(9) {
                    "killed while running"
                } else {
                    "it had ended"
                },
                problems.join("; ")
            ));
            case.reset(home);
        }
        round += 1;
    }
    figures
}

fn args_json_verify() -> Vec<String> {
    args(&["--json", "cache", "verify"])
}

#[test]
fn random_sigkills_leave_nothing_corrupt_and_every_rerun_succeeds() {
    let started = Instant::now();
    let seed = seed();
    let mut rng = Rng(seed);
    let mut known = Known::new();
    let mut failures = Vec::new();
    let mut all = Vec::new();

    // `big:blob` 1.0.0 and 2.0.0, for get, fetch and bundle export.
    let blob = |home: &Home, known: &mut Known| -> [(String, Vec<u8>, String); 2] {
        ["1.0.0", "2.0.0"].map(|version| {
            let bytes = big_component(&format!("big:blob@{version}"), BIG);
            let digest = home.publish(&bytes, &format!("big:blob@{version}"));
            known.insert(digest.clone(), bytes.clone());
            (version.to_owned(), bytes, digest)
        })
    };

    {
        let home = Home::new();
        let [a, b] = blob(&home, &mut known);
        let mut case = Get {
            versions: [(a.0, a.1), (b.0, b.1)],
            want: 0,
        };
        all.push(exercise(
            &mut case,
            &home,
            &known,
            &mut rng,
            seed,
            &mut failures,
        ));
    }
    {
        let home = Home::new();
        let versions = blob(&home, &mut known);
        let mut case = Fetch { versions, want: 0 };
        all.push(exercise(
            &mut case,
            &home,
            &known,
            &mut rng,
            seed,
            &mut failures,
        ));
    }
    {
        let home = Home::new();
        for (dir, spec) in WASI {
            let src = home.path(&format!("wasi-src/{spec}").replace([':', '@'], "-"));
            shipped::copy_package(dir, &src);
            home.ok(&[
                "publish",
                src.to_str().unwrap(),
                "--lock",
                "../publish.lock",
            ]);
        }
        let mut case = WitFetch { want: 0 };
        all.push(exercise(
            &mut case,
            &home,
            &known,
            &mut rng,
            seed,
            &mut failures,
        ));
    }
    {
        let home = Home::new();
        let bytes = big_component("big:pub", BIG);
        known.insert(ContentDigest::sha256(&bytes).to_string(), bytes.clone());
        let mut case = Publish {
            bytes,
            version: String::new(),
        };
        all.push(exercise(
            &mut case,
            &home,
            &known,
            &mut rng,
            seed,
            &mut failures,
        ));
    }
    {
        let home = Home::new();
        let [a, b] = blob(&home, &mut known);
        let mut case = BundleExport {
            versions: [a.0, b.0],
            want: 0,
        };
        all.push(exercise(
            &mut case,
            &home,
            &known,
            &mut rng,
            seed,
            &mut failures,
        ));
    }
    {
        let home = Home::new();
        let mut case = ConfigSet {
            key: String::new(),
            value: String::new(),
        };
        all.push(exercise(
            &mut case,
            &home,
            &known,
            &mut rng,
            seed,
            &mut failures,
        ));
    }
    {
        let home = Home::new();
        let names = ["big:upd0", "big:upd1", "big:upd2"];
        for name in names {
            let bytes = big_component(&format!("{name}@1.0.0"), BIG / 2);
            known.insert(home.publish(&bytes, &format!("{name}@1.0.0")), bytes);
        }
        let deps: Vec<String> = names.iter().map(|n| format!("{n}@^1")).collect();
        let mut lock_args = vec!["lock"];
        for dep in &deps {
            lock_args.extend(["--dep", dep]);
        }
        home.ok(&lock_args);
        let old = std::fs::read(home.project("wkg.lock")).unwrap();
        let mut new_pins = BTreeSet::new();
        for name in names {
            let bytes = big_component(&format!("{name}@1.1.0"), BIG / 2);
            let digest = home.publish(&bytes, &format!("{name}@1.1.0"));
            new_pins.insert(format!("{name}@1.1.0 {digest}"));
            known.insert(digest, bytes);
        }
        let mut case = Update { old, new_pins };
        all.push(exercise(
            &mut case,
            &home,
            &known,
            &mut rng,
            seed,
            &mut failures,
        ));
    }

    let kills: usize = all.iter().map(|f| f.kills).sum();
    let mut report = format!(
        "seed {seed:#x}: {kills} kills in {:.1} s\n",
        started.elapsed().as_secs_f64()
    );
    for figures in &all {
        writeln!(report, "{}", figures.line()).unwrap();
    }
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("crash-figures.txt"),
        &report,
    );
    assert!(
        failures.is_empty(),
        "{} of the rounds broke something:\n{}\n\n{report}",
        failures.len(),
        failures.join("\n")
    );
    for figures in &all {
        assert_eq!(
            figures.kills, KILLS_PER_COMMAND,
            "{}: too few kills landed while it ran\n{report}",
            figures.command
        );
    }
    assert!(kills >= 200, "{report}");
}
