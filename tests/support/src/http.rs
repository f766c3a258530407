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
