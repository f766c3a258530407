//! What cargo-component does to load a manifest's dependencies: read
//! `[package.metadata.component]` (its `registries` as a configuration layer), resolve the
//! dependencies with `wkg.lock` next to the manifest, and read each verified file.
#![allow(clippy::print_stdout)]

use registry_adapters::cargo_component::{self, ComponentManifest};
use registry_client::{Client, LockMode};
use registry_config::ConfigLoader;

const MANIFEST: &str = r#"[package]
name = "app"
version = "0.1.0"

[package.metadata.component]
package = "example:app"

[package.metadata.component.dependencies]
"example:math" = { version = "1.2", registry = "internal" }

[package.metadata.component.registries]
internal = "internal.local"
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A directory registry holding example:math 1.2.0 and 1.3.0, so no server is needed.
    let dir = tempfile::tempdir()?;
    let releases = [("example:math", "1.2.0"), ("example:math", "1.3.0")];
    let user = test_support::component::directory_registry(dir.path(), "internal.local", &releases);
    let path = dir.path().join("Cargo.toml");
    std::fs::write(&path, MANIFEST)?;

    let manifest = ComponentManifest::from_path(&path)?;
    let config = ConfigLoader::new().user_file(&user).without_project_files();
    let config = config.tool_layer(manifest.tool_layer()?).load()?;
    let client = Client::builder(config)
        .cache_dir(dir.path().join("cache"))
        .build();
    let resolved = cargo_component::resolve(&client, &manifest, LockMode::Update).await?;
    for dep in resolved.target.iter().chain(&resolved.dependencies) {
        let bytes = dep.read(&client).await?; // verified when resolved, hashed again here
        println!("{} -> {:?}: {} bytes", dep.name, dep.version(), bytes.len());
    }
    print!("{}", std::fs::read_to_string(manifest.lock_path())?);
    // As `cargo component build --locked`: the pins are reused and nothing may change.
    cargo_component::resolve(&client, &manifest, LockMode::Locked).await?;
    Ok(())
}
