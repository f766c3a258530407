//! A loopback relay between warg-client and a warg server, for what warg-client's own HTTP
//! client cannot do.
//!
//! warg-client builds `reqwest::Client::new()` itself: it trusts the public roots only, has
//! no timeouts, and reads whole answers into memory. So warg-client is pointed at
//! `http://127.0.0.1:<port>`, and the relay sends each request on to the server with our
//! client: the TLS trust the configuration gives (`ca_file`, `ca_pem`,
//! `insecure_skip_tls_verify`), `connect_timeout` and `read_timeout`. JSON answers (the warg
//! API) are read with a cap as they stream, and the absolute URLs in them (content sources,
//! upload locations) are rewritten to pass through the relay too; other bodies (content,
//! checked against its digest by the backend) are streamed.
//!
//! The relay forwards only to the server's origin and to origins the server named in an
//! answer, never to a URL a local process makes up.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt as _, TryStreamExt as _};
use http_body_util::{BodyExt as _, BodyStream, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};

/// The largest JSON answer read from a warg server (a page of package log records).
pub(crate) const ANSWER_MAX_BYTES: usize = 32 * 1024 * 1024;
/// Where a rewritten absolute URL goes: `/__relay/<percent-encoded URL>`.
const RELAYED: &str = "/__relay/";

type Body = UnsyncBoxBody<Bytes, std::io::Error>;

struct State {
    http: reqwest::Client,
    /// The server, without a trailing slash.
    upstream: String,
    /// This relay, `http://127.0.0.1:<port>`.
    own: String,
    /// Origins the server named in its answers (and its own).
    origins: Mutex<HashSet<String>>,
}

/// The runtime relays run on: their own, for the life of the process, so a relay outlives
/// whichever runtime asked for it (a test's, a tool's).
fn runtime() -> &'static tokio::runtime::Handle {
    static RUNTIME: OnceLock<tokio::runtime::Handle> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("warg-relay".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("warg-relay")
                    .enable_all()
                    .build()
                    .expect("the relay runtime starts");
                let _ = sender.send(runtime.handle().clone());
                runtime.block_on(std::future::pending::<()>());
            })
            .expect("the relay thread starts");
        receiver.recv().expect("the relay runtime starts")
    })
}

/// What makes two relays different.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RelayKey {
    /// The warg server's URL.
    pub(crate) upstream: String,
    /// The settings the client was built from (TLS trust, timeouts), as text.
    pub(crate) settings: String,
}

/// The relay for `key`, started on first use with the client `http()` builds; its URL.
///
/// # Errors
/// When the loopback port cannot be bound, or `http` fails.
pub(crate) fn shared(
    key: RelayKey,
    http: impl FnOnce() -> Result<reqwest::Client, registry_core::Error>,
) -> Result<String, registry_core::Error> {
    static RELAYS: OnceLock<Mutex<HashMap<RelayKey, String>>> = OnceLock::new();
    let relays = RELAYS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut relays = relays.lock().expect("not poisoned");
    if let Some(url) = relays.get(&key) {
        return Ok(url.clone());
    }
    let io = |err: std::io::Error| registry_core::Error::Io {
        path: None,
        source: std::io::Error::new(err.kind(), format!("starting the warg relay: {err}")),
    };
    let listener =
        std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).map_err(io)?;
    listener.set_nonblocking(true).map_err(io)?;
    let own = format!("http://{}", listener.local_addr().map_err(io)?);
    let upstream = key.upstream.trim_end_matches('/').to_owned();
    let state = Arc::new(State {
        http: http()?,
        origins: Mutex::new(origin(&upstream).into_iter().collect()),
        upstream,
        own: own.clone(),
    });
    let handle = runtime();
    let _guard = handle.enter();
    let listener = tokio::net::TcpListener::from_std(listener).map_err(io)?;
    handle.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
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
    });
    tracing::debug!(upstream = %key.upstream, relay = %own, "warg relay started");
    relays.insert(key, own.clone());
    Ok(own)
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    Some(parsed.origin().ascii_serialization())
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

/// Sends `request` on, and its answer back.
async fn relay(state: &State, request: Request<Incoming>) -> Response<Body> {
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let target = match path_and_query.strip_prefix(RELAYED) {
        Some(encoded) => match decode(encoded) {
            Some(url)
                if origin(&url)
                    .is_some_and(|o| state.origins.lock().expect("not poisoned").contains(&o)) =>
            {
                url
            }
            _ => {
                return answer(
                    StatusCode::FORBIDDEN,
                    "the relay forwards only to the warg server and the places it names".into(),
                );
            }
        },
        None => format!("{}{path_and_query}", state.upstream),
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
    let mut headers = response.headers().clone();
    let json = headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"));
    let body = if json {
        match read_capped(response).await {
            Ok(bytes) => {
                let rewritten = rewrite(state, &bytes);
                headers.remove(hyper::header::CONTENT_LENGTH);
                full(rewritten)
            }
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

/// The answer with every absolute URL in it going through the relay; the origins named are
/// remembered as allowed targets. An answer that is not JSON after all is left alone.
fn rewrite(state: &State, bytes: &Bytes) -> Bytes {
    fn walk(value: &mut serde_json::Value, state: &State, changed: &mut bool) {
        match value {
            serde_json::Value::String(text)
                if text.starts_with("https://") || text.starts_with("http://") =>
            {
                if let Some(o) = origin(text) {
                    state.origins.lock().expect("not poisoned").insert(o);
                    *text = format!("{}{RELAYED}{}", state.own, encode(text));
                    *changed = true;
                }
            }
            serde_json::Value::Array(items) => {
                items.iter_mut().for_each(|v| walk(v, state, changed));
            }
            serde_json::Value::Object(map) => {
                map.values_mut().for_each(|v| walk(v, state, changed));
            }
            _ => {}
        }
    }
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return bytes.clone();
    };
    let mut changed = false;
    walk(&mut value, state, &mut changed);
    if !changed {
        return bytes.clone();
    }
    Bytes::from(serde_json::to_vec(&value).expect("JSON serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_round_trip_through_the_encoding() {
        let url = "https://warg.example:8443/content/sha256:ab?x=1&y=%2F";
        assert_eq!(decode(&encode(url)).as_deref(), Some(url));
        assert_eq!(
            origin("https://warg.example:8443/a/b").as_deref(),
            Some("https://warg.example:8443")
        );
    }
}
