//! The integrations the wac and cargo-component maintainers would adopt, proven end to end:
//! packages published to the real OCI registry (`docker-registry`) and to an in-process
//! warg-server, a `.wac` document parsed by the real `wac-parser`, resolved by our
//! resolver, composed by `wac-graph` and validated by `wasmparser`; and a generated
//! Cargo.toml with every dependency form resolved with a lock file.

use std::path::Path;

use registry_adapters::cargo_component::{self, ComponentManifest};
use registry_adapters::wac::{WacPackage, WacResolver};
use registry_client::{Client, LockMode};
use registry_config::{ConfigLoader, ToolLayer};
use registry_core::PublishOptions;
use test_support::Distribution;
use test_support::component::{self, Spec};
use test_support::warg::{WargServer, signing_key};
use wac_parser::{PrimaryExpr, Statement};

fn client(dir: &Path, toml: &str, offline: bool) -> Client {
    let path = dir.join("config.toml");
    std::fs::write(&path, toml).unwrap();
    let config = ConfigLoader::new()
        .user_file(&path)
        .without_project_files()
        .without_env()
        .load()
        .unwrap();
    Client::builder(config)
        .cache_dir(dir.join("cache"))
        .offline(offline)
        .build()
}

async fn publish(client: &Client, name: &str, version: &str, bytes: Vec<u8>) {
    client
        .route(&name.parse().unwrap())
        .await
        .unwrap()
        .publish(
            &version.parse().unwrap(),
            Box::pin(std::io::Cursor::new(bytes)),
            &PublishOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("publishing {name}@{version}: {e}"));
}

/// Each package key a document instantiates, with its span, as wac's own resolver lists them.
fn keys(document: &wac_parser::Document<'_>) -> Vec<WacPackage> {
    let mut keys = Vec::new();
    for statement in &document.statements {
        if let Statement::Let(stmt) = statement
            && let PrimaryExpr::New(new) = &stmt.expr.primary
        {
            let name = &new.package;
            let version = name.version.as_ref().map(ToString::to_string);
            let span = name.span.offset()..name.span.offset() + name.span.len();
            keys.push(
                WacPackage::new(name.name, version.as_deref())
                    .unwrap()
                    .with_span(span),
            );
        }
    }
    keys
}

fn compose(source: &str, resolved: Vec<(WacPackage, Vec<u8>)>) -> Vec<u8> {
    let document = wac_parser::Document::parse(source).unwrap();
    let names: Vec<(String, Option<semver::Version>)> = resolved
        .iter()
        .map(|(k, _)| (k.name.to_string(), k.version.clone()))
        .collect();
    let mut packages = indexmap::IndexMap::new();
    for ((name, version), (_, bytes)) in names.iter().zip(resolved) {
        packages.insert(
            wac_types::BorrowedPackageKey {
                name,
                version: version.as_ref(),
            },
            bytes,
        );
    }
    let resolution = document.resolve(packages).unwrap();
    resolution
        .encode(wac_graph::EncodeOptions::default())
        .unwrap()
}

const DOCUMENT: &str = "package test:composition;

let producer = new example:producer { ... };
let consumer = new demo:consumer@0.2.0 { greet: producer.greet };
let extra = new test:extra { input: consumer.run };
export extra...;
";

