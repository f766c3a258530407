//! A delay line: a TCP proxy on loopback that delivers every byte a fixed time after it
//! arrived, in each direction, so a round trip costs twice that; each new connection first
//! costs one round trip, as its handshake would. Kernel `netem` is not
//! available on these machines; this adds latency without limiting bandwidth.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A running proxy; it stops when dropped (with its runtime).
pub(crate) struct DelayLine {
    pub(crate) addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl DelayLine {
    /// Forwards connections on a fresh loopback port to `upstream`, delaying each direction
    /// by `delay`.
    pub(crate) fn start(upstream: SocketAddr, delay: Duration) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
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
                    tokio::spawn(pump(client_read, server_write, delay));
                    tokio::spawn(pump(server_read, client_write, delay));
                });
            }
        });
        Ok(Self {
            addr,
            _runtime: runtime,
        })
    }
}

/// Copies `from` to `to`, each chunk `delay` after it was read.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
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
    loop {
        match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx.send((Instant::now(), buffer[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}
