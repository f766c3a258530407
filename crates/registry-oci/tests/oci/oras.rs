//! Interoperability with oras-py (PyPI `oras`, pinned in `.ci/run`): what
//! `OrasClient.push` writes (one `application/vnd.oci.image.layer.v1.tar` layer titled
//! `widget.wasm`, an unknown config) is read back as the same bytes.

use std::path::PathBuf;
use std::process::Command;

use registry_core::{Backend, ContentDigest};
use registry_oci::manifest::{OCI_MANIFEST, TITLE};
use serde_json::Value;
use test_support::component;

use crate::support::{backend, package, read_all, registry, version};

/// The oras-py release `.ci/run` installs.
const ORAS_PY: &str = "0.2.43";

/// A Python that can import oras-py: the one `.ci/run` sets up in `target/oras-py`, else
/// `python3`. Fails, saying what to install, when neither can.
fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/oras-py/bin/python3");
    for candidate in [venv, PathBuf::from("python3")] {
        let imports = Command::new(&candidate)
            .args(["-c", "import oras.client"])
            .output()
            .is_ok_and(|o| o.status.success());
        if imports {
            return candidate;
        }
    }
    panic!(
        "oras-py is not installed: run `python3 -m pip install oras=={ORAS_PY}` (or `.ci/run`, \
         which installs it into target/oras-py)"
    );
}

#[tokio::test]
async fn we_read_what_oras_py_pushes() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let content = component::small("pushed by oras-py");
    std::fs::write(dir.path().join("widget.wasm"), &content).unwrap();
    let target = format!("{}/orasinterop/widget:1.0.0", registry().host());
    // oras-py takes files relative to the working directory, as the oras CLI does.
    let pushed = Command::new(&python)
        .current_dir(dir.path())
        .args([
            "-c",
            "import sys, oras.client\n\
             oras.client.OrasClient(insecure=True).push(target=sys.argv[1], files=['widget.wasm'])",
            &target,
        ])
        .output()
        .unwrap();
    assert!(
        pushed.status.success(),
        "oras-py ({}) failed to push: {}{}",
        python.display(),
        String::from_utf8_lossy(&pushed.stdout),
        String::from_utf8_lossy(&pushed.stderr)
    );

    // The layout we read leniently, as oras-py wrote it.
    let response = test_support::http::request(
        registry().addr(),
        "GET",
        "/v2/orasinterop/widget/manifests/1.0.0",
        &[("Accept", OCI_MANIFEST)],
        &[],
    )
    .unwrap();
    let manifest: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(
        manifest["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar",
        "{manifest}"
    );
    assert_eq!(manifest["layers"][0]["annotations"][TITLE], "widget.wasm");
    assert_eq!(
        manifest["config"]["mediaType"], "application/vnd.unknown.config.v1+json",
        "{manifest}"
    );

    let backend = backend();
    let pkg = package("orasinterop:widget");
    let release = backend.get_release(&pkg, &version("1.0.0")).await.unwrap();
    assert_eq!(release.digest, ContentDigest::sha256(&content));
    let fetched = read_all(backend.fetch_verified(&pkg, &release).await.unwrap())
        .await
        .unwrap();
    assert_eq!(fetched, content, "the bytes oras-py pushed");
}
