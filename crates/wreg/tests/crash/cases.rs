//! The seven commands the harness kills, each with what it writes and what must hold.

use std::collections::{BTreeMap, BTreeSet};

use test_support::shipped::{APP_WIT, WASI};

use super::check::{State, lock_file, pins, tree, verifies};
use super::{Home, Known, Rng};

/// One command the harness kills: what it runs, what it writes, what must hold.
pub(crate) trait Case {
    /// The command, as the figures name it.
    fn name(&self) -> &'static str;
    /// Readies round `round` (the state the command starts from) and returns its arguments.
    fn prepare(&mut self, home: &Home, round: usize, rng: &mut Rng) -> Vec<String>;
    /// The paths (relative to the home) the command writes, each of which must be whole:
    /// as it was before, or as the rerun leaves it.
    fn watched(&self) -> Vec<String>;
    /// What else must hold, after a kill (`finished == false`) and after the rerun.
    fn check(&self, home: &Home, known: &Known, finished: bool) -> Result<(), String>;
    /// Whether `state`, found at the watched `path` after a kill, is a whole state the
    /// command passes through on its way (neither the one before nor the one after).
    fn interim(&self, _path: &str, _state: &State) -> bool {
        false
    }
    /// Puts the home back to a fresh state after a failed round.
    fn reset(&self, home: &Home) {
        for path in self.watched() {
            home.remove(&path);
        }
    }
}

/// Clears the cache once in two rounds, so that half the runs download.
pub(crate) fn maybe_clear_cache(home: &Home, rng: &mut Rng) {
    if rng.one_in(2) {
        home.remove("cache");
    }
}

/// `wreg get big:blob@<version> -o out.wasm`, the version alternating, so `out.wasm` holds
/// the other version's bytes (or nothing) before.
pub(crate) struct Get {
    pub(crate) versions: [(String, Vec<u8>); 2],
    pub(crate) want: usize,
}

impl Case for Get {
    fn name(&self) -> &'static str {
        "get"
    }

    fn prepare(&mut self, home: &Home, round: usize, rng: &mut Rng) -> Vec<String> {
        maybe_clear_cache(home, rng);
        if rng.one_in(4) {
            home.remove("project/out.wasm");
        }
        self.want = round % 2;
        args(&[
            "get",
            &format!("big:blob@{}", self.versions[self.want].0),
            "-o",
            "out.wasm",
        ])
    }

    fn watched(&self) -> Vec<String> {
        vec!["project/out.wasm".to_owned()]
    }

    fn check(&self, home: &Home, _: &Known, finished: bool) -> Result<(), String> {
        if finished
            && std::fs::read(home.project("out.wasm")).ok()
                != Some(self.versions[self.want].1.clone())
        {
            return Err("out.wasm does not hold the release asked for".to_owned());
        }
        Ok(())
    }
}

/// `wreg fetch --dep big:blob@=<version>`, alternating, in a project carried on from the
/// round before or fresh: `wkg.lock` and `deps/big/blob.wasm`.
pub(crate) struct Fetch {
    pub(crate) versions: [(String, Vec<u8>, String); 2],
    pub(crate) want: usize,
}

impl Case for Fetch {
    fn name(&self) -> &'static str {
        "fetch"
    }

    fn prepare(&mut self, home: &Home, round: usize, rng: &mut Rng) -> Vec<String> {
        maybe_clear_cache(home, rng);
        if rng.one_in(3) {
            self.reset(home);
        }
        self.want = round % 2;
        args(&[
            "fetch",
            "--dep",
            &format!("big:blob@={}", self.versions[self.want].0),
        ])
    }

    fn watched(&self) -> Vec<String> {
        vec!["project/wkg.lock".to_owned(), "project/deps".to_owned()]
    }

    fn check(&self, home: &Home, _: &Known, finished: bool) -> Result<(), String> {
        let lock = lock_file(home)?;
        if finished {
            let (version, bytes, digest) = &self.versions[self.want];
            let pin = format!("big:blob@{version} {digest}");
            if !lock.as_ref().is_some_and(|l| pins(l).contains(&pin)) {
                return Err(format!("wkg.lock does not pin {pin}"));
            }
            if std::fs::read(home.project("deps/big/blob.wasm"))
                .ok()
                .as_ref()
                != Some(bytes)
            {
                return Err("deps/big/blob.wasm does not hold the release fetched".to_owned());
            }
        }
        Ok(())
    }
}

/// A world that needs two of the WASI packages (clocks, io).
pub(crate) const CLOCK_WIT: &str = "package my:app@0.1.0;\n\nworld app {\n  \
    import wasi:clocks/monotonic-clock@0.2.0-rc-2023-11-10;\n}\n";

/// `wreg wit fetch` of a world that alternates between `wasi:http/proxy` (seven packages)
/// and a monotonic clock (two), in a project carried on or fresh: `wit/deps` and
/// `wkg.lock`.
pub(crate) struct WitFetch {
    pub(crate) want: usize,
}

