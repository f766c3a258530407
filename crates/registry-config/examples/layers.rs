//! A tour of layered configuration, as an embedding tool sees it.
//!
//! It builds a throwaway home and project directory, loads all six layers, shows every
//! effective value with its origin, resolves a few packages, reads a backend section into a
//! typed struct, and edits the user file without losing its comments.
//!
//! Run it with `cargo run -p registry-config --example layers` (or `cargo xtask demo`).
#![allow(clippy::print_stdout)]

use registry_config::{Config, ConfigLoader, Target, ToolLayer, env};
use registry_core::PackageRef;
use serde::Deserialize;

const USER_FILE: &str = r#"# Written for wkg; loads unchanged.
default_registry = "ghcr.io"

[namespace_registries]
acme = "registry.acme.example"

[registry."ghcr.io".oci]
auth = { username = "octocat", password = "not-a-real-password" }
"#;

const PROJECT_FILE: &str = r#"# This project pins one package to a local mirror.
[package_registry_overrides]
"acme:widget" = "localhost:5000"

[registry."localhost:5000"]
default = "oci"
[registry."localhost:5000".oci]
protocol = "http"
"#;

const TOOL_LAYER: &str = r#"
[namespace_registries]
tools = "tools.example"
"#;

#[derive(Deserialize)]
struct OciSection {
    protocol: Option<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let user = dir.path().join("home/.config/wasm-pkg/config.toml");
    let project = dir.path().join("project");
    std::fs::create_dir_all(user.parent().unwrap())?;
    std::fs::create_dir_all(project.join(".wasm-pkg"))?;
    std::fs::write(&user, USER_FILE)?;
    std::fs::write(project.join(".wasm-pkg/config.toml"), PROJECT_FILE)?;

    let load = || {
        ConfigLoader::new()
            .user_file(&user)
            .project_dir(&project)
            .tool_layer(ToolLayer::from_toml_str("wac", TOOL_LAYER)?)
            .env_vars([(env::NAMESPACE_REGISTRIES, "ci=ci-cache.example")])
            .set_override("namespace_registries.cli", "cli.example", "--registry")?
            .load()
    };
    let mut config: Config = load()?;
    let show = |text: String| text.replace(&dir.path().display().to_string(), "$TMP");

    println!("Layers, lowest precedence first:");
    for layer in config.layers() {
        let path = layer.path.map(|p| show(p.display().to_string()));
        println!(
            "  {:<8} {:<10} {}",
            layer.scope,
            layer.name,
            path.unwrap_or_default()
        );
    }

    println!("\nEffective values and where they come from (credentials redacted):");
    for entry in config.entries() {
        println!(
            "  {:<55} # {}",
            entry.to_string(),
            show(entry.origin.to_string())
        );
    }

    println!("\nWhere packages resolve:");
    for name in [
        "wasi:http",
        "acme:widget",
        "acme:gadget",
        "tools:lint",
        "other:pkg",
    ] {
        let package: PackageRef = name.parse()?;
        let resolved = config.resolve_registry(&package)?;
        println!(
            "  {name:<12} -> {:<22} ({})",
            resolved.value.registry().to_string(),
            show(resolved.origin.to_string())
        );
    }

    let mirror = config.registry_settings(&"localhost:5000".parse()?);
    let oci = mirror
        .backend::<OciSection>("oci")?
        .expect("configured above");
    println!(
        "\nThe OCI backend reads localhost:5000's section into its own struct: protocol = {:?} \
         (section from {})",
        oci.value.protocol.as_deref().unwrap_or("https"),
        show(oci.origin.to_string())
    );

    println!("\nA typo is an error that says where and what to do:");
    std::fs::write(
        &user,
        USER_FILE.replace("default_registry", "default_regsitry"),
    )?;
    match load() {
        Ok(_) => unreachable!("the typo is caught"),
        Err(err) => println!("  {}", show(err.to_string())),
    }
    std::fs::write(&user, USER_FILE)?;

    config.set(Target::User, "default_registry", "docker.io")?;
    config.save()?;
    println!("\nAfter `set default_registry = \"docker.io\"` the user file reads:");
    for line in std::fs::read_to_string(&user)?.lines() {
        println!("  | {line}");
    }
    Ok(())
}
