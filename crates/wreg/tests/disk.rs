//! Full and read-only disks, and a cache on another file system than the output: `wreg` as a
//! user runs it, each file system a small tmpfs the test mounts (and unmounts, even when an
//! assertion fails).
//!
//! Each case checks what a user needs when a disk fills up or refuses writes: the command
//! fails, its error names the path involved and says what to do, nothing half-written is left
//! (no `*.part`, `*.tmp`, `.publish-*`, `.tmp-*` or `.wasm-pkg-*` file), and every file that
//! was there before (an older cache entry, `wkg.lock`, a config file, a previous output) is
//! byte for byte what it was. Each prints its figures, recorded in docs/reliability.md.
//!
//! Mounting needs root or `CAP_SYS_ADMIN` (CI runs as root); without it the tests fail
//! saying so rather than pass without checking anything.

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use test_support::component;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const NO_SPACE: &str = "no space left on device";
const READ_ONLY: &str = "read-only file system";
/// What the errors say to do: free space, choose another cache, write the output elsewhere.
const MORE_ROOM: &str = "free space on the file system of";
const ANOTHER_CACHE: &str = "choose another cache directory";
const ELSEWHERE: &str = "write it to another directory";
/// Local I/O (`EX_IOERR`), as the README's table of exit codes has it.
const EX_IOERR: i32 = 74;

/// A tmpfs of `bytes` mounted at a directory for as long as this lives.
struct Tmpfs {
    at: PathBuf,
    bytes: u64,
}

impl Tmpfs {
    fn mount(at: PathBuf, bytes: u64) -> Self {
        std::fs::create_dir_all(&at).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes},mode=0755"),
                "tmpfs",
            ])
            .arg(&at)
            .output();
        match out {
            Ok(out) if out.status.success() => Self { at, bytes },
            Ok(out) => panic!(
                "this test needs root or CAP_SYS_ADMIN to mount a tmpfs at {}; `mount` said: {}",
                at.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(err) => panic!("this test needs root or CAP_SYS_ADMIN and `mount`: {err}"),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.at.join(rel)
    }

    /// Remounts it read-only (root ignores permission bits; a read-only mount it cannot).
    fn read_only(&self) {
        let status = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.at)
            .status()
            .unwrap();
        assert!(status.success(), "remount read-only");
        let probe = std::fs::write(self.at.join("probe"), b"x").unwrap_err();
        assert_eq!(probe.kind(), std::io::ErrorKind::ReadOnlyFilesystem);
    }

    /// Writes a filler file until the file system is full; returns its size.
    fn fill(&self) -> u64 {
        use std::io::Write as _;
        let mut file = std::fs::File::create(self.at.join("filler")).unwrap();
        let mut written = 0;
        loop {
            match file.write(&[0xf1; 4096]) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(err) if err.kind() == std::io::ErrorKind::StorageFull => break,
                Err(err) => panic!("filling {}: {err}", self.at.display()),
            }
        }
        assert_eq!(self.usage().1, 0, "{} is full", self.at.display());
        written
    }

    /// Bytes in use and bytes free, as `df` counts them.
    fn usage(&self) -> (u64, u64) {
        let out = Command::new("df")
            .args(["-B1", "--output=used,avail"])
            .arg(&self.at)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let numbers: Vec<u64> = (text.lines().nth(1).unwrap_or_default())
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        assert_eq!(numbers.len(), 2, "df: {text}");
        (numbers[0], numbers[1])
    }

    /// Prints the figures of a case: `what`, this file system's size, the bytes used
    /// `before` and now, and the errors `wreg` printed.
    fn report(&self, before: (u64, u64), what: &str, errors: &[&str]) {
        let after = self.usage();
        println!(
            "figures: {what}; tmpfs {} bytes: used {} before, {} after, {} free after\n{}",
            self.bytes,
            before.0,
            after.0,
            after.1,
            errors.concat()
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmount = |lazy: bool| {
            let mut command = Command::new("umount");
            if lazy {
                command.arg("-l");
            }
            command.arg(&self.at).status().is_ok_and(|s| s.success())
        };
        // Busy (a process still inside): detached now, gone when released.
        let _ = unmount(false) || unmount(true);
    }
}

