//! SVG plots of the rows that grow: cold pull time against blob size, and resolve+fetch
//! time against the number of packages. Each point is a row of this run (its median, with a
//! bar from its fastest to its slowest run); a row that did not run is no point, and a plot
//! with no point is not drawn. Plain SVG text, written here.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::Row;
use super::oci::{FLOOR, VERIFIED_FLOOR};

/// Where a full run writes the plots, relative to the workspace root (beside BENCHMARKS.md,
/// which links them from there).
pub(super) const DIR: &str = "docs/bench";

/// A contestant's line in a plot: the row contestant it draws, and how.
struct Style {
    contestant: &'static str,
    label: &'static str,
    colour: &'static str,
    dashed: bool,
}

/// A plot: which rows it takes its points from, and its words.
struct Spec {
    file: &'static str,
    title: &'static str,
    x_label: &'static str,
    /// The x value of a row's scenario, if the row belongs to this plot.
    x_of: fn(&str) -> Option<f64>,
    styles: &'static [Style],
}

const SPECS: &[Spec] = &[
    Spec {
        file: "cold-pull.svg",
        title: "Cold pull: wall time against blob size",
        x_label: "blob size (MiB)",
        x_of: |scenario| {
            scenario
                .strip_prefix("cold pull ")?
                .strip_suffix(" MiB")?
                .parse()
                .ok()
        },
        styles: &[
            Style {
                contestant: "ours",
                label: "wreg get",
                colour: "#1f77b4",
                dashed: false,
            },
            Style {
                contestant: "wkg oci pull",
                label: "wkg oci pull",
                colour: "#d62728",
                dashed: false,
            },
            Style {
                contestant: FLOOR,
                label: "floor: curl -o (unverified)",
                colour: "#7f7f7f",
                dashed: true,
            },
            Style {
                contestant: VERIFIED_FLOOR,
                label: "floor: curl | tee | openssl dgst",
                colour: "#2ca02c",
                dashed: true,
            },
        ],
    },
    Spec {
        file: "many-packages.svg",
        title: "Resolve and fetch, cold, 20 ms RTT: wall time against packages",
        x_label: "WIT packages imported (count)",
        x_of: |scenario| {
            scenario
                .strip_prefix("resolve+fetch ")?
                .strip_suffix(" packages, cold, 20 ms RTT")?
                .parse()
                .ok()
        },
        styles: &[
            Style {
                contestant: "ours",
                label: "wreg fetch --wit",
                colour: "#1f77b4",
                dashed: false,
            },
            Style {
                contestant: "wkg wit fetch",
                label: "wkg wit fetch -t wasm",
                colour: "#d62728",
                dashed: false,
            },
        ],
    },
];

/// One measured point: a row's median and spread.
#[derive(Clone, Copy, Debug)]
struct Point {
    x: f64,
    median: f64,
    min: f64,
    max: f64,
    runs: usize,
}

/// A plot drawn from this run's rows.
pub(super) struct Plot {
    spec: &'static Spec,
    /// Each contestant that has a point, with its points by growing x.
    series: Vec<(&'static Style, Vec<Point>)>,
}

/// The plots `rows` have points for.
pub(super) fn plots(rows: &[Row]) -> Vec<Plot> {
    SPECS
        .iter()
        .filter_map(|spec| {
            let series: Vec<_> = spec
                .styles
                .iter()
                .filter_map(|style| {
                    let mut points: Vec<Point> = rows
                        .iter()
                        .filter(|r| r.contestant == style.contestant && r.runs > 0)
                        .filter_map(|r| {
                            Some(Point {
                                x: (spec.x_of)(&r.scenario)?,
                                median: r.seconds,
                                min: r.min,
                                max: r.max,
                                runs: r.runs,
                            })
                        })
                        .collect();
                    points.sort_by(|a, b| a.x.total_cmp(&b.x));
                    (!points.is_empty()).then_some((style, points))
                })
                .collect();
            (!series.is_empty()).then_some(Plot { spec, series })
        })
        .collect()
}

impl Plot {
    /// The file name under the plot directory.
    pub(super) fn file(&self) -> &'static str {
        self.spec.file
    }

