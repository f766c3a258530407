//! The manifest reader and the workspace finder, on manifests written by hand.
use super::*;

fn parse(text: &str) -> Result<ComponentManifest, String> {
    ComponentManifest::parse(text, Path::new("/work/app/Cargo.toml")).map_err(|e| e.to_string())
}

#[test]
fn every_dependency_form_and_target_form_reads() {
    let manifest = parse(
        r#"[package]
name = "app"

[package.metadata.component]
package = "example:app"
target = { package = "wasi:cli", version = "0.2", world = "command", registry = "default" }

[package.metadata.component.dependencies]
"example:math" = "1.2"
greeter = { package = "example:greeter", version = "0.3", registry = "internal" }
local = { path = "wit/local" }

[package.metadata.component.registries]
default = "https://ghcr.io/"
internal = "registry.internal:5000"

[workspace.metadata.component.dependencies]
"example:math" = "9"
"example:extra" = "2"
"#,
    )
    .unwrap();
    assert_eq!(manifest.package, Some("example:app".parse().unwrap()));
    assert_eq!(
        manifest.target,
        Some(ComponentTarget::Package {
            package: "wasi:cli".parse().unwrap(),
            world: Some("command".into()),
            requirement: "0.2".parse().unwrap(),
            registry: Some("default".into()),
        })
    );
    let names: Vec<_> = manifest
        .dependencies
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(names, ["example:math", "greeter", "local", "example:extra"]);
    assert_eq!(
        manifest.dependencies[0].source,
        DependencySource::Registry {
            package: "example:math".parse().unwrap(),
            requirement: "1.2".parse().unwrap(),
            registry: None
        },
        "the package table wins over the workspace's"
    );
    let deps = manifest.dependencies();
    assert_eq!(
        deps[1]
            .1
            .registry
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("registry.internal:5000")
    );
    assert_eq!(
        deps[2].1.path.as_deref(),
        Some(Path::new("/work/app/wit/local"))
    );
    assert_eq!(manifest.registries["default"].to_string(), "ghcr.io");

    let string_target =
        parse("[package.metadata.component]\ntarget = \"wasi:http/proxy@0.2.0\"\n").unwrap();
    assert_eq!(
        string_target.target,
        Some(ComponentTarget::Package {
            package: "wasi:http".parse().unwrap(),
            world: Some("proxy".into()),
            requirement: "^0.2.0".parse().unwrap(),
            registry: None,
        })
    );
}

#[test]
fn the_tool_layer_carries_registries_into_the_config() {
    let manifest = parse(
        "[package.metadata.component.dependencies]\n\
             g = { package = \"example:greeter\", version = \"1\", registry = \"internal\" }\n\
             [package.metadata.component.registries]\ndefault = \"ghcr.io\"\n\
             internal = \"localhost:5000\"\n",
    )
    .unwrap();
    let config = registry_config::ConfigLoader::new()
        .without_user_file()
        .without_project_files()
        .without_env()
        .tool_layer(manifest.tool_layer().unwrap())
        .load()
        .unwrap();
    let greeter = config
        .resolve_registry(&"example:greeter".parse().unwrap())
        .unwrap();
    assert_eq!(greeter.value.registry().to_string(), "localhost:5000");
    let other = config
        .resolve_registry(&"other:thing".parse().unwrap())
        .unwrap();
    assert_eq!(other.value.registry().to_string(), "ghcr.io");
    assert!(
        other.origin.to_string().contains("Cargo.toml"),
        "{}",
        other.origin
    );
}

#[test]
fn mistakes_name_the_file_line_and_key() {
    let err = parse(
        "[package.metadata.component.dependencies]\n\"a:b\" = \"1\"\n\"c:d\" = \"not a version\"\n",
    )
    .unwrap_err();
    assert!(err.starts_with("/work/app/Cargo.toml:3:"), "{err}");
    assert!(
        err.contains("\"c:d\"") && err.contains("version requirement"),
        "{err}"
    );

    let err = parse(
        "[package.metadata.component.dependencies]\nx = { version = \"1\", registry = \"nope\" }\n",
    )
    .unwrap_err();
    assert!(
        err.contains("add `package = \\\"ns:name\\\"`") || err.contains("add `package"),
        "{err}"
    );

    let err = parse(
            "[package.metadata.component.dependencies]\n\"a:b\" = { version = \"1\", registry = \"nope\" }\n",
        )
        .unwrap_err();
    assert!(
        err.contains("registry `nope` is used but not defined"),
        "{err}"
    );

    let err = parse("[package.metadata.component.dependencies]\n\"a:b\" = { verison = \"1\" }\n")
        .unwrap_err();
    assert!(err.contains(":2:") && err.contains("verison"), "{err}");

    let empty = parse("[package]\nname = \"plain\"\n").unwrap();
    assert!(empty.dependencies.is_empty() && empty.target.is_none());
}
