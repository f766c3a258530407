//! Support for the workspace's tests: real registries, started on loopback, and generated
//! fixture components.
//!
//! - [`Distribution`]: the CNCF `distribution` registry (Debian package `docker-registry`),
//!   started on `127.0.0.1` with a fresh storage directory. A test whose server is missing
//!   fails with a message that says what to install; it never skips.
//! - [`http`]: a minimal HTTP/1.1 client for pushing hand-made artifacts in the exact byte
//!   layout a test needs, which a registry client library would normalize away.
//! - [`warg::WargServer`]: a real `warg-server`, in process, with the memory data store.
//! - [`component`]: Wasm components generated for tests, never downloaded.
#![allow(clippy::print_stderr)]

pub mod component;
pub mod http;
pub mod secrets;
pub mod shipped;
pub mod sigstore;
pub mod tls;
pub mod token;
pub mod warg;

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running `docker-registry serve`, anonymous and plain HTTP, on `127.0.0.1`.
///
/// It is stopped when this value is dropped or, for [`Distribution::shared`], when the test
/// process exits (the server runs under a watchdog that ends it once our end of a pipe
/// closes).
#[derive(Debug)]
pub struct Distribution {
    addr: SocketAddr,
    child: Child,
    _storage: tempfile::TempDir,
}

/// How a registry authenticates clients.
enum AuthMode {
    None,
    /// One `htpasswd` line (bcrypt).
    Htpasswd(String),
    /// Tokens from a token server whose signing certificate is `cert_pem`.
    Token {
        realm: String,
        cert_pem: String,
    },
}

/// Where Debian's `docker-registry` package installs the binary.
const BINARIES: &[&str] = &["docker-registry", "/usr/bin/docker-registry", "registry"];

