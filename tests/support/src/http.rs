//! A minimal HTTP/1.1 client over `std::net`, for driving a registry by hand in tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response: status, headers (names lowercased) and body.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of this name (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request (`Connection: close`) and reads the whole response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;

    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let mut body = Vec::new();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim(), 16).map_err(std::io::Error::other)?;
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        reader.read_to_end(&mut body)?;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Uploads `blob` to `repository`: an upload session (POST), then the whole blob in the
/// closing PUT, the way every registry accepts.
///
/// # Panics
/// If the registry refuses it.
pub fn push_blob(addr: SocketAddr, repository: &str, digest: &str, blob: &[u8]) {
    let start = request(
        addr,
        "POST",
        &format!("/v2/{repository}/blobs/uploads/"),
        &[],
        &[],
    )
    .expect("start a blob upload");
    assert_eq!(
        start.status,
        202,
        "start upload: {}",
        String::from_utf8_lossy(&start.body)
    );
    let location = start.header("location").expect("an upload location");
    // The location may be absolute; keep its path and query.
    let path = match location.find("/v2/") {
        Some(at) => &location[at..],
        None => location,
    };
    let separator = if path.contains('?') { '&' } else { '?' };
    let response = request(
        addr,
        "PUT",
        &format!("{path}{separator}digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        blob,
    )
    .expect("push blob");
    assert_eq!(
        response.status,
        201,
        "push blob {digest}: {}",
        String::from_utf8_lossy(&response.body)
    );
}

/// Uploads a manifest under `reference` (a tag or digest) with the given content type.
///
/// # Panics
/// If the registry refuses it.
pub fn push_manifest(
    addr: SocketAddr,
    repository: &str,
    reference: &str,
    content_type: &str,
    manifest: &[u8],
) {
    let path = format!("/v2/{repository}/manifests/{reference}");
    let response = request(
        addr,
        "PUT",
        &path,
        &[("Content-Type", content_type)],
        manifest,
    )
    .expect("push manifest");
    assert_eq!(
        response.status,
        201,
        "push manifest {reference}: {}",
        String::from_utf8_lossy(&response.body)
    );
}

/// A web front end on `127.0.0.1` before a registry: every request for the registry's
/// well-known document (`/.well-known/...`) gets one status and body (a web page, an
/// error), or is held without an answer, as registries' front ends do; every other request
/// is passed to the registry behind it, byte for byte.
#[derive(Debug)]
pub struct FrontEnd {
    addr: SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// What a [`FrontEnd`] does with a request.
#[derive(Clone, Debug)]
enum Mode {
    /// The well-known document gets this answer (`None`: held without one); the rest is
    /// relayed, at `rate` bytes a second when given.
    WellKnown(Option<(u16, String)>, Option<u64>),
    /// Every blob (`GET .../blobs/<digest>`) is answered with `\0asm` and zeros without end
    /// (up to `limit` bytes, or until the client hangs up); the rest is relayed.
    EndlessBlobs(u64),
}

impl FrontEnd {
    /// Answers `status` with `body` (`text/html`) for the well-known document; passes the
    /// rest to `upstream`.
    ///
    /// # Panics
    /// If it cannot bind a port.
    pub fn answering(upstream: SocketAddr, status: u16, body: &str) -> Self {
        Self::start(
            upstream,
            Mode::WellKnown(Some((status, body.to_owned())), None),
        )
    }

    /// A hostile mirror of `upstream`: every blob it is asked for is Wasm's magic, `\0asm`,
    /// then zeros that do not end (up to `limit` bytes, or until the client hangs up);
    /// manifests, tags and the rest come from `upstream`. [`bytes_sent`](Self::bytes_sent) says how much of it
    /// went out.
    ///
    /// # Panics
    /// If it cannot bind a port.
    pub fn endless_blobs(upstream: SocketAddr, limit: u64) -> Self {
        Self::start(upstream, Mode::EndlessBlobs(limit))
    }

    /// The bytes of blob bodies written to clients so far (what the kernel accepted).
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A slow link to `upstream`: its answers reach the client at about `bytes_per_second`
    /// (the well-known document is a 404).
    ///
    /// # Panics
    /// If it cannot bind a port.
    pub fn throttled(upstream: SocketAddr, bytes_per_second: u64) -> Self {
        Self::start(
            upstream,
            Mode::WellKnown(Some((404, String::new())), Some(bytes_per_second)),
        )
    }

    /// Holds requests for the well-known document without answering (until dropped);
    /// passes the rest to `upstream`.
    ///
    /// # Panics
    /// If it cannot bind a port.
    pub fn stalling(upstream: SocketAddr) -> Self {
        Self::start(upstream, Mode::WellKnown(None, None))
    }

    fn start(upstream: SocketAddr, mode: Mode) -> Self {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
        let addr = listener.local_addr().expect("local address");
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let sent = std::sync::Arc::new(AtomicU64::new(0));
        let (stopping, counting) = (stop.clone(), sent.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (mode, stopping, counting) = (mode.clone(), stopping.clone(), counting.clone());
                std::thread::spawn(move || {
                    let _ = front(stream, upstream, &mode, &stopping, &counting);
                });
            }
        });
        Self { addr, stop, sent }
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

/// Serves one connection: the well-known document from `answer` (or a stall), anything
/// else by relaying the connection to `upstream`.
fn front(
    mut stream: TcpStream,
    upstream: SocketAddr,
    mode: &Mode,
    stopping: &std::sync::atomic::AtomicBool,
    sent: &std::sync::atomic::AtomicU64,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut words = head.split_whitespace();
    let (method, path) = (words.next().unwrap_or("GET"), words.next().unwrap_or("/"));
    let (answer, rate) = match mode {
        Mode::WellKnown(answer, rate) => (answer.as_ref(), *rate),
        Mode::EndlessBlobs(limit) if method == "GET" && path.contains("/blobs/") => {
            stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                  Connection: close\r\n\r\n",
            )?;
            // Wasm's magic first, so a reader that checks it reads on: the cut-off at the
            // size or the ceiling is what ends it.
            let mut chunk = vec![0u8; 1 << 20];
            chunk[..4].copy_from_slice(b"\0asm");
            let mut written = 0u64;
            while written < *limit && !stopping.load(std::sync::atomic::Ordering::Relaxed) {
                let n = chunk.len().min((*limit - written) as usize);
                stream.write_all(&chunk[..n])?;
                chunk[..4].fill(0);
                written += n as u64;
                sent.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
            }
            return Ok(());
        }
        Mode::EndlessBlobs(_) => (None, None),
    };
    if !path.starts_with("/.well-known/") || matches!(mode, Mode::EndlessBlobs(_)) {
        let mut registry = TcpStream::connect(upstream)?;
        registry.write_all(head.as_bytes())?;
        registry.write_all(reader.buffer())?;
        let mut from_registry = registry.try_clone()?;
        let mut to_client = stream.try_clone()?;
        let back = std::thread::spawn(move || match rate {
            None => std::io::copy(&mut from_registry, &mut to_client),
            Some(rate) => copy_slowly(&mut from_registry, &mut to_client, rate),
        });
        std::io::copy(&mut stream, &mut registry)?;
        let _ = registry.shutdown(std::net::Shutdown::Write);
        let _ = back.join();
        return Ok(());
    }
    match answer {
        Some((status, body)) => write!(
            stream,
            "HTTP/1.1 {status} Whatever\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        ),
        // Hold the connection open, bounded, until dropped.
        None => {
            for _ in 0..600 {
                if stopping.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(())
        }
    }
}

/// Copies at about `rate` bytes a second, in chunks a tenth of a second long.
fn copy_slowly(from: &mut TcpStream, to: &mut TcpStream, rate: u64) -> std::io::Result<u64> {
    let mut buf = vec![0; (rate / 10).clamp(1, 1 << 20) as usize];
    let mut total = 0;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        to.write_all(&buf[..n])?;
        total += n as u64;
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for FrontEnd {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}