/// A scratch home on the ordinary disk: a config file whose default registry is the
/// directory registry `local.test` (at `registry/` unless moved), and `wreg` run with no
/// user environment. Tmpfs mounted under it are declared after it: unmounted first.
struct Home {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Home {
    /// A home whose registry holds `releases`, each `ns:name` at version 1.0.0.
    fn with(releases: &[(&str, &[u8])]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        let home = Self { dir, config };
        let root = home.path("registry");
        home.registry_at(&root);
        for (package, bytes) in releases {
            let (ns, name) = package.split_once(':').unwrap();
            std::fs::create_dir_all(root.join(ns).join(name)).unwrap();
            std::fs::write(root.join(ns).join(name).join("1.0.0.wasm"), bytes).unwrap();
        }
        home
    }

    /// Makes the directory registry `local.test` at `root` the default.
    fn registry_at(&self, root: &Path) {
        std::fs::write(&self.config, config_text(root)).unwrap();
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn mount(&self, rel: &str, bytes: u64) -> Tmpfs {
        Tmpfs::mount(self.path(rel), bytes)
    }

    /// `wreg` with the config file `config`, the cache in `cache`, and the arguments `line`
    /// (split at spaces: the paths here have none), to be run.
    fn command(&self, config: &Path, cache: &Path, line: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wreg"));
        command
            .current_dir(self.dir.path())
            .env_clear()
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.path("xdg"))
            .env("XDG_CACHE_HOME", self.path("xdg-cache"))
            .arg("--config")
            .arg(config)
            .arg("--cache-dir")
            .arg(cache)
            .args(line.split_whitespace());
        command
    }

    fn wreg_with(&self, config: &Path, cache: &Path, line: &str) -> Output {
        self.command(config, cache, line).output().unwrap()
    }

    /// `wreg` with this home's config file and the cache in `cache`.
    fn wreg(&self, cache: &Path, line: &str) -> Output {
        self.wreg_with(&self.config, cache, line)
    }

    /// Its standard output, after checking that it succeeded.
    fn ok(&self, cache: &Path, line: &str) -> Vec<u8> {
        let out = self.wreg(cache, line);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "wreg {line}: {stderr}");
        out.stdout
    }
}

