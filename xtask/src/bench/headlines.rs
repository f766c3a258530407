//! README's headline figures, written by the same run that writes BENCHMARKS.md: the text
//! between [`START`] and [`END`] in README.md is replaced, everything else kept byte for byte.

use anyhow::{Context, Result, bail};

use super::Row;

/// The line that opens the generated block.
pub(super) const START: &str = "<!-- bench:headlines -->";
/// The line that closes it.
pub(super) const END: &str = "<!-- /bench:headlines -->";

/// `text` with what lies between the [`START`] line and the [`END`] line replaced by `body`
/// (which ends with a newline); fails unless each marker is there once, in order.
pub(super) fn replace_block(text: &str, body: &str) -> Result<String> {
    if text.matches(START).count() != 1 || text.matches(END).count() != 1 {
        bail!("README.md must hold `{START}` and `{END}` once each");
    }
    let open = text.find(START).context("no start marker")? + START.len();
    let open = open
        + text[open..]
            .find('\n')
            .context("nothing after the start marker")?
        + 1;
    let close = text.find(END).context("no end marker")?;
    if close < open {
        bail!("`{END}` comes before the line after `{START}` in README.md");
    }
    Ok(format!("{}{body}{}", &text[..open], &text[close..]))
}

/// Replaces the headline block of the README at `path` with figures from `rows`.
pub(super) fn write_readme(path: &std::path::Path, rows: &[Row]) -> Result<()> {
    let text = std::fs::read_to_string(path).context("read README.md")?;
    let updated = replace_block(&text, &render(rows))?;
    std::fs::write(path, updated).context("write README.md")
}

fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The headline list (with the line that introduces it), from the rows this run measured;
/// a figure whose row did not run is left out.
pub(super) fn render(rows: &[Row]) -> String {
    let find = |scenario: &str, contestant: &str| {
        rows.iter()
            .find(|r| r.scenario == scenario && r.contestant == contestant)
    };
    let vs = |ours: &Row, scenario: &str, other: &str| {
        find(scenario, other).map(|o| format!("{:.2}x", ours.seconds / o.seconds))
    };
    let mut lines = Vec::new();
    let cold: Vec<&Row> = rows
        .iter()
        .filter(|r| r.scenario.starts_with("cold pull ") && r.contestant == "ours")
        .collect();
    for ours in &cold {
        let size = ours.scenario.trim_start_matches("cold pull ");
        let mut parts = vec![format!(
            "A cold {size} pull takes {} (fastest {}, slowest {}) in {}",
            seconds(ours.seconds),
            seconds(ours.min),
            seconds(ours.max),
            mib(ours.peak_kib)
        )];
        if let Some(r) = vs(ours, &ours.scenario, super::oci::FLOOR) {
            parts.push(format!("{r} an unverified `curl -o`"));
        }
        if let Some(r) = vs(ours, &ours.scenario, super::oci::VERIFIED_FLOOR) {
            parts.push(format!("{r} `curl | tee FILE | openssl dgst`"));
        }
        if let (Some(r), Some(wkg)) = (
            vs(ours, &ours.scenario, "wkg oci pull"),
            find(&ours.scenario, "wkg oci pull"),
        ) {
            parts.push(format!("{r} `wkg oci pull` (in {})", mib(wkg.peak_kib)));
        }
        lines.push(format!("{}.", parts.join("; ")));
    }
    if let Some(ours) = rows
        .iter()
        .find(|r| r.scenario.starts_with("warm pull ") && r.contestant == "ours")
    {
        let mut line = format!(
            "A warm {} pull takes {} (the cache entry trusted by its stamp, copied out)",
            ours.scenario.trim_start_matches("warm pull "),
            seconds(ours.seconds)
        );
        if let Some(r) = vs(ours, &ours.scenario, "wkg get") {
            line.push_str(&format!(": {r} `wkg get`"));
        }
        if let Some(r) = vs(ours, &ours.scenario, "floor: cp") {
            line.push_str(&format!(", {r} a plain `cp` that checks nothing"));
        }
        lines.push(format!("{line}."));
    }
    for count in [100, 1000] {
        let scenario = format!("resolve+fetch {count} packages, cold, 20 ms RTT");
        if let Some(ours) = find(&scenario, "ours") {
            let mut line = format!(
                "Resolving and fetching {count} packages behind a 20 ms round trip takes {}",
                seconds(ours.seconds)
            );
            if let Some(wkg) = find(&scenario, "wkg wit fetch") {
                line.push_str(&format!(" (`wkg wit fetch`: {})", seconds(wkg.seconds)));
            }
            lines.push(format!("{line}."));
        }
    }
    let fleet = "fleet: 100 packages via pull-through cache, cache warm, lock file";
    if let Some(ours) = find(fleet, "ours") {
        let mut line = format!(
            "A fleet machine with a lock file, reading 100 packages through a warm \
             pull-through cache of a registry 20 ms away, takes {}",
            seconds(ours.seconds)
        );
        if let Some(direct) = find("fleet: 100 packages, direct, 20 ms RTT", "ours") {
            line.push_str(&format!(
                " ({} straight from the registry)",
                seconds(direct.seconds)
            ));
        }
        lines.push(format!("{line}. See [docs/fleet.md](docs/fleet.md)."));
    }
    if let Some(ours) = rows
        .iter()
        .find(|r| r.scenario.ends_with(", new bytes") && r.contestant == "ours")
    {
        let mut line = format!(
            "Publishing {} of new bytes takes {} in {} of memory",
            ours.scenario
                .trim_start_matches("publish ")
                .trim_end_matches(", new bytes"),
            seconds(ours.seconds),
            mib(ours.peak_kib)
        );
        if let Some(wkg) = find(&ours.scenario, "wkg oci push") {
            line.push_str(&format!(
                " (wkg: {} in {})",
                seconds(wkg.seconds),
                mib(wkg.peak_kib)
            ));
        }
        lines.push(format!("{line}."));
    }
    if let Some(ours) = find("WASI graph to wit/deps, cold, loopback", "ours") {
        let mut line = format!(
            "The whole WASI graph reaches `wit/deps` in {} on loopback",
            seconds(ours.seconds)
        );
        if let Some(wkg) = find("WASI graph to wit/deps, cold, loopback", "wkg fetch") {
            line.push_str(&format!(" (`wkg fetch`: {})", seconds(wkg.seconds)));
        }
        lines.push(format!("{line}."));
    }
    let mut out = wrap(
        &format!(
            "Headlines from the last `cargo xtask bench` on {}, medians, written by that run \
             ([BENCHMARKS.md](BENCHMARKS.md) has every row with its fastest and slowest run):",
            super::report::machine()
        ),
        "",
    );
    out.push('\n');
    for line in lines {
        out.push_str(&wrap(&format!("- {line}"), "  "));
    }
    out
}

