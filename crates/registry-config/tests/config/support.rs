//! A scratch directory with a user file and nested project files.

use std::path::PathBuf;

use registry_config::{Config, ConfigLoader};

pub(crate) struct Scratch {
    pub(crate) dir: tempfile::TempDir,
}

impl Scratch {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("create a temporary directory"),
        }
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Writes `text` to `relative`, creating directories.
    pub(crate) fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub(crate) fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap()
    }

    /// A loader with the user file at `user/config.toml`, project files searched from
    /// `project_dir` (relative), and no process environment.
    pub(crate) fn loader(&self, project_dir: &str) -> ConfigLoader {
        let project = self.path(project_dir);
        std::fs::create_dir_all(&project).unwrap();
        ConfigLoader::new()
            .user_file(self.path("user/config.toml"))
            .project_dir(project)
            .without_env()
    }

    /// Replaces the scratch directory's path in `text` with `$DIR`, for snapshots.
    pub(crate) fn redact(&self, text: &str) -> String {
        text.replace(&self.dir.path().display().to_string(), "$DIR")
    }
}

/// `key = value  # origin` lines for every effective value.
pub(crate) fn show_origins(config: &Config, scratch: &Scratch) -> String {
    let mut out = String::new();
    for entry in config.entries() {
        out.push_str(&format!("{entry:?}\n"));
    }
    scratch.redact(&out)
}