    /// What the plot shows, for a link's text.
    pub(super) fn title(&self) -> &'static str {
        self.spec.title
    }

    fn points(&self) -> impl Iterator<Item = &Point> {
        self.series.iter().flat_map(|(_, points)| points)
    }

    /// The plot as an SVG document.
    pub(super) fn svg(&self) -> String {
        let xs = Axis::fit(self.points().map(|p| p.x), Kind::X);
        let ys = Axis::fit(
            self.points().flat_map(|p| [p.min, p.median, p.max]),
            Kind::Y,
        );
        let mut x_ticks: Vec<f64> = self.points().map(|p| p.x).collect();
        x_ticks.sort_by(f64::total_cmp);
        x_ticks.dedup();
        let px = |x: f64| LEFT + xs.at(x) * (RIGHT - LEFT);
        let py = |y: f64| BOTTOM - ys.at(y) * (BOTTOM - TOP);

        let mut out = String::new();
        let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(out, "<title>{}</title>", escape(self.spec.title));
        let _ = writeln!(
            out,
            r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
        );
        let _ = writeln!(
            out,
            r#"<text x="{LEFT}" y="24" font-size="15" font-weight="bold">{}</text>"#,
            escape(self.spec.title)
        );
        // Grid and tick labels.
        for tick in ys.ticks() {
            let y = py(tick.value());
            let _ = writeln!(
                out,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{RIGHT}" y2="{y:.1}" stroke="#dddddd"/>"##
            );
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                LEFT - 6.0,
                y + 4.0,
                tick.label()
            );
        }
        for &x in &x_ticks {
            let at = px(x);
            let _ = writeln!(
                out,
                r##"<line x1="{at:.1}" y1="{TOP}" x2="{at:.1}" y2="{BOTTOM}" stroke="#dddddd"/>"##
            );
            let _ = writeln!(
                out,
                r#"<text x="{at:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                BOTTOM + 18.0,
                number(x)
            );
        }
        let _ = writeln!(
            out,
            r#"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="black"/>"#,
            RIGHT - LEFT,
            BOTTOM - TOP
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}{}</text>"#,
            (LEFT + RIGHT) / 2.0,
            BOTTOM + 42.0,
            escape(self.spec.x_label),
            scale_note(&xs)
        );
        let _ = writeln!(
            out,
            r#"<text transform="translate(22 {:.1}) rotate(-90)" text-anchor="middle">median wall time (s){}</text>"#,
            (TOP + BOTTOM) / 2.0,
            scale_note(&ys)
        );
        // The contestants: a line through the medians, a bar from fastest to slowest run,
        // and a dot at each median that names its figures.
        for (style, points) in &self.series {
            let dash = if style.dashed {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            let _ = writeln!(
                out,
                r#"<g data-series="{}" stroke="{}" fill="{}">"#,
                escape(style.label),
                style.colour,
                style.colour
            );
            if points.len() > 1 {
                let line: Vec<String> = points
                    .iter()
                    .map(|p| format!("{:.1},{:.1}", px(p.x), py(p.median)))
                    .collect();
                let _ = writeln!(
                    out,
                    r#"<polyline points="{}" fill="none" stroke-width="2"{dash}/>"#,
                    line.join(" ")
                );
            }
            for p in points {
                let (x, lo, hi) = (px(p.x), py(p.min), py(p.max));
                let _ = writeln!(
                    out,
                    r#"<path d="M{x:.1},{lo:.1}V{hi:.1}M{:.1},{lo:.1}H{:.1}M{:.1},{hi:.1}H{:.1}" fill="none"/>"#,
                    x - 4.0,
                    x + 4.0,
                    x - 4.0,
                    x + 4.0
                );
                let _ = writeln!(
                    out,
                    r#"<circle class="median" data-x="{}" cx="{x:.1}" cy="{:.1}" r="3.5"><title>{}, {}: median {} s, fastest {} s, slowest {} s, {} runs</title></circle>"#,
                    number(p.x),
                    py(p.median),
                    escape(style.label),
                    number(p.x),
                    seconds(p.median),
                    seconds(p.min),
                    seconds(p.max),
                    p.runs
                );
            }
            let _ = writeln!(out, "</g>");
        }
        // The legend, right of the plot.
        let left = RIGHT + 16.0;
        for (i, (style, _)) in self.series.iter().enumerate() {
            let y = TOP + 10.0 + 22.0 * i as f64;
            let dash = if style.dashed {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            let _ = writeln!(
                out,
                r#"<line x1="{left:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{}" stroke-width="2"{dash}/>"#,
                left + 24.0,
                style.colour
            );
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                left + 30.0,
                y + 4.0,
                escape(style.label)
            );
        }
        let below = TOP + 10.0 + 22.0 * self.series.len() as f64 + 8.0;
        for (i, line) in [
            "dot: median of the runs;",
            "bar: fastest to slowest run;",
            "a contestant or size that",
            "did not run has no point",
        ]
        .iter()
        .enumerate()
        {
            let _ = writeln!(
                out,
                r##"<text x="{left:.1}" y="{:.1}" font-size="11" fill="#555555">{line}</text>"##,
                below + 15.0 * i as f64
            );
        }
        let _ = writeln!(out, "</svg>");
        out
    }
}

const WIDTH: f64 = 780.0;
const HEIGHT: f64 = 460.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 540.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 396.0;

