//! What a person sees: `wreg get` in a real pseudo-terminal (util-linux `script`) through
//! a slow link, its output replayed into a terminal emulator, and the final screen read.

use std::process::Command;

use test_support::Distribution;
use test_support::component::{self, Spec};
use test_support::http::FrontEnd;

use super::{Home, s};

/// Runs `wreg args...` in a pseudo-terminal of 100x30 and returns the final screen and
/// everything written to the terminal.
fn screen_after(home: &Home, args: &[&str]) -> (String, String) {
    let mut command = vec![
        env!("CARGO_BIN_EXE_wreg").to_owned(),
        "--config".to_owned(),
        s(&home.path("config.toml")).to_owned(),
        "--cache-dir".to_owned(),
        s(&home.path("cache")).to_owned(),
    ];
    command.extend(args.iter().map(|a| (*a).to_owned()));
    let line = command
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("script")
        .args([
            "-q",
            "-e",
            "-c",
            &format!("stty cols 100 rows 30; {line}"),
            "/dev/null",
        ])
        .current_dir(home.dir.path())
        .env_clear()
        .env("HOME", home.dir.path())
        .env("TERM", "xterm-256color")
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap_or_else(|e| panic!("`script` (Debian's util-linux) is needed: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mut parser = vt100::Parser::new(30, 100, 0);
    parser.process(&out.stdout);
    (
        home.redact(&parser.screen().contents()),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn progress_bars_leave_the_screen_clean() {
    let registry = Distribution::shared();
    // A 6 MiB component through a link of 2 MiB/s: the bar shows (after 300 ms) and is
    // replaced by the one summary line.
    let bytes = component::build(&Spec {
        padding: 6 << 20,
        ..Spec::default()
    });
    let home = Home::new("");
    let file = home.path("big.wasm");
    std::fs::write(&file, &bytes).unwrap();
    home.ok(&[
        "publish",
        s(&file),
        "--package",
        "slow:big@1.0.0",
        "--registry",
        &registry.host(),
    ]);
    let link = FrontEnd::throttled(registry.host().parse().unwrap(), 2 << 20);
    let (screen, written) = screen_after(
        &home,
        &[
            "get",
            "slow:big@1.0.0",
            "--registry",
            &link.host(),
            "-o",
            "got.wasm",
        ],
    );
    assert_eq!(std::fs::read(home.path("got.wasm")).unwrap(), bytes);
    assert!(
        written.contains("/6.00 MiB"),
        "the bar was drawn while the transfer lasted:\n{written}"
    );
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "only the summary stays on the screen:\n{screen}"
    );
    assert!(
        lines[0].starts_with("slow:big@1.0.0 sha256:") && lines[0].ends_with("-> got.wasm"),
        "{screen}"
    );
}

#[test]
fn man_pages_and_completions_come_from_the_command_definitions() {
    let home = Home::new("");
    home.ok(&["manpages", "man"]);
    let get = std::fs::read_to_string(home.path("man/wreg-get.1")).unwrap();
    assert!(
        get.starts_with(".ie") || get.contains(".TH wreg-get"),
        "{get}"
    );
    assert!(
        get.contains("registry") && get.contains("WKG_REGISTRY"),
        "{get}"
    );
    for page in ["wreg.1", "wreg-config-show.1", "wreg-cache-clean.1"] {
        assert!(home.path("man").join(page).is_file(), "{page}");
    }
    assert!(!home.path("man/wreg-help.1").exists(), "no page for `help`");
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let script = home.ok(&["completions", shell]);
        assert!(script.contains("manifest-path"), "{shell}: {script}");
    }
}