fn config_text(registry_root: &Path) -> String {
    format!(
        "# my settings\ndefault_registry = \"local.test\" # the default\n\n\
         [registry.\"local.test\".local]\nroot = {:?}\n",
        registry_root.display().to_string()
    )
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// A valid component of `padding` bytes more than a small one.
fn component_of(seed: &str, padding: u64) -> Vec<u8> {
    component::build(&component::Spec {
        imports: &["wasi:cli/environment@0.2.0"],
        metadata: &[("description", seed)],
        padding: usize::try_from(padding).unwrap(),
        ..Default::default()
    })
}

/// Every file under `dir` (relative path to bytes); empty when `dir` does not exist.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(path.strip_prefix(root).unwrap().to_owned(), read(&path));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// No file under `dirs` is named as a write in progress.
fn assert_no_leftovers(dirs: &[&Path]) {
    for dir in dirs {
        let left: Vec<PathBuf> = tree(dir)
            .into_keys()
            .filter(|rel| {
                let name = rel.file_name().unwrap().to_string_lossy();
                [".part", ".tmp"].iter().any(|s| name.ends_with(s))
                    || [".publish-", ".tmp-", ".wasm-pkg-"]
                        .iter()
                        .any(|p| name.starts_with(p))
            })
            .collect();
        assert!(left.is_empty(), "left in {}: {left:?}", dir.display());
    }
}

/// Every file of `before` is still under `dir` with the same bytes.
fn assert_intact(dir: &Path, before: &BTreeMap<PathBuf, Vec<u8>>) {
    let now = tree(dir);
    for (rel, bytes) in before {
        let path = dir.join(rel);
        let now = now
            .get(rel)
            .unwrap_or_else(|| panic!("{} is gone", path.display()));
        assert!(now == bytes, "{} changed", path.display());
    }
}

/// The run failed with exit code 74, and its error names `path`, says `reason` (the
/// system's words) and `advice` (what to do). Returns stderr.
fn assert_fails_clearly(out: &Output, path: &Path, reason: &str, advice: &str) -> String {
    fails_with(out, Some(EX_IOERR), path, reason, advice)
}

/// As [`assert_fails_clearly`], with the exit code `code` if one is given.
fn fails_with(out: &Output, code: Option<i32>, path: &Path, reason: &str, advice: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "succeeded; stderr: {stderr}");
    assert_ne!(out.status.code(), None, "killed by a signal: {stderr}");
    if let Some(code) = code {
        assert_eq!(out.status.code(), Some(code), "{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    let named = stderr.contains(&path.display().to_string());
    assert!(
        named,
        "the error does not name {}:\n{stderr}",
        path.display()
    );
    let said = stderr.to_lowercase().contains(reason);
    assert!(said, "the error does not say {reason:?}:\n{stderr}");
    let advised = stderr.contains(advice);
    assert!(advised, "the error does not say {advice:?}:\n{stderr}");
    stderr
}

/// Case 1: a download larger than the cache's file system. `wreg get -o` and `wreg fetch`
/// fail naming the cache and saying to free space or choose another cache directory; the
/// cache keeps its older entry and `tmp/` no partial download; the previous output file,
/// `deps/` and `wkg.lock` are untouched; with room (another cache) the same `get` works.
#[test]
fn a_fetch_into_a_full_cache_fails_clearly_and_leaves_nothing_half_written() {
    let big = component_of("big", 3 * MIB);
    let small = component::small("s");
    let home = Home::with(&[("acme:small", &small), ("acme:big", &big)]);
    let fs = home.mount("cache-fs", MIB);
    let cache = fs.path("cache");

    // Earlier runs: an entry in the cache, an output file, a lock file and deps/.
    home.ok(&cache, "get acme:small@1.0.0 -o small.wasm");
    home.ok(&cache, "fetch --dep acme:small@1.0.0");
    std::fs::write(home.path("out.wasm"), b"the previous output").unwrap();
    let (cache_before, home_before) = (tree(&cache), tree(home.dir.path()));
    let used = fs.usage();
    assert_eq!(tree(&cache.join("content")).len(), 1);

    let out = home.wreg(&cache, "get acme:big@1.0.0 -o out.wasm");
    let get_err = assert_fails_clearly(&out, &cache, NO_SPACE, ANOTHER_CACHE);
    assert!(get_err.contains(MORE_ROOM), "{get_err}");
    assert_no_leftovers(&[&cache, home.dir.path()]);
    assert_intact(&cache, &cache_before);
    assert_intact(home.dir.path(), &home_before);
    assert_eq!(read(&home.path("out.wasm")), b"the previous output");
    assert_eq!(tree(&cache.join("content")).len(), 1, "a new entry");

    let out = home.wreg(&cache, "fetch --dep acme:big@1.0.0 --dep acme:small@1.0.0");
    let fetch_err = assert_fails_clearly(&out, &cache, NO_SPACE, ANOTHER_CACHE);
    assert_no_leftovers(&[&cache, home.dir.path()]);
    // wkg.lock and deps/ as they were: the lock is saved only once everything resolved.
    assert_intact(home.dir.path(), &home_before);
    assert_eq!(tree(&cache.join("content")).len(), 1, "a new entry");
    assert!(!home.path("deps/acme/big.wasm").exists());

    home.ok(&home.path("roomy"), "get acme:big@1.0.0 -o out.wasm");
    assert_eq!(read(&home.path("out.wasm")), big);
    let what = format!("content {} bytes, cache", big.len());
    fs.report(used, &what, &[&get_err, &fetch_err]);
}

/// Case 1b: the output on a full file system (the cache has room). `wreg get -o` fails
/// naming the output file (not the cache file copied from) and saying to free space or
/// write elsewhere; the previous output is whole. Checked for small content (hashed as it
/// is copied), for 5 MiB (copied by the kernel while another thread hashes), from a warm
/// cache and a cold one, and for `wreg fetch` writing `deps/`.
#[test]
fn an_output_on_a_full_disk_is_named_and_the_previous_file_kept() {
    let (small, big) = (component::small("s"), component_of("big", 5 * MIB));
    let home = Home::with(&[("acme:small", &small), ("acme:big", &big)]);
    let cache = home.path("cache");
    home.ok(&cache, "get acme:small@1.0.0 -o small.wasm");
    home.ok(&cache, "get acme:big@1.0.0 -o big.wasm");
    let fs = home.mount("out-fs", 256 * KIB);
    let out_file = fs.path("out.wasm");
    std::fs::write(&out_file, b"the previous output").unwrap();
    let deps = fs.path("deps");
    let deps_arg = format!("-o {}", deps.display());
    home.ok(&cache, &format!("fetch --dep acme:small@1.0.0 {deps_arg}"));
    let deps_before = tree(&deps);
    assert_eq!(deps_before.len(), 1);
    let used = fs.usage();
    let filler = fs.fill();
    let before = tree(&fs.at);
    let get = |cache: &Path, package: &str| {
        let out = home.wreg(cache, &format!("get {package} -o {}", out_file.display()));
        let err = assert_fails_clearly(&out, &out_file, NO_SPACE, ELSEWHERE);
        assert!(!err.contains("content/sha256"), "blames the cache: {err}");
        assert_eq!(read(&out_file), b"the previous output");
        assert_no_leftovers(&[&fs.at, cache]);
        err
    };

    let small_err = get(&cache, "acme:small@1.0.0");
    assert_intact(&fs.at, &before);
    // Room for a few pages, not for 5 MiB.
    std::fs::remove_file(fs.path("filler")).unwrap();
    let big_err = get(&cache, "acme:big@1.0.0");
    get(&home.path("cold"), "acme:big@1.0.0");

    let line = format!("fetch --dep acme:small@1.0.0 --dep acme:big@1.0.0 {deps_arg}");
    let out = home.wreg(&cache, &line);
    assert_fails_clearly(&out, &deps.join("acme"), NO_SPACE, ELSEWHERE);
    assert_eq!(tree(&deps), deps_before, "deps/ changed");
    assert_no_leftovers(&[&fs.at]);
    let what = format!(
        "content {} and {} bytes, filler {filler}",
        small.len(),
        big.len()
    );
    fs.report(used, &what, &[&small_err, &big_err]);
}

/// Case 2: a publish into a directory registry whose file system fills up while the content
/// is spooled. The error names the package's directory and says to free space; the registry
/// holds no partial version file (the version is not listed), the earlier release is whole,
/// and a new package's failed first release leaves no version.
#[test]
fn a_publish_spool_on_a_full_disk_leaves_the_registry_as_it_was() {
    let home = Home::with(&[]);
    let fs = home.mount("registry-fs", MIB);
    let root = fs.path("registry");
    home.registry_at(&root);
    let cache = home.path("cache");
    let (one, two) = (home.path("one.wasm"), home.path("two.wasm"));
    std::fs::write(&one, component::small("one")).unwrap();
    let big = component_of("two", 3 * MIB);
    std::fs::write(&two, &big).unwrap();
    let publish = |file: &Path, spec: &str| {
        let line = format!("publish {} --package {spec}", file.display());
        home.wreg(&cache, &line)
    };
    assert!(publish(&one, "acme:widget@1.0.0").status.success());
    let before = tree(&root);
    let used = fs.usage();

    let out = publish(&two, "acme:widget@2.0.0");
    let widget = root.join("acme/widget");
    let err = assert_fails_clearly(&out, &widget, NO_SPACE, MORE_ROOM);
    assert_eq!(tree(&root), before, "the registry changed");
    assert_no_leftovers(&[&root]);
    assert_eq!(home.ok(&cache, "versions acme:widget"), b"1.0.0\n");
    home.ok(&cache, "get acme:widget@1.0.0 -o got.wasm");
    assert_eq!(read(&home.path("got.wasm")), read(&one));

    let out = publish(&two, "acme:gadget@1.0.0");
    assert_fails_clearly(&out, &root.join("acme/gadget"), NO_SPACE, MORE_ROOM);
    assert_no_leftovers(&[&root]);
    assert!(tree(&root.join("acme/gadget")).is_empty());
    assert!(!home.wreg(&cache, "versions acme:gadget").status.success());
    fs.report(
        used,
        &format!("content {} bytes, registry", big.len()),
        &[&err],
    );
}

/// Case 2b: a publish of a file to an OCI registry reads the file in place (no spool in
/// the system's temporary directory): with that file system full it still publishes, and
/// writes nothing there. (Content given as a reader, by a library caller, is still spooled
/// there.)
#[test]
fn a_file_publish_needs_no_room_in_a_full_temporary_directory() {
    let registry = test_support::Distribution::shared();
    let home = Home::with(&[]);
    let text = format!("[namespace_registries]\noci = \"{}\"\n", registry.host());
    std::fs::write(&home.config, text).unwrap();
    let file = home.path("big.wasm");
    let big = component_of("oci", 3 * MIB);
    std::fs::write(&file, &big).unwrap();
    let fs = home.mount("tmp-fs", 256 * KIB);
    let _filler = fs.fill();
    let before = tree(&fs.at);
    let line = format!("publish {} --package oci:full-tmp@1.0.0", file.display());
    let cache = home.path("cache");
    let mut command = home.command(&home.config, &cache, &line);
    let out = command.env("TMPDIR", &fs.at).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(tree(&fs.at), before, "nothing written to TMPDIR");
    let out = home.wreg(&cache, "versions oci:full-tmp");
    assert!(out.status.success(), "published");
}

/// Case 3: `wreg bundle export` into a layout on a full file system. The command fails
/// (exit 74, "no space left on device"); an existing layout keeps its `index.json` and
/// blobs byte for byte and takes an export again; a new one gets no `index.json` naming
/// blobs that are not there; no temporary blob is left.
/// (`a_bundle_export_on_a_full_disk_names_the_bundle_and_can_be_retried` checks the
/// error's path and a later export into the new layout.)
#[test]
fn a_bundle_export_on_a_full_disk_leaves_no_half_written_layout() {
    let big = component_of("big", 3 * MIB);
    let small = component::small("s");
    let home = Home::with(&[("acme:small", &small), ("acme:big", &big)]);
    let cache = home.path("cache");
    let fs = home.mount("bundle-fs", MIB);
    let (bundle, fresh) = (fs.path("bundle"), fs.path("fresh"));
    let export = |dir: &Path, packages: &str| {
        let line = format!("bundle export {} {packages}", dir.display());
        home.wreg(&cache, &line)
    };
    assert!(export(&bundle, "acme:small@1.0.0").status.success());
    let before = tree(&bundle);
    let used = fs.usage();

    let out = export(&bundle, "acme:big@1.0.0");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(EX_IOERR), "{err}");
    assert!(err.to_lowercase().contains(NO_SPACE), "{err}");
    assert_eq!(tree(&bundle), before, "the bundle changed");
    assert_no_leftovers(&[&fs.at]);

    let out = export(&fresh, "acme:small@1.0.0 acme:big@1.0.0");
    assert_eq!(out.status.code(), Some(EX_IOERR));
    assert_no_leftovers(&[&fs.at]);
    if let Ok(index) = std::fs::read(fresh.join("index.json")) {
        let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
        assert!(index["manifests"].as_array().unwrap().is_empty(), "{index}");
    }
    let left: Vec<String> = (tree(&fresh).iter())
        .map(|(p, b)| format!("{} ({} bytes)", p.display(), b.len()))
        .collect();

    assert!(export(&bundle, "acme:small@1.0.0").status.success());
    assert_eq!(tree(&bundle), before);
    let what = format!("content {} bytes, left in a new layout {left:?}", big.len());
    fs.report(used, &what, &[&err]);
}

/// A failed export names the bundle (not the cache file it copied from), and a new layout
/// whose first export failed takes a later export.
#[test]
fn a_bundle_export_on_a_full_disk_names_the_bundle_and_can_be_retried() {
    let big = component_of("big", 3 * MIB);
    let small = component::small("s");
    let home = Home::with(&[("acme:small", &small), ("acme:big", &big)]);
    let cache = home.path("cache");
    let fs = home.mount("bundle-fs", MIB);
    let fresh = fs.path("fresh");
    let export = format!("bundle export {}", fresh.display());
    let out = home.wreg(&cache, &format!("{export} acme:small@1.0.0 acme:big@1.0.0"));
    assert_fails_clearly(&out, &fresh, NO_SPACE, MORE_ROOM);
    home.ok(&cache, &format!("{export} acme:small@1.0.0"));
}

/// Case 4: saving a config file (`config set`, `config unset`) or a project's `wkg.lock` on
/// a full file system. The error names the file and says to free space; the file is byte
/// for byte what it was, no temporary file is left beside it, and `deps/` is not written.
#[test]
fn saves_on_a_full_disk_keep_the_previous_config_and_lock_file() {
    let (small, other) = (component::small("s"), component::small("o"));
    let home = Home::with(&[("acme:small", &small), ("acme:other", &other)]);
    let cache = home.path("cache");
    let fs = home.mount("config-fs", 256 * KIB);
    let config = fs.path("config.toml");
    std::fs::write(&config, config_text(&home.path("registry"))).unwrap();
    let (lock, deps) = (fs.path("project/wkg.lock"), fs.path("project/deps"));
    std::fs::create_dir_all(fs.path("project")).unwrap();
    let project = format!("--lock {} -o {}", lock.display(), deps.display());
    let fetch = |dep: &str| {
        let line = format!("fetch --dep {dep} {project}");
        home.wreg_with(&config, &cache, &line)
    };
    assert!(fetch("acme:small@1.0.0").status.success());
    let used = fs.usage();
    let filler = fs.fill();
    let before = tree(&fs.at);

    // The exit code is 74, local I/O: `a_config_save_on_a_full_disk_exits_as_local_io`.
    let set = "config set --user default_registry other.test";
    let out = home.wreg_with(&config, &cache, set);
    let set_err = fails_with(&out, None, &config, NO_SPACE, MORE_ROOM);
    let out = home.wreg_with(&config, &cache, "config unset --user default_registry");
    fails_with(&out, None, &config, NO_SPACE, MORE_ROOM);
    assert_intact(&fs.at, &before);
    assert_no_leftovers(&[&fs.at]);

    let out = fetch("acme:other@1.0.0");
    let lock_err = assert_fails_clearly(&out, &lock, NO_SPACE, MORE_ROOM);
    assert_intact(&fs.at, &before);
    assert_no_leftovers(&[&fs.at]);
    assert!(!deps.join("acme/other.wasm").exists());
    assert_eq!(read(&deps.join("acme/small.wasm")), small);
    let what = format!("filler {filler} bytes");
    fs.report(used, &what, &[&set_err, &lock_err]);
}

/// A config file that cannot be written is local I/O (74, as the README's table and
/// `From<ConfigError> for Error` have it), not a configuration mistake (78).
#[test]
fn a_config_save_on_a_full_disk_exits_as_local_io() {
    let home = Home::with(&[]);
    let fs = home.mount("config-fs", 64 * KIB);
    let config = fs.path("config.toml");
    std::fs::write(&config, config_text(&home.path("registry"))).unwrap();
    fs.fill();
    let line = "config set --user default_registry other.test";
    let out = home.wreg_with(&config, &home.path("cache"), line);
    assert_fails_clearly(&out, &config, NO_SPACE, MORE_ROOM);
}

/// Case 5: a read-only cache (a read-only mount: root ignores permission bits). What it
/// holds, verified, is served from it (`get -o`, `get -o -`, `--offline get`, `fetch`):
/// reading needs no write. What it lacks fails naming the cache, saying it is read-only and
/// what to do, and writes no output.
#[test]
fn a_read_only_cache_serves_what_it_holds_and_names_itself_for_the_rest() {
    let (small, other) = (component::small("s"), component::small("o"));
    let home = Home::with(&[("acme:small", &small), ("acme:other", &other)]);
    let fs = home.mount("cache-fs", 8 * MIB);
    let cache = fs.path("cache");
    home.ok(&cache, "get acme:small@1.0.0 -o first.wasm");
    fs.read_only();
    let before = tree(&cache);
    let used = fs.usage();

    home.ok(&cache, "get acme:small@1.0.0 -o again.wasm");
    assert_eq!(read(&home.path("again.wasm")), small);
    assert_eq!(home.ok(&cache, "get acme:small@1.0.0 -o -"), small);
    home.ok(&cache, "--offline get acme:small@1.0.0 -o offline.wasm");
    assert_eq!(read(&home.path("offline.wasm")), small);
    home.ok(&cache, "fetch --dep acme:small@1.0.0");
    assert_eq!(read(&home.path("deps/acme/small.wasm")), small);
    home.ok(&cache, "versions acme:small");

    let out = home.wreg(&cache, "get acme:other@1.0.0 -o other.wasm");
    let advice = "remount it read-write, or choose another cache directory";
    let err = assert_fails_clearly(&out, &cache, READ_ONLY, advice);
    assert!(!home.path("other.wasm").exists());
    let out = home.wreg(&cache, "fetch --dep acme:other@1.0.0");
    assert_fails_clearly(&out, &cache, READ_ONLY, advice);
    assert!(!home.path("deps/acme/other.wasm").exists());
    assert_eq!(tree(&cache), before);
    assert_no_leftovers(&[home.dir.path()]);
    fs.report(used, &format!("{} files, read-only", before.len()), &[&err]);
}

/// Case 6: the cache on one file system and the output on another (the ordinary disk, or a
/// second tmpfs): nothing is renamed across them (which fails with `EXDEV`). `get -o` and
/// `fetch` write whole files from a cold cache and a warm one, for small content and for
/// 5 MiB (copied by the kernel, `copy_file_range` across file systems).
#[test]
fn a_cache_on_another_file_system_than_the_output_works() {
    let (small, big) = (component::small("s"), component_of("big", 5 * MIB));
    let home = Home::with(&[("acme:small", &small), ("acme:big", &big)]);
    let (a, b) = (home.mount("fs-a", 16 * MIB), home.mount("fs-b", 16 * MIB));
    let cache = a.path("cache");
    let get = |cache: &Path, package: &str, out: &Path| {
        home.ok(cache, &format!("get {package} -o {}", out.display()));
    };

    // Cold: fetched into the cache on A, copied to the ordinary disk.
    get(&cache, "acme:big@1.0.0", &home.path("big.wasm"));
    assert_eq!(read(&home.path("big.wasm")), big);
    // Warm: to B, and to the ordinary disk over an existing file.
    get(&cache, "acme:big@1.0.0", &b.path("big.wasm"));
    assert_eq!(read(&b.path("big.wasm")), big);
    std::fs::write(home.path("big.wasm"), b"old").unwrap();
    get(&cache, "acme:big@1.0.0", &home.path("big.wasm"));
    assert_eq!(read(&home.path("big.wasm")), big);
    // Into a directory on B.
    std::fs::create_dir(b.path("out")).unwrap();
    get(&cache, "acme:small@1.0.0", &b.path("out"));
    assert_eq!(read(&b.path("out/acme_small@1.0.0.wasm")), small);
    // The cache on the ordinary disk, the output on A.
    get(&home.path("cache"), "acme:big@1.0.0", &a.path("big.wasm"));
    assert_eq!(read(&a.path("big.wasm")), big);

    // fetch: deps/ and wkg.lock on B, the cache on A, warm and then cold.
    let runs = [(cache, b.path("warm")), (a.path("cold"), b.path("cold"))];
    for (cache, project) in runs {
        std::fs::create_dir(&project).unwrap();
        let (lock, deps) = (project.join("wkg.lock"), project.join("deps"));
        let to = format!("--lock {} -o {}", lock.display(), deps.display());
        let line = format!("fetch --dep acme:big@1.0.0 --dep acme:small@1.0.0 {to}");
        home.ok(&cache, &line);
        assert_eq!(read(&deps.join("acme/big.wasm")), big);
        assert_eq!(read(&deps.join("acme/small.wasm")), small);
        assert!(lock.is_file());
    }
    assert_no_leftovers(&[home.dir.path()]);
}
