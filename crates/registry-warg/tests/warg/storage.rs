//! warg's on-disk state: where it goes, sharing within a process, waiting for another.

use std::time::{Duration, Instant};

use registry_core::Backend;
use test_support::component;
use test_support::warg::WargServer;

use crate::support::{listed, package, publish, settings, with_settings};

#[tokio::test(flavor = "multi_thread")]
async fn backends_on_one_directory_share_a_client_and_run_concurrently() {
    let server = WargServer::start();
    let dir = tempfile::tempdir().unwrap();
    let first = with_settings(&server, settings(1), dir.path());
    let second = with_settings(&server, settings(1), dir.path());
    publish(&first, "test:busy", "1.0.0", &component::small("b"))
        .await
        .unwrap();
    assert!(
        first.storage_dir().starts_with(dir.path()),
        "warg state lives under the given directory, not the current one"
    );

    let busy = package("test:busy");
    let mut tasks = Vec::new();
    for i in 0..16 {
        let backend = if i % 2 == 0 { &first } else { &second };
        tasks.push(backend.list_versions(&busy));
    }
    for result in futures_util::future::join_all(tasks).await {
        assert_eq!(result.unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_held_elsewhere_is_waited_for_then_reported() {
    let server = WargServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut patient = settings(1);
    patient.lock_timeout = Some(1);
    let backend = with_settings(&server, patient, dir.path());

    // Another holder of the registry directory's lock (flock locks are per open file, so
    // this stands for another process).
    let held =
        warg_client::storage::FileSystemRegistryStorage::try_lock(backend.storage_dir().to_owned())
            .unwrap()
            .expect("free at first");
    let started = Instant::now();
    let err = backend
        .list_versions(&package("test:any"))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    let text = err.to_string() + &format!("{:?}", std::error::Error::source(&err));
    assert!(text.contains("another process"), "{text}");
    assert!(waited >= Duration::from_secs(1), "it waited: {waited:?}");

    // Once the lock is released, the same backend works.
    drop(held);
    let err = backend
        .list_versions(&package("test:any"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    publish(&backend, "test:later", "1.0.0", &component::small("l"))
        .await
        .unwrap();
    assert_eq!(listed(&backend, "test:later").await.len(), 1);
}

/// Every `"registry":"<label>"` warg-client wrote under `dir`.
fn registry_labels(dir: &std::path::Path) -> Vec<String> {
    let mut labels = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            // Logs and checkpoints are JSON files; content is not.
            let Ok(value) =
                serde_json::from_slice::<serde_json::Value>(&std::fs::read(&path).unwrap())
            else {
                continue;
            };
            if let Some(label) = value.get("registry").and_then(|v| v.as_str()) {
                labels.push(label.to_owned());
            }
        }
    }
    labels
}

#[tokio::test(flavor = "multi_thread")]
async fn warg_state_names_the_server_not_the_relay() {
    // warg-client is handed the relay's URL, `http://127.0.0.1:<port>/<secret>/`, and names
    // its state after the URL it is handed (`RegistryUrl::safe_label`: host, port, path).
    // The directories are ours (named after the server's URL), and the `registry` label it
    // writes into its logs is mapped to the server's: neither the relay's port nor its
    // secret reaches the disk.
    let server = WargServer::start();
    let dir = tempfile::tempdir().unwrap();
    let backend = with_settings(&server, settings(1), dir.path());
    publish(&backend, "test:labelled", "1.0.0", &component::small("l"))
        .await
        .unwrap();
    assert_eq!(listed(&backend, "test:labelled").await.len(), 1);

    let label = server.registry().replace(':', "-");
    assert_eq!(
        backend.storage_dir(),
        dir.path().join(&label).join("registry"),
        "the directories are named after the server"
    );
    let labels = registry_labels(dir.path());
    assert!(!labels.is_empty(), "warg-client wrote its state");
    for written in &labels {
        assert_eq!(written, &label, "a label in warg's state: {labels:?}");
    }
}
