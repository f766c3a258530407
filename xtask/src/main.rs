//! Project automation: `cargo xtask <task>`.
//!
//! - `demo`: the quickstart's first command; shows the workspace's main job end to end on a
//!   fresh machine, with no server.
//! - `test`: the whole test suite, as CI runs it (formatting, lints, each crate built on its
//!   own, every test).
//! - `bench`: the benchmarks.
//! - `interop`: transfers between us and the peer tools.
//! - `fuzz`: coverage-guided fuzzing of the parsers, time-bounded.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

mod bench;
mod delay;
mod dist;
mod fuzz;
mod interop;
mod peers;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  demo    show what the workspace does today, end to end, with no server
  test    run the whole test suite as CI does (fmt, clippy, per-crate builds, tests)
  bench   run the benchmarks next to their peers (wkg, curl) and write BENCHMARKS.md
  interop publish and read across wreg, wkg and skopeo; fail on any red cell
  fuzz    coverage-guided fuzzing of every parser, FUZZ_SECONDS (60) per target
  dist    the release binary (stripped), man pages, completions and SHA256SUMS in target/dist
";

/// The library crates, each of which must build on its own.
const CRATES: &[&str] = &[
    "registry-core",
    "registry-config",
    "registry-transport",
    "registry-oci",
    "registry-warg",
    "registry-client",
    "registry-wit",
    "registry-adapters",
    "wreg",
    "wreg-fuzz",
];

/// The embedding examples an embedder copies: compiled and run, so they keep working.
const EXAMPLES: &[(&str, &str)] = &[
    ("registry-adapters", "wac"),
    ("registry-adapters", "cargo_component"),
];

fn main() {
    if let Err(err) = run() {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("demo") => demo(),
        Some("test") => test(),
        Some("bench") => bench(),
        Some("interop") => interop::run_matrix(),
        Some("fuzz") => fuzz::run(),
        Some("dist") => dist::run(),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown task `{other}`\n\n{USAGE}"),
        None => bail!("no task given\n\n{USAGE}"),
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_owned()
}

/// Where cargo puts what it builds: `CARGO_TARGET_DIR` (relative to the workspace root,
/// as cargo reads it from the environment) or `target/`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root().join(dir),
        _ => root().join("target"),
    }
}

/// Installs, with `apt-get`, the Debian packages whose programs are missing: `tools` pairs
/// a program (a name on `PATH` or an absolute path) with its package. Without root, says
/// what to install instead.
fn debian_tools(tools: &[(&str, &str)]) -> Result<()> {
    let present = |program: &str| {
        if program.starts_with('/') {
            Path::new(program).is_file()
        } else {
            std::env::var_os("PATH").is_some_and(|path| {
                std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
            })
        }
    };
    let missing: Vec<&str> = tools
        .iter()
        .filter(|(program, _)| !present(program))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.join(" ");
    println!("\n$ apt-get install -y {list}");
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !as_root {
        bail!("missing Debian packages: run `sudo apt-get install {list}`, then try again");
    }
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut install = vec!["install", "-y", "-qq"];
    install.extend(&missing);
    if !(apt(&["update", "-qq"]) && apt(&install)) {
        bail!("`apt-get install {list}` failed; install them by hand, then try again");
    }
    Ok(())
}

/// Runs `cargo` with `args` in the workspace root, failing if it fails.
fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("\n$ cargo {}", args.join(" "));
    let started = Instant::now();
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(root())
        .status()
        .with_context(|| format!("could not run `cargo {}`", args.join(" ")))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    println!("  ({:.1}s)", started.elapsed().as_secs_f64());
    Ok(())
}

fn demo() -> Result<()> {
    println!(
        "wreg demo: package names in, verified bytes out.\n\
         It publishes generated components, resolves a dependency set with a lock file,\n\
         fetches through the verified cache, survives cache corruption and works offline;\n\
         first against a local directory registry (no server), then, when Debian's\n\
         docker-registry is installed, against a real OCI registry on loopback. Then a tour\n\
         of the layered configuration all of it reads."
    );
    cargo(&[
        "run",
        "--quiet",
        "-p",
        "registry-client",
        "--example",
        "demo",
    ])?;
    wreg_session()?;
    cargo(&[
        "run",
        "--quiet",
        "-p",
        "registry-config",
        "--example",
        "layers",
    ])
}
/// The same job through the `wreg` command, in a throwaway home.
fn wreg_session() -> Result<()> {
    cargo(&["build", "--quiet", "-p", "wreg"])?;
    let wreg = target_dir().join("debug/wreg");
    let home = tempfile::tempdir()?;
    let dir = home.path();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "# the demo's config\ndefault_registry = \"local.demo\"\n\n\
             [registry.\"local.demo\".local]\nroot = {:?}\n",
            dir.join("registry").display().to_string()
        ),
    )?;
    std::fs::write(
        dir.join("hello.wasm"),
        test_support::component::small("hello from wreg"),
    )?;
    println!("\n== The same through the wreg command (in a throwaway home, $HOME)");
    let sessions: &[&[&str]] = &[
        &["publish", "hello.wasm", "--package", "demo:hello@0.1.0"],
        &["versions", "demo:hello"],
        &["fetch", "--dep", "demo:hello@^0.1"],
        &["get", "demo:hello", "-o", "hello-copy.wasm"],
        &["config", "show", "--origin"],
        &["cache", "ls"],
    ];
    for args in sessions {
        println!("\n$ wreg {}", args.join(" "));
        let output = Command::new(&wreg)
            .current_dir(dir)
            .env("HOME", dir)
            .env("XDG_CONFIG_HOME", dir.join("xdg"))
            .arg("--config")
            .arg(dir.join("config.toml"))
            .arg("--cache-dir")
            .arg(dir.join("cache"))
            .args(*args)
            .output()
            .context("run wreg")?;
        let show = |bytes: &[u8]| {
            String::from_utf8_lossy(bytes).replace(&dir.display().to_string(), "$HOME")
        };
        print!("{}", show(&output.stdout));
        eprint!("{}", show(&output.stderr));
        if !output.status.success() {
            bail!("`wreg {}` failed ({})", args.join(" "), output.status);
        }
    }
    Ok(())
}

