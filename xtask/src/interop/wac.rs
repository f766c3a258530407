//! The cells with the real `wac`: composing and plugging what we fetch.

use anyhow::Result;

use super::{Cell, run, same};
use crate::peers::{self, Peer};

/// We fetch two packages into `deps/`; the real `wac compose` composes them from there.
pub(super) fn wac_cell(wreg: &str, host: &str, cells: &mut Vec<Cell>) -> Result<()> {
    let wac = peers::install(peers::WAC, Peer::Interop)?
        .display()
        .to_string();
    let work = tempfile::tempdir()?;
    let dir = work.path();
    std::fs::write(
        dir.join("config.toml"),
        format!("default_registry = \"{host}\"\n"),
    )?;
    let ours = |args: &[&str]| {
        let mut all = vec!["--config", "config.toml", "--cache-dir", "cache", "-q"];
        all.extend_from_slice(args);
        run(wreg, &all, dir)
    };
    let spec = |imports: &'static [&'static str], exports: &'static [&'static str]| {
        test_support::component::build(&test_support::component::Spec {
            imports,
            exports,
            ..Default::default()
        })
    };
    std::fs::write(dir.join("producer.wasm"), spec(&["dep"], &["greet"]))?;
    std::fs::write(dir.join("consumer.wasm"), spec(&["greet"], &["run"]))?;
    std::fs::write(
        dir.join("composition.wac"),
        "package interop:composition;\n\
         let producer = new wacinterop:producer { ... };\n\
         let consumer = new wacinterop:consumer { greet: producer.greet };\n\
         export consumer...;\n",
    )?;
    let result = ours(&[
        "publish",
        "producer.wasm",
        "--package",
        "wacinterop:producer@1.0.0",
    ])
    .and_then(|()| {
        ours(&[
            "publish",
            "consumer.wasm",
            "--package",
            "wacinterop:consumer@1.0.0",
        ])
    })
    .and_then(|()| {
        ours(&[
            "fetch",
            "--dep",
            "wacinterop:producer@1",
            "--dep",
            "wacinterop:consumer@1",
            "-o",
            "deps",
        ])
    })
    .and_then(|()| {
        run(
            &wac,
            &[
                "compose",
                "composition.wac",
                "--deps-dir",
                "deps",
                "-o",
                "composed.wasm",
            ],
            dir,
        )
    })
    .and_then(|()| {
        let bytes = std::fs::read(dir.join("composed.wasm")).map_err(|e| e.to_string())?;
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
            .validate_all(&bytes)
            .map(|_| ())
            .map_err(|e| format!("the composition does not validate: {e}"))
    });
    let fetched = result.is_ok();
    cells.push(Cell {
        writer: "wreg fetch (deps/)",
        reader: "wac compose",
        result,
    });
    // The same document composed straight from the registry (no deps directory), pinned
    // by a lock file: byte for byte what wac composed from `deps/`.
    let composed = if fetched {
        ours(&[
            "compose",
            "composition.wac",
            "--deps-dir",
            "no-such-dir",
            "--lock",
            "compose.lock",
            "-o",
            "ours-composed.wasm",
        ])
        .and_then(|()| same(&dir.join("ours-composed.wasm"), &dir.join("composed.wasm")))
    } else {
        Err("wac compose failed first".to_owned())
    };
    cells.push(Cell {
        writer: "wreg compose (from the registry)",
        reader: "= wac compose (from deps/)",
        result: composed,
    });
    // `plug` on the same files: byte for byte what `wac plug` writes.
    let plugged = run(
        &wac,
        &[
            "plug",
            "consumer.wasm",
            "--plug",
            "producer.wasm",
            "-o",
            "wac-plugged.wasm",
        ],
        dir,
    )
    .and_then(|()| {
        ours(&[
            "plug",
            "consumer.wasm",
            "--plug",
            "producer.wasm",
            "--lock",
            "plug.lock",
            "-o",
            "ours-plugged.wasm",
        ])
    })
    .and_then(|()| {
        same(
            &dir.join("ours-plugged.wasm"),
            &dir.join("wac-plugged.wasm"),
        )
    });
    cells.push(Cell {
        writer: "wreg plug",
        reader: "= wac plug",
        result: plugged,
    });
    Ok(())
}
