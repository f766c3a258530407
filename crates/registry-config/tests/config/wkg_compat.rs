//! A config file written for `wkg` loads unchanged and resolves exactly as `wkg`'s own
//! library (`wasm-pkg-common`) resolves it.

use registry_config::{Config, ConfigLoader};
use registry_core::PackageRef;
use serde::Deserialize;

use crate::support::Scratch;

/// Config files as `wkg` users write them: every documented form.
const WKG_FILES: &[&str] = &[
    // The README example.
    r#"
default_registry = "acme.registry.com"

[namespace_registries]
wasi = "wasi.dev"
example = "example.com"
# Custom metadata in place of the registry's well-known document.
another = { registry = "another", metadata = { preferredProtocol = "oci", "oci" = { registry = "ghcr.io", namespacePrefix = "webassembly/" } } }

[package_registry_overrides]
"example:foo" = "example.com"
"another:foo" = { registry = "another", metadata = { preferredProtocol = "oci", "oci" = { registry = "ghcr.io", namespacePrefix = "webassembly/" } } }

[registry."acme.registry.com"]
default = "oci"
[registry."acme.registry.com".oci]
auth = { username = "open", password = "sesame" }

[registry."example.com"]
type = "warg"
[registry."example.com".warg]
config_file = "/a/path"

[registry."local.example"]
default = "local"
[registry."local.example".local]
root = "/a/path"
"#,
    // The TLS keys wkg 0.15.1 and later read and write under `oci`, and `auth` as base64.
    r#"
default_registry = "private.example:8443"

[registry."private.example:8443"]
default = "oci"
[registry."private.example:8443".oci]
auth = "b3BlbjpzZXNhbWU="
protocol = "https"
accept_invalid_certificates = false
extra_root_certificates = [
    { encoding = "pem", data = """
-----BEGIN CERTIFICATE-----
MIIB
-----END CERTIFICATE-----
""" },
]
"#,
    // No default registry: built-in fallbacks apply.
    r#"
[namespace_registries]
acme = "localhost:5000"
"#,
    // Only a default registry: it wins over the built-in fallbacks.
    "default_registry = \"ghcr.io\"\n",
    // A namespace mapping for a built-in namespace.
    "[namespace_registries]\nwasi = \"my-mirror.example:8443\"\n",
    // Empty.
    "",
];

const PACKAGES: &[&str] = &[
    "wasi:http",
    "wasi:cli",
    "ba:sample",
    "example:foo",
    "example:bar",
    "another:foo",
    "another:bar",
    "acme:widget",
    "unknown:pkg",
];

fn wkg_resolve(config: &wasm_pkg_common::config::Config, package: &str) -> Option<String> {
    let package: wasm_pkg_common::package::PackageRef = package.parse().unwrap();
    config
        .resolve_registry(&package)
        .map(|r| r.to_string().to_ascii_lowercase())
}

fn our_resolve(config: &Config, package: &str) -> Option<String> {
    let package: PackageRef = package.parse().unwrap();
    config
        .resolve_registry(&package)
        .ok()
        .map(|m| m.value.registry().to_string())
}

