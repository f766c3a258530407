//! Configuration: loading six layers in process, and `wreg config show` as a process.

use std::fmt::Write as _;
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::{Row, Sample, more_runs, push_medians, timed_sample, under_gnu_time};
use crate::cargo;

/// The Criterion benchmark of loading a six-layer config; its median from Criterion's
/// estimates.
pub(super) fn config_load(rows: &mut Vec<Row>) -> Result<()> {
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
        let path = crate::target_dir()
            .join("criterion")
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
            // Criterion's own sampling; its spread is in `target/criterion`.
            min: nanos / 1e9,
            max: nanos / 1e9,
            runs: 0,
            peak_kib: 0,
            fine: true,
        });
    }
    Ok(())
}

/// Invocations timed together for one sample of a command that takes milliseconds.
pub(super) const SHORT_REPEATS: u32 = 40;

/// Scenario 7: `wreg config show --origin` reading six layers (built-in defaults, the user
/// file, three nested project files, the environment), process start-up included, next to
/// `git config --list --show-origin` reading six sources (system, global and local files,
/// two included files, the environment): the same job for a tool people know.
pub(super) fn config_show(rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<()> {
    let wreg = std::path::PathBuf::from(super::wreg());
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
    // The six layers are really read: four files, and values from the environment, each
    // value shown with the layer it came from.
    let paths = wreg_cmd(Command::new(&wreg), &["config", "path"]).output()?;
    let shown = wreg_cmd(Command::new(&wreg), &["config", "show", "--origin"]).output()?;
    let shown_text = String::from_utf8_lossy(&shown.stdout);
    if String::from_utf8_lossy(&paths.stdout).lines().count() != 4 {
        bail!("wreg config path did not list four files:\n{shown_text}");
    }
    check_listing(
        "wreg config show",
        &shown_text,
        &[
            ("namespace_registries.wasi = \"wasi.dev\"", "built-in"),
            ("default_registry = \"ghcr.io\"", "user.toml:2:"),
            (
                "package_registry_overrides.\"ns19:pkg19\" = \"mirror.example:5000\"",
                "user.toml:",
            ),
            (
                "registry.\"registry9.example\".oci.namespace_prefix = \"org9/\"",
                "user.toml:",
            ),
            (
                "namespace_registries.a = \"a.example\"",
                "a/.wasm-pkg/config.toml:",
            ),
            (
                "namespace_registries.b = \"b.example\"",
                "b/.wasm-pkg/config.toml:",
            ),
            (
                "namespace_registries.c = \"c.example\"",
                "c/.wasm-pkg/config.toml:",
            ),
            (
                "namespace_registries.env = \"env.example\"",
                "WASM_PKG_NAMESPACE_REGISTRIES",
            ),
        ],
    )?;

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
    check_listing(
        "git config --list",
        &String::from_utf8_lossy(&listed.stdout),
        &[
            ("core.pager=less", "gitconfig-system"),
            ("user.name=Bench", "gitconfig-global"),
            (
                "remote.r19.url=https://registry19.example/x",
                "gitconfig-include-1",
            ),
            ("core.bare=false", ".git/config"),
            (
                "remote.s19.url=https://registry19.example/x",
                "gitconfig-include-2",
            ),
            ("env.key=value", "command line"),
        ],
    )?;

    let mut samples: Vec<(String, Vec<Sample>)> = vec![
        ("ours".into(), Vec::new()),
        ("git config --list --show-origin".into(), Vec::new()),
    ];
    let mut run = 0;
    while more_runs(run, &samples) {
        run += 1;
        for (contestant, runs) in &mut samples {
            let ours = contestant == "ours";
            let program: &std::ffi::OsStr = if ours {
                wreg.as_os_str()
            } else {
                "git".as_ref()
            };
            let set_up = |base: Command, stdout: std::process::Stdio| {
                let mut cmd = if ours {
                    wreg_cmd(base, &["config", "show", "--origin"])
                } else {
                    git_cmd(base, &["config", "--list", "--show-origin"])
                };
                cmd.stdout(stdout);
                cmd
            };
            // Every invocation writes to one file (one after another, as they share its
            // offset), which must then hold the listing checked above that many times.
            let written = tempfile::NamedTempFile::new()?;
            let mut cmd = set_up(Command::new(program), written.reopen()?.into());
            let started = std::time::Instant::now();
            for _ in 0..SHORT_REPEATS {
                if !cmd.status()?.success() {
                    bail!("{contestant} failed");
                }
            }
            let seconds = started.elapsed().as_secs_f64() / f64::from(SHORT_REPEATS);
            let checked = if ours { &shown.stdout } else { &listed.stdout };
            if std::fs::read(written.path())? != checked.repeat(SHORT_REPEATS as usize) {
                bail!("{contestant}: an invocation listed other than the run checked before");
            }
            // Peak memory from one more run under GNU time.
            let out = tempfile::NamedTempFile::new()?;
            let peak_kib = timed_sample(
                &mut set_up(
                    under_gnu_time(out.path(), program),
                    std::process::Stdio::null(),
                ),
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
         the environment). A value from each layer or source is checked, with its origin, \
         before the runs, and every invocation's output (to a file) must be that listing."
    ));
    push_medians(rows, "config show, 6 layers (process)".to_owned(), samples);
    Ok(())
}

/// Fails unless `listing` (what `tool` printed) has, for each `(entry, origin)`, a line
/// with the entry and the origin it was read from.
fn check_listing(tool: &str, listing: &str, expected: &[(&str, &str)]) -> Result<()> {
    for (entry, origin) in expected {
        if !listing
            .lines()
            .any(|line| line.contains(entry) && line.contains(origin))
        {
            bail!("{tool} did not show `{entry}` from {origin}:\n{listing}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_listing;

    #[test]
    fn a_listing_must_show_each_value_with_its_origin() {
        let listing = "a = \"1\"  # /u/user.toml:2:1\nb = \"2\"  # built-in default\n";
        check_listing(
            "t",
            listing,
            &[("a = \"1\"", "user.toml"), ("b = \"2\"", "built-in")],
        )
        .unwrap();
        // The value from another layer, or a value missing, is not it.
        assert!(check_listing("t", listing, &[("a = \"1\"", "built-in")]).is_err());
        assert!(check_listing("t", listing, &[("c = \"3\"", "user.toml")]).is_err());
    }
}