impl WitFetch {
    /// The packages `wit/deps` holds for each world.
    fn expected(&self) -> Vec<String> {
        let mut specs: Vec<String> = if self.want == 0 {
            WASI.iter().map(|(_, spec)| (*spec).to_owned()).collect()
        } else {
            vec![
                "wasi:clocks@0.2.0-rc-2023-11-10".to_owned(),
                "wasi:io@0.2.0-rc-2023-11-10".to_owned(),
            ]
        };
        specs.sort();
        specs
    }
}

impl Case for WitFetch {
    fn name(&self) -> &'static str {
        "wit fetch"
    }

    fn prepare(&mut self, home: &Home, round: usize, rng: &mut Rng) -> Vec<String> {
        maybe_clear_cache(home, rng);
        if rng.one_in(4) {
            self.reset(home);
        }
        self.want = round % 2;
        std::fs::create_dir_all(home.project("wit")).unwrap();
        let world = if self.want == 0 { APP_WIT } else { CLOCK_WIT };
        std::fs::write(home.project("wit/app.wit"), world).unwrap();
        args(&["wit", "fetch"])
    }

    fn watched(&self) -> Vec<String> {
        vec!["project/wit/deps".to_owned(), "project/wkg.lock".to_owned()]
    }

    fn check(&self, home: &Home, _: &Known, finished: bool) -> Result<(), String> {
        lock_file(home)?;
        // Whatever was left beside `wit/deps` (a staging directory, the old one moved
        // aside) must not stop wit-parser from reading the directory; after a kill the
        // world may be newer than the deps (that is `old`), so only after the rerun.
        if finished {
            let mut resolve = wit_parser::Resolve::default();
            let (main, _) = resolve
                .push_dir(home.project("wit"))
                .map_err(|err| format!("wit-parser cannot resolve wit/: {err:#}"))?;
            let mut names: Vec<String> = resolve
                .packages
                .iter()
                .filter(|(id, _)| *id != main)
                .map(|(_, p)| p.name.to_string())
                .collect();
            names.sort();
            if names != self.expected() {
                return Err(format!(
                    "wit/ resolves to {names:?}, not {:?}",
                    self.expected()
                ));
            }
        }
        // After a kill, `wit/deps` must be the old one or the new one as a whole, which the
        // harness checks for every watched path; each of those parses with its world.
        Ok(())
    }
}

/// `wreg publish big.wasm --package big:pub@1.0.<round> --skip-existing`: a new release
/// each round, `<root>/big/pub/1.0.<round>.wasm`.
pub(crate) struct Publish {
    pub(crate) bytes: Vec<u8>,
    pub(crate) version: String,
}

impl Case for Publish {
    fn name(&self) -> &'static str {
        "publish"
    }

    fn prepare(&mut self, home: &Home, round: usize, rng: &mut Rng) -> Vec<String> {
        maybe_clear_cache(home, rng);
        self.version = format!("1.0.{round}");
        std::fs::write(home.project("big.wasm"), &self.bytes).unwrap();
        args(&[
            "publish",
            "big.wasm",
            "--package",
            &format!("big:pub@{}", self.version),
            "--skip-existing",
        ])
    }

    fn watched(&self) -> Vec<String> {
        vec![format!("registry/big/pub/{}.wasm", self.version)]
    }

    fn check(&self, home: &Home, _: &Known, finished: bool) -> Result<(), String> {
        let release = home.path(&format!("registry/big/pub/{}.wasm", self.version));
        match std::fs::read(&release) {
            Ok(bytes) if bytes == self.bytes => Ok(()),
            Ok(bytes) => Err(format!(
                "the release {} holds {} bytes, not the {} published",
                release.display(),
                bytes.len(),
                self.bytes.len()
            )),
            Err(_) if !finished => Ok(()),
            Err(err) => Err(format!("{}: {err}", release.display())),
        }
    }
}

/// `wreg bundle export bundle big:blob@<version>`, alternating, into a bundle carried on or
/// new.
pub(crate) struct BundleExport {
    pub(crate) versions: [String; 2],
    pub(crate) want: usize,
}