fn test() -> Result<()> {
    let started = Instant::now();
    for tool in [["fmt", "--version"], ["clippy", "--version"]] {
        let ok = Command::new("cargo")
            .args(tool)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            bail!(
                "`cargo {}` is not installed; install it with `rustup component add {}`",
                tool[0],
                if tool[0] == "fmt" {
                    "rustfmt"
                } else {
                    "clippy"
                }
            );
        }
    }
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])?;
    // Each crate compiles on its own feature set (a missing feature would hide behind the
    // workspace's unified features). `check` proves it without linking another copy.
    for krate in CRATES {
        cargo(&["check", "--locked", "-p", krate])?;
    }
    // A tool that drops the backends it does not use still builds.
    cargo(&[
        "check",
        "--locked",
        "-p",
        "registry-client",
        "--no-default-features",
    ])?;
    // The embedding examples run as an embedder would run them.
    for (krate, example) in EXAMPLES {
        cargo(&[
            "run",
            "--locked",
            "--quiet",
            "-p",
            krate,
            "--example",
            example,
        ])?;
    }
    // `--nocapture`: everything the tests, the servers they start and the tools they run
    // print reaches the output, which is then searched for the tests' credentials.
    let mut counts = TestCounts::default();
    let mut output = Vec::new();
    counts += cargo_test(
        &[
            "test",
            "--workspace",
            "--locked",
            "--all-targets",
            "--",
            "--nocapture",
        ],
        &mut output,
    )?;
    counts += cargo_test(
        &[
            "test",
            "--workspace",
            "--locked",
            "--doc",
            "--",
            "--nocapture",
        ],
        &mut output,
    )?;
    let secrets = test_support::secrets::all();
    let found = leaks(&output, &secrets);
    if !found.is_empty() {
        // Where, not what: the log should not repeat them.
        let places: Vec<String> = found
            .iter()
            .map(|(line, secret)| format!("output line {line} (credential #{secret})"))
            .collect();
        bail!(
            "a credential the tests use appeared in their output: {}\nsearch the output above \
             for the values in tests/support/src/secrets.rs",
            places.join(", ")
        );
    }
    println!(
        "searched {} lines of test output for {} known credentials: none found",
        output.len(),
        secrets.len()
    );
    println!(
        "\nall checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    if counts.passed == 0 {
        bail!("no test ran");
    }
    println!("tests: {} passed, {} failed", counts.passed, counts.failed);
    Ok(())
}

#[derive(Default, Clone, Copy)]
struct TestCounts {
    passed: u64,
    failed: u64,
}

impl std::ops::AddAssign for TestCounts {
    fn add_assign(&mut self, other: Self) {
        self.passed += other.passed;
        self.failed += other.failed;
    }
}

/// Runs a `cargo test` command, echoing its output (stdout and stderr) and adding every
/// line to `output`; returns the counts from its `test result:` lines.
fn cargo_test(args: &[&str], output: &mut Vec<String>) -> Result<TestCounts> {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("\n$ cargo {}", args.join(" "));
    let started = Instant::now();
    let mut child = Command::new(&cargo)
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not run `cargo {}`", args.join(" ")))?;
    let stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            lines.push(line);
        }
        lines
    });
    let mut counts = TestCounts::default();
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line?;
        println!("{line}");
        // Found anywhere: with --nocapture a test's output can precede it on the line.
        if let Some((_, rest)) = line.split_once("test result: ") {
            let number = |word: &str| -> u64 {
                rest.split(';')
                    .find_map(|part| {
                        part.trim()
                            .strip_suffix(word)?
                            .trim()
                            .rsplit(' ')
                            .next()?
                            .parse()
                            .ok()
                    })
                    .unwrap_or(0)
            };
            counts.passed += number("passed");
            counts.failed += number("failed");
        }
        output.push(line);
    }
    output.extend(errors.join().expect("the stderr reader does not panic"));
    let status = child.wait()?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    println!("  ({:.1}s)", started.elapsed().as_secs_f64());
    Ok(counts)
}

/// The lines of `output` that contain one of `secrets`, as (line number, index of the
/// secret).
fn leaks(output: &[String], secrets: &[String]) -> Vec<(usize, usize)> {
    output
        .iter()
        .enumerate()
        .filter_map(|(n, line)| {
            let found = secrets.iter().position(|s| line.contains(s.as_str()))?;
            Some((n + 1, found))
        })
        .collect()
}

fn bench() -> Result<()> {
    println!("Benchmarks run on this machine; compare figures only within one run.");
    bench::run()
}

#[cfg(test)]
mod tests {
    use super::leaks;

    #[test]
    fn the_leak_search_finds_a_credential_anywhere_in_a_line() {
        let output: Vec<String> = ["running 3 tests", "auth failed for hunter2-pw at 1", "ok"]
            .map(str::to_owned)
            .to_vec();
        let secrets = vec!["sesame".to_owned(), "hunter2".to_owned()];
        assert_eq!(leaks(&output, &secrets), vec![(2, 1)]);
        assert!(leaks(&output[..1], &secrets).is_empty());
    }
}
