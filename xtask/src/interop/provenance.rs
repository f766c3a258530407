//! The cell "wreg publish --sign -> wreg wit fetch under a policy -> wkg fetch": a WIT
//! package signed keyless against sigstore-js's mock Fulcio and Rekor, fetched by us under a
//! `verify = "always"` policy (the lock file then pins its manifest and signer), and the
//! real `wkg` reading that lock file: it must keep every pin, and may drop only the fields
//! it does not know (`size`, `manifest`, the `signer` table); our next fetch under the
//! policy verifies again and records the signer again.

use std::path::Path;
use std::process::Command;

use test_support::sigstore::MockInstance;

const IDENTITY: &str = "ci@interop.example";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

pub(super) fn cell(
    wreg: &str,
    wkg: &str,
    config: &str,
    host: &str,
    dir: &Path,
) -> Result<(), String> {
    let work = dir.join("provenance");
    let project = work.join("app");
    std::fs::create_dir_all(work.join("dep/wit")).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(project.join("wit")).map_err(|e| e.to_string())?;
    let sigstore = MockInstance::start(IDENTITY, ISSUER);
    let base = std::fs::read_to_string(config).map_err(|e| e.to_string())?;
    let ours = work.join("config.toml");
    std::fs::write(&ours, format!("{base}\n{}", sigstore.policy(host)))
        .map_err(|e| e.to_string())?;
    let ours = ours.display().to_string();
    std::fs::write(
        work.join("dep/wit/dep.wit"),
        "package signed:dep@1.0.0;\n\ninterface types {\n  type id = u32;\n}\n",
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(
        project.join("wit/app.wit"),
        "package signed:app@0.1.0;\n\nworld app {\n  import signed:dep/types@1.0.0;\n}\n",
    )
    .map_err(|e| e.to_string())?;

    let wreg_in = |dir: &Path, args: &[&str]| {
        let out = Command::new(wreg)
            .args(["--config", &ours, "--cache-dir"])
            .arg(work.join("cache"))
            .args(["-q"])
            .args(args)
            .current_dir(dir)
            .env("SIGSTORE_ID_TOKEN", &sigstore.token)
            .output()
            .map_err(|e| format!("cannot run wreg: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "wreg {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    wreg_in(&work.join("dep"), &["publish", "wit", "--sign"])?;
    wreg_in(&project, &["wit", "fetch"])?;
    let lock = project.join("wkg.lock");
    let before = std::fs::read_to_string(&lock).map_err(|e| e.to_string())?;
    if !before.contains(IDENTITY) || !before.contains("\nmanifest = ") {
        return Err(format!(
            "our wkg.lock pins no signer, the cell proves nothing:\n{before}"
        ));
    }
    super::run(wkg, &["fetch", "--config", config], &project)?;
    let after = std::fs::read_to_string(&lock).map_err(|e| e.to_string())?;
    let ours_only = |l: &&str| {
        l.starts_with("size = ")
            || l.starts_with("manifest = ")
            || l.starts_with("identity = ")
            || l.starts_with("issuer = ")
            || l.starts_with("[packages.versions.signer]")
            || l.trim().is_empty()
    };
    let lost: Vec<&str> = before
        .lines()
        .filter(|l| !after.lines().any(|t| t == *l))
        .filter(|l| !ours_only(l))
        .collect();
    if !lost.is_empty() {
        return Err(format!(
            "wkg lost lines of our wkg.lock: {lost:?}\n--- ours\n{before}\n--- after wkg\n{after}"
        ));
    }
    // After wkg's rewrite (which also adds an `=1.0.0` pin of its own for the exact version
    // the WIT names), our fetch under the policy verifies again and records the signer.
    wreg_in(&project, &["wit", "fetch"])?;
    let again = std::fs::read_to_string(&lock).map_err(|e| e.to_string())?;
    if !again.contains(IDENTITY) {
        return Err(format!("the signer was not recorded again:\n{again}"));
    }
    Ok(())
}
