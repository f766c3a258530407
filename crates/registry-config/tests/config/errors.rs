//! Every class of bad input gets a message naming the file, line, column and key, with a
//! hint; the messages are snapshots so a change of wording shows in review.

use expect_test::{Expect, expect};
use registry_config::{ConfigError, ToolLayer, env};
use serde::Deserialize;

use crate::support::Scratch;

/// Loads `text` as the user file and returns the error, with the scratch path redacted.
fn user_file_error(text: &str) -> String {
    let scratch = Scratch::new();
    scratch.write("user/config.toml", text);
    let err = scratch.loader(".").load().unwrap_err();
    scratch.redact(&err.to_string())
}

fn check(text: &str, expected: Expect) {
    expected.assert_eq(&user_file_error(text));
}

#[test]
fn unparsable_toml() {
    check(
        "default_registry = \"ghcr.io\"\n[namespace_registries\nacme = \"x\"\n",
        expect![[r#"$DIR/user/config.toml:2:22: invalid TOML: unclosed table, expected `]`"#]],
    );
    check(
        "default_registry = ghcr.io\n",
        expect![[
            r#"$DIR/user/config.toml:1:20: invalid TOML: string values must be quoted, expected literal string"#
        ]],
    );
    check(
        "a = 1\na = 2\n",
        expect![[r#"$DIR/user/config.toml:2:1: invalid TOML: duplicate key"#]],
    );
}

#[test]
fn wrong_types() {
    check(
        "default_registry = 5000\n",
        expect![[
            r#"$DIR/user/config.toml:1:1: invalid `default_registry`: expected a string naming a registry, e.g. "ghcr.io""#
        ]],
    );
    check(
        "namespace_registries = \"ghcr.io\"\n",
        expect![[
            r#"$DIR/user/config.toml:1:1: invalid `namespace_registries`: expected a table, e.g. [namespace_registries] with `acme = "ghcr.io"`"#
        ]],
    );
    check(
        "[registry.\"ghcr.io\"]\noci = \"yes\"\n",
        expect![[
            r#"$DIR/user/config.toml:2:1: invalid `registry."ghcr.io".oci`: expected a table of `oci` backend settings, e.g. [registry."ghcr.io".oci] or `default = "oci"` to choose the backend"#
        ]],
    );
    check(
        "[registry.\"ghcr.io\"]\ndefault = 1\n",
        expect![[
            r#"$DIR/user/config.toml:2:1: invalid `registry."ghcr.io".default`: expected the name of a backend, e.g. "oci", "warg" or "local""#
        ]],
    );
    check(
        "[namespace_registries]\nacme = { registry = \"ghcr.io\", metadata = \"oci\" }\n",
        expect![[
            r#"$DIR/user/config.toml:2:32: invalid `namespace_registries.acme.metadata`: expected a table of registry metadata, e.g. `metadata = { preferredProtocol = "oci" }`"#
        ]],
    );
}

#[test]
fn unknown_keys() {
    check(
        "\n# typo\ndefault_regsitry = \"ghcr.io\"\n",
        expect![[
            r#"$DIR/user/config.toml:3:1: unknown key `default_regsitry`; did you mean `default_registry`?"#
        ]],
    );
    check(
        "registries = {}\n",
        expect![[
            r#"$DIR/user/config.toml:1:1: unknown key `registries`; the keys allowed here are `default_registry`, `namespace_registries`, `package_registry_overrides`, `registry`"#
        ]],
    );
    check(
        "[namespace_registries]\nacme = { registy = \"ghcr.io\" }\n",
        expect![[
            r#"$DIR/user/config.toml:2:10: unknown key `namespace_registries.acme.registy`; did you mean `registry`?"#
        ]],
    );
    check(
        "[namespace_registries]\nacme = { metadata = {} }\n",
        expect![[
            r#"$DIR/user/config.toml:2:1: invalid `namespace_registries.acme`: a table mapping needs a `registry` key, e.g. `{ registry = "ghcr.io" }`"#
        ]],
    );
}

#[test]
fn invalid_names() {
    check(
        "[package_registry_overrides]\n\"Acme:Widget\" = \"ghcr.io\"\n",
        expect![[
            r#"$DIR/user/config.toml:2:1: invalid `package_registry_overrides."Acme:Widget"`: "Acme:Widget" is not a valid package name: namespace must be lowercase, e.g. "acme:widget""#
        ]],
    );
    check(
        "[namespace_registries]\nmy_ns = \"ghcr.io\"\n",
        expect![[
            r#"$DIR/user/config.toml:2:1: invalid `namespace_registries.my_ns`: `my_ns` is not a valid namespace: namespace contains '_'; only lowercase letters, digits and `-` are allowed, e.g. "wasi""#
        ]],
    );
    check(
        "default_registry = \"https://ghcr.io/acme\"\n",
        expect![[
            r#"$DIR/user/config.toml:1:1: invalid `default_registry`: "https://ghcr.io/acme" is not a valid registry: a registry is a host name, without the `https://` scheme, e.g. "ghcr.io""#
        ]],
    );
    check(
        "[registry.\"ghcr.io/acme\".oci]\nprotocol = \"https\"\n",
        expect![[
            r#"$DIR/user/config.toml:1:11: invalid `registry."ghcr.io/acme"`: "ghcr.io/acme" is not a valid registry: a registry is a host name with an optional port and no path; an OCI path prefix goes in the registry's `oci` settings, e.g. "ghcr.io""#
        ]],
    );
    check(
        "[registry.\"x.io\"]\ntype = \"oci\"\ndefault = \"warg\"\n",
        expect![[
            r#"$DIR/user/config.toml:3:1: invalid `registry."x.io".default`: both `default` and `type` (its older name, at $DIR/user/config.toml:2:1) are set; keep only `default`"#
        ]],
    );
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct OciSettings {
    protocol: Option<String>,
    auth: Option<OciAuth>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct OciAuth {
    username: String,
    password: registry_config::Secret,
}

fn backend_error(text: &str) -> String {
    let scratch = Scratch::new();
    scratch.write("user/config.toml", text);
    let config = scratch.loader(".").load().unwrap();
    let settings = config.registry_settings(&"ghcr.io".parse().unwrap());
    let err = settings.backend::<OciSettings>("oci").unwrap_err();
    scratch.redact(&err.to_string())
}

#[test]
fn backend_sections_report_the_line_of_the_bad_key() {
    expect![[r#"$DIR/user/config.toml:3:1: invalid `registry."ghcr.io".oci.protocl`: unknown key `protocl`; did you mean `protocol`? (allowed here: protocol, auth)"#]]
        .assert_eq(&backend_error(
            "default_registry = \"ghcr.io\"\n[registry.\"ghcr.io\".oci]\nprotocl = \"http\"\n",
        ));
    expect![[r#"$DIR/user/config.toml:2:1: invalid `registry."ghcr.io".oci.protocol`: invalid type: integer `80`, expected a string"#]]
        .assert_eq(&backend_error("[registry.\"ghcr.io\".oci]\nprotocol = 80\n"));
    // A credential of the wrong type is reported without its value.
    let message = backend_error(
        "[registry.\"ghcr.io\".oci]\nauth = { username = \"u\", password = 123456789 }\n",
    );
    assert!(!message.contains("123456789"), "{message}");
    expect![[r#"$DIR/user/config.toml:2:26: invalid `registry."ghcr.io".oci.auth.password`: invalid value (not shown: this key holds a credential); expected a string"#]]
        .assert_eq(&message);
}

#[test]
fn environment_errors_name_the_variable() {
    let scratch = Scratch::new();
    let load = |vars: &[(&str, &str)]| {
        let err = scratch
            .loader(".")
            .env_vars(vars.iter().copied())
            .load()
            .unwrap_err();
        scratch.redact(&err.to_string())
    };
    expect![[r#"environment variable `WASM_PKG_NAMESPACE_REGISTRIES`: invalid `namespace_registries`: `acme:ghcr.io` is not a `key=registry` pair; write pairs separated by commas, e.g. `acme=ghcr.io`"#]]
        .assert_eq(&load(&[(env::NAMESPACE_REGISTRIES, "acme:ghcr.io")]));
    expect![[r#"environment variable `WASM_PKG_DEFAULT_REGISTRY`: invalid `default_registry`: "ghcr io" is not a valid registry: host contains ' '; only letters, digits, `-` and `.` are allowed, e.g. "ghcr.io""#]]
        .assert_eq(&load(&[(env::DEFAULT_REGISTRY, "ghcr io")]));
    expect![[r#"environment variable `WASM_PKG_DEFAULT_REGSITRY`: unknown variable; did you mean `WASM_PKG_DEFAULT_REGISTRY`?"#]]
        .assert_eq(&load(&[("WASM_PKG_DEFAULT_REGSITRY", "ghcr.io")]));
    expect![[r#"environment variable `WASM_PKG_CONFIG_FILE`: names `$DIR/missing.toml`, which cannot be read (No such file or directory (os error 2)); fix the path or unset the variable"#]]
        .assert_eq(&load(&[(
            env::CONFIG_FILE,
            &scratch.path("missing.toml").display().to_string(),
        )]));
    // Unrelated variables with the prefix, and empty ones, are ignored.
    scratch
        .loader(".")
        .env_vars([
            ("WASM_PKG_SOMETHING_ELSE", "x"),
            (env::DEFAULT_REGISTRY, ""),
        ])
        .load()
        .unwrap();
}

#[test]
fn a_table_and_a_value_for_one_key_name_both_origins() {
    let scratch = Scratch::new();
    scratch.write(
        "user/config.toml",
        "[registry.\"ghcr.io\".oci]\nauth-file = \"/x\"\n",
    );
    let tool = ToolLayer::from_toml_str(
        "wac",
        "[registry.\"ghcr.io\".oci.auth-file]\npath = \"/y\"\n",
    )
    .unwrap();
    let err = scratch.loader(".").tool_layer(tool).load().unwrap_err();
    assert!(matches!(err, ConfigError::Conflict { .. }));
    expect![[r#"`registry."ghcr.io".oci.auth-file` is a value at $DIR/user/config.toml:2:1 but a table at settings from `wac`; make them the same kind, or remove one"#]]
        .assert_eq(&scratch.redact(&err.to_string()));
}

#[test]
fn bad_keys_given_to_get_and_set() {
    let scratch = Scratch::new();
    let mut config = scratch.loader(".").load().unwrap();
    // Unquoted dots split keys, so this is a valid (if unintended) path: it finds nothing.
    assert!(config.get("registry.ghcr.io.oci").unwrap().is_empty());
    let err = config.get("registry.\"ghcr.io").unwrap_err();
    expect![[r#"`registry."ghcr.io` is not a valid key: a quoted part has no closing `"`; write keys as TOML dotted keys, quoting parts with dots, e.g. `registry."ghcr.io".oci`"#]]
        .assert_eq(&err.to_string());
    let err = config
        .set(
            registry_config::Target::User,
            "default_registry",
            "not a registry",
        )
        .unwrap_err();
    expect![[r#"$DIR/user/config.toml:1:1: invalid `default_registry`: "not a registry" is not a valid registry: host contains ' '; only letters, digits, `-` and `.` are allowed, e.g. "ghcr.io""#]]
        .assert_eq(&scratch.redact(&err.to_string()));
}
