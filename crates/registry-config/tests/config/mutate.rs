//! Edits are written back without losing comments, blank lines or key order, atomically,
//! and never over a file someone else changed.

use expect_test::expect;
use registry_config::{ConfigError, Target};
use registry_core::{PackageRef, Registry};
use serde::Serialize;

use crate::support::Scratch;

const COMMENTED: &str = r#"# My wasm-pkg configuration.
# Maintained by hand; keep the comments!

default_registry = "ghcr.io"   # where most things live

[namespace_registries]
# Work packages.
acme = "registry.acme.example"
wasi = "wasi.dev"   # upstream

[registry."ghcr.io"]
type = "oci"

[registry."ghcr.io".oci]
# Plain HTTP for the local mirror only.
protocol = "https"
auth = { username = "me", password = "hunter2" }
"#;

fn changed_lines(before: &str, after: &str) -> Vec<String> {
    let before: Vec<_> = before.lines().collect();
    after
        .lines()
        .filter(|line| !before.contains(line))
        .map(str::to_owned)
        .collect()
}

#[test]
fn edits_keep_everything_else_byte_for_byte() {
    let scratch = Scratch::new();
    scratch.write("user/config.toml", COMMENTED);
    let mut config = scratch.loader(".").load().unwrap();
    let localhost: Registry = "localhost:5000".parse().unwrap();
    let widget: PackageRef = "acme:widget".parse().unwrap();
    let ghcr: Registry = "ghcr.io".parse().unwrap();

    config
        .set_default_registry(Target::User, Some(&localhost))
        .unwrap();
    config
        .set_namespace_registry(Target::User, "tools", Some(&localhost))
        .unwrap();
    config
        .set_namespace_registry(Target::User, "wasi", None)
        .unwrap();
    config
        .set_package_registry_override(Target::User, &widget, Some(&localhost))
        .unwrap();
    config
        .set(Target::User, r#"registry."ghcr.io".oci.protocol"#, "http")
        .unwrap();
    config
        .set_default_backend(Target::User, &ghcr, Some("warg"))
        .unwrap();
    assert!(config.has_unsaved_changes());
    // Nothing is written before `save`.
    assert_eq!(scratch.read("user/config.toml"), COMMENTED);
    let written = config.save().unwrap();
    assert_eq!(written, [scratch.path("user/config.toml")]);
    assert!(!config.has_unsaved_changes());

    let after = scratch.read("user/config.toml");
    expect![[r#"
        # My wasm-pkg configuration.
        # Maintained by hand; keep the comments!

        default_registry = "localhost:5000"   # where most things live

        [namespace_registries]
        # Work packages.
        acme = "registry.acme.example"
        tools = "localhost:5000"

        [registry."ghcr.io"]
        type = "warg"

        [registry."ghcr.io".oci]
        # Plain HTTP for the local mirror only.
        protocol = "http"
        auth = { username = "me", password = "hunter2" }

        [package_registry_overrides]
        "acme:widget" = "localhost:5000"
    "#]]
    .assert_eq(&after);
    // Every line not edited is still there, unchanged.
    let kept: Vec<_> = COMMENTED
        .lines()
        .filter(|l| after.lines().any(|a| a == *l))
        .collect();
    assert_eq!(
        COMMENTED.lines().count() - kept.len(),
        4,
        "only the four edited lines (default_registry, wasi, type, protocol) may differ"
    );
    assert_eq!(
        changed_lines(COMMENTED, &after),
        [
            "default_registry = \"localhost:5000\"   # where most things live",
            "tools = \"localhost:5000\"",
            "type = \"warg\"",
            "protocol = \"http\"",
            "[package_registry_overrides]",
            "\"acme:widget\" = \"localhost:5000\"",
        ]
    );

    // The saved file reads back with the new values and their new lines.
    let reloaded = scratch.loader(".").load().unwrap();
    let default = reloaded.default_registry().unwrap();
    assert_eq!(default.value, localhost);
    assert_eq!(default.origin.line(), Some(4));
    assert!(
        reloaded.namespace_registry("wasi").unwrap().origin == registry_config::Origin::Builtin
    );
    // The in-memory config already reports what the file now says.
    assert_eq!(
        config
            .package_registry_override(&widget)
            .unwrap()
            .origin
            .line(),
        Some(20)
    );
}

#[test]
fn loading_and_saving_without_changes_writes_nothing() {
    let scratch = Scratch::new();
    let path = scratch.write("user/config.toml", COMMENTED);
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    let mut config = scratch.loader(".").load().unwrap();
    assert!(config.save().unwrap().is_empty());
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        before
    );
}

#[test]
fn a_file_changed_on_disk_is_not_overwritten() {
    let scratch = Scratch::new();
    scratch.write("user/config.toml", COMMENTED);
    let mut config = scratch.loader(".").load().unwrap();
    config
        .set(Target::User, "default_registry", "localhost:5000")
        .unwrap();
    let theirs = COMMENTED.replace("ghcr.io\"   #", "docker.io\"   #");
    scratch.write("user/config.toml", &theirs);
    let err = config.save().unwrap_err();
    assert!(matches!(err, ConfigError::ChangedOnDisk { .. }), "{err}");
    expect![[r#"`$DIR/user/config.toml` was changed on disk after it was loaded; nothing was written. Load the configuration again and repeat the change"#]]
        .assert_eq(&scratch.redact(&err.to_string()));
    assert_eq!(scratch.read("user/config.toml"), theirs);

    // A file created by someone else after we found none is not overwritten either.
    let scratch = Scratch::new();
    let mut config = scratch.loader(".").load().unwrap();
    config
        .set(Target::User, "default_registry", "localhost:5000")
        .unwrap();
    scratch.write("user/config.toml", "# theirs\n");
    assert!(matches!(
        config.save().unwrap_err(),
        ConfigError::ChangedOnDisk { .. }
    ));
    assert_eq!(scratch.read("user/config.toml"), "# theirs\n");
}

#[test]
fn a_refused_change_leaves_config_and_file_untouched() {
    let scratch = Scratch::new();
    scratch.write("user/config.toml", COMMENTED);
    let mut config = scratch.loader(".").load().unwrap();
    let before = format!("{config:?}");
    for (key, value) in [
        ("default_registry", "https://ghcr.io"),
        ("namespace_registries.Bad_NS", "ghcr.io"),
        ("not_a_key", "x"),
        (r#"registry."ghcr.io".oci"#, "not a table"),
    ] {
        let err = config.set(Target::User, key, value).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid { .. } | ConfigError::UnknownKey { .. }
            ),
            "{key}: {err}"
        );
    }
    assert_eq!(format!("{config:?}"), before);
    assert!(!config.has_unsaved_changes());
    assert!(config.save().unwrap().is_empty());
    assert_eq!(scratch.read("user/config.toml"), COMMENTED);
    let leftovers: Vec<_> = std::fs::read_dir(scratch.path("user"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(leftovers, ["config.toml"]);
}

#[test]
fn missing_files_are_created_where_they_belong() {
    let scratch = Scratch::new();
    let mut config = scratch.loader("proj/sub").load().unwrap();
    config
        .set(Target::User, "default_registry", "ghcr.io")
        .unwrap();
    config
        .set(
            Target::Project,
            "namespace_registries.acme",
            "localhost:5000",
        )
        .unwrap();
    let mut written = config.save().unwrap();
    written.sort();
    assert_eq!(
        written,
        [
            scratch.path("proj/sub/.wasm-pkg/config.toml"),
            scratch.path("user/config.toml")
        ]
    );
    assert_eq!(
        scratch.read("user/config.toml"),
        "default_registry = \"ghcr.io\"\n"
    );
    assert_eq!(
        scratch.read("proj/sub/.wasm-pkg/config.toml"),
        "[namespace_registries]\nacme = \"localhost:5000\"\n"
    );
    // The project layer ranks above the user layer.
    let acme: PackageRef = "acme:x".parse().unwrap();
    assert_eq!(
        config
            .resolve_registry(&acme)
            .unwrap()
            .value
            .registry()
            .as_str(),
        "localhost:5000"
    );

    // With an existing project file farther up, `--project` edits the nearest one.
    let scratch = Scratch::new();
    scratch.write("a/.wasm-pkg/config.toml", "# far\n");
    scratch.write("a/b/.wasm-pkg/config.toml", "# near\n");
    let mut config = scratch.loader("a/b/c").load().unwrap();
    config
        .set(Target::Project, "default_registry", "ghcr.io")
        .unwrap();
    config.save().unwrap();
    assert_eq!(
        scratch.read("a/b/.wasm-pkg/config.toml"),
        "# near\ndefault_registry = \"ghcr.io\"\n"
    );
    assert_eq!(scratch.read("a/.wasm-pkg/config.toml"), "# far\n");
}

#[test]
fn backend_sections_are_written_whole_or_key_by_key() {
    #[derive(Serialize)]
    struct Oci {
        protocol: String,
        namespace_prefix: String,
    }
    let scratch = Scratch::new();
    scratch.write("user/config.toml", COMMENTED);
    let mut config = scratch.loader(".").load().unwrap();
    let mirror: Registry = "mirror.example".parse().unwrap();
    config
        .set_backend(
            Target::User,
            &mirror,
            "oci",
            &Oci {
                protocol: "http".into(),
                namespace_prefix: "wasm/".into(),
            },
        )
        .unwrap();
    config
        .set(
            Target::User,
            r#"registry."ghcr.io".oci.auth.username"#,
            "you",
        )
        .unwrap();
    config.save().unwrap();
    let after = scratch.read("user/config.toml");
    assert!(
        after.contains("auth = { username = \"you\", password = \"hunter2\" }"),
        "{after}"
    );
    assert!(
        after.ends_with(
            "[registry.\"mirror.example\".oci]\nprotocol = \"http\"\nnamespace_prefix = \"wasm/\"\n"
        ),
        "{after}"
    );
    assert!(
        config
            .unset(Target::User, r#"registry."mirror.example".oci.protocol"#)
            .unwrap()
    );
    assert!(!config.unset(Target::User, "no_such.key").unwrap());
}

#[cfg(unix)]
#[test]
fn saving_keeps_the_file_mode() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new();
    let path = scratch.write("user/config.toml", COMMENTED);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut config = scratch.loader(".").load().unwrap();
    config
        .set(Target::User, "default_registry", "x.example")
        .unwrap();
    config.save().unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn saving_a_linked_config_writes_through_to_the_link_target() {
    // A dotfiles repository links the config into place; saving keeps the link and
    // changes the file it points at (relative links, and a link to a link).
    let scratch = Scratch::new();
    let real = scratch.write("dotfiles/wasm-pkg.toml", COMMENTED);
    let user = scratch.path("user/config.toml");
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("../dotfiles/hop.toml", &user).unwrap();
    std::os::unix::fs::symlink("wasm-pkg.toml", scratch.path("dotfiles/hop.toml")).unwrap();
    let mut config = scratch.loader(".").load().unwrap();
    config
        .set(Target::User, "default_registry", "x.example")
        .unwrap();
    config.save().unwrap();
    assert!(
        std::fs::symlink_metadata(&user)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::symlink_metadata(scratch.path("dotfiles/hop.toml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(text.contains("default_registry = \"x.example\""), "{text}");
    assert_eq!(std::fs::read_to_string(&user).unwrap(), text);
}
