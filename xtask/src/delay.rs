//! A delay line: a TCP proxy on loopback that delivers every byte a fixed time after it
//! arrived, in each direction, so a round trip costs twice that; each new connection first
//! costs one round trip, as its handshake would. Kernel `netem` is not
//! available on these machines; this adds latency without limiting bandwidth.
//!
//! A line can also change one string in what the server answers ([`Rewrite`]): a registry
//! behind it then names, in its token challenge, a token service behind another line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A running proxy; it stops when dropped (with its runtime).
pub(crate) struct DelayLine {
    pub(crate) addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

/// A string the server's answers carry that the client is to read as another: every `from`
/// that arrives whole in one read becomes `to`.
///
/// One read is one TCP segment or more, and an HTTP server writes a short answer's headers
/// in one, so a header is split between reads only by chance; one that was goes through
/// unchanged and is counted in [`missed`](Self::missed), for the caller to fail on.
pub(crate) struct Rewrite {
    from: Vec<u8>,
    to: Vec<u8>,
    done: AtomicUsize,
    missed: AtomicUsize,
}

impl Rewrite {
    pub(crate) fn new(from: &str, to: &str) -> Arc<Self> {
        assert!(!from.is_empty(), "a rewrite of nothing");
        Arc::new(Self {
            from: from.as_bytes().to_vec(),
            to: to.as_bytes().to_vec(),
            done: AtomicUsize::new(0),
            missed: AtomicUsize::new(0),
        })
    }

    /// How many `from` were changed so far.
    pub(crate) fn done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }

    /// How many `from` arrived split between two reads and went through unchanged.
    pub(crate) fn missed(&self) -> usize {
        self.missed.load(Ordering::Relaxed)
    }

    /// `chunk` with every `from` in it changed; `tail` holds the end of what this stream
    /// read before, to notice a `from` split between reads.
    fn apply(&self, chunk: &[u8], tail: &mut Vec<u8>) -> Vec<u8> {
        let keep = self.from.len() - 1;
        // `tail` and the start of `chunk` are each shorter than `from`: a `from` in their
        // join lies across the seam.
        let mut seam = tail.clone();
        seam.extend_from_slice(&chunk[..chunk.len().min(keep)]);
        if find(&seam, &self.from).is_some() {
            self.missed.fetch_add(1, Ordering::Relaxed);
        }
        tail.extend_from_slice(chunk);
        tail.drain(..tail.len() - keep.min(tail.len()));
        let mut out = Vec::with_capacity(chunk.len());
        let mut rest = chunk;
        while let Some(at) = find(rest, &self.from) {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(&self.to);
            rest = &rest[at + self.from.len()..];
            self.done.fetch_add(1, Ordering::Relaxed);
        }
        out.extend_from_slice(rest);
        out
    }
}

fn find(text: &[u8], pattern: &[u8]) -> Option<usize> {
    text.windows(pattern.len()).position(|w| w == pattern)
}

impl DelayLine {
    /// Forwards connections on a fresh loopback port to `upstream`, delaying each direction
    /// by `delay`.
    pub(crate) fn start(upstream: SocketAddr, delay: Duration) -> std::io::Result<Self> {
        Self::start_rewriting(upstream, delay, None)
    }

    /// [`start`](Self::start), with `rewrite` applied to what `upstream` answers.
    pub(crate) fn start_rewriting(
        upstream: SocketAddr,
        delay: Duration,
        rewrite: Option<Arc<Rewrite>>,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::Relaxed);
                let rewrite = rewrite.clone();
                tokio::spawn(async move {
                    // A new connection costs a round trip (the TCP handshake) before the
                    // client's first byte can travel: nothing moves either way until then,
                    // so a client that opens many connections pays for each.
                    tokio::time::sleep(delay * 2).await;
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::spawn(pump(client_read, server_write, delay, None));
                    tokio::spawn(pump(server_read, client_write, delay, rewrite));
                });
            }
        });
        Ok(Self {
            addr,
            connections,
            _runtime: runtime,
        })
    }

    /// How many connections clients opened through the line so far.
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

/// Copies `from` to `to`, each chunk `delay` after it was read (and rewritten, if asked).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    rewrite: Option<Arc<Rewrite>>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at + delay).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut buffer = vec![0u8; 64 * 1024];
    let mut tail = Vec::new();
    loop {
        match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let at = Instant::now();
                let chunk = match &rewrite {
                    Some(rewrite) => rewrite.apply(&buffer[..n], &mut tail),
                    None => buffer[..n].to_vec(),
                };
                if tx.send((at, chunk)).is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_changes_what_arrives_whole_and_counts_what_was_split() {
        let rewrite = Rewrite::new("realm=\"http://a:1/token\"", "realm=\"http://b:22/token\"");
        let mut tail = Vec::new();
        let header = b"Www-Authenticate: Bearer realm=\"http://a:1/token\",service=\"s\"\r\n";
        let changed = rewrite.apply(header, &mut tail);
        assert_eq!(
            changed,
            b"Www-Authenticate: Bearer realm=\"http://b:22/token\",service=\"s\"\r\n"
        );
        assert_eq!((rewrite.done(), rewrite.missed()), (1, 0));
        // Nothing else is touched, in short reads or long ones.
        assert_eq!(rewrite.apply(b"realm", &mut tail), b"realm");
        let body = vec![7u8; 100_000];
        assert_eq!(rewrite.apply(&body, &mut tail), body);
        assert_eq!((rewrite.done(), rewrite.missed()), (1, 0));
        // Split between two reads: through unchanged, and counted.
        let (head, rest) = header.split_at(35);
        let mut tail = Vec::new();
        let mut out = rewrite.apply(head, &mut tail);
        out.extend(rewrite.apply(rest, &mut tail));
        assert_eq!(out, header);
        assert_eq!((rewrite.done(), rewrite.missed()), (1, 1));
        // Split over three reads, the middle one shorter than the string.
        let mut tail = Vec::new();
        for part in [&header[..30], &header[30..40], &header[40..]] {
            rewrite.apply(part, &mut tail);
        }
        assert_eq!((rewrite.done(), rewrite.missed()), (1, 2));
    }
}
