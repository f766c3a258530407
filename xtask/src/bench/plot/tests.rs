use super::*;

fn row(scenario: &str, contestant: &str, seconds: f64) -> Row {
    Row {
        scenario: scenario.to_owned(),
        contestant: contestant.to_owned(),
        seconds,
        min: seconds * 0.9,
        max: seconds * 1.2,
        runs: 5,
        peak_kib: 1024,
        fine: true,
    }
}

/// A full run's growth rows (and some others), wkg timed up to 100 packages only.
fn full_run() -> Vec<Row> {
    let mut rows = vec![row("publish 256 MiB, new bytes", "ours", 3.0)];
    for (mib, s) in [(16, 0.05), (256, 0.6), (1024, 2.3)] {
        let scenario = format!("cold pull {mib} MiB");
        rows.push(row(&scenario, "ours", s));
        rows.push(row(&scenario, "wkg oci pull", s * 2.0));
        rows.push(row(&scenario, FLOOR, s * 0.8));
        rows.push(row(&scenario, VERIFIED_FLOOR, s * 1.1));
        rows.push(row(&scenario, "skopeo copy", s * 3.0));
    }
    for (count, s) in [(10, 0.3), (100, 0.9), (1000, 8.5)] {
        let scenario = format!("resolve+fetch {count} packages, cold, 20 ms RTT");
        rows.push(row(&scenario, "ours", s));
        if count <= 100 {
            rows.push(row(&scenario, "wkg wit fetch", s * 20.0));
        }
    }
    rows.push(row(
        "resolve+fetch 100 packages, cold, loopback",
        "ours",
        0.2,
    ));
    rows
}

/// Fails unless `svg` is one element with its tags nested and closed, every attribute's
/// quotes paired and every `&` an entity: the XML an SVG viewer needs.
fn well_formed(svg: &str) -> Result<(), String> {
    let text_ok = |text: &str| -> Result<(), String> {
        for (at, _) in text.match_indices('&') {
            let rest = &text[at..];
            if !["&amp;", "&lt;", "&gt;", "&quot;"]
                .iter()
                .any(|e| rest.starts_with(e))
            {
                return Err(format!("a bare & in {text:?}"));
            }
        }
        Ok(())
    };
    let mut stack: Vec<&str> = Vec::new();
    let mut roots = 0;
    let mut rest = svg.trim_end();
    if !rest.starts_with("<?xml ") {
        return Err("no XML declaration".into());
    }
    while let Some(open) = rest.find('<') {
        let before = &rest[..open];
        if stack.is_empty() && !before.trim().is_empty() {
            return Err(format!("text outside the root: {before:?}"));
        }
        text_ok(before)?;
        let close = rest[open..].find('>').ok_or("a tag never closed")? + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if let Some(decl) = tag.strip_prefix('?') {
            if !decl.ends_with('?') || roots > 0 {
                return Err(format!("a bad declaration: {tag:?}"));
            }
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            match stack.pop() {
                Some(open) if open == name.trim() => continue,
                other => return Err(format!("</{name}> closes {other:?}")),
            }
        }
        if !tag.matches('"').count().is_multiple_of(2) {
            return Err(format!("unpaired quotes in <{tag}>"));
        }
        text_ok(tag)?;
        let name = tag
            .split_whitespace()
            .next()
            .ok_or("an empty tag")?
            .trim_end_matches('/');
        if stack.is_empty() {
            roots += 1;
        }
        if !tag.ends_with('/') {
            stack.push(name);
        }
    }
    if !rest.trim().is_empty() || !stack.is_empty() || roots != 1 {
        return Err(format!(
            "{roots} roots, {stack:?} left open, {rest:?} after"
        ));
    }
    Ok(())
}

/// The value of attribute `name` in the tag text `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
    let start = tag.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
    let len = tag[start..].find('"').expect("closing quote");
    &tag[start..start + len]
}