impl Case for BundleExport {
    fn name(&self) -> &'static str {
        "bundle export"
    }

    fn prepare(&mut self, home: &Home, round: usize, rng: &mut Rng) -> Vec<String> {
        maybe_clear_cache(home, rng);
        if rng.one_in(3) {
            self.reset(home);
        }
        self.want = round % 2;
        args(&[
            "bundle",
            "export",
            "bundle",
            &format!("big:blob@{}", self.versions[self.want]),
        ])
    }

    fn watched(&self) -> Vec<String> {
        vec![
            "project/bundle/oci-layout".to_owned(),
            "project/bundle/index.json".to_owned(),
        ]
    }

    fn check(&self, home: &Home, known: &Known, finished: bool) -> Result<(), String> {
        let dir = home.project("bundle");
        if !dir.exists() {
            return if finished {
                Err("no bundle directory".to_owned())
            } else {
                Ok(())
            };
        }
        let marker = dir.join("oci-layout");
        let index_path = dir.join("index.json");
        if !marker.exists() {
            // Nothing but (empty) directories may be there yet.
            let mut files = BTreeMap::new();
            tree(&dir, &dir, &mut files);
            return if files.is_empty() && !finished {
                Ok(())
            } else {
                Err(format!(
                    "bundle/ holds {} files but no oci-layout: not a layout, and not empty",
                    files.len()
                ))
            };
        }
        let text = std::fs::read_to_string(&marker).unwrap_or_default();
        if !text.contains("\"imageLayoutVersion\":\"1.0.0\"") {
            return Err(format!("bundle/oci-layout holds {text:?}"));
        }
        let index = std::fs::read(&index_path).map_err(|err| {
            format!("bundle/ has an oci-layout but no readable index.json ({err}): not a layout a reader or the next export can open")
        })?;
        let index: serde_json::Value = serde_json::from_slice(&index)
            .map_err(|err| format!("bundle/index.json does not parse: {err}"))?;
        let blob = |digest: &str| -> Result<Vec<u8>, String> {
            let hex = digest.strip_prefix("sha256:").unwrap_or_default();
            let path = dir.join("blobs/sha256").join(hex);
            verifies(&path, digest, known)?;
            Ok(std::fs::read(&path).unwrap_or_default())
        };
        let mut names = Vec::new();
        for entry in index["manifests"].as_array().into_iter().flatten() {
            let digest = entry["digest"].as_str().unwrap_or_default();
            let manifest: serde_json::Value = serde_json::from_slice(&blob(digest)?)
                .map_err(|err| format!("the manifest {digest} does not parse: {err}"))?;
            blob(manifest["config"]["digest"].as_str().unwrap_or_default())?;
            for layer in manifest["layers"].as_array().into_iter().flatten() {
                blob(layer["digest"].as_str().unwrap_or_default())?;
            }
            names.push(
                entry["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        let want = format!("big:blob@{}", self.versions[self.want]);
        if finished && !names.contains(&want) {
            return Err(format!("bundle/index.json names {names:?}, not {want}"));
        }
        Ok(())
    }

    /// A new bundle is a layout with an empty `index.json` first, so that an export cut
    /// short leaves one the next export takes up.
    fn interim(&self, path: &str, state: &State) -> bool {
        let State::File(bytes) = state else {
            return false;
        };
        path.ends_with("index.json")
            && serde_json::from_slice::<serde_json::Value>(bytes)
                .is_ok_and(|index| index["manifests"].as_array().is_some_and(Vec::is_empty))
    }

    fn reset(&self, home: &Home) {
        home.remove("project/bundle");
    }
}

/// `wreg config set --user namespace_registries.ns<k> reg<round>.test`: a key of four,
/// a new value each round, in the config file `--config` names.
pub(crate) struct ConfigSet {
    pub(crate) key: String,
    pub(crate) value: String,
}

impl Case for ConfigSet {
    fn name(&self) -> &'static str {
        "config set"
    }

    fn prepare(&mut self, _: &Home, round: usize, rng: &mut Rng) -> Vec<String> {
        self.key = format!("namespace_registries.ns{}", rng.next() % 4);
        self.value = format!("reg{round}.test");
        args(&["config", "set", "--user", &self.key, &self.value])
    }

    fn watched(&self) -> Vec<String> {
        vec!["config.toml".to_owned()]
    }

    fn check(&self, home: &Home, _: &Known, finished: bool) -> Result<(), String> {
        home.run(&args(&["config", "show"]))?;
        let text = std::fs::read_to_string(home.path("config.toml")).unwrap_or_default();
        if !text.contains("[registry.\"local.test\".local]") {
            return Err(format!("config.toml lost its registry:\n{text}"));
        }
        if finished {
            let got = home.run(&args(&["config", "get", &self.key]))?;
            if got.trim() != self.value {
                return Err(format!(
                    "config get {} says {got:?}, not {}",
                    self.key, self.value
                ));
            }
        }
        Ok(())
    }

    fn reset(&self, _: &Home) {}
}

/// `wreg update` of a lock file that pins three packages at 1.0.0 when 1.1.0 is out: the
/// lock file is put back to its old pins before each round.
pub(crate) struct Update {
    pub(crate) old: Vec<u8>,
    pub(crate) new_pins: BTreeSet<String>,
}

impl Case for Update {
    fn name(&self) -> &'static str {
        "update"
    }

    fn prepare(&mut self, home: &Home, _: usize, rng: &mut Rng) -> Vec<String> {
        maybe_clear_cache(home, rng);
        std::fs::write(home.project("wkg.lock"), &self.old).unwrap();
        args(&["update"])
    }

    fn watched(&self) -> Vec<String> {
        vec!["project/wkg.lock".to_owned()]
    }

    fn check(&self, home: &Home, _: &Known, finished: bool) -> Result<(), String> {
        let lock = lock_file(home)?.ok_or("wkg.lock is gone")?;
        if finished && pins(&lock) != self.new_pins {
            return Err(format!(
                "after the update wkg.lock pins {:?}, not {:?}",
                pins(&lock),
                self.new_pins
            ));
        }
        Ok(())
    }

    fn reset(&self, _: &Home) {}
}

pub(crate) fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| (*a).to_owned()).collect()
}
