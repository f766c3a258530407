//! Publishes a file to, or pulls one from, an OCI registry: what `cargo xtask bench` times.
//!
//! ```text
//! cargo run --release -p registry-oci --example oci-transfer -- publish <registry> <ns:name@version> <file>
//! cargo run --release -p registry-oci --example oci-transfer -- pull <registry> <ns:name@version> <output>
//! ```
//!
//! Settings and credentials come from the registry's `oci` section of the usual config
//! layers. The pull writes to `<output>.part` and renames it once the digest is verified.
#![allow(clippy::print_stdout)]

use futures_util::StreamExt as _;
use registry_config::Config;
use registry_core::{Backend, PackageSpec, PublishOptions};
use registry_oci::OciBackend;
use tokio::io::AsyncWriteExt as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [op, registry, spec, path] = args.as_slice() else {
        return Err("usage: oci-transfer publish|pull <registry> <ns:name@version> <file>".into());
    };
    let registry = registry.parse()?;
    let spec: PackageSpec = spec.parse()?;
    let version = spec.version.ok_or("give a version: ns:name@1.0.0")?;
    let config = Config::load()?;
    let backend = OciBackend::from_config(&config, &registry, &Default::default())?;
    match op.as_str() {
        "publish" => {
            let file = tokio::fs::File::open(path).await?;
            let options = PublishOptions::default().with_allow_overwrite(true);
            let release = backend
                .publish(&spec.package, &version, Box::pin(file), &options)
                .await?;
            println!("published {}@{} {}", spec.package, version, release.digest);
        }
        "pull" => {
            let release = backend.get_release(&spec.package, &version).await?;
            let mut stream = backend.fetch_verified(&spec.package, &release).await?;
            let part = format!("{path}.part");
            let written: Result<(), Box<dyn std::error::Error>> = async {
                let mut out = tokio::fs::File::create(&part).await?;
                while let Some(chunk) = stream.next().await {
                    out.write_all(&chunk?).await?;
                }
                out.flush().await?;
                Ok(())
            }
            .await;
            if let Err(err) = written {
                let _ = tokio::fs::remove_file(&part).await;
                return Err(err);
            }
            tokio::fs::rename(&part, path).await?;
            println!("pulled {}@{} {}", spec.package, version, release.digest);
        }
        other => return Err(format!("unknown operation `{other}`").into()),
    }
    Ok(())
}
