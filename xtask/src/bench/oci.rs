//! One large package over OCI, every row run by the `wreg` release binary: publish (new
//! bytes each run, and separately bytes the registry already has), cold pulls of 16 MiB,
//! 256 MiB (the default, `BENCH_MIB`) and 1 GiB (`BENCH_OCI_SIZES`) against the unverified
//! and the verified streaming download, and a warm pull against `cp`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use test_support::Distribution;

use super::{Row, Sample, check_digest, measure, more_runs, push_medians, sha256_of};
use crate::peers::{self, Peer};

/// The transfer limit: the blob to a file and nothing checked.
pub(super) const FLOOR: &str = "floor: curl -o (unverified)";
/// The verified limit: the blob streamed to a file and through SHA-256 at once, by the
/// fastest common tools (OpenSSL uses the CPU's SHA instructions where there are any).
pub(super) const VERIFIED_FLOOR: &str = "floor: curl | tee FILE | openssl dgst";
/// The floor of a warm pull: a copy that checks nothing.
const CP: &str = "floor: cp";

/// A component of `mib` MiB of payload whose bytes differ with `tag`.
fn payload(path: &Path, mib: usize, tag: &str) -> Result<()> {
    let description = format!("benchmark payload {tag}");
    std::fs::write(
        path,
        test_support::component::build(&test_support::component::Spec {
            imports: &["wasi:cli/environment@0.2.0"],
            exports: &[],
            metadata: &[("description", description.as_str())],
            padding: mib * 1024 * 1024,
            name: None,
        }),
    )?;
    Ok(())
}

/// The scratch directory, a config for `host`, and commands that read nothing else.
struct Bench {
    work: tempfile::TempDir,
    wreg: String,
    wkg: String,
}

