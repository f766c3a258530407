//! `[registry."<name>".mirrors]`: the order, the origin of each mirror, how layers add to
//! the list, what a bad list says, and that `wkg` still reads the file.

use registry_config::{Config, ToolLayer};
use registry_core::Registry;

use crate::support::Scratch;

fn shown(mirrors: &[registry_config::Setting<Registry>], scratch: &Scratch) -> Vec<String> {
    mirrors
        .iter()
        .map(|m| scratch.redact(&format!("{} ({})", m.value, m.origin)))
        .collect()
}

#[test]
fn layers_add_mirrors_in_front_and_the_registry_itself_comes_last() {
    let scratch = Scratch::new();
    scratch.write(
        "user/config.toml",
        "[registry.\"ghcr.io\".mirrors]\n# the team cache, then ghcr.io itself\norder = [\"cache.internal:5000\", \"ghcr.io\"]\n",
    );
    scratch.write(
        "project/.wasm-pkg/config.toml",
        "[registry.\"GHCR.io\".mirrors]\norder = [\"bundle\", \"cache.internal:5000\"]\n",
    );
    let config = scratch
        .loader("project")
        .tool_layer(
            ToolLayer::from_toml_str(
                "ci",
                "[registry.\"ghcr.io\".mirrors]\norder = [\"runner-local:5000\"]\n",
            )
            .unwrap(),
        )
        .load()
        .unwrap();
    let ghcr: Registry = "ghcr.io".parse().unwrap();
    assert_eq!(
        shown(&config.mirrors(&ghcr), &scratch),
        [
            "runner-local:5000 (settings from `ci`)",
            "bundle ($DIR/project/.wasm-pkg/config.toml:2:1)",
            "cache.internal:5000 ($DIR/project/.wasm-pkg/config.toml:2:1)",
            "ghcr.io ($DIR/user/config.toml:3:1)",
        ]
    );
    // The merged view says the same, for `wreg config get`.
    let entries = config.get("registry.\"ghcr.io\".mirrors.order").unwrap();
    assert_eq!(
        entries[0].value,
        r#"["runner-local:5000", "bundle", "cache.internal:5000", "ghcr.io"]"#
    );
    // The mirrors section is not a backend: the one backend section is still chosen.
    assert_eq!(config.registry_settings(&ghcr).default_backend(), None);

    // A list that leaves the registry out still ends with it; no list, no mirrors.
    let only = Config::from_toml_str(
        "/c.toml",
        "[registry.\"ghcr.io\".mirrors]\norder = [\"cache.internal:5000\"]\n[registry.\"ghcr.io\".oci]\n",
    )
    .unwrap();
    let names: Vec<String> = only
        .mirrors(&ghcr)
        .iter()
        .map(|m| format!("{} ({})", m.value, m.origin))
        .collect();
    assert_eq!(
        names,
        [
            "cache.internal:5000 (/c.toml:2:1)",
            "ghcr.io (built-in default)"
        ]
    );
    assert_eq!(
        only.registry_settings(&ghcr)
            .default_backend()
            .unwrap()
            .value,
        "oci"
    );
    assert!(only.mirrors(&"other.io".parse().unwrap()).is_empty());
}

#[test]
fn a_bad_mirror_list_names_the_file_line_and_key() {
    let cases = [
        (
            "[registry.\"ghcr.io\".mirrors]\norder = \"cache:5000\"\n",
            "expected an array of registry names",
        ),
        (
            "[registry.\"ghcr.io\".mirrors]\norder = [\"not a host\"]\n",
            "mirror `not a host`",
        ),
        (
            "[registry.\"ghcr.io\".mirrors]\nordr = [\"cache:5000\"]\n",
            "did you mean `order`?",
        ),
        (
            "[registry.\"ghcr.io\"]\nmirrors = [\"cache:5000\"]\n",
            "expected a table, e.g. [registry.\"ghcr.io\".mirrors] order = [",
        ),
    ];
    for (text, expected) in cases {
        let err = Config::from_toml_str("/etc/c.toml", text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/c.toml:2:"), "{err}");
        assert!(err.contains(expected), "{err}\nwanted: {expected}");
    }
}

#[test]
fn wkg_reads_a_file_with_mirrors() {
    let text = "default_registry = \"ghcr.io\"\n\
                [registry.\"ghcr.io\"]\ndefault = \"oci\"\n\
                [registry.\"ghcr.io\".mirrors]\norder = [\"cache.internal:5000\", \"ghcr.io\"]\n\
                [registry.\"ghcr.io\".oci]\nnamespace_prefix = \"webassembly/\"\n";
    let wkg = wasm_pkg_common::config::Config::from_toml(text).expect("wkg reads it");
    let package: wasm_pkg_common::package::PackageRef = "acme:x".parse().unwrap();
    assert_eq!(
        wkg.resolve_registry(&package).unwrap().to_string(),
        "ghcr.io"
    );
    let ours = Config::from_toml_str("/c.toml", text).unwrap();
    assert_eq!(ours.mirrors(&"ghcr.io".parse().unwrap()).len(), 2);
}
