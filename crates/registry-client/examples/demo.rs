//! The main job end to end: package names in, verified bytes out.
//!
//! With no server: a local directory registry (the embedded default). With Debian's
//! `docker-registry` installed: the same against a real OCI registry on loopback.
//!
//! Run it with `cargo xtask demo` (or `cargo run -p registry-client --example demo`).
#![allow(clippy::print_stdout)]

use std::path::Path;

use registry_client::{Client, Dependency, LOCK_FILE_NAME, LockFile, LockMode, Resolution};
use registry_config::ConfigLoader;
use registry_core::{PublishOptions, Version};
use test_support::component::{self, Spec};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn client(dir: &Path, config_text: &str, offline: bool) -> Result<Client> {
    let config_path = dir.join("config.toml");
    std::fs::write(&config_path, config_text)?;
    let config = ConfigLoader::new()
        .user_file(&config_path)
        .without_project_files()
        .without_env()
        .load()?;
    Ok(Client::builder(config)
        .cache_dir(dir.join("cache"))
        .offline(offline)
        .build())
}

async fn publish(client: &Client, name: &str, version: &str, spec: &Spec<'_>) -> Result<()> {
    let bytes = component::build(spec);
    let release = client
        .route(&name.parse()?)
        .await?
        .publish(
            &Version::parse(version)?,
            Box::pin(std::io::Cursor::new(bytes)),
            &PublishOptions::default(),
        )
        .await?;
    println!(
        "  published {name}@{version}  {}  ({} bytes)",
        release.digest,
        release.size.unwrap_or(0)
    );
    Ok(())
}

fn show(resolutions: &[Resolution], dir: &Path) {
    for r in resolutions {
        let path = r
            .path()
            .display()
            .to_string()
            .replace(&dir.display().to_string(), "$TMP");
        match (r.version(), r.digest()) {
            (Some(v), Some(d)) => println!("  {} -> {v}  {d}\n      {path}", r.package()),
            _ => println!("  {} -> local file {path}", r.package()),
        }
    }
}

/// Publishes a greeter component whose bytes differ with `description`.
async fn publish_greeter(client: &Client, version: &str, description: &str) -> Result<()> {
    let metadata = [("description", description), ("licenses", "Apache-2.0")];
    let spec = Spec {
        imports: &["wasi:cli/environment@0.2.0"],
        exports: &["demo:greeter/greet@1.0.0"],
        metadata: &metadata,
        padding: 0,
        name: None,
    };
    publish(client, "demo:greeter", version, &spec).await
}

async fn run(dir: &Path, config_text: &str) -> Result<()> {
    let client = client(dir, config_text, false)?;
    println!("\n1. Publish generated components:");
    for (version, description) in [
        ("1.0.0", "greeter 1.0"),
        ("1.1.0", "greeter 1.1"),
        ("2.0.0-rc.1", "greeter 2 preview"),
    ] {
        publish_greeter(&client, version, description).await?;
    }
    let logger = Spec {
        imports: &["wasi:io/streams@0.2.0"],
        exports: &["demo:logger/log@0.3.0"],
        metadata: &[("description", "a logger")],
        padding: 64 * 1024,
        name: None,
    };
    publish(&client, "demo:logger", "0.3.0", &logger).await?;

    let deps = [
        Dependency::new("demo:greeter".parse()?, "^1".parse()?),
        Dependency::new("demo:logger".parse()?, "^0.3".parse()?),
    ];
    println!(
        "\n2. Resolve demo:greeter ^1 and demo:logger ^0.3, fetch through the verified cache:"
    );
    let mut lock = LockFile::new();
    let resolved = client
        .resolve_all(&deps, Some(&mut lock), LockMode::Update)
        .await?;
    show(&resolved, dir);
    let lock_path = dir.join(LOCK_FILE_NAME);
    lock.save(&lock_path)?;
    println!("\n   {LOCK_FILE_NAME} (the format wkg writes):");
    for line in std::fs::read_to_string(&lock_path)?.lines() {
        println!("   | {line}");
    }

    println!(
        "\n3. A newer demo:greeter 1.2.0 appears; the lock file keeps the build reproducible:"
    );
    publish_greeter(&client, "1.2.0", "greeter 1.2").await?;
    let mut lock = LockFile::load(&lock_path)?.unwrap_or_default();
    let pinned = client
        .resolve_all(&deps[..1], Some(&mut lock), LockMode::Locked)
        .await?;
    show(&pinned, dir);

    println!("\n4. Bit rot in the cache is caught and repaired:");
    let cached = resolved[0].path();
    std::fs::write(cached, b"corrupted!")?;
    let healed = client
        .resolve_all(&deps[..1], Some(&mut lock), LockMode::Locked)
        .await?;
    let ok = std::fs::read(healed[0].path())?.starts_with(b"\0asm");
    println!("  corrupted the cached file, resolved again: content verified and restored = {ok}");

    println!("\n5. Offline, with the lock file and a warm cache (no registry needed):");
    let offline = self::client(dir, config_text, true)?;
    let again = offline
        .resolve_all(&deps, Some(&mut lock), LockMode::Locked)
        .await?;
    show(&again, dir);
    let missing = Dependency::new("demo:absent".parse()?, "^1".parse()?);
    match offline
        .resolve_all(&[missing], Some(&mut lock), LockMode::Update)
        .await
    {
        Ok(_) => println!("  unexpected: an uncached package resolved offline"),
        Err(err) => println!("  an uncached package, offline: {err}"),
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("registry");
    println!("== A local directory registry (no server) at $TMP/registry");
    let local = dir.path().join("local");
    std::fs::create_dir_all(&local)?;
    run(
        &local,
        &format!(
            "default_registry = \"local.demo\"\n[registry.\"local.demo\".local]\nroot = {:?}\n",
            root.display().to_string()
        ),
    )
    .await?;

    match test_support::Distribution::start() {
        Ok(registry) => {
            println!(
                "\n== The same against a real OCI registry (docker-registry on {})",
                registry.host()
            );
            let oci = dir.path().join("oci");
            std::fs::create_dir_all(&oci)?;
            run(
                &oci,
                &format!("[namespace_registries]\ndemo = \"{}\"\n", registry.host()),
            )
            .await?;
        }
        Err(why) => println!("\n== Skipping the OCI part: {why}"),
    }
    Ok(())
}