impl Bench {
    fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    fn text(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// `args` with only our own config home and home directory.
    fn env(&self, args: &[&str]) -> Vec<String> {
        let mut cmd = vec![
            "env".to_owned(),
            format!("XDG_CONFIG_HOME={}", self.path("config").display()),
            format!("HOME={}", self.work.path().display()),
        ];
        cmd.extend(args.iter().map(|a| (*a).to_owned()));
        cmd
    }

    fn config_for(&self, host: &str) -> Result<String> {
        super::write_config(
            &self.path(&format!("{}.toml", host.replace(':', "_"))),
            host,
        )
    }

    fn wreg(&self, config: &str, cache: &str, args: &[&str]) -> Vec<String> {
        let mut all = vec![
            self.wreg.as_str(),
            "--config",
            config,
            "--cache-dir",
            cache,
            "-q",
        ];
        all.extend_from_slice(args);
        self.env(&all)
    }
}

fn run_cmd(cmd: &[String]) -> Result<Sample> {
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    measure(&cmd)
}

pub(super) fn oci_transfers(rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<()> {
    let mib: usize = std::env::var("BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let bench = Bench {
        work: tempfile::tempdir()?,
        wreg: super::wreg(),
        wkg: peers::install(peers::WKG, Peer::Measured)?
            .display()
            .to_string(),
    };
    std::fs::create_dir_all(bench.path("config"))?;
    // `BENCH_OCI_SIZES=16,256` pulls only those sizes (MiB; default 16, `BENCH_MIB`, 1024).
    let sizes: Vec<usize> = match std::env::var("BENCH_OCI_SIZES") {
        Ok(list) => list
            .split(',')
            .map(|s| s.trim().parse())
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("BENCH_OCI_SIZES={list}: {e}"))?,
        Err(_) => vec![16, mib, 1024],
    };
    let listed: Vec<String> = sizes.iter().map(|s| format!("{s} MiB")).collect();
    notes.push(format!(
        "OCI transfers: components of {} of payload (cold pulls) and {mib} MiB (publish, warm \
         pull) on a CNCF distribution registry (`docker-registry` 2.8) on loopback, plain \
         HTTP; `wreg` is the release build, run as a user runs it (config file, cache, \
         copy-out). The cold pulls have two floors, each run alongside: `{FLOOR}` is `curl \
         -sf -o FILE <blob URL>`, the transfer limit (nothing checked); `{VERIFIED_FLOOR}` is \
         `curl -sf <blob URL> | tee FILE | openssl dgst -sha256`, the limit of a download \
         hashed while it arrives. `{CP}` copies the cached file and checks nothing.",
        listed.join(", ")
    ));
    publish(&bench, mib, rows)?;
    for size in sizes {
        cold_pull(&bench, size, size == mib, rows)?;
    }
    warm_pull(&bench, mib, rows)?;
    Ok(())
}

/// Publishing new bytes every run, and (a separate row) bytes the registry already holds
/// under a new version.
fn publish(bench: &Bench, mib: usize, rows: &mut Vec<Row>) -> Result<()> {
    let registry = Distribution::start().map_err(anyhow::Error::msg)?;
    let host = registry.host();
    let config = bench.config_for(&host)?;
    let cache = bench.text("publish-cache");
    let file = bench.path("publish.wasm");
    let file_text = file.display().to_string();
    // New bytes before every run: the whole layer is uploaded each time.
    let rows_new = publish_runs(
        bench,
        &host,
        &config,
        &cache,
        &file,
        "new",
        true,
        |who, run| payload(&file, mib, &format!("{who} {run}")),
    )?;
    push_medians(rows, format!("publish {mib} MiB, new bytes"), rows_new);

    // The same bytes under new versions: the registry has the layer already.
    payload(&file, mib, "already there")?;
    run_cmd(&bench.wreg(
        &config,
        &cache,
        &["publish", &file_text, "--package", "bench:same@0.1.0"],
    ))?;
    let rows_same = publish_runs(
        bench,
        &host,
        &config,
        &cache,
        &file,
        "same",
        false,
        |_, _| Ok(()),
    )?;
    push_medians(
        rows,
        format!("publish {mib} MiB already in the registry (new version)"),
        rows_same,
    );
    Ok(())
}

/// Publishes of `file` (as many as [`more_runs`] asks) as `bench:<name>` by each
/// contestant, each under a new version, `before(contestant, run)` called first; each is
/// read back from the registry (see [`read_back`]). With `floor`, [`PUBLISH_FLOOR`] runs
/// beside them: the digest, then one blob upload (its blob read back).
#[expect(
    clippy::too_many_arguments,
    reason = "one scenario's settings, passed from one place"
)]
fn publish_runs(
    bench: &Bench,
    host: &str,
    config: &str,
    cache: &str,
    file: &Path,
    name: &str,
    floor: bool,
    before: impl Fn(&str, usize) -> Result<()>,
) -> Result<Vec<(String, Vec<Sample>)>> {
    let path = file;
    let file = file.display().to_string();
    let mut samples: Vec<(String, Vec<Sample>)> = vec![
        ("ours".into(), Vec::new()),
        ("wkg oci push".into(), Vec::new()),
    ];
    if floor {
        samples.push((PUBLISH_FLOOR.into(), Vec::new()));
    }
    let mut run = 0;
    while more_runs(run, &samples) {
        for (contestant, runs) in &mut samples {
            before(contestant, run)?;
            if contestant == PUBLISH_FLOOR {
                runs.push(run_cmd(&floor_upload(
                    host,
                    &format!("bench/{name}-floor"),
                    &file,
                ))?);
                let back = bench.path("read-back.wasm");
                read_back_blob(host, &format!("bench/{name}-floor"), path, &back)?;
                continue;
            }
            let ours = contestant == "ours";
            let tag = format!("1.{}.{run}", u8::from(!ours));
            let cmd = if ours {
                let package = format!("bench:{name}@{tag}");
                bench.wreg(config, cache, &["publish", &file, "--package", &package])
            } else {
                let reference = format!("{host}/bench/{name}:{tag}");
                bench.env(&[
                    &bench.wkg,
                    "oci",
                    "push",
                    "--insecure",
                    host,
                    &reference,
                    &file,
                ])
            };
            runs.push(run_cmd(&cmd)?);
            read_back(bench, host, &format!("bench/{name}"), &tag, path)?;
        }
        run += 1;
    }
    Ok(samples)
}

/// The floor of a publish: `openssl dgst -sha256` of the file, then one monolithic blob
/// upload with `curl` (a POST for the session, a PUT of the bytes), as the issue defines it:
/// no manifest, no check that the version is free.
pub(super) const PUBLISH_FLOOR: &str = "floor: openssl dgst + one curl upload";

fn floor_upload(host: &str, repository: &str, file: &str) -> Vec<String> {
    let script = format!(
        "set -e; d=$(openssl dgst -sha256 -r '{file}' | cut -c1-64); \
         l=$(curl -sf -X POST -D - -o /dev/null http://{host}/v2/{repository}/blobs/uploads/ \
             | tr -d '\\r' | sed -n 's/^[Ll]ocation: //p'); \
         case \"$l\" in *\\?*) s='&';; *) s='?';; esac; \
         curl -sf -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' \
             -T '{file}' \"$l${{s}}digest=sha256:$d\""
    );
    vec!["sh".into(), "-c".into(), script]
}

