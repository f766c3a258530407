//! BENCHMARKS.md: the machine, the notes and the table.

use std::fmt::Write as _;
use std::process::Command;

use super::{RUNS, Row};

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
    format!("{cpu}, {cores} cores, {mem} memory")
}

pub(super) fn render(rows: &[Row], notes: &[String]) -> String {
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
