//! Exit codes, error text, logging and progress bars.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use registry_client::Progress;
use registry_core::{Error, PackageRef, Version};

use crate::cli::{Color, Global};

/// Bad command line (as `EX_USAGE`): a mistake caught by wreg itself.
pub(crate) const EXIT_USAGE: u8 = 64;
/// A configuration value is wrong (as `EX_CONFIG`).
pub(crate) const EXIT_CONFIG: u8 = 78;
/// A local file cannot be read or written (as `EX_IOERR`).
pub(crate) const EXIT_IO: u8 = 74;

/// The exit code for an error: the first registry or configuration error in its chain
/// decides, through [`Error::exit_code`] (one code per variant; the table is in the README
/// and the test `every_error_variant_has_its_documented_exit_code` holds the two equal).
pub(crate) fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(err) = cause.downcast_ref::<Error>() {
            return err.exit_code();
        }
        if let Some(err) = cause.downcast_ref::<registry_config::ConfigError>() {
            // A config file that cannot be read or written is local I/O, as the library's
            // own `From<ConfigError> for Error` has it.
            return match err {
                registry_config::ConfigError::Io { .. } => EXIT_IO,
                _ => EXIT_CONFIG,
            };
        }
        if cause.downcast_ref::<UsageError>().is_some() {
            return EXIT_USAGE;
        }
    }
    1
}

/// Writes a file the user asked for (`-o`), atomically and durably: the old file or the
/// new one, never part of one. A missing directory is made, as `get -o` and `fetch -o` make
/// theirs; a symbolic link is written through and kept.
pub(crate) fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = registry_config::fs::parent_dir(path);
    std::fs::create_dir_all(dir).map_err(|err| Error::io(dir, err))?;
    registry_config::fs::write_atomic(path, bytes, registry_config::fs::Durability::Synced)
        .map_err(|err| Error::io(path, err))
}

/// What a command prints: JSON with `--json`, its text otherwise (nothing with `-q`).
pub(crate) trait Report: serde::Serialize + std::fmt::Display {}

impl<T: serde::Serialize + std::fmt::Display> Report for T {}

/// What a report is, which decides where it goes and whether `-q` silences it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Channel {
    /// Data the command was asked for (a version list, a config value): stdout, JSON with
    /// `--json`, printed even with `-q`.
    Data,
    /// What the command did: stdout, JSON with `--json`, silenced by `-q`.
    Status,
    /// What the command did while stdout carries the data (`get -o -`): stderr, text only,
    /// silenced by `-q`.
    Aside,
}

/// Prints `report` the one way every command does.
pub(crate) fn print(global: &Global, report: &impl Report, channel: Channel) -> anyhow::Result<()> {
    if global.json && channel != Channel::Aside {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    if global.quiet && channel != Channel::Data {
        return Ok(());
    }
    let text = report.to_string();
    if text.is_empty() {
        return Ok(());
    }
    let text = text.trim_end_matches('\n');
    match channel {
        Channel::Data | Channel::Status => println!("{text}"),
        Channel::Aside => eprintln!("{text}"),
    }
    Ok(())
}

/// A mistake in how the command was used.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The error and its causes, one sentence each ([`registry_core::error_chain`]).
pub(crate) fn describe(err: &anyhow::Error) -> String {
    let mut text = registry_core::error_chain(&**err).join("\n  caused by: ");
    if let Some(hint) = missing_path_hint(err) {
        text.push_str("\n  hint: ");
        text.push_str(&hint);
    }
    text
}

/// What to do about a path that is not there, when the error says no more than the system
/// did ("No such file or directory"): which part of it is missing, and where a relative
/// path was looked for.
fn missing_path_hint(err: &anyhow::Error) -> Option<String> {
    let (path, source) = err
        .chain()
        .find_map(|cause| match cause.downcast_ref::<Error>() {
            Some(Error::Io {
                path: Some(path),
                source,
            }) => Some((path, source)),
            _ => None,
        })?;
    // An error with words of its own (advice, a missing directory named) needs no hint.
    if source.kind() != std::io::ErrorKind::NotFound || source.get_ref().is_some() {
        return None;
    }
    // The shortest part of the path that is not there: `../missing` of
    // `../missing/wkg.lock` when that directory is missing.
    let missing = path
        .ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find(|a| std::fs::symlink_metadata(a).is_err())?;
    let what = if missing == path.as_path() {
        format!("{} does not exist", path.display())
    } else {
        format!(
            "{} does not exist (in {})",
            missing.display(),
            path.display()
        )
    };
    Some(match std::env::current_dir() {
        Ok(cwd) if path.is_relative() => format!(
            "{what}; a relative path is taken from the working directory, {}; check the path",
            cwd.display()
        ),
        _ => format!("{what}; check the path"),
    })
}

pub(crate) fn init_logging(global: &Global) {
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info,wreg=debug,registry_client=debug,registry_oci=debug",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("WREG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let ansi = match global.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal(),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .without_time()
        .try_init();
}

/// Whether to draw progress bars: on a terminal (or `--color always`), unless quiet.
pub(crate) fn show_progress(global: &Global) -> bool {
    !global.quiet
        && match global.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => std::io::stderr().is_terminal(),
        }
}

/// How long a transfer runs before its bar appears.
const MOMENT: std::time::Duration = std::time::Duration::from_millis(300);

/// Progress bars on stderr, one per download, shown once a transfer lasts a moment.
#[derive(Default)]
pub(crate) struct Bars {
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress for Bars {
    fn download_started(&self, package: &PackageRef, version: &Version, total: Option<u64>) {
        // Hidden from the start: a bar made with the default target draws itself on the
        // first change (below), and that line would stay behind when the bar is shown on a
        // new target later.
        let hidden = indicatif::ProgressDrawTarget::hidden();
        let bar = match total {
            Some(total) => ProgressBar::with_draw_target(Some(total), hidden),
            None => ProgressBar::with_draw_target(None, hidden),
        };
        bar.set_style(
            ProgressStyle::with_template("{msg:30} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(format!("{package}@{version}"));
        // Drawn only once the transfer has lasted a moment (see `downloaded`).
        self.bars
            .lock()
            .expect("not poisoned")
            .insert(format!("{package}@{version}"), bar);
    }

    fn downloaded(&self, package: &PackageRef, version: &Version, bytes: u64) {
        let bars = self.bars.lock().expect("not poisoned");
        if let Some(bar) = bars.get(&format!("{package}@{version}")) {
            bar.inc(bytes);
            if bar.is_hidden() && bar.elapsed() > MOMENT {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
        }
    }

    fn download_finished(&self, package: &PackageRef, version: &Version, _ok: bool) {
        if let Some(bar) = self
            .bars
            .lock()
            .expect("not poisoned")
            .remove(&format!("{package}@{version}"))
        {
            bar.finish_and_clear();
        }
    }
}
