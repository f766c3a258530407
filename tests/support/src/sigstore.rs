//! sigstore-js, the independent party of the provenance tests: it signs in-toto statements
//! against `@sigstore/mock`'s Fulcio, Rekor and CT log on loopback, attaches bundles to OCI
//! manifests as `actions/attest` does, and verifies bundles with `@sigstore/verify`.
//!
//! The script is `tests/support/sigstore/sigstore.js`; its npm packages (versions pinned in
//! `package.json` and `package-lock.json` beside it) are installed by `.ci/run` into
//! `target/sigstore-js`. A test run without them fails saying how to install them.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// The workspace root (this crate is `tests/support`).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn script() -> PathBuf {
    workspace().join("tests/support/sigstore/sigstore.js")
}

/// Where the npm packages are: `$SIGSTORE_JS_MODULES`, else `target/sigstore-js/node_modules`
/// (or under `$CARGO_TARGET_DIR`).
fn node_modules() -> PathBuf {
    if let Some(dir) = std::env::var_os("SIGSTORE_JS_MODULES") {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let target = if target.is_relative() {
        workspace().join(target)
    } else {
        target
    };
    target.join("sigstore-js/node_modules")
}

/// A `node sigstore.js <command>` ready to run; panics saying what to install when Node or
/// the packages are missing.
fn node(command: &str) -> Command {
    let modules = node_modules();
    assert!(
        modules.join("@sigstore/sign").is_dir(),
        "sigstore-js is not installed at {}: run `.ci/run`, or `mkdir -p target/sigstore-js && cp \
         tests/support/sigstore/package*.json target/sigstore-js/ && npm ci --prefix \
         target/sigstore-js` (Debian: `apt-get install nodejs npm`)",
        modules.display()
    );
    let mut cmd = Command::new("node");
    cmd.arg(script()).arg(command).env("NODE_PATH", &modules);
    cmd
}

fn run(mut cmd: Command, what: &str) -> Result<String, String> {
    let out = cmd.output().unwrap_or_else(|err| {
        panic!("cannot run node for sigstore-js {what}: {err}; install Debian `nodejs`")
    });
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// One statement to sign: its label (the bundle is `<label>.sigstore.json`), the sha256 of
/// its subject in hex, and the signer's identity (an email address or a URI).
#[derive(Clone, Debug)]
pub struct Job<'a> {
    /// The file name stem.
    pub label: &'a str,
    /// The subject digest, 64 hex digits.
    pub subject_hex: &'a str,
    /// The identity the certificate names.
    pub identity: &'a str,
}

/// Signs each job under one mock instance, writing `<label>.sigstore.json` and
/// `trusted_root.json` into `out`, and returns the trusted root's path.
pub fn sign(jobs: &[Job<'_>], issuer: &str, out: &Path) -> PathBuf {
    let spec: Vec<String> = jobs
        .iter()
        .map(|job| format!("{}={}={}", job.label, job.subject_hex, job.identity))
        .collect();
    let mut cmd = node("sign");
    cmd.env("SIGN", spec.join(" "))
        .env("ISSUER", issuer)
        .env("OUT", out);
    run(cmd, "sign").unwrap_or_else(|err| panic!("sigstore-js could not sign: {err}"));
    out.join("trusted_root.json")
}

/// What `@sigstore/verify` expects of a bundle.
#[derive(Clone, Debug)]
pub enum Expect<'a> {
    /// A keyless signature by this identity and issuer.
    Keyless {
        /// The certificate's subject alternative name.
        identity: &'a str,
        /// The OIDC issuer.
        issuer: &'a str,
    },
    /// A signature by the key in this PEM file.
    Key(&'a Path),
}

/// Verifies `bundle` with `@sigstore/verify` under `root`, for a statement about
/// `subject_hex`. `Ok` holds what it printed (the signer as JSON), `Err` its reason.
pub fn verify(
    bundle: &Path,
    root: &Path,
    subject_hex: &str,
    expect: Expect<'_>,
) -> Result<String, String> {
    let mut cmd = node("verify");
    cmd.env("BUNDLE", bundle)
        .env("ROOT", root)
        .env("DIGEST", subject_hex);
    match expect {
        Expect::Keyless { identity, issuer } => {
            cmd.env("IDENTITY", identity).env("ISSUER", issuer);
        }
        Expect::Key(pem) => {
            cmd.env("PUBLIC_KEY", pem);
        }
    }
    run(cmd, "verify")
}

/// Attaches `bundle` to the manifest `digest` (`sha256:<hex>`) of `repo` on the registry at
/// `registry` (`127.0.0.1:<port>`, plain HTTP) with `@sigstore/oci`, as `actions/attest`
/// does; returns the referrer manifest's digest.
pub fn attach(registry: &str, repo: &str, digest: &str, bundle: &Path) -> String {
    let mut cmd = node("attach");
    cmd.env("REGISTRY", registry)
        .env("REPO", repo)
        .env("DIGEST", digest)
        .env("BUNDLE", bundle);
    run(cmd, "attach")
        .unwrap_or_else(|err| panic!("sigstore-js could not attach: {err}"))
        .trim()
        .to_owned()
}

/// Mock Fulcio and Rekor served by sigstore-js until dropped, for a signer under test.
#[derive(Debug)]
pub struct MockInstance {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Fulcio's and Rekor's base URL (one server).
    pub url: String,
    /// The trusted root made from the instance's keys.
    pub trusted_root: PathBuf,
    /// An OIDC token for the identity and issuer it was started with.
    pub token: String,
    identity: String,
    issuer: String,
    _dir: tempfile::TempDir,
}

impl MockInstance {
    /// Starts an instance issuing certificates to `identity` from `issuer`.
    pub fn start(identity: &str, issuer: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = node("serve");
        cmd.env("OUT", dir.path())
            .env("IDENTITY", identity)
            .env("ISSUER", issuer)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run node: {err}; install Debian `nodejs`"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut url = String::new();
        BufReader::new(stdout)
            .read_line(&mut url)
            .expect("read the mock's URL");
        assert!(
            url.starts_with("http://"),
            "sigstore-js serve did not start (said {url:?}); see its stderr above"
        );
        let token = std::fs::read_to_string(dir.path().join("token")).expect("mock token");
        Self {
            stdin: child.stdin.take(),
            child,
            url: url.trim().to_owned(),
            trusted_root: dir.path().join("trusted_root.json"),
            token,
            identity: identity.to_owned(),
            issuer: issuer.to_owned(),
            _dir: dir,
        }
    }

    /// A `[registry."<registry>".provenance]` table that signs with this instance and
    /// requires, on every fetch, a signature by the identity and issuer it was started with.
    pub fn policy(&self, registry: &str) -> String {
        format!(
            "[registry.\"{registry}\".provenance]\nverify = \"always\"\ntrusted_root = {root:?}\n\
             fulcio_url = \"{url}\"\nrekor_url = \"{url}\"\nidentity = \"{identity}\"\n\
             issuer = \"{issuer}\"\n",
            root = self.trusted_root.display().to_string(),
            url = self.url,
            identity = self.identity,
            issuer = self.issuer,
        )
    }
}

impl Drop for MockInstance {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if self.child.try_wait().ok().flatten().is_none() {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
