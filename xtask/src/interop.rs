//! `cargo xtask interop`: a matrix of real runs between us and the peers (`wkg`, `skopeo`).
//! Every cell is a real transfer whose bytes are compared; any red cell fails the task.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};
use test_support::Distribution;

use crate::peers::{self, Peer};

mod provenance;
mod wac;
mod warg;
mod workspace;

/// One cell: who wrote, who read, and how it went.
struct Cell {
    writer: &'static str,
    reader: &'static str,
    result: Result<(), String>,
}

fn run(program: &str, args: &[&str], dir: &Path) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Runs `program` in `dir` and returns its standard output.
fn output(program: &str, args: &[&str], dir: &Path) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A config file as `wkg` 0.16 writes it: a hand-written one holding the TLS keys wkg
/// 0.15.1 added, saved again by `wkg config --default-registry` (which reads and rewrites
/// the whole file). Returns its path.
fn wkg_written_config(wkg: &str, host: &str, dir: &Path) -> Result<String, String> {
    let path = dir.join("wkg-written.toml");
    let ca = test_support::tls::TestCa::new();
    std::fs::write(
        &path,
        format!(
            "[registry.\"{host}\".oci]\nprotocol = \"http\"\naccept_invalid_certificates = true\n\
             extra_root_certificates = [{{ encoding = \"pem\", data = \"\"\"{}\"\"\" }}]\n",
            ca.ca_pem
        ),
    )
    .map_err(|e| e.to_string())?;
    let path_text = path.display().to_string();
    run(
        wkg,
        &["config", "--default-registry", host, "--config", &path_text],
        dir,
    )?;
    let written = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    if !written.contains("accept_invalid_certificates") || !written.contains("BEGIN CERTIFICATE") {
        return Err(format!(
            "wkg dropped the TLS keys when it saved:\n{written}"
        ));
    }
    Ok(path_text)
}

fn same(a: &Path, b: &Path) -> Result<(), String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    if read(a)? == read(b)? {
        Ok(())
    } else {
        Err(format!("{} differs from {}", a.display(), b.display()))
    }
}

