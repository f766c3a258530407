//! A loopback relay between warg-client and a warg server, for what warg-client's own HTTP
//! client cannot do.
//!
//! warg-client builds `reqwest::Client::new()` itself: it trusts the public roots only, has
//! no timeouts, and reads whole answers into memory. So warg-client is pointed at
//! `http://127.0.0.1:<port>/<secret>/`, and the relay sends each request on to the server
//! with our client: the TLS trust the configuration gives (`ca_file`, `ca_pem`,
//! `insecure_skip_tls_verify`), `connect_timeout` and `read_timeout`. JSON answers from the
//! server (the warg API) are read with a cap as they stream, and the URLs in the fields
//! that name content sources and upload endpoints are rewritten to pass through the relay
//! too; other bodies (content, checked against its digest by the backend) are streamed.
//!
//! It is not an open proxy for other local processes (another user on a shared machine, a
//! web page through DNS rebinding):
//!
//! - every URL it hands warg-client starts with a secret path segment, 128 bits from the
//!   OS's random source, made when the relay starts; a request without it is refused (403)
//!   before anything is sent on. The secret stays out of warg-client's state on disk
//!   (`storage.rs` maps the label warg-client derives from the URL) and out of our error
//!   messages ([`redact`]); warg-client's own debug-level log does show the URLs it asks;
//! - a request whose `Host` (or absolute request target) is not the relay's own
//!   `127.0.0.1:<port>` is refused (403);
//! - it forwards to the server's origin, and otherwise only to the exact URLs the server
//!   named as content sources (for `GET`) or upload endpoints (for their method), for an
//!   hour, at most [`LEARNED_MAX`] of them;
//! - it follows no redirect: a 3xx answer becomes a 502 naming where it pointed, so one
//!   `302` cannot take a request past the list above.
//!
//! Its accept loop backs off (10 ms doubling to 1 s) while accepting fails (no file
//! descriptors left, say), and starting it returns errors rather than panicking.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt as _, TryStreamExt as _};
use http_body_util::{BodyExt as _, BodyStream, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use indexmap::IndexMap;
use reqwest::Url;

/// The largest JSON answer read from a warg server (a page of package log records).
pub(crate) const ANSWER_MAX_BYTES: usize = 32 * 1024 * 1024;
/// Where a rewritten absolute URL goes, after the secret: `/__relay/<percent-encoded URL>`.
const RELAYED: &str = "/__relay/";
/// The secret's length in bytes (its text is twice as long, in hex).
const SECRET_BYTES: usize = 16;
/// How many URLs named by the server are remembered at once (the oldest are forgotten).
const LEARNED_MAX: usize = 1024;
/// How long a URL named by the server may be used.
const LEARNED_FOR: Duration = Duration::from_secs(60 * 60);
/// The first and the longest pause after a failed accept.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// Locks `mutex`; a panic elsewhere while holding it leaves data that is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn io_error(what: &str, err: impl std::fmt::Display) -> registry_core::Error {
    registry_core::Error::Io {
        path: None,
        source: std::io::Error::other(format!("starting the warg relay: {what}: {err}")),
    }
}

struct State {
    http: reqwest::Client,
    /// The server, without a trailing slash.
    upstream: String,
    /// The server as warg-client would read it (with a trailing slash), to resolve the
    /// relative URLs it names.
    upstream_base: Url,
    /// This relay's `Host`: `127.0.0.1:<port>`.
    host: String,
    /// The first path segment every request must carry.
    secret: String,
    /// The URLs the server named, with the method each may be used with.
    learned: Mutex<IndexMap<(Method, String), Instant>>,
    /// Accepts that failed (for the log, and the test of the back-off).
    accept_failures: AtomicU64,
}

impl State {
    /// The URL warg-client is handed: `http://127.0.0.1:<port>/<secret>/`.
    fn base(&self) -> String {
        format!("http://{}/{}/", self.host, self.secret)
    }

    /// `url` through the relay, usable with `method` from now on.
    fn learn(&self, method: Method, url: &Url) -> String {
        let url = url.as_str();
        let mut learned = lock(&self.learned);
        learned.shift_remove(&(method.clone(), url.to_owned()));
        learned.insert((method, url.to_owned()), Instant::now());
        while learned.len() > LEARNED_MAX {
            learned.shift_remove_index(0);
        }
        format!(
            "http://{}/{}{RELAYED}{}",
            self.host,
            self.secret,
            encode(url)
        )
    }

    /// Whether the server named `url` for `method` within the last [`LEARNED_FOR`].
    fn allows(&self, method: &Method, url: &str) -> bool {
        lock(&self.learned)
            .get(&(method.clone(), url.to_owned()))
            .is_some_and(|at| at.elapsed() < LEARNED_FOR)
    }
}

