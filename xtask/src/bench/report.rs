//! BENCHMARKS.md: the machine, the notes and the table.

use std::fmt::Write as _;
use std::process::Command;

use super::plot::Plot;
use super::{RUNS, Row, SHORT, SHORT_RUNS};

pub(super) fn machine() -> String {
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
    let flags = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|t| {
        t.lines()
            .find(|l| l.starts_with("flags"))
            .map(|l| l.split_whitespace().any(|f| f == "sha_ni"))
    });
    let sha = match flags {
        Some(true) => "with SHA extensions (sha_ni)",
        Some(false) => "without SHA extensions",
        None => "SHA extensions unknown",
    };
    format!("{cpu} ({sha}), {cores} cores, {mem} memory")
}

/// The targets, as ratios of this run's figures.
fn targets(rows: &[Row]) -> Vec<String> {
    let find = |scenario: &str, contestant: &str| {
        rows.iter()
            .find(|r| r.scenario == scenario && r.contestant == contestant)
    };
    let mut out = Vec::new();
    let ratio = |scenario: &str, floor: &str, target: f64, what: &str| -> Option<String> {
        let ours = find(scenario, "ours")?;
        let floor_row = find(scenario, floor)?;
        let r = ours.seconds / floor_row.seconds;
        let verdict = if r <= target { "met" } else { "missed" };
        Some(format!(
            "{what}: {:.3} s against {:.3} s, {r:.2}x (target ≤ {target}x: {verdict})",
            ours.seconds, floor_row.seconds
        ))
    };
    let cold: Vec<&Row> = rows
        .iter()
        .filter(|r| r.scenario.starts_with("cold pull ") && r.contestant == "ours")
        .collect();
    for row in &cold {
        if let Some(line) = ratio(
            &row.scenario,
            super::oci::FLOOR,
            1.3,
            &format!("{} vs an unverified `curl -o`", row.scenario),
        ) {
            out.push(line);
        }
        if let Some(floor) = find(&row.scenario, super::oci::VERIFIED_FLOOR) {
            out.push(format!(
                "{} vs a download hashed while it arrives (`curl | tee | openssl dgst`): \
                 {:.3} s against {:.3} s, {:.2}x (no target; ≤ 1x means verifying costs us \
                 less than the shell's pipeline)",
                row.scenario,
                row.seconds,
                floor.seconds,
                row.seconds / floor.seconds
            ));
        }
    }
    if let Some(warm) = rows.iter().find(|r| r.scenario.starts_with("warm pull "))
        && let Some(line) = ratio(
            &warm.scenario,
            "floor: cp",
            1.5,
            &format!("{} vs cp", warm.scenario),
        )
    {
        out.push(line);
    }
    for row in rows.iter().filter(|r| {
        (r.scenario.starts_with("cold pull ") || r.scenario.starts_with("warm pull "))
            && r.contestant == super::oci::LINK_MODE
    }) {
        let floor = if row.scenario.starts_with("cold") {
            super::oci::FLOOR
        } else {
            "floor: cp"
        };
        if let Some(floor_row) = find(&row.scenario, floor) {
            out.push(format!(
                "{} with `--link-mode hardlink` (the output a link to the cache entry) vs \
                 {floor}: {:.3} s against {:.3} s, {:.2}x (no target: the targets are judged \
                 on the default, a copy)",
                row.scenario,
                row.seconds,
                floor_row.seconds,
                row.seconds / floor_row.seconds
            ));
        }
    }
    if let Some(publish) = rows
        .iter()
        .find(|r| r.scenario.starts_with("publish ") && r.scenario.ends_with(", new bytes"))
        && let Some(line) = ratio(
            &publish.scenario,
            super::oci::PUBLISH_FLOOR,
            1.15,
            &format!("{} vs `openssl dgst` + one `curl` upload", publish.scenario),
        )
    {
        out.push(line);
    }
    if let Some(row) = find("resolve+fetch 1000 packages, cold, 20 ms RTT", "ours") {
        let verdict = if row.seconds <= 3.0 { "met" } else { "missed" };
        out.push(format!(
            "1,000 packages cold at 20 ms: {:.2} s (target ≤ 3 s: {verdict})",
            row.seconds
        ));
    }
    if cold.len() > 1 {
        let peaks: Vec<String> = cold
            .iter()
            .map(|r| {
                format!(
                    "{}: {:.1} MiB",
                    r.scenario.trim_start_matches("cold pull "),
                    r.peak_kib as f64 / 1024.0
                )
            })
            .collect();
        let (lo, hi) = cold.iter().fold((u64::MAX, 0), |(lo, hi), r| {
            (lo.min(r.peak_kib), hi.max(r.peak_kib))
        });
        let verdict = if hi as f64 <= lo as f64 * 1.25 + 2048.0 {
            "flat"
        } else {
            "NOT flat"
        };
        out.push(format!(
            "peak memory of cold pulls ({}): {verdict}",
            peaks.join(", ")
        ));
    }
    out
}

/// BENCHMARKS.md: the machine, `notes`, the targets, `plots` (linked as files in
/// `plot_dir`, relative to BENCHMARKS.md or absolute) and the table.
pub(super) fn render(rows: &[Row], notes: &[String], plots: &[Plot], plot_dir: &str) -> String {
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
        "Each figure is the median of a contestant's runs ({RUNS}, or {SHORT_RUNS} where a \
         median is under {SHORT} s), contestants alternating, with the fastest and slowest \
         run beside it; ratios compare medians of the same run only.\n"
    );
    for note in notes {
        let _ = writeln!(out, "- {note}");
    }
    let targets = targets(rows);
    if !targets.is_empty() {
        let _ = writeln!(out, "\nTargets, from this run:\n");
        for line in targets {
            let _ = writeln!(out, "- {line}");
        }
    }
    if !plots.is_empty() {
        let _ = writeln!(
            out,
            "\nGrowth, drawn from this run's rows (dots: medians; bars: fastest to slowest run; \
             a row that did not run has no point):\n"
        );
        for plot in plots {
            let _ = writeln!(out, "![{}]({plot_dir}/{})\n", plot.title(), plot.file());
        }
    }
    let _ = writeln!(
        out,
        "\n| scenario | contestant | median wall time | fastest | slowest | runs | peak RSS | \
         ours / this |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
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
        let time = wall(row.seconds, row.fine);
        let (fastest, slowest, runs) = if row.runs == 0 {
            // Criterion's in-process rows: its own sampling, not ours.
            ("".to_owned(), "".to_owned(), "Criterion".to_owned())
        } else {
            (
                wall(row.min, row.fine),
                wall(row.max, row.fine),
                row.runs.to_string(),
            )
        };
        let rss = if row.peak_kib == 0 {
            "n/a (in-process)".to_owned()
        } else {
            format!("{:.1} MiB", row.peak_kib as f64 / 1024.0)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {time} | {fastest} | {slowest} | {runs} | {rss} | {ratio} |",
            row.scenario,
            row.contestant.replace('|', "\\|")
        );
    }
    out
}

/// A wall time: milliseconds to two places under a second where the clock is fine enough.
fn wall(seconds: f64, fine: bool) -> String {
    if fine && (0.001..1.0).contains(&seconds) {
        format!("{:.2} ms", seconds * 1e3)
    } else if !fine && seconds < 0.01 {
        // GNU time's `%e` measures processes to 10 ms.
        "< 0.01 s".to_owned()
    } else if seconds < 0.001 {
        format!("{:.1} µs", seconds * 1e6)
    } else {
        format!("{seconds:.3} s")
    }
}
