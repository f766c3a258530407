//! Publishing through the library: every case of `cases.rs` (wasm-pkg-client 0.16.1's own
//! `tests/publish_semver_check.rs`, translated, and ours) published into a directory
//! registry with `registry_wit::publish`, accepted or refused as the case says.

mod cases;

use std::path::Path;

use registry_client::Client;
use registry_config::Config;
use registry_core::{Error, PackageRef, Version};
use registry_wit::{PublishRequest, Published, publish};

/// A binary WIT package from its text.
fn encode(wit: &str) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let id = resolve.push_str("package.wit", wit).expect("the case's WIT parses");
    wit_component::encode(&resolve, id, false).expect("the case's WIT encodes")
}

fn client_in(dir: &Path) -> Client {
    let text = format!(
        "default_registry = \"cases.local\"\n[registry.\"cases.local\".local]\nroot = {:?}\n",
        dir.join("registry").display().to_string()
    );
    Client::builder(Config::from_toml_str(dir.join("config.toml"), &text).unwrap())
        .cache_dir(dir.join("cache"))
        .build()
}

async fn publish_text(
    client: &Client,
    dir: &Path,
    version: &str,
    wit: &str,
    check: bool,
) -> Result<Published, Error> {
    let package: PackageRef = "test:pkg".parse().unwrap();
    let route = client.route(&package).await?;
    let file = dir.join(format!("{version}.wasm"));
    std::fs::write(&file, encode(wit)).unwrap();
    let version: Version = version.parse().unwrap();
    publish(&route, &PublishRequest::new(version, file).skip_semver_check(!check)).await
}

#[tokio::test]
async fn every_semver_case_is_decided_as_wkg_decides_or_stricter() {
    let mut wrong = Vec::new();
    for case in cases::CASES {
        let dir = tempfile::tempdir().unwrap();
        let client = client_in(dir.path());
        for (version, wit) in case.published {
            publish_text(&client, dir.path(), version, wit, false)
                .await
                .unwrap_or_else(|err| panic!("{}: publishing {version}: {err}", case.name));
        }
        let (version, wit) = case.new;
        let result = publish_text(&client, dir.path(), version, wit, true).await;
        match (&result, case.accepted) {
            (Ok(Published::Uploaded(_)), true) => {}
            (Err(Error::SemverIncompatible { breaks, .. }), false) => {
                assert!(!breaks.is_empty(), "{}: a refusal names what broke", case.name);
            }
            (Err(Error::AlreadyPublished { .. }), false) => {}
            _ => wrong.push(format!("{}: expected accepted={}, got {result:?}", case.name, case.accepted)),
        }
    }
    assert!(wrong.is_empty(), "{} of {} cases decided wrongly:\n{}", wrong.len(), cases::CASES.len(), wrong.join("\n"));
    assert!(cases::CASES.len() >= 25, "the suite holds at least wkg's cases and the issue's");
}