#[tokio::test(flavor = "multi_thread")]
async fn a_wac_document_resolved_from_oci_and_warg_composes_and_validates() {
    let oci = Distribution::shared();
    let warg = WargServer::start();
    let (host, wreg) = (oci.host(), warg.registry());
    let dir = tempfile::tempdir().unwrap();
    let client = client(
        dir.path(),
        &format!(
            "[namespace_registries]\nexample = \"{host}\"\ndemo = \"{host}\"\ntest = \"{wreg}\"\n\
             [registry.\"{wreg}\"]\ndefault = \"warg\"\n\
             [registry.\"{wreg}\".warg]\nsigning_key = \"{}\"\n",
            signing_key(1)
        ),
        false,
    );
    let producer = |tag: &str| {
        component::build(&Spec {
            imports: &["dep"],
            exports: &["greet"],
            metadata: &[("description", tag)],
            ..Spec::default()
        })
    };
    publish(&client, "example:producer", "1.0.0", producer("old")).await;
    publish(&client, "example:producer", "1.1.0", producer("new")).await;
    for v in ["0.2.0", "0.3.0"] {
        let consumer = component::build(&Spec {
            imports: &["greet"],
            exports: &["run"],
            metadata: &[("version", v)],
            ..Spec::default()
        });
        publish(&client, "demo:consumer", v, consumer).await;
    }
    let extra = component::build(&Spec {
        imports: &["input"],
        exports: &["output"],
        ..Spec::default()
    });
    publish(&client, "test:extra", "1.0.0", extra.clone()).await;

    let document = wac_parser::Document::parse(DOCUMENT).unwrap();
    let keys = keys(&document);
    assert_eq!(keys.len(), 3);
    let resolver = WacResolver::new(client.clone());
    let resolved = resolver.resolve(&keys).await.unwrap();
    assert_eq!(
        resolved[0].1,
        producer("new"),
        "unversioned: the newest release"
    );
    assert_eq!(resolved[2].1, extra, "from the warg registry");

    let composed = compose(DOCUMENT, resolved);
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&composed)
        .expect("the composition validates");
    // The composition's own imports (nested components have theirs).
    let mut depth = 0usize;
    let mut imports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(&composed) {
        match payload.unwrap() {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    imports.push(import.unwrap().name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    assert_eq!(imports, ["dep"], "only the producer's own import is left");

    // `--dep` overrides: the versioned one applies to that version only; a deps directory
    // comes before the registry.
    let deps = dir.path().join("deps");
    std::fs::create_dir_all(deps.join("example")).unwrap();
    std::fs::write(deps.join("example/producer.wasm"), producer("from deps")).unwrap();
    std::fs::write(dir.path().join("pinned.wasm"), producer("pinned")).unwrap();
    let overridden = WacResolver::new(client.clone())
        .with_deps_dir(&deps)
        .with_dep("demo:consumer@0.2.0", dir.path().join("pinned.wasm"))
        .unwrap()
        .resolve(&keys)
        .await
        .unwrap();
    assert_eq!(overridden[0].1, producer("from deps"));
    assert_eq!(overridden[1].1, producer("pinned"));
    let unversioned_only = WacResolver::new(client.clone())
        .with_dep("demo:consumer@9.9.9", dir.path().join("pinned.wasm"))
        .unwrap()
        .resolve(&keys)
        .await
        .unwrap();
    assert_ne!(
        unversioned_only[1].1,
        producer("pinned"),
        "an override for another version does not apply"
    );

    // A WIT directory in the deps directory is encoded as a WIT package.
    std::fs::create_dir_all(deps.join("example/types")).unwrap();
    std::fs::write(
        deps.join("example/types/types.wit"),
        "package example:types@0.1.0;\ninterface shapes { record point { x: u32, y: u32 } }\n",
    )
    .unwrap();
    let wit = WacResolver::new(client.clone())
        .with_deps_dir(&deps)
        .resolve(&[WacPackage::new("example:types", None).unwrap()])
        .await
        .unwrap();
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&wit[0].1)
        .expect("an encoded WIT package");

    // A package nobody has: the error names it and where the document does.
    let missing =
        "package test:composition;\nlet gone = new example:missing { ... };\nexport gone...;\n";
    let document = wac_parser::Document::parse(missing).unwrap();
    let err = resolver.resolve(&self::keys(&document)).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("example:missing"), "{text}");
    let at = missing.find("example:missing").unwrap();
    assert_eq!(err.span, Some(at..at + "example:missing".len()), "{text}");

    // wac's own settings come in as a tool layer above the user's file: here the user file
    // names a default registry where nothing is published, and wac's layer names another,
    // which wins.
    let user = dir.path().join("wac-user.toml");
    std::fs::write(
        &user,
        "# the user's choice, which wac overrides\ndefault_registry = \"127.0.0.1:9\"\n",
    )
    .unwrap();
    let wac_layer =
        ToolLayer::from_toml_str("wac", &format!("default_registry = \"{host}\"\n")).unwrap();
    let config = ConfigLoader::new()
        .user_file(&user)
        .without_project_files()
        .without_env()
        .tool_layer(wac_layer)
        .load()
        .unwrap();
    let default = config
        .entries()
        .into_iter()
        .find(|e| e.key.to_string() == "default_registry")
        .expect("a default registry");
    assert_eq!(default.origin.to_string(), "settings from `wac`");
    assert_eq!(
        default.value,
        format!("\"{host}\""),
        "wac's layer wins over the user's"
    );
    let from_wac_settings = WacResolver::new(
        Client::builder(config)
            .cache_dir(dir.path().join("wac-cache"))
            .build(),
    )
    .resolve(&[WacPackage::new("example:producer", None).unwrap()])
    .await
    .unwrap();
    assert_eq!(from_wac_settings[0].1, producer("new"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cargo_component_manifest_resolves_with_a_lock_file() {
    let oci = Distribution::shared();
    let host = oci.host();
    let dir = tempfile::tempdir().unwrap();
    // The user's config knows nothing; the manifest's registries do the mapping.
    let publisher = client(
        dir.path(),
        &format!("[namespace_registries]\ncc = \"{host}\"\n"),
        false,
    );
    for (name, version) in [
        ("cc:math", "1.2.0"),
        ("cc:math", "1.3.0"),
        ("cc:math", "2.0.0"),
        ("cc:greeter", "0.3.1"),
        ("cc:world", "1.0.0"),
        ("cc:world", "1.1.0"),
    ] {
        publish(
            &publisher,
            name,
            version,
            component::small(&format!("{name}@{version}")),
        )
        .await;
    }
    let project = dir.path().join("app");
    std::fs::create_dir_all(project.join("wit")).unwrap();
    std::fs::write(project.join("wit/local.wasm"), component::small("local")).unwrap();
    let manifest_text = format!(
        r#"[package]
name = "app"
version = "0.1.0"

[package.metadata.component]
package = "cc:app"
target = "cc:world/app@1.0.0"

[package.metadata.component.dependencies]
"cc:math" = "1.2"
greeter = {{ package = "cc:greeter", version = "0.3", registry = "internal" }}
local = {{ path = "wit/local.wasm" }}

[package.metadata.component.registries]
default = "http://{host}"
internal = "{host}"
"#
    );
    std::fs::write(project.join("Cargo.toml"), &manifest_text).unwrap();
    let manifest = ComponentManifest::from_path(&project.join("Cargo.toml")).unwrap();

    let user = dir.path().join("user");
    std::fs::create_dir_all(&user).unwrap();
    let user_config = user.join("config.toml");
    std::fs::write(&user_config, "# nothing configured\n").unwrap();
    let load = |offline: bool| {
        let config = ConfigLoader::new()
            .user_file(&user_config)
            .without_project_files()
            .without_env()
            .tool_layer(manifest.tool_layer().unwrap())
            .load()
            .unwrap();
        Client::builder(config)
            .cache_dir(user.join("cache"))
            .offline(offline)
            .build()
    };

    let client = load(false);
    let first = cargo_component::resolve(&client, &manifest, LockMode::Update)
        .await
        .unwrap();
    // The target `cc:world/app@1.0.0` asks for a compatible release of `cc:world`.
    let target = first.target.as_ref().expect("the target is resolved");
    assert_eq!(target.name, "target");
    assert_eq!(target.version().unwrap().to_string(), "1.1.0");
    let deps = &first.dependencies;
    assert_eq!(deps[0].version().unwrap().to_string(), "1.3.0");
    assert_eq!(
        deps[0].read(&client).await.unwrap(),
        component::small("cc:math@1.3.0")
    );
    assert_eq!(
        std::fs::read(deps[0].path()).unwrap(),
        component::small("cc:math@1.3.0")
    );
    assert_eq!(deps[1].version().unwrap().to_string(), "0.3.1");
    assert_eq!(deps[2].path(), project.join("wit/local.wasm"));
    assert!(deps[2].version().is_none());
    assert_eq!(
        deps[2].read(&client).await.unwrap(),
        component::small("local")
    );
    let lock_text = std::fs::read_to_string(manifest.lock_path()).unwrap();
    assert!(
        lock_text.contains("name = \"cc:math\"") && lock_text.contains("version = \"1.3.0\""),
        "{lock_text}"
    );
    assert!(lock_text.contains("cc:greeter"), "{lock_text}");
    assert!(
        lock_text.contains("name = \"cc:world\"") && lock_text.contains("version = \"1.1.0\""),
        "{lock_text}"
    );

    // A newer release appears; the lock keeps 1.3.0, offline and `--locked` both work.
    publish(
        &publisher,
        "cc:math",
        "1.4.0",
        component::small("cc:math@1.4.0"),
    )
    .await;
    let second = cargo_component::resolve(&load(true), &manifest, LockMode::Locked)
        .await
        .unwrap();
    let again = &second.dependencies;
    assert_eq!(again[0].version().unwrap().to_string(), "1.3.0");
    assert_eq!(again[0].digest(), deps[0].digest());
    let (locked, fresh) = (second.target.unwrap(), first.target.as_ref().unwrap());
    assert_eq!(
        (locked.version(), locked.digest()),
        (fresh.version(), fresh.digest())
    );
    assert_eq!(
        std::fs::read_to_string(manifest.lock_path()).unwrap(),
        lock_text
    );

    // A requirement the lock cannot satisfy is an error under `--locked`, and the lock stays.
    let bumped = manifest_text.replace("\"cc:math\" = \"1.2\"", "\"cc:math\" = \"2\"");
    std::fs::write(project.join("Cargo.toml"), bumped).unwrap();
    let bumped = ComponentManifest::from_path(&project.join("Cargo.toml")).unwrap();
    let err = cargo_component::resolve(&load(false), &bumped, LockMode::Locked)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cc:math"), "{err}");
    assert_eq!(
        std::fs::read_to_string(manifest.lock_path()).unwrap(),
        lock_text
    );
    let updated = cargo_component::resolve(&load(false), &bumped, LockMode::Update)
        .await
        .unwrap();
    assert_eq!(
        updated.dependencies[0].version().unwrap().to_string(),
        "2.0.0"
    );
}

/// A cargo workspace on disk: cargo configuration at three depths plus `$CARGO_HOME`, the
/// root manifest's `[workspace.metadata.component]`, and a member whose dependencies are
/// pinned to two different registries (two docker-registry instances) and renamed.
#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_member_resolves_through_cargo_config_and_two_registries() {
    let first = Distribution::shared();
    let second = Distribution::start().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    // The same package name on both registries, with different bytes: which one arrives
    // says which registry was used.
    for (registry, seed) in [(first, "first"), (&second, "second")] {
        std::fs::create_dir_all(dir.path().join(seed)).unwrap();
        let publisher = client(
            &dir.path().join(seed),
            &format!("default_registry = \"{}\"\n", registry.host()),
            false,
        );
        for name in ["two:shared", "two:renamed-upstream"] {
            publish(
                &publisher,
                name,
                "1.0.0",
                component::small(&format!("{name} on {seed}")),
            )
            .await;
        }
    }
    let ws = dir.path().join("ws");
    let write = |rel: &str, text: &str| {
        let path = ws.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let cargo_home = dir.path().join("cargo-home");
    std::fs::create_dir_all(&cargo_home).unwrap();
    std::fs::write(
        cargo_home.join("config.toml"),
        "[wasm-pkg]\ndefault_registry = \"127.0.0.1:9\"\n",
    )
    .unwrap();
    write(
        ".cargo/config.toml",
        &format!(
            "[wasm-pkg.namespace_registries]\ntwo = \"{}\"\n",
            second.host()
        ),
    );
    write(
        "crates/.cargo/config.toml",
        "[wasm-pkg.registry.\"127.0.0.1:9\".oci]\nconnect_timeout = 1\n",
    );
    write(
        "crates/app/.cargo/config.toml",
        "[wasm-pkg]\n# nearest: wins over $CARGO_HOME's\ndefault_registry = \"127.0.0.1:8\"\n",
    );
    write(
        "Cargo.toml",
        &format!(
            "[workspace]\nmembers = [\"crates/*\"]\n\
             [workspace.metadata.component.registries]\nfirst = \"{}\"\n\
             [workspace.metadata.component.dependencies]\n\
             \"two:shared\" = {{ version = \"1\", registry = \"first\" }}\n",
            first.host()
        ),
    );
    write(
        "crates/app/Cargo.toml",
        "[package]\nname = \"app\"\n[package.metadata.component]\npackage = \"two:app\"\n\
         [package.metadata.component.dependencies]\n\
         renamed = { package = \"two:renamed-upstream\", version = \"1\" }\n",
    );
    let manifest_path = ws.join("crates/app/Cargo.toml");
    let manifest = ComponentManifest::from_path(&manifest_path).unwrap();
    let names: Vec<&str> = manifest
        .dependencies
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["renamed", "two:shared"],
        "the root's table fills in"
    );

    let user = dir.path().join("user.toml");
    std::fs::write(&user, "# nothing\n").unwrap();
    let config = ConfigLoader::new()
        .user_file(&user)
        .project_dir(ws.join("crates/app"))
        .cargo_dir(ws.join("crates/app"))
        .env_vars([("CARGO_HOME", cargo_home.display().to_string())])
        .tool_layer(manifest.tool_layer().unwrap())
        .load()
        .unwrap();
    let default = config.default_registry().unwrap();
    assert_eq!(default.value.as_str(), "127.0.0.1:8");
    assert!(
        default
            .origin
            .to_string()
            .ends_with("crates/app/.cargo/config.toml:3:1"),
        "{}",
        default.origin
    );
    let mapped = config.namespace_registry("two").unwrap();
    assert!(
        mapped
            .origin
            .to_string()
            .ends_with("ws/.cargo/config.toml:2:1")
    );

    let client = Client::builder(config)
        .cache_dir(dir.path().join("cache"))
        .build();
    let resolved = cargo_component::resolve(&client, &manifest, LockMode::Update)
        .await
        .unwrap();
    let by_name = |name: &str| {
        resolved
            .dependencies
            .iter()
            .find(|d| d.name == name)
            .unwrap()
    };
    // Pinned by `registry = "first"` (the root's table): the first registry's bytes, over
    // the namespace mapping the cargo config gives.
    let shared = by_name("two:shared");
    assert_eq!(
        shared.read(&client).await.unwrap(),
        component::small("two:shared on first")
    );
    // Renamed by `package`, and mapped by the cargo config's namespace: the second's.
    let renamed = by_name("renamed");
    assert_eq!(renamed.package().unwrap().as_str(), "two:renamed-upstream");
    assert_eq!(
        renamed.read(&client).await.unwrap(),
        component::small("two:renamed-upstream on second")
    );
}