#[test]
fn resolution_matches_wkg_for_every_documented_form() {
    let mut compared = 0;
    for text in WKG_FILES {
        let scratch = Scratch::new();
        scratch.write("user/config.toml", text);

        // wkg: its built-in defaults, merged with the user file.
        let mut wkg = wasm_pkg_common::config::Config::default();
        wkg.merge(wasm_pkg_common::config::Config::from_toml(text).unwrap());

        let ours = scratch.loader(".").load().unwrap();
        for package in PACKAGES {
            assert_eq!(
                our_resolve(&ours, package),
                wkg_resolve(&wkg, package),
                "{package} with config:\n{text}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, WKG_FILES.len() * PACKAGES.len());
}

#[test]
fn backend_sections_read_as_wkg_reads_them() {
    let text = WKG_FILES[0];
    let config = Config::from_toml_str("/home/u/.config/wasm-pkg/config.toml", text).unwrap();
    let wkg = wasm_pkg_common::config::Config::from_toml(text).unwrap();

    #[derive(Deserialize, Debug, PartialEq)]
    struct Auth {
        username: String,
        password: registry_config::Secret,
    }
    #[derive(Deserialize, Debug, PartialEq)]
    struct Oci {
        auth: Auth,
    }
    #[derive(Deserialize, Debug, PartialEq)]
    struct Warg {
        config_file: String,
    }

    for registry in ["acme.registry.com", "example.com", "local.example"] {
        let ours = config.registry_settings(&registry.parse().unwrap());
        let theirs = wkg.registry_config(&registry.parse().unwrap()).unwrap();
        assert_eq!(
            ours.default_backend().map(|s| s.value),
            theirs.default_backend().map(str::to_owned),
            "{registry}"
        );
        let mut our_backends = ours.backends();
        let mut their_backends: Vec<_> = theirs.configured_backend_types().collect();
        our_backends.sort();
        their_backends.sort();
        assert_eq!(our_backends, their_backends, "{registry}");
    }

    let acme = config.registry_settings(&"acme.registry.com".parse().unwrap());
    let oci = acme.backend::<Oci>("oci").unwrap().unwrap();
    assert_eq!(oci.value.auth.username, "open");
    assert_eq!(oci.value.auth.password.expose(), "sesame");
    assert_eq!(
        oci.origin.to_string(),
        "/home/u/.config/wasm-pkg/config.toml:16:31"
    );
    let example = config.registry_settings(&"example.com".parse().unwrap());
    let warg = example.backend::<Warg>("warg").unwrap().unwrap();
    assert_eq!(warg.value.config_file, "/a/path");

    // Metadata in the table form is handed to the caller as it was written.
    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Metadata {
        preferred_protocol: String,
        oci: OciMeta,
    }
    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct OciMeta {
        registry: String,
        namespace_prefix: String,
    }
    let another = config.namespace_registry("another").unwrap().value;
    let meta: Metadata = another.metadata().unwrap().unwrap();
    assert_eq!(meta.preferred_protocol, "oci");
    assert_eq!(meta.oci.namespace_prefix, "webassembly/");
}

#[test]
fn a_wkg_file_loads_from_the_path_wkg_uses() {
    // wkg 0.16 finds its file with `etcetera`'s base strategy: XDG on Linux and macOS.
    let ours = Config::user_config_path();
    let theirs = wasm_pkg_common::config::Config::global_config_path();
    assert_eq!(ours, theirs);

    let scratch = Scratch::new();
    let path = scratch.write("user/config.toml", WKG_FILES[0]);
    let config = ConfigLoader::new()
        .user_file(&path)
        .without_project_files()
        .without_env()
        .load()
        .unwrap();
    assert_eq!(
        config.default_registry().unwrap().value.as_str(),
        "acme.registry.com"
    );
}

/// `WKG_CONFIG_FILE` names the user file, as it does for `wkg`; `WASM_PKG_CONFIG_FILE`
/// is read above it; an explicit user file wins over the variable.
#[test]
fn wkg_config_file_is_the_user_file() {
    let scratch = Scratch::new();
    let wkg = scratch.write(
        "ci/wkg-config.toml",
        "default_registry = \"from-wkg.example\"\n[namespace_registries]\nacme = \"acme.example\"\n",
    );
    let ours = scratch.write("ci/ours.toml", "default_registry = \"from-ours.example\"\n");
    let load = |vars: &[(&str, &std::path::Path)], explicit: bool| {
        let mut loader = ConfigLoader::new().without_project_files();
        if explicit {
            loader = loader.user_file(scratch.path("user/config.toml"));
        }
        loader
            .env_vars(vars.iter().map(|(k, v)| (*k, v.display().to_string())))
            .load()
    };
    let config = load(&[("WKG_CONFIG_FILE", &wkg)], false).unwrap();
    let default = config.default_registry().unwrap();
    assert_eq!(default.value.as_str(), "from-wkg.example");
    assert_eq!(
        scratch.redact(&default.origin.to_string()),
        "$DIR/ci/wkg-config.toml:1:1"
    );
    let layer = config
        .layers()
        .into_iter()
        .find(|l| l.path.as_deref() == Some(wkg.as_path()))
        .unwrap();
    assert_eq!(layer.name, "WKG_CONFIG_FILE");

    // Both variables: ours is read above wkg's, so its values win; wkg's others stay.
    let both = load(
        &[("WKG_CONFIG_FILE", &wkg), ("WASM_PKG_CONFIG_FILE", &ours)],
        false,
    )
    .unwrap();
    assert_eq!(
        both.default_registry().unwrap().value.as_str(),
        "from-ours.example"
    );
    assert!(both.namespace_registry("acme").is_some());

    // An explicit user file (`--config`) wins over the variable.
    let explicit = load(&[("WKG_CONFIG_FILE", &wkg)], true).unwrap();
    assert!(explicit.default_registry().is_none());

    // A variable naming a file that is not there says which variable.
    let missing = scratch.path("ci/missing.toml");
    let err = load(&[("WKG_CONFIG_FILE", &missing)], false).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("environment variable `WKG_CONFIG_FILE`")
            && err.to_string().contains("missing.toml"),
        "{err}"
    );
}