/// Each median dot of `svg`: its series, its x value and its position.
fn medians(svg: &str) -> Vec<(String, f64, f64, f64)> {
    let mut out = Vec::new();
    for group in svg.split("<g ").skip(1) {
        let series = attr(&format!(" {group}"), "data-series").to_owned();
        let group = group.split("</g>").next().unwrap();
        for circle in group.split("<circle ").skip(1) {
            let tag = format!(" {}", circle.split('>').next().unwrap());
            let number = |name| attr(&tag, name).parse::<f64>().unwrap();
            out.push((series.clone(), number("data-x"), number("cx"), number("cy")));
        }
    }
    out
}

#[test]
fn a_full_run_draws_both_plots_well_formed() {
    let plots = plots(&full_run());
    let files: Vec<&str> = plots.iter().map(Plot::file).collect();
    assert_eq!(files, ["cold-pull.svg", "many-packages.svg"]);
    for plot in &plots {
        let svg = plot.svg();
        well_formed(&svg).unwrap_or_else(|e| panic!("{}: {e}\n{svg}", plot.file()));
        // Both axes span more than ten times: log scales, said on the axes.
        assert_eq!(svg.matches(", log scale").count(), 2, "{svg}");
        assert!(svg.contains("median wall time (s)"), "{svg}");
    }
    let cold = plots[0].svg();
    assert!(cold.contains("blob size (MiB)"), "{cold}");
    for label in [
        "wreg get",
        "wkg oci pull",
        "floor: curl -o (unverified)",
        "floor: curl | tee | openssl dgst",
    ] {
        assert!(
            cold.contains(&format!("data-series=\"{label}\"")),
            "{label}"
        );
    }
    // skopeo runs at one size only: not one of the lines.
    assert!(!cold.contains("skopeo"), "{cold}");
}

#[test]
fn points_lie_further_right_and_higher_as_they_grow() {
    let plots = plots(&full_run());
    for plot in &plots {
        let dots = medians(&plot.svg());
        for (series, _) in &plot.series {
            let mut own: Vec<_> = dots.iter().filter(|d| d.0 == series.label).collect();
            assert!(!own.is_empty(), "{}", series.label);
            own.sort_by(|a, b| a.1.total_cmp(&b.1));
            for pair in own.windows(2) {
                // Sizes grow to the right; times (growing with them here) upwards, which
                // in SVG is a smaller y.
                assert!(pair[0].2 < pair[1].2, "{pair:?}");
                assert!(pair[0].3 > pair[1].3, "{pair:?}");
            }
            for dot in own {
                assert!((LEFT..=RIGHT).contains(&dot.2), "{dot:?}");
                assert!((TOP..=BOTTOM).contains(&dot.3), "{dot:?}");
            }
        }
    }
    // A slower contestant at the same size lies higher.
    let dots = medians(&plots[0].svg());
    let at = |series: &str, x: f64| {
        dots.iter()
            .find(|d| d.0 == series && d.1 == x)
            .map(|d| d.3)
            .unwrap()
    };
    assert!(at("wkg oci pull", 256.0) < at("wreg get", 256.0));
    assert!(at("wreg get", 256.0) < at("floor: curl -o (unverified)", 256.0));
}

#[test]
fn a_contestant_or_size_that_did_not_run_has_no_point() {
    let rows: Vec<Row> = full_run()
        .into_iter()
        .filter(|r| r.contestant != "wkg oci pull" && !r.scenario.contains("1024"))
        .collect();
    let plots = plots(&rows);
    let cold = plots[0].svg();
    assert!(!cold.contains("wkg"), "{cold}");
    assert!(!cold.contains("data-x=\"1024\""), "{cold}");
    assert_eq!(medians(&cold).len(), 3 * 2);
    // wkg is not timed at 1,000 packages: two points, none at 1,000.
    let many = medians(&plots[1].svg());
    let wkg: Vec<f64> = many
        .iter()
        .filter(|d| d.0 == "wkg wit fetch -t wasm")
        .map(|d| d.1)
        .collect();
    assert_eq!(wkg, [10.0, 100.0]);
    assert_eq!(many.len(), 5);
}

