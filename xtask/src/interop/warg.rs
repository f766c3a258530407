//! The cells with the `warg` CLI 0.10 against an in-process warg-server.

use anyhow::Result;

use super::{Cell, run, same};
use crate::peers::{self, Peer};

/// The `warg` CLI publishes and we read; we publish and `warg download` reads; against an
/// in-process warg-server.
pub(super) fn warg_cells(wreg: &str, cells: &mut Vec<Cell>) -> Result<()> {
    let warg = peers::install(peers::WARG, Peer::Interop)?
        .display()
        .to_string();
    let server = test_support::warg::WargServer::builder()
        .namespaces(&["interop"])
        .start();
    let (registry, url) = (server.registry(), server.url());
    let work = tempfile::tempdir()?;
    let dir = work.path();
    // The warg CLI reads its signing key from a keyring; the flat-file one is a file under
    // $XDG_CONFIG_HOME, written here by hand so nothing prompts.
    let keyring = dir.join("xdg/warg/keyring");
    std::fs::create_dir_all(&keyring)?;
    std::fs::write(
        keyring.join("service=warg-signing-key&user=default"),
        test_support::warg::signing_key(11),
    )?;
    std::fs::write(
        dir.join("warg-config.json"),
        serde_json::json!({
            "homeUrl": url,
            "registriesDir": dir.join("warg-state/registries"),
            "contentDir": dir.join("warg-state/content"),
            "namespaceMapPath": dir.join("warg-state/namespaces"),
            "keys": ["default"],
            "keyringBackend": "flat-file",
            "disableInteractive": true,
        })
        .to_string(),
    )?;
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[namespace_registries]\ninterop = \"{registry}\"\n\
             [registry.\"{registry}\"]\ndefault = \"warg\"\n\
             [registry.\"{registry}\".warg]\nsigning_key = \"{}\"\n",
            test_support::warg::signing_key(12)
        ),
    )?;
    let ours = |args: &[&str]| {
        let mut all = vec!["--config", "config.toml", "--cache-dir", "cache", "-q"];
        all.extend_from_slice(args);
        run(wreg, &all, dir)
    };
    let theirs = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--config", "warg-config.json", "--registry", url.as_str()]);
        run(&warg, &all, dir)
    };

    let from_warg = test_support::component::small("interop: from the warg CLI");
    std::fs::write(dir.join("from-warg.wasm"), &from_warg)?;
    cells.push(Cell {
        writer: "warg publish release",
        reader: "wreg get (warg)",
        result: theirs(&[
            "publish",
            "release",
            "--name",
            "interop:fromwarg",
            "--version",
            "1.0.0",
            "from-warg.wasm",
        ])
        .and_then(|()| ours(&["get", "interop:fromwarg@1.0.0", "-o", "got-from-warg.wasm"]))
        .and_then(|()| same(&dir.join("got-from-warg.wasm"), &dir.join("from-warg.wasm"))),
    });

    std::fs::write(
        dir.join("ours.wasm"),
        test_support::component::small("interop: ours, to warg"),
    )?;
    cells.push(Cell {
        writer: "wreg publish (warg)",
        reader: "warg download",
        result: ours(&["publish", "ours.wasm", "--package", "interop:ours@1.0.0"])
            .and_then(|()| {
                theirs(&[
                    "download",
                    "interop:ours",
                    "--version",
                    "1.0.0",
                    "-o",
                    "warg-downloaded.wasm",
                ])
            })
            .and_then(|()| same(&dir.join("warg-downloaded.wasm"), &dir.join("ours.wasm"))),
    });
    Ok(())
}
