//! A real `warg-server`, in process, on `127.0.0.1:0`, with the memory data store.

use std::net::SocketAddr;
use std::time::Duration;

use warg_crypto::signing::PrivateKey;
use warg_protocol::operator::NamespaceState;
use warg_server::policy::content::WasmContentPolicy;

/// The namespaces a server defines unless told otherwise.
pub const NAMESPACES: &[&str] = &["test", "demo", "example", "wasi"];

/// A deterministic signing key, `ecdsa-p256:<base64>`, different for each `seed` (1..=253).
/// The operator uses seed 254.
pub fn signing_key(seed: u8) -> String {
    format!("ecdsa-p256:{}", crate::token::base64(&[seed; 32], false))
}

/// The key ID warg computes for [`signing_key`]`(seed)`.
pub fn key_id(seed: u8) -> String {
    PrivateKey::decode(signing_key(seed))
        .expect("a valid key")
        .public_key()
        .fingerprint()
        .to_string()
}

/// A running warg server. It stops when dropped.
#[derive(Debug)]
pub struct WargServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _content: tempfile::TempDir,
}

/// Options for [`WargServer`].
#[derive(Debug, Default)]
pub struct Builder {
    namespaces: Option<Vec<String>>,
    content_base_url: Option<String>,
    port: u16,
    operator_seed: Option<u8>,
}

impl Builder {
    /// Defines exactly these namespaces.
    pub fn namespaces(mut self, namespaces: &[&str]) -> Self {
        self.namespaces = Some(namespaces.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    /// Tells clients to download content from `url` (`<url>/content/<digest>`), e.g. a
    /// wiremock server that serves tampered bytes. Uploads still go to the server.
    pub fn content_base_url(mut self, url: &str) -> Self {
        self.content_base_url = Some(url.to_owned());
        self
    }

    /// Listens on this port (default: any free one), e.g. to stand a different registry
    /// where a client met another.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Signs the operator log and checkpoints with [`signing_key`]`(seed)` (default 254).
    pub fn operator_seed(mut self, seed: u8) -> Self {
        self.operator_seed = Some(seed);
        self
    }

    /// Starts the server on its own thread and runtime, and waits until it listens.
    pub fn start(self) -> WargServer {
        let content = tempfile::tempdir().expect("a temporary directory");
        let content_dir = content.path().to_owned();
        let namespaces = self
            .namespaces
            .unwrap_or_else(|| NAMESPACES.iter().map(|s| (*s).to_owned()).collect());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let content_base_url = self.content_base_url;
        let port = self.port;
        let operator_seed = self.operator_seed.unwrap_or(254);
        let thread = std::thread::Builder::new()
            .name("warg-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a runtime");
                runtime.block_on(async move {
                    let operator =
                        PrivateKey::decode(signing_key(operator_seed)).expect("a valid key");
                    let mut config = warg_server::Config::new(
                        operator,
                        Some(
                            namespaces
                                .into_iter()
                                .map(|ns| (ns, NamespaceState::Defined))
                                .collect(),
                        ),
                        content_dir,
                    )
                    .with_addr(SocketAddr::from(([127, 0, 0, 1], port)))
                    .with_checkpoint_interval(Duration::from_millis(100))
                    .with_content_policy(WasmContentPolicy::default())
                    .with_shutdown(async move {
                        let _ = shutdown_rx.await;
                    });
                    if let Some(url) = content_base_url {
                        config =
                            config.with_content_base_url(url.parse().expect("a valid content URL"));
                    }
                    let server = warg_server::Server::new(config)
                        .initialize()
                        .await
                        .expect("warg-server initializes");
                    addr_tx
                        .send(server.local_addr().expect("a bound address"))
                        .expect("the test is waiting");
                    if let Err(err) = server.serve().await {
                        eprintln!("warg-server stopped with an error: {err:#}");
                    }
                });
            })
            .expect("a thread");
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("warg-server did not start within 30 s");
        WargServer {
            addr,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
            _content: content,
        }
    }
}

impl WargServer {
    /// A server defining [`NAMESPACES`].
    pub fn start() -> Self {
        Self::builder().start()
    }

    /// Options.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// `127.0.0.1:<port>`, the registry name clients use.
    pub fn registry(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for WargServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