/// `text` broken between words into lines of at most [`WIDTH`] characters (a longer word
/// stands alone), every line after the first starting with `indent`; newline-terminated.
fn wrap(text: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.trim().is_empty() && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.to_owned();
        } else if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// README's line width.
const WIDTH: usize = 95;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_the_block_keeps_everything_outside_it() {
        let before = "# Title\r\n\nsome text, <!-- other --> \u{e9}\n\n";
        let after = "\n\ntrailing text\nno newline at the end";
        let text = format!("{before}{START}\nold line 1\nold line 2\n{END}{after}");
        let replaced = replace_block(&text, "- new\n").unwrap();
        assert_eq!(replaced, format!("{before}{START}\n- new\n{END}{after}"));
        // Replacing again with the same body changes nothing.
        assert_eq!(replace_block(&replaced, "- new\n").unwrap(), replaced);
        // An empty block can be filled.
        let empty = format!("{before}{START}\n{END}{after}");
        assert_eq!(replace_block(&empty, "- new\n").unwrap(), replaced);
    }

    #[test]
    fn wrapping_breaks_between_words() {
        let text = format!("- {}", "word ".repeat(40).trim_end());
        let wrapped = wrap(&text, "  ");
        assert!(wrapped.lines().all(|l| l.chars().count() <= WIDTH));
        assert!(wrapped.lines().skip(1).all(|l| l.starts_with("  w")));
        assert_eq!(
            wrapped.split_whitespace().collect::<Vec<_>>(),
            text.split(' ').collect::<Vec<_>>()
        );
    }

    fn row(scenario: &str, contestant: &str, seconds: f64) -> Row {
        Row {
            scenario: scenario.to_owned(),
            contestant: contestant.to_owned(),
            seconds,
            min: seconds,
            max: seconds,
            runs: 5,
            peak_kib: 1024,
            fine: true,
        }
    }

    #[test]
    fn headlines_name_only_the_rows_that_ran() {
        let rows = [
            row("cold pull 16 MiB", "ours", 0.06),
            row("cold pull 16 MiB", super::super::oci::FLOOR, 0.04),
            row("warm pull 16 MiB", "ours", 0.05),
            row("warm pull 16 MiB", "floor: cp", 0.01),
            row("publish 16 MiB, new bytes", "ours", 0.2),
        ];
        let text = render(&rows);
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH), "{text}");
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains("- A cold 16 MiB pull takes 60 ms"), "{text}");
        assert!(text.contains("1.50x an unverified `curl -o`"), "{text}");
        assert!(text.contains("- A warm 16 MiB pull takes 50 ms"), "{text}");
        assert!(text.contains("5.00x a plain"), "{text}");
        assert!(
            text.contains("- Publishing 16 MiB of new bytes takes 200 ms in 1.0 MiB"),
            "{text}"
        );
        assert!(!text.contains("wkg"), "{text}");
    }

    #[test]
    fn a_missing_or_doubled_marker_is_an_error() {
        assert!(replace_block("no markers", "x\n").is_err());
        assert!(replace_block(&format!("{START}\n{START}\n{END}"), "x\n").is_err());
        assert!(replace_block(&format!("{END}\n{START}\n"), "x\n").is_err());
    }

    #[test]
    fn the_readme_has_the_block() {
        let readme = std::fs::read_to_string(crate::root().join("README.md")).unwrap();
        let replaced = replace_block(&readme, "- figures\n").unwrap();
        let outside = |t: &str| {
            let (head, rest) = t.split_once(START).unwrap();
            (head.to_owned(), rest.split_once(END).unwrap().1.to_owned())
        };
        assert_eq!(outside(&readme), outside(&replaced));
    }
}
