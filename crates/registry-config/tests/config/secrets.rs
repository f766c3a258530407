//! Credentials never show in `Debug`, listings or errors.

use registry_config::{Target, ToolLayer};
use serde::Deserialize;

use crate::support::Scratch;

const SECRETS: &[&str] = &[
    "hunter2-pw",
    "tok-123456",
    "ecdsa-p256:SECRETKEY",
    "YXV0aA==",
];

const FILE: &str = r#"
[registry."ghcr.io".oci]
auth = { username = "me", password = "hunter2-pw" }

[registry."warg.example".warg]
auth_token = "tok-123456"
signing_key = "ecdsa-p256:SECRETKEY"

[registry."docker.example".oci]
auth = "YXV0aA=="
"#;

fn assert_clean(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "`{secret}` leaked in:\n{text}");
    }
}

#[test]
fn debug_listings_and_errors_never_show_credentials() {
    let scratch = Scratch::new();
    scratch.write("user/config.toml", FILE);
    let mut config = scratch
        .loader(".")
        .tool_layer(ToolLayer::from_toml_str("tool", FILE).unwrap())
        .load()
        .unwrap();

    assert_clean(&format!("{config:?}"));
    assert_clean(&format!("{config:#?}"));
    let entries = config.entries();
    assert_clean(&format!("{entries:?}"));
    let shown: Vec<String> = entries.iter().map(ToString::to_string).collect();
    assert_clean(&shown.join("\n"));
    assert!(shown.contains(&r#"registry."ghcr.io".oci.auth.password = "<redacted>""#.to_owned()));
    assert!(shown.contains(&r#"registry."ghcr.io".oci.auth.username = "me""#.to_owned()));
    assert!(shown.contains(&r#"registry."docker.example".oci.auth = "<redacted>""#.to_owned()));
    assert_clean(&format!("{:?}", config.get("registry").unwrap()));
    for registry in ["ghcr.io", "warg.example", "docker.example"] {
        let settings = config.registry_settings(&registry.parse().unwrap());
        let shown = format!("{settings:?}");
        assert_clean(&shown);
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    // Wrong types in credential keys are reported without the value.
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Warg {
        auth_token: u32,
        signing_key: registry_config::Secret,
    }
    let err = config
        .registry_settings(&"warg.example".parse().unwrap())
        .backend::<Warg>("warg")
        .unwrap_err();
    assert_clean(&format!("{err} {err:?}"));

    // A refused edit next to credentials does not echo them.
    let err = config
        .set(
            Target::User,
            r#"registry."ghcr.io".oci.auth.password.x"#,
            "y",
        )
        .unwrap_err();
    assert_clean(&format!("{err} {err:?}"));

    // Parse errors do not quote the line they are on.
    scratch.write(
        "user/config.toml",
        "[registry.\"ghcr.io\".oci]\nauth = { password = \"hunter2-pw }\n",
    );
    let err = scratch.loader(".").load().unwrap_err();
    assert_clean(&format!("{err} {err:?}"));
}