impl Distribution {
    /// One registry for the whole test binary, started on first use.
    pub fn shared() -> &'static Distribution {
        static SHARED: OnceLock<Distribution> = OnceLock::new();
        SHARED.get_or_init(|| Distribution::start().unwrap_or_else(|err| panic!("{err}")))
    }

    /// Starts a registry with a fresh, empty storage directory.
    ///
    /// # Errors
    /// A message saying what to install when `docker-registry` is missing, or what went
    /// wrong starting it.
    pub fn start() -> Result<Self, String> {
        Self::start_with(AuthMode::None, None, None)
    }

    /// Starts a registry that is a pull-through cache of `upstream` (`proxy: remoteurl:`):
    /// it fetches from `upstream` what it does not have, keeps it, and serves it from then
    /// on, with or without the upstream. It cannot be pushed to.
    ///
    /// # Errors
    /// As for [`start`](Self::start).
    pub fn start_pull_through(upstream: &Distribution) -> Result<Self, String> {
        Self::start_pull_through_of(upstream.addr(), None)
    }

    /// [`start_pull_through`](Self::start_pull_through) for an upstream at `remote` (plain
    /// HTTP), e.g. a registry behind a delay line, with the `(username, password)` the cache
    /// gives the upstream, if it asks.
    ///
    /// # Errors
    /// As for [`start`](Self::start).
    pub fn start_pull_through_of(
        remote: SocketAddr,
        credentials: Option<(&str, &str)>,
    ) -> Result<Self, String> {
        Self::start_with(
            AuthMode::None,
            None,
            Some((
                remote,
                credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
            )),
        )
    }

    /// Starts a registry that requires tokens from `server` (token authentication, as
    /// Docker Hub and ghcr.io use).
    ///
    /// # Errors
    /// As for [`start`](Self::start).
    pub fn start_with_token_auth(server: &token::TokenServer) -> Result<Self, String> {
        Self::start_with(
            AuthMode::Token {
                realm: server.realm(),
                cert_pem: server.cert_pem().to_owned(),
            },
            None,
            None,
        )
    }

    /// Starts a registry that serves HTTPS with a certificate for `127.0.0.1` and
    /// `localhost` signed by a fresh CA; [`tls::TestCa::ca_pem`] is that CA.
    ///
    /// # Errors
    /// As for [`start`](Self::start).
    pub fn start_tls(ca: &tls::TestCa) -> Result<Self, String> {
        Self::start_with(AuthMode::None, Some(ca), None)
    }

    /// Starts a registry that requires HTTP basic auth for one user (`htpasswd`).
    ///
    /// # Errors
    /// As for [`start`](Self::start); also when `htpasswd` (Debian `apache2-utils`) is missing.
    pub fn start_with_basic_auth(username: &str, password: &str) -> Result<Self, String> {
        let output = Command::new("htpasswd")
            .args(["-Bbn", username, password])
            .output()
            .map_err(|_| {
                "`htpasswd` is not installed: install the Debian package `apache2-utils` \
                 (`apt-get install apache2-utils`), or run `.ci/run`"
                    .to_owned()
            })?;
        if !output.status.success() {
            return Err(format!(
                "htpasswd failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let line = String::from_utf8(output.stdout).map_err(|e| e.to_string())?;
        Self::start_with(AuthMode::Htpasswd(line.trim().to_owned()), None, None)
    }

    fn start_with(
        auth: AuthMode,
        tls: Option<&tls::TestCa>,
        proxy: Option<(SocketAddr, Option<(String, String)>)>,
    ) -> Result<Self, String> {
        let binary = find_binary().ok_or_else(|| {
            "the CNCF distribution registry is not installed: install the Debian package \
             `docker-registry` (`apt-get install docker-registry`), or run `.ci/run`, which \
             installs it"
                .to_owned()
        })?;
        let storage = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let port = free_port()?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let config = storage.path().join("config.yml");
        let mut yaml = registry_config(&storage.path().join("data"), addr);
        match auth {
            AuthMode::None => {}
            AuthMode::Htpasswd(line) => {
                let file = storage.path().join("htpasswd");
                std::fs::write(&file, format!("{line}\n")).map_err(|e| format!("htpasswd: {e}"))?;
                yaml.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                    file.display()
                ));
            }
            AuthMode::Token { realm, cert_pem } => {
                let file = storage.path().join("token-signer.pem");
                std::fs::write(&file, cert_pem).map_err(|e| format!("token cert: {e}"))?;
                yaml.push_str(&format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {}\n    issuer: {}\n    \
                     rootcertbundle: {}\n",
                    token::SERVICE,
                    token::ISSUER,
                    file.display()
                ));
            }
        }
        if let Some((upstream, credentials)) = proxy {
            yaml.push_str(&format!("proxy:\n  remoteurl: http://{upstream}\n"));
            if let Some((username, password)) = credentials {
                yaml.push_str(&format!("  username: {username}\n  password: {password}\n"));
            }
        }
        if let Some(ca) = tls {
            let cert = storage.path().join("server.pem");
            let key = storage.path().join("server.key");
            std::fs::write(&cert, &ca.server_cert_pem).map_err(|e| format!("cert: {e}"))?;
            std::fs::write(&key, &ca.server_key_pem).map_err(|e| format!("key: {e}"))?;
            yaml = yaml.replace(
                &format!("  addr: {addr}\n"),
                &format!(
                    "  addr: {addr}\n  tls:\n    certificate: {}\n    key: {}\n",
                    cert.display(),
                    key.display()
                ),
            );
        }
        std::fs::write(&config, yaml).map_err(|e| format!("write {}: {e}", config.display()))?;
        let log = storage.path().join("registry.log");
        // The shell ends the registry when our end of its stdin closes, which happens when
        // this process exits for any reason, so no registry outlives its tests.
        let script = format!(
            "{binary} serve '{}' >'{}' 2>&1 & pid=$!; read _ignored; kill $pid; wait $pid",
            config.display(),
            log.display()
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            // The shell's own notices ("Terminated"); the registry logs to its file.
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start {binary}: {e}"))?;
        let registry = Self {
            addr,
            child,
            _storage: storage,
        };
        if tls.is_some() {
            registry.wait_listening(&log)?;
        } else {
            registry.wait_ready(&log)?;
        }
        Ok(registry)
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The registry's name as a package registry: `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// For a TLS registry, which our plain-HTTP probe cannot talk to: wait for the port.
    fn wait_listening(&self, log: &Path) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if is_listening(self.addr) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(log).unwrap_or_default();
        Err(format!(
            "docker-registry (TLS) did not listen on {} within 20 s; its log:\n{log}",
            self.addr
        ))
    }

    fn wait_ready(&self, log: &Path) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            // 401 is an answer too: the registry is up and wants credentials.
            if let Ok(response) = http::request(self.addr, "GET", "/v2/", &[], &[])
                && matches!(response.status, 200 | 401)
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(log).unwrap_or_default();
        Err(format!(
            "docker-registry did not answer on {} within 20 s; its log:\n{log}",
            self.addr
        ))
    }
}

impl Drop for Distribution {
    fn drop(&mut self) {
        if let Some(stdin) = self.child.stdin.as_mut() {
            let _ = stdin.write_all(b"\n");
        }
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn find_binary() -> Option<String> {
    BINARIES.iter().find_map(|candidate| {
        let ok = Command::new(candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| (*candidate).to_owned())
    })
}

/// A port that was free a moment ago.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local_addr: {e}"))
}

fn registry_config(data: &Path, addr: SocketAddr) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: {addr}\n",
        data.display()
    )
}

/// Runs `skopeo --insecure-policy <args>` (Debian package `skopeo`) and returns its
/// output; panics with what to install when it is missing, and with its error when it fails.
pub fn skopeo(args: &[&str]) -> String {
    let output = Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .unwrap_or_else(|_| {
            panic!(
                "`skopeo` is not installed: install the Debian package `skopeo` \
                 (`apt-get install skopeo`), or run `.ci/run`"
            )
        });
    assert!(
        output.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("skopeo prints UTF-8")
}

/// A memory figure of this process from `/proc/self/status`, in KiB: `VmRSS` (resident now)
/// or `VmHWM` (the peak); 0 where there is no such file.
pub fn memory_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// Whether something listens on `addr` (for tests of servers that should be gone).
pub fn is_listening(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// This test binary, run again for one test only (`--exact`, one thread, output not
/// captured): how a test runs part of itself in a child process, which it tells apart by an
/// environment variable it sets on the returned command.
pub fn rerun_test(test: &str) -> std::process::Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = std::process::Command::new(exe);
    command.args(["--exact", test, "--test-threads=1", "--nocapture"]);
    command
}
