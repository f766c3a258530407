//! Loading a six-layer configuration (built-in, user, project, tool, environment, override)
//! from disk, and resolving a package against it. Target: well under 1 ms per load.
//!
//! `cargo bench -p registry-config --bench load` (or `cargo xtask bench`).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use registry_config::{ConfigLoader, ToolLayer, env};
use registry_core::PackageRef;

fn user_file() -> String {
    let mut text = String::from(
        "# A user file of realistic size.\ndefault_registry = \"ghcr.io\"\n\n[namespace_registries]\n",
    );
    for i in 0..20 {
        text.push_str(&format!("ns{i} = \"registry{i}.example\"\n"));
    }
    text.push_str("\n[package_registry_overrides]\n");
    for i in 0..20 {
        text.push_str(&format!("\"ns{i}:pkg{i}\" = \"mirror.example:5000\"\n"));
    }
    for i in 0..10 {
        text.push_str(&format!(
            "\n[registry.\"registry{i}.example\"]\ndefault = \"oci\"\n\
             [registry.\"registry{i}.example\".oci]\nprotocol = \"https\"\n\
             auth = {{ username = \"user{i}\", password = \"secret{i}\" }}\n"
        ));
    }
    text
}

fn bench_load(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("user.toml");
    std::fs::write(&user, user_file()).unwrap();
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join(".wasm-pkg")).unwrap();
    std::fs::write(
        project.join(".wasm-pkg/config.toml"),
        "[namespace_registries]\nproj = \"localhost:5000\"\n[registry.\"localhost:5000\".oci]\nprotocol = \"http\"\n",
    )
    .unwrap();
    let tool =
        ToolLayer::from_toml_str("wac", "[namespace_registries]\nwac = \"wac.example\"\n").unwrap();
    let loader = ConfigLoader::new()
        .user_file(&user)
        .project_dir(&project)
        .tool_layer(tool)
        .env_vars([
            (env::DEFAULT_REGISTRY, "env.example"),
            (env::NAMESPACE_REGISTRIES, "a=a.example,b=b.example"),
        ])
        .set_override("namespace_registries.cli", "cli.example", "--registry")
        .unwrap();
    assert_eq!(loader.clone().load().unwrap().layers().len(), 6);

    c.bench_function("load 6 layers", |b| {
        b.iter(|| black_box(loader.clone().load().unwrap()))
    });

    let config = loader.load().unwrap();
    let package: PackageRef = "ns7:pkg7".parse().unwrap();
    c.bench_function("resolve_registry", |b| {
        b.iter(|| black_box(config.resolve_registry(black_box(&package)).unwrap()))
    });
    c.bench_function("entries (config show)", |b| {
        b.iter(|| black_box(config.entries()))
    });
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
