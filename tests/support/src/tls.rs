//! A throwaway certificate authority and a server certificate for loopback.

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};

/// A CA and a server certificate it signed for `127.0.0.1`, `::1` and `localhost`.
#[derive(Debug, Clone)]
pub struct TestCa {
    /// The CA certificate, PEM: what a client must trust.
    pub ca_pem: String,
    /// The server certificate, PEM.
    pub server_cert_pem: String,
    /// The server's private key, PEM.
    pub server_key_pem: String,
}

impl TestCa {
    /// Generates a fresh CA and server certificate.
    ///
    /// # Panics
    /// If key generation fails.
    pub fn new() -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "wreg test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
        let server_cert = params
            .signed_by(&server_key, &issuer)
            .expect("server certificate");
        Self {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
        }
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

/// HTTPS in front of a plain-HTTP server on loopback: `socat` (Debian package `socat`)
/// terminating TLS with a [`TestCa`] server certificate. Stopped when dropped.
#[derive(Debug)]
pub struct TlsTerminator {
    addr: std::net::SocketAddr,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl TlsTerminator {
    /// Serves HTTPS on a free loopback port, forwarding each connection to `backend`.
    ///
    /// # Errors
    /// A message saying what to install when `socat` is missing, or why it did not start.
    pub fn start(ca: &TestCa, backend: std::net::SocketAddr) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (cert, key) = (dir.path().join("server.pem"), dir.path().join("server.key"));
        std::fs::write(&cert, &ca.server_cert_pem).map_err(|e| e.to_string())?;
        std::fs::write(&key, &ca.server_key_pem).map_err(|e| e.to_string())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = std::process::Command::new("socat")
            .arg(format!(
                "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={},key={},verify=0",
                cert.display(),
                key.display()
            ))
            .arg(format!("TCP:{backend}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|_| {
                "`socat` is not installed: install the Debian package `socat` \
                 (`apt-get install socat`), or run `.ci/run`"
                    .to_owned()
            })?;
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !crate::is_listening(addr) {
            if std::time::Instant::now() > deadline {
                return Err(format!("socat did not listen on {addr} within 10 s"));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Ok(Self {
            addr,
            child,
            _dir: dir,
        })
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }
}

impl Drop for TlsTerminator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