pub(crate) fn run_matrix() -> Result<()> {
    // Debug builds: the matrix checks what crosses the wire, not speed, and the test run
    // before it has built most of this already.
    crate::cargo(&["build", "--locked", "-p", "wreg"])?;
    let wreg = crate::target_dir().join("debug/wreg").display().to_string();
    let wkg = peers::install(peers::WKG, Peer::Interop)?
        .display()
        .to_string();
    crate::debian_tools(&[("skopeo", "skopeo"), ("docker-registry", "docker-registry")])?;
    let registry = Distribution::start().map_err(anyhow::Error::msg)?;
    let host = registry.host();
    let work = tempfile::tempdir()?;
    let dir = work.path();
    std::fs::write(
        dir.join("config.toml"),
        format!("default_registry = \"{host}\"\n[registry.\"{host}\".oci]\nprotocol = \"http\"\n"),
    )?;
    let config = dir.join("config.toml").display().to_string();
    let ours = |args: &[&str]| {
        let mut all = vec!["--config", config.as_str(), "--cache-dir", "cache", "-q"];
        all.extend_from_slice(args);
        run(&wreg, &all, dir)
    };
    let component = dir.join("ours.wasm");
    std::fs::write(&component, test_support::component::small("interop: ours"))?;
    let mut cells = Vec::new();

    // We publish; wkg and skopeo read.
    let published = ours(&["publish", "ours.wasm", "--package", "interop:ours@1.0.0"]);
    let reference = format!("{host}/interop/ours:1.0.0");
    cells.push(Cell {
        writer: "wreg publish",
        reader: "wkg oci pull",
        result: published.clone().and_then(|()| {
            run(
                &wkg,
                &[
                    "oci",
                    "pull",
                    "--insecure",
                    &host,
                    &reference,
                    "-o",
                    "wkg-oci.wasm",
                ],
                dir,
            )
            .and_then(|()| same(&dir.join("wkg-oci.wasm"), &component))
        }),
    });
    cells.push(Cell {
        writer: "wreg publish",
        reader: "wkg get",
        result: published.clone().and_then(|()| {
            run(
                &wkg,
                &[
                    "get",
                    "interop:ours@1.0.0",
                    "-o",
                    "./wkg-get.wasm",
                    "--config",
                    &config,
                ],
                dir,
            )
            .and_then(|()| same(&dir.join("wkg-get.wasm"), &component))
        }),
    });
    cells.push(Cell {
        writer: "wreg publish",
        reader: "skopeo copy",
        result: published.and_then(|()| {
            run(
                "skopeo",
                &[
                    "--insecure-policy",
                    "copy",
                    "--src-tls-verify=false",
                    &format!("docker://{reference}"),
                    "oci:skopeo-layout:copied",
                ],
                dir,
            )
            .and_then(|()| {
                let hex = registry_core::ContentDigest::sha256(
                    &std::fs::read(&component).map_err(|e| e.to_string())?,
                )
                .hex();
                same(
                    &dir.join("skopeo-layout/blobs/sha256").join(hex),
                    &component,
                )
            })
        }),
    });

    // wkg publishes; we read.
    let theirs = dir.join("theirs.wasm");
    std::fs::write(&theirs, test_support::component::small("interop: wkg"))?;
    cells.push(Cell {
        writer: "wkg oci push",
        reader: "wreg get",
        result: run(
            &wkg,
            &[
                "oci",
                "push",
                "--insecure",
                &host,
                &format!("{host}/interop/theirs:2.0.0"),
                "theirs.wasm",
            ],
            dir,
        )
        .and_then(|()| ours(&["get", "interop:theirs@2.0.0", "-o", "ours-from-wkg.wasm"]))
        .and_then(|()| same(&dir.join("ours-from-wkg.wasm"), &theirs)),
    });
    // What `wreg versions interop:theirs` lists with a config file.
    let versions = |config: &str| {
        output(
            &wreg,
            &[
                "--config",
                config,
                "--cache-dir",
                "cache",
                "versions",
                "interop:theirs",
            ],
            dir,
        )
    };
    // wkg publishes a new version of a package we have listed: we see it at once.
    let newer = dir.join("newer.wasm");
    std::fs::write(&newer, test_support::component::small("interop: wkg 2.1.0"))?;
    cells.push(Cell {
        writer: "wkg oci push (a new version)",
        reader: "wreg versions, at once",
        result: ours(&["versions", "interop:theirs"])
            .and_then(|()| {
                run(
                    &wkg,
                    &[
                        "oci",
                        "push",
                        "--insecure",
                        &host,
                        &format!("{host}/interop/theirs:2.1.0"),
                        "newer.wasm",
                    ],
                    dir,
                )
            })
            .and_then(|()| {
                let listed = versions(&config)?;
                if listed.lines().next() == Some("2.1.0") {
                    Ok(())
                } else {
                    Err(format!(
                        "wreg listed {listed:?} right after wkg pushed 2.1.0"
                    ))
                }
            }),
    });

    // wkg writes a config holding its 0.16 TLS keys; we load what it wrote and use it.
    cells.push(Cell {
        writer: "wkg config (0.16 TLS keys)",
        reader: "wreg versions",
        result: wkg_written_config(&wkg, &host, dir).and_then(|written| {
            let listed = versions(&written)?;
            if listed.contains("2.0.0") {
                Ok(())
            } else {
                Err(format!("wreg listed {listed:?} with the config wkg wrote"))
            }
        }),
    });

    let mut resolve = wit_parser::Resolve::default();
    let id = resolve.push_str(
        "api.wit",
        "package interop:api@0.4.0;\ninterface i { f: func(); }\n",
    )?;
    let wit = dir.join("api.wasm");
    std::fs::write(&wit, wit_component::encode(&resolve, id, false)?)?;
    cells.push(Cell {
        writer: "wkg publish (WIT package)",
        reader: "wreg get",
        result: run(&wkg, &["publish", "api.wasm", "--config", &config], dir)
            .and_then(|()| ours(&["get", "interop:api@0.4.0", "-o", "api-back.wasm"]))
            .and_then(|()| same(&dir.join("api-back.wasm"), &wit)),
    });

    // skopeo copies hand-made layouts in each media-type form; we read.
    for (config_type, layer_type, name) in [
        (
            "application/vnd.wasm.config.v0+json",
            "application/wasm",
            "cncf",
        ),
        (
            "application/vnd.wasm.config.v1+json",
            "application/vnd.wasm.content.layer.v1+wasm",
            "wasm-v1",
        ),
        (
            "application/vnd.module.wasm.config.v1+json",
            "application/vnd.module.wasm.content.layer.v1+wasm",
            "module-wasm",
        ),
    ] {
        let content = test_support::component::small(name);
        let layout = dir.join(format!("layout-{name}"));
        let result = write_layout(&layout, config_type, layer_type, &content)
            .and_then(|()| {
                run(
                    "skopeo",
                    &[
                        "--insecure-policy",
                        "copy",
                        "--dest-tls-verify=false",
                        &format!("oci:{}:1.0.0", layout.display()),
                        &format!("docker://{host}/legacy/{name}:1.0.0"),
                    ],
                    dir,
                )
            })
            .and_then(|()| {
                ours(&[
                    "get",
                    &format!("legacy:{name}@1.0.0"),
                    "-o",
                    &format!("{name}.wasm"),
                ])
            })
            .and_then(|()| {
                let got =
                    std::fs::read(dir.join(format!("{name}.wasm"))).map_err(|e| e.to_string())?;
                if got == content {
                    Ok(())
                } else {
                    Err("bytes differ".to_owned())
                }
            });
        cells.push(Cell {
            writer: match name {
                "cncf" => "skopeo (CNCF layout)",
                "wasm-v1" => "skopeo (wasm.content.layer.v1)",
                _ => "skopeo (module.wasm layer)",
            },
            reader: "wreg get",
            result,
        });
    }

    cells.push(Cell {
        writer: "wreg publish DIR (WASI WIT)",
        reader: "wkg fetch vs wreg wit fetch",
        result: wit_fetch_cell(&wreg, &wkg, &config, dir),
    });
    cells.push(Cell {
        writer: "wkg workspace",
        reader: "wreg fetch --workspace",
        result: workspace::cell(&wreg, &wkg, &config, dir),
    });
    cells.push(Cell {
        writer: "wreg publish --sign (sigstore mock)",
        reader: "wreg wit fetch under a policy, then wkg fetch",
        result: provenance::cell(&wreg, &wkg, &config, &host, dir),
    });
    warg::warg_cells(&wreg, &mut cells)?;
    wac::wac_cell(&wreg, &host, &mut cells)?;

    println!("\n| writer | reader | result |\n|---|---|---|");
    let mut red = 0;
    for cell in &cells {
        let result = match &cell.result {
            Ok(()) => "ok".to_owned(),
            Err(why) => {
                red += 1;
                format!("FAILED: {}", why.replace('\n', " "))
            }
        };
        println!("| {} | {} | {result} |", cell.writer, cell.reader);
    }
    if red > 0 {
        bail!("{red} of {} interop cells failed", cells.len());
    }
    println!("{} interop cells passed", cells.len());
    Ok(())
}

