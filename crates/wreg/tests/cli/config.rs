//! `wreg config`: values with their types and origins, edits that keep comments.

use expect_test::expect;

use super::Home;

#[test]
fn config_json_keeps_value_types() {
    let home = Home::new("[registry.\"x.test\".oci]\nread_timeout = 5\n");
    let json: serde_json::Value =
        serde_json::from_str(&home.ok(&["--json", "config", "show"])).unwrap();
    let value = |key: &str| {
        json.as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == key)
            .unwrap_or_else(|| panic!("{key} in {json}"))["value"]
            .clone()
    };
    assert_eq!(value("default_registry"), "local.test");
    assert_eq!(value("registry.\"x.test\".oci.read_timeout"), 5);
    assert_eq!(
        home.ok(&["config", "get", "registry.\"x.test\".oci.read_timeout"]),
        "5\n"
    );
}

#[test]
fn config_commands_keep_comments() {
    let home = Home::new("");
    let out = home.ok(&["config", "show", "--origin"]);
    expect![[r#"
        default_registry = "local.test"  # $HOME/config.toml:2:1
        namespace_registries.ba = "bytecodealliance.org"  # built-in default
        namespace_registries.wasi = "wasi.dev"  # built-in default
        registry."local.test".local.root = "$HOME/registry"  # $HOME/config.toml:5:1
    "#]]
    .assert_eq(&out);
    assert_eq!(
        home.ok(&["config", "get", "default_registry"]),
        "local.test\n"
    );
    home.ok(&["config", "set", "default_registry", "ghcr.io"]);
    home.ok(&[
        "config",
        "set",
        "namespace_registries.acme",
        "localhost:5000",
    ]);
    let text = std::fs::read_to_string(home.path("config.toml")).unwrap();
    assert!(
        text.starts_with("# my config\ndefault_registry = \"ghcr.io\" # the default\n"),
        "{text}"
    );
    assert!(text.contains("acme = \"localhost:5000\""), "{text}");
    let err = home.fails(&["config", "set", "default_registry", "https://x"], 64);
    assert!(err.contains("without the `https://` scheme"), "{err}");
    home.ok(&["config", "unset", "namespace_registries.acme"]);
    assert!(
        !std::fs::read_to_string(home.path("config.toml"))
            .unwrap()
            .contains("acme")
    );
    let json: serde_json::Value =
        serde_json::from_str(&home.ok(&["--json", "config", "show"])).unwrap();
    assert_eq!(json[0]["key"], "default_registry");
    assert_eq!(json[0]["value"], "ghcr.io", "a JSON string, not TOML text");
}
