//! Scenario: the WIT workflow's transitive fetch. The WASI packages as the wit-component
//! crate ships them, published with `wreg publish DIR`; an application world importing
//! `wasi:http/proxy`, fetched into `wit/deps` as WIT text by `wreg wit fetch` (the whole
//! graph: seven packages, five levels deep) and by `wkg fetch` (`wasi:http` and the partial
//! packages inside its encoding), cold and then with each tool's lock file and warm cache.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};
use test_support::shipped;

use super::{Row, Sample, Stage, measure, more_runs, push_medians, wkg_in_app, wreg_in_app};
use crate::peers::{self, Peer};

pub(super) fn wasi_fetch(rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<()> {
    let wreg = super::wreg();
    let wkg = peers::install(peers::WKG, Peer::Measured)?
        .display()
        .to_string();
    let stage = Stage::start()?;
    let (dir, home) = (stage.dir(), &stage.home);
    let (direct, delayed) = (&stage.direct, &stage.delayed);
    for (rel, spec) in shipped::WASI {
        let src = dir.join("src").join(spec.replace([':', '@'], "-"));
        shipped::copy_package(rel, &src);
        let status = std::process::Command::new(&wreg)
            .current_dir(dir)
            .env("HOME", home)
            .args([
                "-q",
                "--config",
                direct,
                "--cache-dir",
                "publish-cache",
                "publish",
            ])
            .arg(&src)
            .args(["--lock", "publish.lock"])
            .status()?;
        if !status.success() {
            bail!("publishing {spec} failed");
        }
    }
    notes.push(
        "WASI graph: the WASI 0.2 release-candidate WIT shipped in the wit-component crate \
         (7 packages), published with `wreg publish DIR`; a world including \
         `wasi:http/proxy`. `wreg wit fetch` writes all 7 packages whole (5 levels of \
         dependencies); `wkg fetch` resolves `wasi:http` alone and writes the 5 partial \
         packages inside its encoding. Each output is read back with wit-parser and \
         compared with the published WIT (the same interfaces, types, functions and worlds \
         for `wreg`'s whole packages, a part of them for wkg's partial ones), and its files \
         with those of the contestant's first run, byte for byte."
            .to_owned(),
    );
    let mut published = wit_parser::Resolve::default();
    published
        .push_dir(shipped::wasi_http())
        .map_err(|e| anyhow::anyhow!("the published WASI WIT: {e:#}"))?;
    let published = contents(&published);
    // The files of each contestant's first run, by path under `wit/deps`.
    let mut first: BTreeMap<String, Files> = BTreeMap::new();
    let mut check = |app: &Path, contestant: &str| -> Result<()> {
        check_output(app, contestant, &published)?;
        let files = files(&app.join("wit/deps"))?;
        match first.get(contestant) {
            None => {
                first.insert(contestant.to_owned(), files);
            }
            Some(before) if *before != files => bail!(
                "{contestant} wrote a wit/deps other than its first run's: {:?}, then {:?}",
                before,
                files
            ),
            Some(_) => {}
        }
        Ok(())
    };

    let fetch_cmd = |contestant: &str, config: &str, app: &Path, locked: bool| -> Vec<String> {
        if contestant == "ours" {
            let wit = app.join("wit").display().to_string();
            wreg_in_app(home, config, app, &["wit", "fetch", &wit], locked)
        } else {
            wkg_in_app(&wkg, home, config, app, "fetch")
        }
    };
    let contestants = || -> Vec<(String, Vec<Sample>)> {
        vec![
            ("ours".into(), Vec::new()),
            ("wkg fetch".into(), Vec::new()),
        ]
    };
    for (label, config) in [("loopback", direct), ("20 ms RTT", delayed)] {
        let mut samples = contestants();
        let mut last = Vec::new();
        let mut run = 0;
        while more_runs(run, &samples) {
            for (contestant, runs) in &mut samples {
                let app = dir.join(format!("app-{}-{run}-{}", label.len(), contestant.len()));
                std::fs::create_dir_all(app.join("wit"))?;
                std::fs::write(app.join("wit/app.wit"), shipped::APP_WIT)?;
                let cmd = fetch_cmd(contestant, config, &app, false);
                let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
                runs.push(measure(&cmd)?);
                check(&app, contestant)?;
                // The app of each contestant's last run, for the warm row.
                last.retain(|(c, _)| c != contestant);
                last.push((contestant.clone(), app));
            }
            run += 1;
        }
        push_medians(
            rows,
            format!("WASI graph to wit/deps, cold, {label}"),
            samples,
        );
        if label == "loopback" {
            let mut samples = contestants();
            let mut run = 0;
            while more_runs(run, &samples) {
                run += 1;
                for (contestant, runs) in &mut samples {
                    let app = &last.iter().find(|(c, _)| c == contestant).expect("ran").1;
                    let cmd = fetch_cmd(contestant, config, app, true);
                    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
                    runs.push(measure(&cmd)?);
                    check(app, contestant)?;
                }
            }
            push_medians(
                rows,
                "WASI graph to wit/deps, lock file + warm cache".to_owned(),
                samples,
            );
        }
    }
    Ok(())
}

/// A package's name and what it defines ([`contents`]).
type Contents = BTreeMap<String, BTreeSet<String>>;
/// Files by their path under a directory, each with its digest.
type Files = BTreeMap<String, String>;

/// The `wit/deps` a contestant wrote reads back with wit-parser, with every package, each
/// defining what `published` says its package does: all of it for ours, part of it for
/// wkg's partial packages.
fn check_output(app: &Path, contestant: &str, published: &Contents) -> Result<()> {
    let mut resolve = wit_parser::Resolve::default();
    resolve.push_dir(app.join("wit")).map_err(|e| {
        anyhow::anyhow!("{contestant} wrote a wit/deps wit-parser cannot read: {e:#}")
    })?;
    let whole = contestant == "ours";
    let expected = if whole { 8 } else { 6 };
    if resolve.packages.len() != expected {
        bail!(
            "{contestant}: wit/deps holds {} packages with the app, expected {expected}",
            resolve.packages.len()
        );
    }
    let app_package = shipped::APP_WIT
        .strip_prefix("package ")
        .and_then(|t| t.split(';').next())
        .context("the app's package name")?;
    for (name, items) in contents(&resolve) {
        if name == app_package {
            continue;
        }
        let Some(source) = published.get(&name) else {
            bail!("{contestant} wrote {name}, which was not published");
        };
        let extra: Vec<&String> = items.difference(source).collect();
        let missing: Vec<&String> = source.difference(&items).collect();
        if !extra.is_empty() || (whole && !missing.is_empty()) {
            bail!(
                "{contestant} wrote {name} with {extra:?} that the published one does not \
                 define{}",
                if whole {
                    format!(", and without {missing:?}")
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(())
}

/// Each package of `resolve` by name, with what it defines: its interfaces, their types
/// and functions, and its worlds.
fn contents(resolve: &wit_parser::Resolve) -> Contents {
    resolve
        .packages
        .iter()
        .map(|(_, package)| {
            let mut items = BTreeSet::new();
            for (name, id) in &package.interfaces {
                let interface = &resolve.interfaces[*id];
                items.insert(format!("interface {name}"));
                items.extend(interface.types.keys().map(|t| format!("type {name}.{t}")));
                items.extend(
                    interface
                        .functions
                        .keys()
                        .map(|f| format!("func {name}.{f}")),
                );
            }
            items.extend(package.worlds.keys().map(|w| format!("world {w}")));
            (package.name.to_string(), items)
        })
        .collect()
}

/// The files under `dir`, by their path under it, each with its digest.
fn files(dir: &Path) -> Result<Files> {
    let mut found = Files::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).with_context(|| format!("read {}", at.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path)?;
                let name = path.strip_prefix(dir)?.display().to_string();
                found.insert(
                    name,
                    registry_core::ContentDigest::sha256(&bytes).to_string(),
                );
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An app directory whose `wit/deps` holds the shipped WASI packages as published.
    fn app_with_the_published_packages(dir: &Path) -> std::path::PathBuf {
        let app = dir.join("app");
        std::fs::create_dir_all(app.join("wit")).unwrap();
        std::fs::write(app.join("wit/app.wit"), shipped::APP_WIT).unwrap();
        for (rel, spec) in shipped::WASI {
            let name = spec.split('@').next().unwrap().replace(':', "-");
            shipped::copy_package(rel, &app.join("wit/deps").join(name));
        }
        app
    }

    #[test]
    fn the_wasi_output_must_define_what_was_published() {
        let mut published = wit_parser::Resolve::default();
        published.push_dir(shipped::wasi_http()).unwrap();
        let published = contents(&published);
        assert_eq!(published.len(), shipped::WASI.len());
        let dir = tempfile::tempdir().unwrap();
        let app = app_with_the_published_packages(dir.path());
        check_output(&app, "ours", &published).unwrap();
        let before = files(&app.join("wit/deps")).unwrap();
        assert!(
            before.keys().any(|p| p.ends_with("insecure.wit")),
            "{before:?}"
        );

        // A package without one of its functions is not what was published.
        let file = app.join("wit/deps/wasi-random/insecure.wit");
        let text = std::fs::read_to_string(&file).unwrap();
        let line = "get-insecure-random-u64: func() -> u64;";
        assert!(text.contains(line));
        std::fs::write(&file, text.replace(line, "")).unwrap();
        let err = check_output(&app, "ours", &published).unwrap_err();
        assert!(
            format!("{err}").contains("func insecure.get-insecure-random-u64"),
            "{err}"
        );
        assert_ne!(files(&app.join("wit/deps")).unwrap(), before);
    }
}