/// Fails unless the registry at `host` serves `file`'s bytes as a blob of `repository`
/// (read into `back`, then removed).
fn read_back_blob(host: &str, repository: &str, file: &Path, back: &Path) -> Result<()> {
    let digest = sha256_of(file)?;
    let status = std::process::Command::new("curl")
        .args(["-sf", "-o"])
        .arg(back)
        .arg(format!("http://{host}/v2/{repository}/blobs/{digest}"))
        .status()?;
    if !status.success() {
        anyhow::bail!("{repository}: blob {digest} not served after the upload");
    }
    check_digest(back, &digest)?;
    std::fs::remove_file(back)?;
    Ok(())
}

/// Fails unless the registry at `host` serves, under `repository:tag`, a manifest whose one
/// layer is `file`'s digest, and a blob by that digest with `file`'s bytes.
fn read_back(bench: &Bench, host: &str, repository: &str, tag: &str, file: &Path) -> Result<()> {
    let digest = sha256_of(file)?;
    let base = format!("http://{host}/v2/{repository}");
    let manifest = std::process::Command::new("curl")
        .args([
            "-sf",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
            &format!("{base}/manifests/{tag}"),
        ])
        .output()?;
    if !manifest.status.success() {
        anyhow::bail!("{repository}:{tag}: no manifest after publishing");
    }
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.stdout)?;
    let layers: Vec<&str> = manifest["layers"]
        .as_array()
        .map(|l| l.iter().filter_map(|l| l["digest"].as_str()).collect())
        .unwrap_or_default();
    if layers != [digest.as_str()] {
        anyhow::bail!("{repository}:{tag} has layers {layers:?}, published {digest}");
    }
    read_back_blob(host, repository, file, &bench.path("read-back.wasm"))
}

/// A cold pull of `mib` MiB: `wreg get` with an empty cache each run, next to wkg, the
/// floor and (at the main size) skopeo. Every output is checked.
fn cold_pull(bench: &Bench, mib: usize, with_skopeo: bool, rows: &mut Vec<Row>) -> Result<()> {
    let registry = Distribution::start().map_err(anyhow::Error::msg)?;
    let host = registry.host();
    let config = bench.config_for(&host)?;
    let component = bench.path(&format!("cold-{mib}.wasm"));
    payload(&component, mib, &format!("cold {mib}"))?;
    run_cmd(&bench.wreg(
        &config,
        &bench.text("publish-cache"),
        &[
            "publish",
            &component.display().to_string(),
            "--package",
            "bench:big@1.0.0",
        ],
    ))?;
    let digest = sha256_of(&component)?;
    let out = bench.path("pulled.wasm");
    let out_text = out.display().to_string();
    let mut contestants = vec!["ours", LINK_MODE, "wkg oci pull", FLOOR, VERIFIED_FLOOR];
    if with_skopeo {
        contestants.push("skopeo copy");
    }
    let mut samples: Vec<(String, Vec<Sample>)> = contestants
        .iter()
        .map(|c| ((*c).to_owned(), Vec::new()))
        .collect();
    let skopeo_dir = bench.path("skopeo-layout");
    let mut run = 0;
    while more_runs(run, &samples) {
        for (contestant, runs) in &mut samples {
            let _ = std::fs::remove_file(&out);
            let cmd = match contestant.as_str() {
                "ours" | LINK_MODE => {
                    let cache = bench.text(&format!("cold-cache-{mib}-{run}"));
                    let mode = if contestant == LINK_MODE {
                        "hardlink"
                    } else {
                        "copy"
                    };
                    bench.wreg(
                        &config,
                        &cache,
                        &[
                            "--link-mode",
                            mode,
                            "get",
                            "bench:big@1.0.0",
                            "-o",
                            &out_text,
                        ],
                    )
                }
                "wkg oci pull" => bench.env(&[
                    &bench.wkg,
                    "oci",
                    "pull",
                    "--insecure",
                    &host,
                    &format!("{host}/bench/big:1.0.0"),
                    "-o",
                    &out_text,
                ]),
                "skopeo copy" => {
                    let _ = std::fs::remove_dir_all(&skopeo_dir);
                    vec![
                        "skopeo".into(),
                        "copy".into(),
                        "-q".into(),
                        "--src-tls-verify=false".into(),
                        format!("docker://{host}/bench/big:1.0.0"),
                        format!("oci:{}:1.0.0", skopeo_dir.display()),
                    ]
                }
                FLOOR => vec![
                    "curl".into(),
                    "-sf".into(),
                    "-o".into(),
                    out_text.clone(),
                    format!("http://{host}/v2/bench/big/blobs/{digest}"),
                ],
                // A failed `curl` leaves a short file, which the digest check below catches.
                _ => vec![
                    "sh".into(),
                    "-c".into(),
                    format!(
                        "curl -sf http://{host}/v2/bench/big/blobs/{digest} | tee {out_text} | \
                         openssl dgst -sha256 >/dev/null"
                    ),
                ],
            };
            runs.push(run_cmd(&cmd)?);
            if contestant == "skopeo copy" {
                check_digest(
                    &skopeo_dir
                        .join("blobs/sha256")
                        .join(digest.trim_start_matches("sha256:")),
                    &digest,
                )?;
            } else {
                check_digest(&out, &digest)?;
            }
            if contestant == "ours" || contestant == LINK_MODE {
                std::fs::remove_dir_all(bench.path(&format!("cold-cache-{mib}-{run}")))?;
            }
        }
        run += 1;
    }
    let _ = std::fs::remove_file(&component);
    push_medians(rows, format!("cold pull {mib} MiB"), samples);
    Ok(())
}