/// The WASI packages as the wit-component crate ships them, built and published by
/// `wreg publish DIR`; then the same application world (importing `wasi:http/proxy`)
/// fetched by `wkg fetch` and by `wreg wit fetch`. wkg writes the packages that travel
/// inside `wasi:http`'s encoding (partial: only the items http uses); we resolve the graph
/// and write each package whole. The cell holds when wit-parser reads both `wit/deps`,
/// every package and version wkg writes is in ours, and ours has every interface, type and
/// function of each of wkg's.
fn wit_fetch_cell(wreg: &str, wkg: &str, config: &str, dir: &Path) -> Result<(), String> {
    use test_support::shipped;
    let work = dir.join("wit-interop");
    for (rel, spec) in shipped::WASI {
        let src = work.join("src").join(spec.replace([':', '@'], "-"));
        shipped::copy_package(rel, &src);
        let src = src.display().to_string();
        run(
            wreg,
            &[
                "--config",
                config,
                "--cache-dir",
                "cache",
                "-q",
                "publish",
                &src,
                "--lock",
                "publish.lock",
            ],
            &work,
        )?;
    }
    let mut resolved = Vec::new();
    for (who, args) in [
        ("wkg", vec![wkg, "fetch", "--config", config]),
        (
            "wreg",
            vec![
                wreg,
                "--config",
                config,
                "--cache-dir",
                "cache",
                "-q",
                "wit",
                "fetch",
            ],
        ),
    ] {
        let project = work.join(who);
        std::fs::create_dir_all(project.join("wit")).map_err(|e| e.to_string())?;
        std::fs::write(project.join("wit/app.wit"), shipped::APP_WIT).map_err(|e| e.to_string())?;
        run(args[0], &args[1..], &project)?;
        let mut resolve = wit_parser::Resolve::default();
        let (main, _) = resolve
            .push_dir(project.join("wit"))
            .map_err(|e| format!("wit-parser cannot read what {who} wrote: {e:#}"))?;
        resolved.push((resolve, main));
    }
    wkg_reads_our_lock(wkg, config, &work.join("wreg"))?;
    let (theirs, their_main) = &resolved[0];
    let (ours, our_main) = &resolved[1];
    for (_, package) in theirs.packages.iter().filter(|(id, _)| id != their_main) {
        let Some((_, mine)) = ours
            .packages
            .iter()
            .find(|(i, p)| i != our_main && p.name == package.name)
        else {
            return Err(format!("wkg wrote {} and we did not", package.name));
        };
        for (name, &iface) in &package.interfaces {
            let Some(&my_iface) = mine.interfaces.get(name) else {
                return Err(format!(
                    "{}: interface {name} is missing from ours",
                    package.name
                ));
            };
            let (t, m) = (&theirs.interfaces[iface], &ours.interfaces[my_iface]);
            for item in t.types.keys().chain(t.functions.keys()) {
                if !m.types.contains_key(item) && !m.functions.contains_key(item) {
                    return Err(format!(
                        "{}: {name}.{item} is missing from ours",
                        package.name
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `wkg fetch` in a project whose `wkg.lock` we wrote (with each pin's `size`, a field wkg
/// does not have): wkg reads it, and what it writes back keeps every pin we wrote; the only
/// line of ours it drops is `size` (seen with wkg 0.16.1: it also adds an `=` pin for each
/// exact version a WIT `use` names).
fn wkg_reads_our_lock(wkg: &str, config: &str, project: &Path) -> Result<(), String> {
    let lock = project.join("wkg.lock");
    let ours = std::fs::read_to_string(&lock).map_err(|e| e.to_string())?;
    if !ours.contains("\nsize = ") {
        return Err("our wkg.lock records no size; the cell proves nothing".to_owned());
    }
    run(wkg, &["fetch", "--config", config], project)?;
    let theirs = std::fs::read_to_string(&lock).map_err(|e| e.to_string())?;
    // wkg may add pins of its own (it pins a WIT `use`'s exact version under `=`), but
    // every pin we wrote must still be there.
    let lost: Vec<&str> = ours
        .lines()
        .filter(|l| l.starts_with("digest = ") || l.starts_with("requirement = "))
        .filter(|l| !theirs.lines().any(|t| t == *l))
        .collect();
    if !lost.is_empty() {
        return Err(format!(
            "wkg lost pins of our wkg.lock: {lost:?}\n--- ours\n{ours}\n--- after wkg\n{theirs}"
        ));
    }
    let dropped: Vec<&str> = ours
        .lines()
        .filter(|l| !theirs.lines().any(|t| t == *l))
        .filter(|l| !l.starts_with("size = "))
        .collect();
    if !dropped.is_empty() {
        return Err(format!("wkg dropped more than `size`: {dropped:?}"));
    }
    Ok(())
}

/// An OCI image layout with one artifact in the given media types, tagged `1.0.0`.
fn write_layout(
    dir: &Path,
    config_type: &str,
    layer_type: &str,
    content: &[u8],
) -> Result<(), String> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(|e| e.to_string())?;
    let put = |bytes: &[u8]| -> Result<(String, usize), String> {
        let digest = registry_core::ContentDigest::sha256(bytes);
        std::fs::write(blobs.join(digest.hex()), bytes).map_err(|e| e.to_string())?;
        Ok((digest.to_string(), bytes.len()))
    };
    let (layer, layer_size) = put(content)?;
    let (config, config_size) = put(br#"{"architecture":"wasm","os":"wasip2"}"#)?;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"{config_type}","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"{layer_type}","digest":"{layer}","size":{layer_size}}}]}}"#
    );
    let (manifest_digest, manifest_size) = put(manifest.as_bytes())?;
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(|e| e.to_string())?;
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{manifest_size},"annotations":{{"org.opencontainers.image.ref.name":"1.0.0"}}}}]}}"#
    );
    std::fs::write(dir.join("index.json"), index).map_err(|e| e.to_string())
}
