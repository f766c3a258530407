//! Two writers in one project: `wreg` processes started at the same moment take turns on
//! `wkg.lock` (and `wit/deps`) through the project lock, `wkg.lock.lock`, so neither tears
//! nor loses the other's update.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

use registry_client::LockFile;

use super::wit::{publish_dir, resolved_packages, wit_dir};
use super::{Home, s};

/// How many pairs of processes race.
const PAIRS: usize = 20;

/// `wreg args` in `project`, started and not waited for.
fn start(home: &Home, project: &Path, args: &[&str]) -> Child {
    home.command("cache")
        .current_dir(project)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Both started before either is waited for.
fn race(home: &Home, project: &Path, first: &[&str], second: &[&str]) -> [Output; 2] {
    let a = start(home, project, first);
    let b = start(home, project, second);
    [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()]
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every package the lock file at `path` pins, after checking that it parses.
fn pinned(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let lock = LockFile::parse(&text, path)
        .unwrap_or_else(|err| panic!("{} does not parse: {err}\n{text}", path.display()));
    lock.packages.iter().map(|p| p.name.to_string()).collect()
}

#[test]
fn twenty_racing_fetch_pairs_lose_no_pin() {
    let home = Home::new("");
    for i in 0..PAIRS {
        for side in ["left", "right"] {
            let file = home.component(&format!("{side}{i}.wasm"), &format!("{side} {i}"));
            home.ok(&[
                "publish",
                s(&file),
                "--package",
                &format!("race:{side}{i}@1.0.0"),
            ]);
        }
    }
    // One project, one lock file, which grows by two packages a pair: each pair's two
    // processes read it as the pairs before left it, and each adds one package.
    let project = home.path("project");
    std::fs::create_dir(&project).unwrap();
    let mut lost = Vec::new();
    for i in 0..PAIRS {
        let (left, right) = (format!("race:left{i}@1"), format!("race:right{i}@1"));
        let outs = race(
            &home,
            &project,
            &["fetch", "--dep", &left],
            &["fetch", "--dep", &right],
        );
        for out in &outs {
            assert!(out.status.success(), "pair {i}: {}", stderr(out));
        }
        let pins = pinned(&project.join("wkg.lock"));
        let missing: Vec<String> = [format!("race:left{i}"), format!("race:right{i}")]
            .into_iter()
            .filter(|p| !pins.contains(p))
            .collect();
        if !missing.is_empty() {
            lost.push(format!("pair {i} lost {}", missing.join(", ")));
        }
        assert!(project.join(format!("deps/race/left{i}.wasm")).is_file());
        assert!(project.join(format!("deps/race/right{i}.wasm")).is_file());
    }
    assert!(
        lost.is_empty(),
        "{} of {PAIRS} racing pairs lost an update: {lost:?}",
        lost.len()
    );
    let pins = pinned(&project.join("wkg.lock"));
    assert_eq!(pins.len(), 2 * PAIRS, "{pins:?}");
}

/// Every file under `dir`, by its path relative to `dir`, with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.insert(path.strip_prefix(root).unwrap().to_owned(), bytes);
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

const APP: &str = "package my:app;\n\
    world app {\n  import acme:lib/api@1.0.0;\n  import acme:extra/more@2.0.0;\n}\n";

#[test]
fn twenty_racing_wit_fetch_pairs_write_one_whole_deps() {
    let home = Home::new("");
    publish_dir(
        &home,
        "src/base",
        "package acme:base@1.0.0;\ninterface types { type id = u32; }\n",
    );
    publish_dir(
        &home,
        "src/lib",
        "package acme:lib@1.0.0;\n\
         interface api { use acme:base/types@1.0.0.{id}; get: func() -> id; }\n",
    );
    publish_dir(
        &home,
        "src/extra",
        "package acme:extra@2.0.0;\n\
         interface more { use acme:base/types@1.0.0.{id}; put: func(x: id); }\n",
    );
    // What one run alone writes.
    wit_dir(&home, "alone/wit", APP);
    let out = home
        .command("cache")
        .current_dir(home.path("alone"))
        .args(["wit", "fetch"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let expected_deps = tree(&home.path("alone/wit/deps"));
    let expected_lock = std::fs::read_to_string(home.path("alone/wkg.lock")).unwrap();
    let mut entries: Vec<String> = std::fs::read_dir(home.path("alone/wit/deps"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        ["acme-base-1.0.0", "acme-extra-2.0.0", "acme-lib-1.0.0"]
    );

    let mut bad = Vec::new();
    for i in 0..PAIRS {
        // Each pair starts from nothing: both runs resolve, write the lock file and
        // replace `wit/deps`.
        let project = home.path(&format!("project{i}"));
        wit_dir(&home, &format!("project{i}/wit"), APP);
        let outs = race(&home, &project, &["wit", "fetch"], &["wit", "fetch"]);
        let failed: Vec<String> = outs
            .iter()
            .filter(|o| !o.status.success())
            .map(stderr)
            .collect();
        if !failed.is_empty() {
            bad.push(format!("pair {i}: a run failed: {failed:?}"));
            continue;
        }
        let wit = project.join("wit");
        // Nothing left beside the package and its deps (no staging or old directory).
        let mut names: Vec<String> = std::fs::read_dir(&wit)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        if names != ["deps", "package.wit"] {
            bad.push(format!("pair {i}: wit/ holds {names:?}"));
        }
        if tree(&wit.join("deps")) != expected_deps {
            bad.push(format!("pair {i}: wit/deps differs from a single run's"));
        }
        assert_eq!(
            resolved_packages(&wit),
            ["acme:base@1.0.0", "acme:extra@2.0.0", "acme:lib@1.0.0"],
            "pair {i}"
        );
        let lock = std::fs::read_to_string(project.join("wkg.lock")).unwrap();
        pinned(&project.join("wkg.lock"));
        if lock != expected_lock {
            bad.push(format!("pair {i}: wkg.lock differs from a single run's"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {PAIRS} racing wit fetch pairs went wrong: {bad:#?}",
        bad.len()
    );
}

#[test]
fn twenty_racing_wit_fetch_and_fetch_pairs_lose_no_pin() {
    let home = Home::new("");
    publish_dir(
        &home,
        "src/base",
        "package acme:base@1.0.0;\ninterface types { type id = u32; }\n",
    );
    let file = home.component("solo.wasm", "solo");
    home.ok(&["publish", s(&file), "--package", "acme:solo@1.0.0"]);
    let mut lost = Vec::new();
    for i in 0..PAIRS {
        // A fresh project each time, so both runs write the lock file: `wit fetch` the
        // WIT graph's pin, `fetch` its own.
        let project = home.path(&format!("project{i}"));
        wit_dir(
            &home,
            &format!("project{i}/wit"),
            "package my:app;\nworld app { import acme:base/types@1.0.0; }\n",
        );
        let outs = race(
            &home,
            &project,
            &["wit", "fetch"],
            &["fetch", "--dep", "acme:solo@1", "-o", "components"],
        );
        for out in &outs {
            assert!(out.status.success(), "pair {i}: {}", stderr(out));
        }
        let mut pins = pinned(&project.join("wkg.lock"));
        pins.sort();
        if pins != ["acme:base", "acme:solo"] {
            lost.push(format!("pair {i} kept only {pins:?}"));
        }
        assert_eq!(resolved_packages(&project.join("wit")), ["acme:base@1.0.0"]);
    }
    assert!(
        lost.is_empty(),
        "{} of {PAIRS} racing pairs lost an update: {lost:?}",
        lost.len()
    );
}

/// The sidecar of the default lock file in `project`.
fn sidecar(project: &Path) -> PathBuf {
    project.join("wkg.lock.lock")
}

#[test]
fn a_held_project_lock_is_waited_for_and_said_so() {
    let home = Home::new("");
    let file = home.component("w.wasm", "waited");
    home.ok(&["publish", s(&file), "--package", "acme:waited@1.0.0"]);
    let project = home.path("project");
    std::fs::create_dir(&project).unwrap();
    // Another process (this one) holds the project's lock.
    let held = std::fs::File::create(sidecar(&project)).unwrap();
    held.lock().unwrap();
    let mut child = start(&home, &project, &["fetch", "--dep", "acme:waited@1"]);
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert_eq!(
        line,
        "waiting for the lock on wkg.lock.lock (another wreg is using it)\n"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "it waits");
    assert!(!project.join("wkg.lock").exists(), "and reads nothing yet");
    drop(held);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(pinned(&project.join("wkg.lock")), ["acme:waited"]);

    // With -q it waits without a word.
    let held = std::fs::File::open(sidecar(&project)).unwrap();
    held.lock().unwrap();
    let child = start(&home, &project, &["-q", "fetch", "--dep", "acme:waited@1"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(held);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

#[cfg(unix)]
#[test]
fn a_linked_lock_file_is_locked_beside_the_file_it_names() {
    let home = Home::new("");
    let file = home.component("l.wasm", "linked");
    home.ok(&["publish", s(&file), "--package", "acme:linked@1.0.0"]);
    let project = home.path("project");
    let shared = home.path("shared");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("wkg.lock"), "version = 1\n").unwrap();
    std::os::unix::fs::symlink("../shared/wkg.lock", project.join("wkg.lock")).unwrap();
    // The process that holds the lock through the file itself is waited for by one that
    // comes through the link.
    let held = std::fs::File::create(sidecar(&shared)).unwrap();
    held.lock().unwrap();
    let mut child = start(&home, &project, &["fetch", "--dep", "acme:linked@1"]);
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.starts_with("waiting for the lock on "), "{line}");
    drop(held);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(!sidecar(&project).exists(), "no sidecar beside the link");
    assert!(
        std::fs::symlink_metadata(project.join("wkg.lock"))
            .unwrap()
            .is_symlink()
    );
    assert_eq!(pinned(&shared.join("wkg.lock")), ["acme:linked"]);
}

#[cfg(unix)]
#[test]
fn a_locked_fetch_runs_in_a_read_only_project() {
    use std::os::unix::fs::PermissionsExt as _;

    let home = Home::new("");
    let file = home.component("r.wasm", "read only");
    home.ok(&["publish", s(&file), "--package", "acme:ro@1.0.0"]);
    let project = home.path("project");
    std::fs::create_dir(&project).unwrap();
    let fetch = |args: &[&str]| {
        home.command("cache")
            .current_dir(&project)
            .args(args)
            .output()
            .unwrap()
    };
    let out = fetch(&["lock", "--dep", "acme:ro@1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::remove_file(sidecar(&project)).unwrap();
    std::fs::set_permissions(&project, std::fs::Permissions::from_mode(0o555)).unwrap();
    // (As root the directory stays writable; the run must succeed either way.)
    let writable = std::fs::File::create(project.join("probe")).is_ok();
    let _ = std::fs::remove_file(project.join("probe"));
    let out = fetch(&["lock", "--dep", "acme:ro@1", "--locked"]);
    std::fs::set_permissions(&project, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    if !writable {
        assert!(!sidecar(&project).exists());
    }
}