/// Our pulls with outputs hard-linked to the cache (`--link-mode hardlink`): one write of
/// the bytes per cold pull. "ours" is the default, a copy.
pub(super) const LINK_MODE: &str = "ours, --link-mode hardlink";

/// A warm pull: the content is in each tool's cache; write it to an output path.
fn warm_pull(bench: &Bench, mib: usize, rows: &mut Vec<Row>) -> Result<()> {
    let registry = Distribution::start().map_err(anyhow::Error::msg)?;
    let host = registry.host();
    let config = bench.config_for(&host)?;
    let component = bench.path("warm.wasm");
    payload(&component, mib, "warm")?;
    let ours_cache = bench.text("warm-ours");
    run_cmd(&bench.wreg(
        &config,
        &ours_cache,
        &[
            "publish",
            &component.display().to_string(),
            "--package",
            "bench:big@1.0.0",
        ],
    ))?;
    let digest = sha256_of(&component)?;
    let out = bench.path("pulled.wasm");
    let out_text = out.display().to_string();
    let wreg_get = bench.wreg(
        &config,
        &ours_cache,
        &["get", "bench:big@1.0.0", "-o", &out_text],
    );
    // The output a hard link to the cache entry, not a file of its own; in a cache of its
    // own, as a user keeps one mode: removing a linked output (before each run) moves the
    // entry's change time, so the other mode's next hit would hash the entry again.
    let link_cache = bench.text("warm-ours-linked");
    let wreg_get_link = bench.wreg(
        &config,
        &link_cache,
        &[
            "--link-mode",
            "hardlink",
            "get",
            "bench:big@1.0.0",
            "-o",
            &out_text,
        ],
    );
    let wkg_get = bench.env(&[
        &bench.wkg,
        "get",
        "bench:big@1.0.0",
        "-o",
        &out_text,
        "--overwrite",
        "--config",
        &config,
        "--cache",
        &bench.text("warm-wkg"),
    ]);
    // Prime the caches.
    run_cmd(&wreg_get)?;
    run_cmd(&wreg_get_link)?;
    run_cmd(&wkg_get)?;
    let cached = Path::new(&ours_cache)
        .join("content/sha256")
        .join(digest.trim_start_matches("sha256:"));
    let cp = vec![
        "cp".to_owned(),
        cached.display().to_string(),
        out_text.clone(),
    ];
    let mut samples: Vec<(String, Vec<Sample>)> = vec![
        ("ours".into(), Vec::new()),
        (LINK_MODE.into(), Vec::new()),
        ("wkg get".into(), Vec::new()),
        (CP.into(), Vec::new()),
    ];
    let mut run = 0;
    while more_runs(run, &samples) {
        run += 1;
        for (contestant, runs) in &mut samples {
            let _ = std::fs::remove_file(&out);
            let cmd = match contestant.as_str() {
                "ours" => &wreg_get,
                LINK_MODE => &wreg_get_link,
                "wkg get" => &wkg_get,
                _ => &cp,
            };
            runs.push(run_cmd(cmd)?);
            check_digest(&out, &digest)?;
        }
    }
    push_medians(rows, format!("warm pull {mib} MiB"), samples);
    Ok(())
}
