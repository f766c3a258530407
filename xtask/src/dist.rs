//! `cargo xtask dist`: what a user installs, in `target/dist/`: the release binary
//! (stripped), man pages, shell completions, and a SHA-256 list of all of it.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, root};

/// The shells `wreg completions` writes for, and the file each script goes in.
const COMPLETIONS: &[(&str, &str)] = &[
    ("bash", "wreg.bash"),
    ("zsh", "_wreg"),
    ("fish", "wreg.fish"),
    ("powershell", "_wreg.ps1"),
];

pub(crate) fn run() -> Result<()> {
    cargo(&["build", "--locked", "--release", "-p", "wreg"])?;
    let dist = root().join("target/dist");
    if dist.exists() {
        std::fs::remove_dir_all(&dist).context("clear target/dist")?;
    }
    std::fs::create_dir_all(dist.join("completions"))?;
    let wreg = dist.join("wreg");
    std::fs::copy(crate::target_dir().join("release/wreg"), &wreg).context("copy the binary")?;
    // The release profile already leaves out debug info; the symbol table goes too.
    let status = Command::new("strip")
        .arg(&wreg)
        .status()
        .context("run `strip` (binutils)")?;
    if !status.success() {
        bail!("strip failed on {}", wreg.display());
    }

    for (shell, file) in COMPLETIONS {
        let output = Command::new(&wreg).args(["completions", shell]).output()?;
        if !output.status.success() || output.stdout.is_empty() {
            bail!("`wreg completions {shell}` failed");
        }
        std::fs::write(dist.join("completions").join(file), output.stdout)?;
    }
    let status = Command::new(&wreg)
        .arg("manpages")
        .arg(dist.join("man"))
        .status()?;
    if !status.success() {
        bail!("`wreg manpages` failed");
    }

    let mut files = Vec::new();
    list(&dist, &dist, &mut files)?;
    files.sort();
    let mut sums = String::new();
    for file in &files {
        let output = Command::new("sha256sum")
            .arg(file)
            .current_dir(&dist)
            .output()?;
        if !output.status.success() {
            bail!("sha256sum {file} failed");
        }
        sums.push_str(&String::from_utf8(output.stdout)?);
    }
    std::fs::write(dist.join("SHA256SUMS"), &sums)?;
    let size = std::fs::metadata(&wreg)?.len();
    println!(
        "target/dist: wreg ({:.1} MiB stripped), {} man pages, {} completion scripts, SHA256SUMS ({} files)",
        size as f64 / 1024.0 / 1024.0,
        files.iter().filter(|f| f.starts_with("man/")).count(),
        COMPLETIONS.len(),
        files.len()
    );
    Ok(())
}

/// Every file below `dir`, relative to `base`, with `/` separators.
fn list(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            list(base, &path, out)?;
        } else {
            let relative = path
                .strip_prefix(base)?
                .to_string_lossy()
                .replace('\\', "/");
            out.push(relative);
        }
    }
    Ok(())
}