/// The runtime relays run on: their own, for the life of the process, so a relay outlives
/// whichever runtime asked for it (a test's, a tool's).
fn runtime() -> Result<tokio::runtime::Handle, registry_core::Error> {
    static RUNTIME: Mutex<Option<tokio::runtime::Handle>> = Mutex::new(None);
    let mut slot = lock(&RUNTIME);
    if let Some(handle) = &*slot {
        return Ok(handle.clone());
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("warg-relay".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("warg-relay")
                .enable_all()
                .build()
            {
                Ok(runtime) => {
                    let _ = sender.send(Ok(runtime.handle().clone()));
                    runtime.block_on(std::future::pending::<()>());
                }
                Err(err) => {
                    let _ = sender.send(Err(err));
                }
            }
        })
        .map_err(|err| io_error("its thread", err))?;
    let handle = receiver
        .recv()
        .map_err(|_| io_error("its runtime", "its thread ended before it started"))?
        .map_err(|err| io_error("its runtime", err))?;
    *slot = Some(handle.clone());
    Ok(handle)
}

/// What makes two relays different.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RelayKey {
    /// The warg server's URL.
    pub(crate) upstream: String,
    /// The settings the client was built from (TLS trust, timeouts), as text.
    pub(crate) settings: String,
}

/// The relays started in this process.
fn relays() -> &'static Mutex<HashMap<RelayKey, Arc<State>>> {
    static RELAYS: std::sync::OnceLock<Mutex<HashMap<RelayKey, Arc<State>>>> =
        std::sync::OnceLock::new();
    RELAYS.get_or_init(Mutex::default)
}

/// The relay for `key`, started on first use with the client `http()` builds (the relay
/// makes it follow no redirect); the URL warg-client is to use, with the secret in it.
///
/// # Errors
/// When the loopback port cannot be bound, the OS gives no random bytes, the relay's
/// thread or runtime cannot start, or `http` fails.
pub(crate) fn shared(
    key: RelayKey,
    registry: &registry_core::Registry,
    http: impl FnOnce() -> Result<reqwest::ClientBuilder, registry_core::Error>,
) -> Result<String, registry_core::Error> {
    let mut relays = lock(relays());
    if let Some(state) = relays.get(&key) {
        return Ok(state.base());
    }
    let state = start(&key.upstream, registry, http()?)?;
    tracing::debug!(upstream = %key.upstream, relay = %state.host, "warg relay started");
    let base = state.base();
    relays.insert(key, state);
    Ok(base)
}

/// `text` with every relay's secret URL replaced by the server it stands for, so that no
/// message shows a secret (warg-client's errors name the URLs it asked).
pub(crate) fn redact(text: &str) -> String {
    let relays = lock(relays());
    let mut text = text.to_owned();
    for state in relays.values() {
        let own = format!("http://{}/{}", state.host, state.secret);
        if text.contains(&own) {
            text = text.replace(&own, &state.upstream);
        }
        if text.contains(&state.secret) {
            text = text.replace(&state.secret, "<relay>");
        }
    }
    text
}

/// 128 bits from the OS's random source, in hex.
fn secret() -> Result<String, registry_core::Error> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|err| io_error("its secret", err))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Starts a relay in front of `upstream`, on a loopback port of its own.
fn start(
    upstream: &str,
    registry: &registry_core::Registry,
    http: reqwest::ClientBuilder,
) -> Result<Arc<State>, registry_core::Error> {
    let http = http
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|err| {
            registry_core::Error::registry_with_source(registry, "cannot build an HTTP client", err)
        })?;
    let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .map_err(|err| io_error("binding a loopback port", err))?;
    listener
        .set_nonblocking(true)
        .map_err(|err| io_error("its listener", err))?;
    let host = listener
        .local_addr()
        .map_err(|err| io_error("its listener", err))?
        .to_string();
    let upstream = upstream.trim_end_matches('/').to_owned();
    let upstream_base = Url::parse(&format!("{upstream}/"))
        .map_err(|err| io_error(&format!("the server URL `{upstream}`"), err))?;
    let state = Arc::new(State {
        http,
        upstream,
        upstream_base,
        host,
        secret: secret()?,
        learned: Mutex::default(),
        accept_failures: AtomicU64::new(0),
    });
    let handle = runtime()?;
    let listener = {
        let _guard = handle.enter();
        tokio::net::TcpListener::from_std(listener).map_err(|err| io_error("its listener", err))?
    };
    handle.spawn(accept_loop(listener, state.clone()));
    Ok(state)
}

