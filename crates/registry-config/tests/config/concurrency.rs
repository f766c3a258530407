//! Several processes saving the same file never corrupt it, and never lose an update.
//!
//! The test runs itself as the child processes: with `CHILD_ENV` set, it acts as one writer.

use std::process::Command;

use registry_config::{ConfigError, ConfigLoader, Target};

const CHILD_ENV: &str = "REGISTRY_CONFIG_TEST_SAVE_CHILD";
const WRITERS: usize = 3;
const KEYS_PER_WRITER: usize = 15;

/// One writer: adds `KEYS_PER_WRITER` namespace mappings, each in its own load-edit-save
/// cycle, reloading and retrying when another writer got there first.
fn child(path: &str, writer: &str) {
    for i in 0..KEYS_PER_WRITER {
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(attempts < 1000, "writer {writer} starved on key {i}");
            let mut config = ConfigLoader::new()
                .without_builtin()
                .user_file(path)
                .without_project_files()
                .without_env()
                .load()
                .unwrap_or_else(|err| panic!("writer {writer} read a corrupt file: {err}"));
            config
                .set(
                    Target::User,
                    &format!("namespace_registries.w{writer}-k{i}"),
                    format!("r{i}.example"),
                )
                .unwrap();
            match config.save() {
                Ok(_) => break,
                Err(ConfigError::ChangedOnDisk { .. }) => continue,
                Err(err) => panic!("writer {writer}: {err}"),
            }
        }
    }
}

#[test]
fn concurrent_saves_from_several_processes() {
    if let (Ok(path), Ok(writer)) = (std::env::var(CHILD_ENV), std::env::var("WRITER")) {
        child(&path, &writer);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "# shared file\n[namespace_registries]\n").unwrap();

    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..WRITERS)
        .map(|writer| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "concurrency::concurrent_saves_from_several_processes",
                ])
                .args(["--nocapture", "--test-threads=1"])
                .env(CHILD_ENV, &path)
                .env("WRITER", writer.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();

    // While they write, every read of the file parses.
    let mut reads = 0;
    while reads < 200 {
        let text = std::fs::read_to_string(&path).unwrap();
        toml_edit_check(&text);
        reads += 1;
    }
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a writer failed");
    }

    let text = std::fs::read_to_string(&path).unwrap();
    toml_edit_check(&text);
    assert!(text.starts_with("# shared file\n"), "{text}");
    let config = ConfigLoader::new()
        .without_builtin()
        .user_file(&path)
        .without_project_files()
        .without_env()
        .load()
        .unwrap();
    for writer in 0..WRITERS {
        for i in 0..KEYS_PER_WRITER {
            assert!(
                config
                    .namespace_registry(&format!("w{writer}-k{i}"))
                    .is_some(),
                "update w{writer}-k{i} was lost:\n{text}"
            );
        }
    }
}

fn toml_edit_check(text: &str) {
    registry_config::Config::from_toml_str("shared.toml", text)
        .unwrap_or_else(|err| panic!("corrupt file: {err}\n{text}"));
}
