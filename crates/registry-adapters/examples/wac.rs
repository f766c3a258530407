//! What wac does to load a document's packages: parse it with wac's own parser, take the
//! package keys it names, and resolve them through `WacResolver`, pinned by `wkg.lock`.
#![allow(clippy::print_stdout)]

use registry_adapters::wac::{WacPackage, WacResolver};
use registry_client::{Client, LockFile, LockMode};
use registry_config::ConfigLoader;

const DOCUMENT: &str = "package example:app;
let greeter = new example:greeter { ... };
export greeter...;
";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A directory registry holding example:greeter 1.0.0, so the example needs no server.
    let dir = tempfile::tempdir()?;
    let releases = [("example:greeter", "1.0.0")];
    let user = test_support::component::directory_registry(dir.path(), "reg.local", &releases);
    let config = ConfigLoader::new().user_file(&user).without_project_files();
    let client = Client::builder(config.load()?)
        .cache_dir(dir.path().join("cache"))
        .build();

    // wac's parts: each package key the document names, and where.
    let document = wac_parser::Document::parse(DOCUMENT)?;
    let mut keys = Vec::new();
    for (key, span) in wac_resolver::packages(&document)? {
        let version = key.version.map(ToString::to_string);
        let package = WacPackage::new(key.name, version.as_deref())?;
        keys.push(package.with_span(span.offset()..span.offset() + span.len()));
    }
    // Resolved through the verified cache, local forms (`deps/`) first, pinned by the lock.
    let lock_path = dir.path().join("wkg.lock");
    let mut lock = LockFile::load(&lock_path)?.unwrap_or_default();
    let resolver = WacResolver::new(client).with_deps_dir(dir.path().join("deps"));
    let resolved = resolver.resolve_locked(&keys, Some(&mut lock), LockMode::Update);
    for (key, bytes, resolution) in resolved.await? {
        let pin = resolution.and_then(|r| r.digest().copied());
        println!("{key}: {} bytes, {pin:?}", bytes.len());
    }
    lock.save(&lock_path)?;
    print!("{}", std::fs::read_to_string(&lock_path)?);
    Ok(())
}
