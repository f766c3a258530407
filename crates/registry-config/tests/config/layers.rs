//! Layer precedence for every key kind, and provenance for every layer.

use expect_test::expect;
use registry_config::{ConfigLoader, Origin, Scope, ToolLayer, env};
use registry_core::{PackageRef, Registry};
use serde::Deserialize;

use crate::support::{Scratch, show_origins};

/// A layer's text that sets every kind of key, tagged with the layer's name.
fn every_key(tag: &str) -> String {
    format!(
        r#"# layer {tag}
default_registry = "{tag}.example"

[namespace_registries]
acme = "{tag}.example"

[package_registry_overrides]
"acme:widget" = "{tag}.example"

[registry."shared.example"]
default = "{tag}"

[registry."shared.example".oci]
winner = "{tag}"
{tag}-only = true
"#
    )
}

#[derive(Deserialize)]
struct OciSection {
    winner: String,
}

/// The layers that can set every key kind, lowest first.
const LAYERS: &[&str] = &["user", "far", "near", "tool", "envfile", "override"];

/// Loads a config with the first `count` of [`LAYERS`].
fn load_up_to(scratch: &Scratch, count: usize) -> registry_config::Config {
    let mut loader = scratch.loader("far/near");
    let mut env_vars = Vec::new();
    for tag in &LAYERS[..count] {
        match *tag {
            "user" => {
                scratch.write("user/config.toml", &every_key("user"));
            }
            "far" => {
                scratch.write("far/.wasm-pkg/config.toml", &every_key("far"));
            }
            "near" => {
                scratch.write("far/near/.wasm-pkg/config.toml", &every_key("near"));
            }
            "tool" => {
                loader = loader
                    .tool_layer(ToolLayer::from_toml_str("tool", &every_key("tool")).unwrap());
            }
            "envfile" => {
                let path = scratch.write("envfile.toml", &every_key("envfile"));
                env_vars.push((env::CONFIG_FILE.to_owned(), path.display().to_string()));
            }
            "override" => {
                for (key, value) in [
                    ("default_registry", "override.example"),
                    ("namespace_registries.acme", "override.example"),
                    (
                        r#"package_registry_overrides."acme:widget""#,
                        "override.example",
                    ),
                    (r#"registry."shared.example".default"#, "override"),
                    (r#"registry."shared.example".oci.winner"#, "override"),
                ] {
                    loader = loader.set_override(key, value, "--flag").unwrap();
                }
            }
            _ => unreachable!(),
        }
    }
    loader.env_vars(env_vars).load().unwrap()
}

#[test]
fn every_key_kind_is_won_by_the_highest_layer() {
    for count in 1..=LAYERS.len() {
        let scratch = Scratch::new();
        let config = load_up_to(&scratch, count);
        let top = LAYERS[count - 1];
        let expected: Registry = format!("{top}.example").parse().unwrap();
        let pkg: PackageRef = "acme:widget".parse().unwrap();
        let shared: Registry = "shared.example".parse().unwrap();

        assert_eq!(
            config.default_registry().unwrap().value,
            expected,
            "top layer {top}"
        );
        assert_eq!(
            config.namespace_registry("acme").unwrap().value.registry(),
            &expected
        );
        assert_eq!(
            config
                .package_registry_override(&pkg)
                .unwrap()
                .value
                .registry(),
            &expected
        );
        assert_eq!(
            config.resolve_registry(&pkg).unwrap().value.registry(),
            &expected
        );
        let settings = config.registry_settings(&shared);
        assert_eq!(settings.default_backend().unwrap().value, top);
        let oci = settings.backend::<OciSection>("oci").unwrap().unwrap();
        assert_eq!(oci.value.winner, top);

        // Backend sections merge: every file layer's own key is still there.
        for tag in LAYERS[..count].iter().filter(|t| **t != "override") {
            let key = format!(r#"registry."shared.example".oci.{tag}-only"#);
            assert_eq!(
                config.get(&key).unwrap().len(),
                1,
                "{key} with top layer {top}"
            );
        }

        // The origin of the winning value is in the winning layer.
        let origin = config.default_registry().unwrap().origin;
        let scope = match top {
            "user" => Scope::User,
            "far" | "near" => Scope::Project,
            "tool" => Scope::Tool,
            "envfile" => Scope::Environment,
            _ => Scope::Override,
        };
        assert_eq!(origin.scope(), scope, "top layer {top}: {origin}");
    }
}

#[test]
fn environment_variables_win_over_files_and_lose_to_overrides() {
    let scratch = Scratch::new();
    scratch.write("user/config.toml", &every_key("user"));
    let pkg: PackageRef = "acme:widget".parse().unwrap();
    let vars = [
        (env::DEFAULT_REGISTRY, "env.example"),
        (
            env::NAMESPACE_REGISTRIES,
            "acme=env.example, other=other.example",
        ),
        (
            env::PACKAGE_REGISTRY_OVERRIDES,
            "acme:widget=env.example:5000",
        ),
    ];
    let config = scratch.loader(".").env_vars(vars).load().unwrap();
    assert_eq!(
        config.default_registry().unwrap().value.as_str(),
        "env.example"
    );
    let ns = config.namespace_registry("acme").unwrap();
    assert_eq!(ns.value.registry().as_str(), "env.example");
    assert_eq!(
        ns.origin,
        Origin::Env {
            var: env::NAMESPACE_REGISTRIES.to_owned()
        }
    );
    assert_eq!(
        config
            .namespace_registry("other")
            .unwrap()
            .value
            .registry()
            .as_str(),
        "other.example"
    );
    let pinned = config.resolve_registry(&pkg).unwrap();
    assert_eq!(pinned.value.registry().as_str(), "env.example:5000");

    let config = scratch
        .loader(".")
        .env_vars(vars)
        .set_override("default_registry", "flag.example", "--registry")
        .unwrap()
        .load()
        .unwrap();
    let default = config.default_registry().unwrap();
    assert_eq!(default.value.as_str(), "flag.example");
    assert_eq!(default.origin.to_string(), "override `--registry`");
}

#[test]
fn nearer_project_files_win() {
    let scratch = Scratch::new();
    scratch.write(
        "a/.wasm-pkg/config.toml",
        "default_registry = \"a.example\"\n",
    );
    scratch.write(
        "a/b/.wasm-pkg/config.toml",
        "[namespace_registries]\nacme = \"b.example\"\n",
    );
    scratch.write(
        "a/b/c/.wasm-pkg/config.toml",
        "default_registry = \"c.example\"\n",
    );
    let from_b = scratch.loader("a/b").load().unwrap();
    assert_eq!(
        from_b.default_registry().unwrap().value.as_str(),
        "a.example"
    );
    assert_eq!(
        from_b
            .namespace_registry("acme")
            .unwrap()
            .value
            .registry()
            .as_str(),
        "b.example"
    );
    let from_c = scratch.loader("a/b/c/d").load().unwrap();
    assert_eq!(
        from_c.default_registry().unwrap().value.as_str(),
        "c.example"
    );
    let layers: Vec<_> = from_c
        .layers()
        .into_iter()
        .map(|l| {
            let path = l.path.map(|p| scratch.redact(&p.display().to_string()));
            format!("{} {} {:?} exists={}", l.scope, l.name, path, l.exists)
        })
        .collect();
    expect![[r#"
        [
            "builtin built-in None exists=true",
            "user user Some(\"$DIR/user/config.toml\") exists=false",
            "project project Some(\"$DIR/a/.wasm-pkg/config.toml\") exists=true",
            "project project Some(\"$DIR/a/b/.wasm-pkg/config.toml\") exists=true",
            "project project Some(\"$DIR/a/b/c/.wasm-pkg/config.toml\") exists=true",
        ]
    "#]]
    .assert_debug_eq(&layers);
}

#[test]
fn builtin_namespaces_are_fallbacks_after_the_default_registry() {
    let scratch = Scratch::new();
    let wasi: PackageRef = "wasi:http".parse().unwrap();
    let ba: PackageRef = "ba:sample".parse().unwrap();
    let acme: PackageRef = "acme:widget".parse().unwrap();

    let config = scratch.loader(".").load().unwrap();
    let resolved = config.resolve_registry(&wasi).unwrap();
    assert_eq!(resolved.value.registry().as_str(), "wasi.dev");
    assert_eq!(resolved.origin, Origin::Builtin);
    assert_eq!(
        config
            .resolve_registry(&ba)
            .unwrap()
            .value
            .registry()
            .as_str(),
        "bytecodealliance.org"
    );
    let err = config.resolve_registry(&acme).unwrap_err();
    expect![[r#"no registry is configured for namespace `acme`; set `default_registry`, or add `acme = "<registry>"` under `[namespace_registries]` in your config file"#]]
        .assert_eq(&err.to_string());

    // A default registry wins over a built-in mapping, as in wkg ...
    scratch.write("user/config.toml", "default_registry = \"mine.example\"\n");
    let config = scratch.loader(".").load().unwrap();
    assert_eq!(
        config
            .resolve_registry(&wasi)
            .unwrap()
            .value
            .registry()
            .as_str(),
        "mine.example"
    );
    // ... and a namespace mapping in a file wins over the default registry.
    scratch.write(
        "user/config.toml",
        "default_registry = \"mine.example\"\n[namespace_registries]\nwasi = \"wasi.example\"\n",
    );
    let config = scratch.loader(".").load().unwrap();
    assert_eq!(
        config
            .resolve_registry(&wasi)
            .unwrap()
            .value
            .registry()
            .as_str(),
        "wasi.example"
    );
    // Leaving out the built-in layer leaves no mapping at all.
    let config = ConfigLoader::new()
        .without_builtin()
        .without_user_file()
        .without_project_files()
        .without_env()
        .load()
        .unwrap();
    assert!(config.resolve_registry(&wasi).is_err());
}

#[test]
fn every_layer_reports_its_origin() {
    let scratch = Scratch::new();
    scratch.write("user/config.toml", "default_registry = \"user.example\"\n");
    scratch.write(
        "p/.wasm-pkg/config.toml",
        "[package_registry_overrides]\n\"acme:a\" = \"project.example\"\n",
    );
    let envfile = scratch.write(
        "env.toml",
        "\n\n[registry.\"env.example\".oci]\nprotocol = \"http\"\n",
    );
    let tool_file = scratch.write(
        "tool.toml",
        "[registry.\"tool.example\"]\ntype = \"warg\"\n",
    );
    let config = scratch
        .loader("p")
        .tool_layer(
            ToolLayer::from_toml_str("wac", "[namespace_registries]\nwac = \"wac.example\"\n")
                .unwrap(),
        )
        .tool_layer(ToolLayer::from_file("cargo-component", &tool_file).unwrap())
        .env_vars([
            (env::CONFIG_FILE, envfile.display().to_string()),
            (env::NAMESPACE_REGISTRIES, "acme=env.example".to_owned()),
        ])
        .set_override("namespace_registries.cli", "cli.example", "--registry")
        .unwrap()
        .load()
        .unwrap();
    expect![[r#"
        default_registry = "user.example"  # $DIR/user/config.toml:1:1
        namespace_registries.acme = "env.example"  # environment variable `WASM_PKG_NAMESPACE_REGISTRIES`
        namespace_registries.ba = "bytecodealliance.org"  # built-in default
        namespace_registries.cli = "cli.example"  # override `--registry`
        namespace_registries.wac = "wac.example"  # settings from `wac`
        namespace_registries.wasi = "wasi.dev"  # built-in default
        package_registry_overrides."acme:a" = "project.example"  # $DIR/p/.wasm-pkg/config.toml:2:1
        registry."env.example".oci.protocol = "http"  # $DIR/env.toml:4:1
        registry."tool.example".default = "warg"  # $DIR/tool.toml:2:1
    "#]]
    .assert_eq(&show_origins(&config, &scratch));
}

/// Cargo's configuration files at three depths and `$CARGO_HOME`, in cargo's order: each
/// key's winner is the nearest file that sets it, with that file's line and column.
#[test]
fn cargo_config_at_every_level() {
    use registry_config::Scope;
    let scratch = Scratch::new();
    scratch.write(
        "cargo-home/config.toml",
        "[build]\njobs = 2\n[wasm-pkg]\ndefault_registry = \"home.example\"\n\
         [wasm-pkg.namespace_registries]\nhome = \"home.example\"\nshared = \"home.example\"\n",
    );
    scratch.write(
        "ws/.cargo/config.toml",
        "[wasm-pkg.namespace_registries]\nws = \"ws.example\"\nshared = \"ws.example\"\n\
         [wasm-pkg.registry.\"ws.example\".oci]\nnamespace_prefix = \"org/\"\n",
    );
    // The legacy name is read, and wins over config.toml in the same directory, as in cargo.
    scratch.write(
        "ws/crates/.cargo/config",
        "[wasm-pkg]\ndefault_registry = \"crates.example\"\n",
    );
    scratch.write(
        "ws/crates/.cargo/config.toml",
        "[wasm-pkg]\ndefault_registry = \"ignored.example\"\n",
    );
    scratch.write(
        "ws/crates/app/.cargo/config.toml",
        "[wasm-pkg.namespace_registries]\nshared = \"app.example\"\n",
    );
    scratch.write("ws/crates/app/Cargo.toml", "[package]\nname = \"app\"\n");
    let config = scratch
        .loader("ws/crates/app")
        .cargo_dir(scratch.path("ws/crates/app"))
        .env_vars([(
            "CARGO_HOME",
            scratch.path("cargo-home").display().to_string(),
        )])
        .load()
        .unwrap();
    let origin = |o: &registry_config::Origin| scratch.redact(&o.to_string());
    let default = config.default_registry().unwrap();
    assert_eq!(default.value.as_str(), "crates.example");
    assert_eq!(origin(&default.origin), "$DIR/ws/crates/.cargo/config:2:1");
    assert_eq!(default.origin.scope(), Scope::Cargo);
    let ns = |name: &str| {
        let s = config.namespace_registry(name).unwrap();
        (s.value.registry().to_string(), origin(&s.origin))
    };
    assert_eq!(
        ns("home"),
        (
            "home.example".into(),
            "$DIR/cargo-home/config.toml:6:1".into()
        )
    );
    assert_eq!(
        ns("ws"),
        ("ws.example".into(), "$DIR/ws/.cargo/config.toml:2:1".into())
    );
    assert_eq!(
        ns("shared"),
        (
            "app.example".into(),
            "$DIR/ws/crates/app/.cargo/config.toml:2:1".into()
        )
    );
    let prefix = config
        .get("registry.\"ws.example\".oci.namespace_prefix")
        .unwrap();
    assert_eq!(origin(&prefix[0].origin), "$DIR/ws/.cargo/config.toml:5:1");
    // The files, lowest first, between the user file and any tool layer.
    let cargo_files: Vec<String> = config
        .layers()
        .into_iter()
        .filter(|l| l.scope == Scope::Cargo)
        .map(|l| scratch.redact(&l.path.unwrap().display().to_string()))
        .collect();
    assert_eq!(
        cargo_files,
        [
            "$DIR/cargo-home/config.toml",
            "$DIR/ws/.cargo/config.toml",
            "$DIR/ws/crates/.cargo/config",
            "$DIR/ws/crates/app/.cargo/config.toml",
        ]
    );
    // A mistake in a [wasm-pkg] table names the file, line and key.
    scratch.write(
        "ws/crates/app/.cargo/config.toml",
        "[wasm-pkg]\ndefault_regsitry = \"x\"\n",
    );
    let err = scratch
        .loader("ws/crates/app")
        .cargo_dir(scratch.path("ws/crates/app"))
        .env_vars([(
            "CARGO_HOME",
            scratch.path("cargo-home").display().to_string(),
        )])
        .load()
        .unwrap_err();
    assert_eq!(
        scratch.redact(&err.to_string()),
        "$DIR/ws/crates/app/.cargo/config.toml:2:1: unknown key `default_regsitry`; did you mean `default_registry`?"
    );
}
