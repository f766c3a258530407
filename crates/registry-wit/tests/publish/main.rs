//! Publishing through the library: every case of `cases.rs` (wasm-pkg-client 0.16.1's own
//! `tests/publish_semver_check.rs`, translated, and ours) published into a directory
//! registry with `registry_wit::publish`, accepted or refused as the case says.

mod cases;
mod ours;

use std::path::Path;

use registry_client::Client;
use registry_config::Config;
use registry_core::{Error, PackageRef, Version};
use registry_wit::{PublishRequest, Published, publish};

/// A binary WIT package from its text.
fn encode(wit: &str) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let id = resolve
        .push_str("package.wit", wit)
        .expect("the case's WIT parses");
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
    publish(
        &route,
        &PublishRequest::new(version, file).skip_semver_check(!check),
    )
    .await
}

#[tokio::test]
async fn every_semver_case_is_decided_as_wkg_decides_or_stricter() {
    let mut wrong = Vec::new();
    let all: Vec<&cases::Case> = cases::WKG.iter().chain(ours::OURS).collect();
    for case in &all {
        let dir = tempfile::tempdir().unwrap();
        let client = client_in(dir.path());
        for (version, wit) in case.published {
            publish_text(&client, dir.path(), version, wit, false)
                .await
                .unwrap_or_else(|err| panic!("{}: publishing {version}: {err}", case.name));
        }
        let (version, wit) = case.new;
        let result = publish_text(&client, dir.path(), version, wit, true).await;
        let duplicate = case.published.iter().any(|(v, _)| *v == version);
        match (&result, case.accepted) {
            (Ok(Published::Uploaded(_)), true) => {}
            // A refusal names what broke: a world or an interface of the package.
            (Err(Error::SemverIncompatible { breaks, .. }), false)
                if !duplicate
                    && !breaks.is_empty()
                    && breaks
                        .iter()
                        .all(|b| b.starts_with("world `") || b.starts_with("interface `")) => {}
            (Err(Error::AlreadyPublished { .. }), false) if duplicate => {}
            _ => wrong.push(format!(
                "{}: expected accepted={}, got {result:?}",
                case.name, case.accepted
            )),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases decided wrongly:\n{}",
        wrong.len(),
        all.len(),
        wrong.join("\n")
    );
    assert_eq!(cases::WKG.len(), 15, "every row of wkg's test file");
    assert_eq!(all.len(), 53, "wkg's 15 and our 38");
}

/// WIT nobody here wrote: every WASI package wit-component ships, compared with itself
/// (worlds and the all-interfaces world must build for real packages with dependencies),
/// and wasi:http with a function removed from one interface, refused.
#[test]
fn shipped_wasi_packages_keep_themselves_and_a_removal_is_found() {
    let mut resolve = wit_parser::Resolve::default();
    let (root, _) = resolve
        .push_dir(test_support::shipped::wasi_http())
        .unwrap();
    let version: Version = "0.2.0".parse().unwrap();
    let later: Version = "0.2.1".parse().unwrap();
    let mut checked = 0;
    for (id, package) in resolve.packages.iter() {
        let bytes = wit_component::encode(&resolve, id, false).unwrap();
        let name = PackageRef::new(&package.name.namespace, &package.name.name).unwrap();
        registry_wit::check_semver(&name, (&version, &bytes), (&later, &bytes))
            .unwrap_or_else(|err| panic!("{name} against itself: {err}"));
        checked += 1;
    }
    assert_eq!(checked, test_support::shipped::WASI.len());

    let old = wit_component::encode(&resolve, root, false).unwrap();
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&test_support::shipped::wasi_http(), dir.path());
    let types = dir.path().join("types.wit");
    let text = std::fs::read_to_string(&types).unwrap();
    let cut = text.replace("method: func() -> method;", "");
    assert_ne!(
        cut, text,
        "the shipped wasi:http types.wit has `method: func() -> method;`"
    );
    std::fs::write(&types, cut).unwrap();
    let mut changed = wit_parser::Resolve::default();
    let (id, _) = changed.push_dir(dir.path()).unwrap();
    let new = wit_component::encode(&changed, id, false).unwrap();
    let http = PackageRef::new("wasi", "http").unwrap();
    let err = registry_wit::check_semver(&http, (&version, &old), (&later, &new)).unwrap_err();
    assert!(matches!(err, Error::SemverIncompatible { .. }), "{err}");
    assert_eq!(err.exit_code(), 9);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

/// The checks hold through every kind of backend: a real OCI registry (CNCF distribution)
/// and an in-process warg-server, as well as the directory registry above.
#[tokio::test(flavor = "multi_thread")]
async fn the_checks_hold_on_oci_and_warg_registries() {
    let oci = test_support::Distribution::shared();
    let warg = test_support::warg::WargServer::start();
    let (oci_host, warg_host) = (oci.host(), warg.registry());
    let backends = [
        (
            "oci",
            format!("[registry.\"{oci_host}\".oci]\nprotocol = \"http\"\n"),
            oci_host,
        ),
        (
            "warg",
            format!(
                "[registry.\"{warg_host}\"]\ndefault = \"warg\"\n[registry.\"{warg_host}\".warg]\n\
                 signing_key = \"{}\"\n",
                test_support::warg::signing_key(7)
            ),
            warg_host,
        ),
    ];
    for (kind, section, registry) in backends {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("[namespace_registries]\ntest = \"{registry}\"\n{section}");
        let config = Config::from_toml_str(dir.path().join("config.toml"), &text).unwrap();
        let client = Client::builder(config)
            .cache_dir(dir.path().join("cache"))
            .build();
        let name = format!("test:semver-{kind}");
        let package: PackageRef = name.parse().unwrap();
        let route = client.route(&package).await.unwrap();
        let write = |version: &str, body: &str| {
            let file = dir.path().join(format!("{version}-{}.wasm", body.len()));
            let wit = format!("package {name}@{version}; interface api {{ {body} }}");
            std::fs::write(&file, encode(&wit)).unwrap();
            PublishRequest::new(version.parse().unwrap(), file)
        };
        let first = write("1.0.0", "f: func() -> u32; g: func();");
        let Published::Uploaded(release) = publish(&route, &first).await.unwrap() else {
            panic!("{kind}: uploaded");
        };
        // The same version again: the digest that is there, or a success when skipping.
        let err = publish(&route, &write("1.0.0", "f: func() -> u32;"))
            .await
            .unwrap_err();
        let Error::AlreadyPublished { existing, .. } = &err else {
            panic!("{kind}: {err:?}");
        };
        assert_eq!(existing.as_ref(), Some(&release.digest), "{kind}");
        let again = publish(&route, &first.clone().skip_existing(true))
            .await
            .unwrap();
        assert!(matches!(again, Published::Existing(_)), "{kind}: {again:?}");
        // A minor release that drops a function: refused, nothing uploaded; a dry run of a
        // compatible one checks and uploads nothing either.
        let err = publish(&route, &write("1.1.0", "f: func() -> u32;"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::SemverIncompatible { .. }),
            "{kind}: {err}"
        );
        let dry = write("1.1.0", "f: func() -> u32; g: func(); h: func();").dry_run(true);
        assert!(matches!(
            publish(&route, &dry).await.unwrap(),
            Published::DryRun(_)
        ));
        let listed: Vec<String> = client
            .route(&package)
            .await
            .unwrap()
            .list_versions()
            .await
            .unwrap()
            .iter()
            .map(|v| v.version.to_string())
            .collect();
        assert_eq!(
            listed,
            ["1.0.0"],
            "{kind}: only the first release was published"
        );
    }
}
