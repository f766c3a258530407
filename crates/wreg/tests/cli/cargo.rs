//! What cargo-component gets for a package: `--manifest-path` loads its cargo
//! configuration files and its (and its workspace root's) component metadata.

use super::{Home, s};

#[test]
fn config_for_a_workspace_member_shows_every_layer() {
    let home = Home::new("[namespace_registries]\nuser = \"user.example\"\n");
    let write = |rel: &str, text: &str| {
        let path = home.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "cargo-home/config.toml",
        "[wasm-pkg.namespace_registries]\nhome = \"home.example\"\n",
    );
    write(
        "ws/.cargo/config.toml",
        "[wasm-pkg.namespace_registries]\nws = \"ws.example\"\n",
    );
    write(
        "ws/Cargo.toml",
        "[workspace]\nmembers = [\"app\"]\n[workspace.metadata.component.registries]\n\
         default = \"root.example\"\n",
    );
    write(
        "ws/app/.cargo/config.toml",
        "[wasm-pkg]\ndefault_registry = \"app-cargo.example\"\n",
    );
    write(
        "ws/app/Cargo.toml",
        "[package]\nname = \"app\"\n[package.metadata.component]\npackage = \"a:app\"\n",
    );
    let wreg = |args: &[&str]| {
        let out = home
            .command("cache")
            .env("CARGO_HOME", home.path("cargo-home"))
            .args(["--manifest-path", s(&home.path("ws/app/Cargo.toml"))])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        home.redact(&String::from_utf8_lossy(&out.stdout))
    };
    expect_test::expect![[r#"
        default_registry = "root.example"  # settings from `$HOME/ws/app/Cargo.toml [package.metadata.component]`
        namespace_registries.ba = "bytecodealliance.org"  # built-in default
        namespace_registries.home = "home.example"  # $HOME/cargo-home/config.toml:2:1
        namespace_registries.user = "user.example"  # $HOME/config.toml:7:1
        namespace_registries.wasi = "wasi.dev"  # built-in default
        namespace_registries.ws = "ws.example"  # $HOME/ws/.cargo/config.toml:2:1
        registry."local.test".local.root = "$HOME/registry"  # $HOME/config.toml:5:1
    "#]]
    .assert_eq(&wreg(&["config", "show", "--origin"]));
    expect_test::expect![[r#"
        user     $HOME/config.toml
        cargo    $HOME/cargo-home/config.toml
        cargo    $HOME/ws/.cargo/config.toml
        cargo    $HOME/ws/app/.cargo/config.toml
    "#]]
    .assert_eq(&wreg(&["config", "path"]));

    // The manifest named the way people type it: relative to the current directory, with
    // `..`, and through a symbolic link to the member's directory.
    #[cfg(unix)]
    std::os::unix::fs::symlink(home.path("ws/app"), home.path("app-link")).unwrap();
    let mut cases = vec![
        ("ws/app", "Cargo.toml"),
        ("ws/app", "../app/Cargo.toml"),
        ("ws", "app/Cargo.toml"),
    ];
    if cfg!(unix) {
        cases.push(("app-link", "Cargo.toml"));
    }
    for (cwd, manifest) in cases {
        let out = home
            .command("cache")
            .current_dir(home.path(cwd))
            .env("CARGO_HOME", home.path("cargo-home"))
            .args([
                "--manifest-path",
                manifest,
                "config",
                "get",
                "default_registry",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "--manifest-path {manifest} in {cwd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(shown.contains("root.example"), "{cwd} {manifest}: {shown}");
    }
}