#[test]
fn a_group_that_did_not_run_has_no_plot() {
    assert!(plots(&[]).is_empty());
    let only_many: Vec<Row> = full_run()
        .into_iter()
        .filter(|r| !r.scenario.starts_with("cold pull"))
        .collect();
    let files: Vec<&str> = plots(&only_many).iter().map(Plot::file).collect();
    assert_eq!(files, ["many-packages.svg"]);

    // Writing drops the file of a plot this run did not draw.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &plots(&full_run())).unwrap();
    assert!(dir.path().join("cold-pull.svg").is_file());
    write(dir.path(), &plots(&only_many)).unwrap();
    assert!(!dir.path().join("cold-pull.svg").exists());
    let many = std::fs::read_to_string(dir.path().join("many-packages.svg")).unwrap();
    well_formed(&many).unwrap();

    // BENCHMARKS.md links the plots drawn, and no other.
    let report = super::super::report::render(&only_many, &[], &plots(&only_many), DIR);
    assert!(report.contains(
        "![Resolve and fetch, cold, 20 ms RTT: wall time against packages]\
         (docs/bench/many-packages.svg)"
    ));
    assert!(!report.contains("cold-pull.svg"), "{report}");
}

#[test]
fn one_size_alone_is_drawn_on_linear_axes() {
    let rows: Vec<Row> = full_run()
        .into_iter()
        .filter(|r| r.scenario == "cold pull 256 MiB")
        .collect();
    let plots = plots(&rows);
    assert_eq!(plots.len(), 1);
    let svg = plots[0].svg();
    well_formed(&svg).unwrap();
    assert!(!svg.contains("log scale"), "{svg}");
    // One point each: no line, a dot and its bar.
    assert!(!svg.contains("<polyline"), "{svg}");
    assert_eq!(medians(&svg).len(), 4);
}

#[test]
fn axes_map_values_in_order_and_label_round_values() {
    let log = Axis::fit([0.035, 0.6, 2.9].into_iter(), Kind::Y);
    assert!(log.log);
    let linear = Axis::fit([0.4, 0.9].into_iter(), Kind::Y);
    assert!(!linear.log);
    for axis in [&log, &linear] {
        let mut last = f64::NEG_INFINITY;
        for v in [0.04, 0.05, 0.4, 0.6, 0.9] {
            let at = axis.at(v);
            assert!(at > last, "{axis:?} at {v}");
            last = at;
        }
        let ticks = axis.ticks();
        assert!(ticks.len() >= 3, "{axis:?}: {ticks:?}");
        for tick in ticks {
            let at = axis.at(tick.value());
            assert!((-0.001..=1.001).contains(&at), "{tick:?} at {at}");
            // A label is the round value, with no binary rounding left in it.
            assert!(tick.label().len() <= 5, "{}", tick.label());
        }
    }
    assert!(
        (log.lo - 0.02).abs() < 1e-12 && (log.hi - 5.0).abs() < 1e-12,
        "{log:?}"
    );
    let labels: Vec<String> = log.ticks().into_iter().map(Tick::label).collect();
    assert_eq!(labels, ["0.02", "0.05", "0.1", "0.2", "0.5", "1", "2", "5"]);
    let labels: Vec<String> = linear.ticks().into_iter().map(Tick::label).collect();
    assert_eq!(labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
    // Sizes within ten times of each other: linear, from zero.
    let sizes = Axis::fit([16.0, 64.0].into_iter(), Kind::X);
    assert!(!sizes.log && sizes.lo == 0.0 && sizes.at(64.0) < 1.0);
    assert!(Axis::fit([16.0, 1024.0].into_iter(), Kind::X).log);
}

#[test]
fn text_is_escaped() {
    assert_eq!(escape(r#"a<b & "c">"#), "a&lt;b &amp; &quot;c&quot;&gt;");
    well_formed(&format!(
        "<?xml version=\"1.0\"?>\n<svg><text>{}</text></svg>",
        escape("curl | tee <FILE> & more")
    ))
    .unwrap();
    assert!(well_formed("<?xml version=\"1.0\"?>\n<svg><g></svg></g>").is_err());
    assert!(well_formed("<?xml version=\"1.0\"?>\n<svg>a & b</svg>").is_err());
    assert!(well_formed("<?xml version=\"1.0\"?>\n<svg/><svg/>").is_err());
}
