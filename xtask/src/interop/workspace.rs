//! The cell "wkg workspace -> wreg fetch --workspace": one two-member `wkg.toml` workspace
//! (members by a glob; `app` uses the member `core` and a registry package, `core` another),
//! fetched by `wkg fetch` in one copy and `wreg fetch --workspace` in another. The cell
//! holds when both write the same entries under `<root>/wkg/deps` and nothing into the
//! members, pin the same releases in `<root>/wkg.lock`, and every interface, type and
//! function of each package wkg wrote is in ours (wkg writes the parts of a package that
//! travel inside another's encoding; we write packages whole).

use std::collections::BTreeSet;
use std::path::Path;

use super::run;

const BASE: &str = "package wsinterop:base@1.0.0;\ninterface types { type id = u32; record item { id: id, name: string } }\n";
const LIB: &str = "package wsinterop:lib@1.0.0;\ninterface api { use wsinterop:base/types@1.0.0.{item}; get: func() -> item; }\n";
const APP: &str = "package wsmember:app@0.1.0;\nworld app {\n  import wsmember:core/api@0.1.0;\n  import wsinterop:lib/api@1.0.0;\n}\n";
const CORE: &str = "package wsmember:core@0.1.0;\ninterface api { use wsinterop:base/types@1.0.0.{id}; next: func() -> id; }\n";

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The workspace, written under `root`.
fn workspace(root: &Path) -> Result<(), String> {
    write(
        &root.join("wkg.toml"),
        "[workspace]\nmembers = [\"*/wit\"]\n",
    )?;
    write(&root.join("app/wit/app.wit"), APP)?;
    write(&root.join("core/wit/core.wit"), CORE)
}

fn entries(dir: &Path) -> Result<BTreeSet<String>, String> {
    Ok(std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect())
}

/// `name@version` of every pin in a lock file.
fn pins(lock: &Path) -> Result<BTreeSet<String>, String> {
    let text = std::fs::read_to_string(lock).map_err(|e| format!("{}: {e}", lock.display()))?;
    let mut pins = BTreeSet::new();
    let mut name = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("name = ") {
            name = value.trim_matches('"').to_owned();
        } else if let Some(value) = line.strip_prefix("version = ") {
            let version = value.trim_matches('"');
            if version != "1" || !name.is_empty() {
                pins.insert(format!("{name}@{version}"));
            }
        }
    }
    Ok(pins)
}

/// The interfaces and their items of the package in a `deps` entry, read alone.
fn items(dir: &Path) -> Result<BTreeSet<String>, String> {
    let group = wit_parser::UnresolvedPackageGroup::parse_dir(dir)
        .map_err(|e| format!("wit-parser cannot read {}: {e:#}", dir.display()))?;
    let mut items = BTreeSet::new();
    for (_, iface) in group.main.interfaces.iter() {
        let Some(name) = &iface.name else { continue };
        items.insert(name.clone());
        for item in iface.types.keys().chain(iface.functions.keys()) {
            items.insert(format!("{name}.{item}"));
        }
    }
    Ok(items)
}

/// The cell: `wreg` and `wkg` are the binaries, `config` a config file whose default
/// registry is the matrix's registry, `dir` a scratch directory.
pub(super) fn cell(wreg: &str, wkg: &str, config: &str, dir: &Path) -> Result<(), String> {
    let work = dir.join("workspace-interop");
    write(&work.join("src/base/base.wit"), BASE)?;
    write(&work.join("src/lib/lib.wit"), LIB)?;
    for src in ["src/base", "src/lib"] {
        let args = [
            "--config",
            config,
            "--cache-dir",
            "cache",
            "-q",
            "publish",
            src,
            "--lock",
            "publish.lock",
        ];
        run(wreg, &args, &work)?;
    }
    let (theirs, ours) = (work.join("by-wkg"), work.join("by-wreg"));
    workspace(&theirs)?;
    workspace(&ours)?;
    run(wkg, &["fetch", "--config", config], &theirs)?;
    let cache = work.join("cache").display().to_string();
    let args = [
        "--config",
        config,
        "--cache-dir",
        &cache,
        "-q",
        "fetch",
        "--workspace",
    ];
    run(wreg, &args, &ours)?;

    for root in [&theirs, &ours] {
        for member in ["app/wit/deps", "core/wit/deps"] {
            if root.join(member).exists() {
                return Err(format!("{} was written", root.join(member).display()));
            }
        }
    }
    let (their_deps, our_deps) = (theirs.join("wkg/deps"), ours.join("wkg/deps"));
    let names = entries(&their_deps)?;
    if names != entries(&our_deps)? {
        return Err(format!(
            "wkg/deps differ: wkg wrote {names:?}, we wrote {:?}",
            entries(&our_deps)?
        ));
    }
    if names.iter().any(|n| n.starts_with("wsmember-")) || names.is_empty() {
        return Err(format!("wkg/deps holds {names:?}"));
    }
    let (their_pins, our_pins) = (
        pins(&theirs.join("wkg.lock"))?,
        pins(&ours.join("wkg.lock"))?,
    );
    if their_pins != our_pins {
        return Err(format!(
            "wkg.lock pins differ: wkg {their_pins:?}, ours {our_pins:?}"
        ));
    }
    for name in &names {
        let (t, o) = (items(&their_deps.join(name))?, items(&our_deps.join(name))?);
        if let Some(missing) = t.difference(&o).next() {
            return Err(format!("{name}: {missing} is missing from ours"));
        }
    }
    Ok(())
}