/// Writes each plot to `dir` and removes the files of the plots this run has no point for
/// (what a file there shows is always from the run that wrote BENCHMARKS.md).
pub(super) fn write(dir: &Path, plots: &[Plot]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    for spec in SPECS {
        let path = dir.join(spec.file);
        match plots.iter().find(|p| p.spec.file == spec.file) {
            Some(plot) => std::fs::write(&path, plot.svg())
                .with_context(|| format!("write {}", path.display()))?,
            None if path.exists() => {
                std::fs::remove_file(&path).with_context(|| format!("remove {}", path.display()))?
            }
            None => {}
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    /// Sizes or counts: the axis spans the values with a margin.
    X,
    /// Times: the axis runs between round values around them.
    Y,
}

/// An axis: the values it spans, and whether on a log scale (where the values span more
/// than ten times).
#[derive(Debug)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    /// The distance between labelled values on a linear scale.
    step: Tick,
}

impl Axis {
    fn fit(values: impl Iterator<Item = f64>, kind: Kind) -> Self {
        let (min, max) = values
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        let (min, max) = if max > 0.0 { (min, max) } else { (1.0, 1.0) };
        let log = min > 0.0 && max / min > 10.0;
        let step = Tick::step(max);
        let (lo, hi) = match (kind, log) {
            (Kind::X, true) => (min / 1.6, max * 1.6),
            (Kind::X, false) => (0.0, max * 1.1),
            (Kind::Y, true) => (
                Tick::at_or_below(min).value(),
                Tick::at_or_above(max).value(),
            ),
            (Kind::Y, false) => (0.0, (max / step.value()).ceil() * step.value()),
        };
        Self { lo, hi, log, step }
    }

    /// Where `v` lies on the axis, from 0 (`lo`) to 1 (`hi`).
    fn at(&self, v: f64) -> f64 {
        if self.log {
            (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    /// The labelled values: 1, 2 and 5 times the powers of ten on a log scale, whole steps
    /// of a round size on a linear one.
    fn ticks(&self) -> Vec<Tick> {
        let within = |t: &Tick| (self.lo * 0.999..=self.hi * 1.001).contains(&t.value());
        if self.log {
            Tick::series(self.lo, self.hi)
                .into_iter()
                .filter(within)
                .collect()
        } else {
            let step = self.step;
            (0..)
                .map(|k| Tick {
                    mantissa: step.mantissa * k,
                    exponent: step.exponent,
                })
                .take_while(|t| t.value() <= self.hi * 1.001)
                .collect()
        }
    }
}

/// A round value, `mantissa` × 10^`exponent`, kept apart so its label has no binary
/// rounding in it.
#[derive(Clone, Copy, Debug)]
struct Tick {
    mantissa: u32,
    exponent: i32,
}

impl Tick {
    fn value(self) -> f64 {
        f64::from(self.mantissa) * 10f64.powi(self.exponent)
    }

    fn label(self) -> String {
        let decimals = usize::try_from(-self.exponent).unwrap_or(0);
        format!("{:.*}", decimals, self.value())
    }

    /// 1, 2 and 5 times each power of ten from below `lo` to above `hi`.
    fn series(lo: f64, hi: f64) -> Vec<Tick> {
        let first = lo.log10().floor() as i32 - 1;
        let last = hi.log10().ceil() as i32 + 1;
        (first..=last)
            .flat_map(|exponent| [1, 2, 5].map(|mantissa| Tick { mantissa, exponent }))
            .collect()
    }

    fn at_or_below(v: f64) -> Tick {
        Self::series(v, v)
            .into_iter()
            .rev()
            .find(|t| t.value() <= v * 1.000_001)
            .unwrap_or(Tick {
                mantissa: 1,
                exponent: 0,
            })
    }

    fn at_or_above(v: f64) -> Tick {
        Self::series(v, v)
            .into_iter()
            .find(|t| t.value() >= v / 1.000_001)
            .unwrap_or(Tick {
                mantissa: 1,
                exponent: 0,
            })
    }

    /// The round step that cuts `0..=hi` into about five.
    fn step(hi: f64) -> Tick {
        Self::at_or_above(hi / 5.0)
    }
}

fn scale_note(axis: &Axis) -> &'static str {
    if axis.log { ", log scale" } else { "" }
}

/// A size or count as written on its axis.
fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// Seconds to three significant figures, or the microsecond.
fn seconds(s: f64) -> String {
    let decimals = if s >= 100.0 {
        0
    } else if s >= 1.0 {
        2
    } else {
        (2 - s.log10().floor() as i32).clamp(3, 6) as usize
    };
    format!("{s:.decimals$}")
}

/// `text` as SVG character data or an attribute value.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests;