/// The pause after a failed accept: [`ACCEPT_BACKOFF_MIN`] after the first, twice the
/// previous after the next ones, at most [`ACCEPT_BACKOFF_MAX`].
fn next_backoff(previous: Option<Duration>) -> Duration {
    previous.map_or(ACCEPT_BACKOFF_MIN, |d| (d * 2).min(ACCEPT_BACKOFF_MAX))
}

/// Accepts connections for the life of the process; while accepting fails (`EMFILE`: no
/// file descriptor left), it waits longer each time instead of spinning.
async fn accept_loop(listener: tokio::net::TcpListener, state: Arc<State>) {
    let mut backoff = None;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                backoff = None;
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(relay(&state, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
            Err(err) => {
                let failures = state.accept_failures.fetch_add(1, Ordering::Relaxed) + 1;
                let delay = next_backoff(backoff);
                if backoff.is_none() {
                    tracing::warn!(relay = %state.host, "the warg relay cannot accept a connection: {err}; retrying");
                } else {
                    tracing::debug!(relay = %state.host, failures, ?delay, "accept failed again: {err}");
                }
                backoff = Some(delay);
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// `url` percent-encoded whole, as one path segment.
fn encode(url: &str) -> String {
    url.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether `a` and `b` are equal, in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && std::hint::black_box(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y))) == 0
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

/// An error answer in the warg API's own form (`{"status", "message"}`), so warg-client
/// passes the message on.
fn answer(status: StatusCode, message: String) -> Response<Body> {
    let body = serde_json::json!({ "status": status.as_u16(), "message": message });
    let mut response = Response::new(full(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// The refusal of a request that is not warg-client's: small, and saying nothing about
/// the relay.
fn refused() -> Response<Body> {
    answer(StatusCode::FORBIDDEN, "not a request for this relay".into())
}

/// The path and query of `request` after the secret (`/` at least), if it is addressed to
/// this relay (its `Host`, its request target) and carries the secret.
fn admitted(state: &State, request: &Request<Incoming>) -> Option<String> {
    let mut hosts = request.headers().get_all(hyper::header::HOST).iter();
    let host = hosts.next()?;
    if hosts.next().is_some() || host.as_bytes() != state.host.as_bytes() {
        return None;
    }
    // An absolute request target (`GET http://elsewhere/... HTTP/1.1`) names the relay too.
    let uri = request.uri();
    if uri
        .scheme()
        .is_some_and(|s| s != &hyper::http::uri::Scheme::HTTP)
        || uri.authority().is_some_and(|a| a.as_str() != state.host)
    {
        return None;
    }
    let after = uri.path_and_query()?.as_str().strip_prefix('/')?;
    let (segment, rest) = after.split_at_checked(state.secret.len())?;
    if !same(segment.as_bytes(), state.secret.as_bytes()) {
        return None;
    }
    match rest.as_bytes().first() {
        None | Some(b'?') => Some(format!("/{rest}")),
        Some(b'/') => Some(rest.to_owned()),
        Some(_) => None,
    }
}

/// Sends `request` on, and its answer back.
async fn relay(state: &State, request: Request<Incoming>) -> Response<Body> {
    let Some(path_and_query) = admitted(state, &request) else {
        tracing::debug!(method = %request.method(), "the warg relay refused a request that is not warg-client's");
        return refused();
    };
    let (target, from_server) = match path_and_query.strip_prefix(RELAYED) {
        Some(encoded) => match decode(encoded) {
            Some(url) if state.allows(request.method(), &url) => (url, false),
            _ => {
                return answer(
                    StatusCode::FORBIDDEN,
                    "the relay forwards only to the warg server and the places it names".into(),
                );
            }
        },
        None => (format!("{}{path_and_query}", state.upstream), true),
    };
    let (parts, body) = request.into_parts();
    let mut headers = parts.headers;
    headers.remove(hyper::header::HOST);
    headers.remove(hyper::header::CONNECTION);
    // Answers are read (and rewritten) as sent: uncompressed.
    headers.remove(hyper::header::ACCEPT_ENCODING);
    let mut outgoing = state.http.request(parts.method, &target).headers(headers);
    // A request with a body (a publish) streams it on; one without sends none.
    if !hyper::body::Body::is_end_stream(&body) {
        outgoing = outgoing.body(reqwest::Body::wrap_stream(
            BodyStream::new(body)
                .try_filter_map(|frame| async move { Ok(frame.into_data().ok()) })
                .map_err(std::io::Error::other),
        ));
    }
    let sent = outgoing.send().await;
    let response = match sent {
        Ok(response) => response,
        Err(err) => {
            tracing::debug!(%target, "relayed request failed: {err:#}");
            let why = registry_core::chain_text(&err);
            return if err.is_timeout() {
                answer(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!(
                        "{target} did not answer in time (connect_timeout, read_timeout): {why}"
                    ),
                )
            } else {
                answer(StatusCode::BAD_GATEWAY, format!("{target}: {why}"))
            };
        }
    };
    tracing::debug!(%target, status = %response.status(), "relayed");
    let status = response.status();
    if status.is_redirection() {
        let location = response
            .headers()
            .get(hyper::header::LOCATION)
            .map(|l| {
                String::from_utf8_lossy(l.as_bytes())
                    .chars()
                    .take(200)
                    .collect()
            })
            .unwrap_or_else(|| "nowhere".to_owned());
        return answer(
            StatusCode::BAD_GATEWAY,
            format!(
                "{target} answered {status} with a redirect to {location}; the warg relay \
                 follows no redirect"
            ),
        );
    }
    let mut headers = response.headers().clone();
    let json = from_server
        && headers
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.contains("json"));
    let body = if json {
        match read_capped(response).await {
            Ok(bytes) => match rewrite(state, &bytes) {
                Ok(rewritten) => {
                    headers.remove(hyper::header::CONTENT_LENGTH);
                    full(rewritten)
                }
                Err(message) => return answer(StatusCode::BAD_GATEWAY, message),
            },
            Err(message) => return answer(StatusCode::BAD_GATEWAY, message),
        }
    } else {
        StreamBody::new(
            response
                .bytes_stream()
                .map_ok(Frame::data)
                .map_err(std::io::Error::other),
        )
        .boxed_unsync()
    };
    headers.remove(hyper::header::TRANSFER_ENCODING);
    headers.remove(hyper::header::CONNECTION);
    let mut relayed = Response::new(body);
    *relayed.status_mut() = status;
    *relayed.headers_mut() = headers;
    relayed
}

/// A JSON answer, at most [`ANSWER_MAX_BYTES`].
async fn read_capped(response: reqwest::Response) -> Result<Bytes, String> {
    let url = response.url().to_string();
    let too_large =
        || format!("the warg server's answer from {url} is over the {ANSWER_MAX_BYTES}-byte limit");
    if response
        .content_length()
        .is_some_and(|n| n > ANSWER_MAX_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| format!("{url}: {err}"))?;
        if body.len() + chunk.len() > ANSWER_MAX_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The server's answer with the URLs of the fields that name where content is (warg-api's
/// `ContentSourcesResponse.contentSources[*][*]`, `type = "httpGet"`) and where it goes
/// (`PackageRecord.missingContent[*].upload[*]`, `type = "http"`) going through the relay,
/// each remembered for its method; no other string opens the relay to anywhere. An answer
/// that is not JSON after all, or has none of these fields, is left alone.
fn rewrite(state: &State, bytes: &Bytes) -> Result<Bytes, String> {
    use serde_json::Value;
    let Ok(mut value) = serde_json::from_slice::<Value>(bytes) else {
        return Ok(bytes.clone());
    };
    let mut changed = false;
    // Content sources: absolute URLs, fetched as they are.
    if let Some(Value::Object(sources)) = value.get_mut("contentSources") {
        for source in sources
            .values_mut()
            .filter_map(Value::as_array_mut)
            .flatten()
        {
            if source.get("type").and_then(Value::as_str) != Some("httpGet") {
                continue;
            }
            if let Some(Value::String(url)) = source.get_mut("url")
                && let Ok(parsed) = Url::parse(url)
                && matches!(parsed.scheme(), "http" | "https")
            {
                *url = state.learn(Method::GET, &parsed);
                changed = true;
            }
        }
    }
    // Upload endpoints: relative to the server's URL, as warg-client reads them.
    if let Some(Value::Object(missing)) = value.get_mut("missingContent") {
        for upload in missing
            .values_mut()
            .filter_map(|m| m.get_mut("upload").and_then(Value::as_array_mut))
            .flatten()
        {
            if upload.get("type").and_then(Value::as_str) != Some("http") {
                continue;
            }
            let method = match upload.get("method").and_then(Value::as_str) {
                Some("POST") => Method::POST,
                Some("PUT") => Method::PUT,
                // warg-client refuses any other.
                _ => continue,
            };
            if let Some(Value::String(url)) = upload.get_mut("url")
                && let Ok(resolved) = state.upstream_base.join(url)
                && matches!(resolved.scheme(), "http" | "https")
            {
                *url = state.learn(method, &resolved);
                changed = true;
            }
        }
    }
    if !changed {
        return Ok(bytes.clone());
    }
    serde_json::to_vec(&value)
        .map(Bytes::from)
        .map_err(|err| format!("rewriting the warg server's answer: {err}"))
}

#[cfg(test)]
mod tests;
