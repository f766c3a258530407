//! The property each parser must satisfy, for any input: parse, or fail with an error that
//! says where (file and line, registry, package); never panic. A failed check panics, which
//! is what libFuzzer records as a crash.

use std::path::Path;

use registry_adapters::cargo_component::ComponentManifest;
use registry_client::LockFile;
use registry_client::dependency_table::DependencyFile;
use registry_client::discovery::RegistryMetadata;
use registry_client::wkg_manifest::WkgManifest;
use registry_config::{Config, ConfigError, ConfigLoader, ToolLayer};
use registry_core::{BareVersion, PackageRef, PackageReq, PackageSpec, Registry};

/// The credential the config seeds carry; no error about a secret key may show it.
const SECRET: &str = "hunter2";

/// A config file, or (when the input holds a `\x01` byte) two layers merged: the part
/// before it below the part after it.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.split_once('\x01') {
        None => match Config::from_toml_str("fuzz.toml", text) {
            Ok(config) => read_everything(&config),
            Err(err) => check_config_error(&err, "fuzz.toml"),
        },
        Some((lower, upper)) => {
            let layer = |name: &str, text: &str| {
                ToolLayer::from_toml_str(name, text)
                    .inspect_err(|err| check_config_error(err, name))
                    .ok()
            };
            let (Some(lower), Some(upper)) = (layer("lower", lower), layer("upper", upper)) else {
                return;
            };
            let loaded = ConfigLoader::new()
                .without_builtin()
                .without_user_file()
                .without_project_files()
                .without_env()
                .tool_layer(lower)
                .tool_layer(upper)
                .load();
            match loaded {
                Ok(config) => read_everything(&config),
                Err(err) => check_config_error(&err, "`"),
            }
        }
    }
}

/// Every accessor a tool calls on a loaded config; none may panic.
fn read_everything(config: &Config) {
    let _ = config.entries();
    let _ = config.layers();
    let _ = config.default_registry();
    let package: PackageRef = "acme:widget".parse().expect("a valid name");
    let _ = config.resolve_registry(&package);
    for registry in config.configured_registries() {
        let settings = config.registry_settings(&registry);
        let _ = settings.default_backend();
        let _ = settings.backends();
    }
}

fn check_config_error(err: &ConfigError, place: &str) {
    let message = err.to_string();
    assert!(message.contains(place), "no location in: {message}");
    match err {
        ConfigError::Parse { line, .. } => assert!(*line >= 1, "line 0 in: {message}"),
        ConfigError::Invalid { key, .. } if key.is_secret() => {
            assert!(!message.contains(SECRET), "a credential leaked: {message}");
        }
        _ => {}
    }
}

/// A package name or spec. Whatever parses as a name is a safe path component and
/// round-trips through its text.
pub fn package_ref(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(package) = text.parse::<PackageRef>() {
        let s = package.to_string();
        assert!(!s.contains(['/', '\\', '\0']) && !s.contains(".."), "{s:?}");
        assert_eq!(s.parse::<PackageRef>().ok(), Some(package), "round trip");
    } else if let Err(err) = text.parse::<PackageSpec>() {
        assert!(!err.to_string().is_empty());
    }
    // The requirement grammar: what parses prints back to text that parses to the same
    // requirement, under either reading of a bare version.
    for bare in [BareVersion::Compatible, BareVersion::Exact] {
        match PackageReq::parse_with(&text, bare) {
            Ok(req) => {
                let again = PackageReq::parse_with(&req.to_string(), bare)
                    .unwrap_or_else(|err| panic!("{req} does not parse back: {err}"));
                assert_eq!(again, req, "requirement round trip");
            }
            Err(err) => assert!(!err.to_string().is_empty()),
        }
    }
}

/// A `wkg.lock` file. What parses writes back to text that parses to the same lock.
pub fn lock_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match LockFile::parse(&text, Path::new("wkg.lock")) {
        Ok(lock) => {
            let written = lock.to_toml();
            let again = LockFile::parse(&written, Path::new("wkg.lock"))
                .unwrap_or_else(|err| panic!("written lock does not parse: {err}\n{written}"));
            assert_eq!(again.to_toml(), written, "lock round trip");
        }
        Err(err) => assert!(err.to_string().contains("wkg.lock"), "{err}"),
    }
}

/// A registry's `/.well-known/wasm-pkg/registry.json`; errors name the registry.
pub fn well_known(data: &[u8]) {
    let registry: Registry = "example.com".parse().expect("a valid registry");
    if let Err(err) = RegistryMetadata::parse(data, &registry) {
        assert!(err.to_string().contains("example.com"), "{err}");
    }
}

/// An OCI manifest or index as a registry serves it; errors name the package.
pub fn oci_manifest(data: &[u8]) {
    if let Err(message) = registry_oci::manifest::parse(data, "fuzz:widget@1.0.0") {
        assert!(!message.is_empty());
    }
}

/// A Cargo manifest's `[package.metadata.component]` table; errors name the file.
pub fn cargo_component(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Err(err) = ComponentManifest::parse(&text, Path::new("Cargo.toml")) {
        assert!(err.to_string().starts_with("Cargo.toml"), "{err}");
    }
}

/// A dependency file (`wreg fetch --deps`); errors name the file, and what parses gives
/// dependencies whose requirements print back to requirements.
pub fn dependency_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match DependencyFile::parse(&text, Path::new("deps.toml")) {
        Ok(file) => {
            for dep in &file.dependencies {
                let printed = dep.requirement.to_string();
                assert!(
                    printed.parse::<registry_core::VersionReq>().is_ok(),
                    "{printed}"
                );
            }
        }
        Err(err) => assert!(err.to_string().starts_with("deps.toml"), "{err}"),
    }
}

/// A `wkg.toml`; errors name the file, and every value read keeps an origin in it.
pub fn wkg_toml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match WkgManifest::parse(&text, Path::new("wkg.toml")) {
        Ok(manifest) => {
            for o in &manifest.overrides {
                assert_eq!(o.origin.path(), Some(Path::new("wkg.toml")));
            }
            for (_, _, origin) in &manifest.metadata {
                assert_eq!(origin.path(), Some(Path::new("wkg.toml")));
            }
        }
        Err(err) => assert!(err.to_string().starts_with("wkg.toml"), "{err}"),
    }
}
