//! The relay on its own, with wiremock servers standing for the warg server, content hosts
//! and places nobody named; requests sent as raw HTTP/1.1, so that every header is ours.

use super::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn example() -> registry_core::Registry {
    "example.com".parse().unwrap()
}

fn relay_for(upstream: &str) -> Arc<State> {
    start(upstream, &example(), reqwest::Client::builder().no_proxy()).unwrap()
}

/// A server answering everything with 200 and `body`.
async fn answering(body: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(&server)
        .await;
    server
}

async fn requests(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.unwrap()
}

/// Sends `head` (request line and headers) and `body` to the relay; its status and body.
async fn raw(relay: &State, head: &str, body: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(&relay.host).await.unwrap();
    let mut request = format!("{head}\r\nConnection: close\r\n").into_bytes();
    if !body.is_empty() {
        request.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body);
    stream.write_all(&request).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// `method target` with the relay's own `Host`.
async fn send(relay: &State, method: &str, target: &str, body: &[u8]) -> (u16, String) {
    let head = format!("{method} {target} HTTP/1.1\r\nHost: {}", relay.host);
    raw(relay, &head, body).await
}

async fn get(relay: &State, target: &str) -> (u16, String) {
    send(relay, "GET", target, b"").await
}

/// The path and query of a URL the relay handed out.
fn target_of<'a>(relay: &State, url: &'a str) -> &'a str {
    url.strip_prefix(&format!("http://{}", relay.host))
        .unwrap_or_else(|| panic!("{url} does not go through the relay"))
}

#[test]
fn urls_round_trip_through_the_encoding() {
    let url = "https://warg.example:8443/content/sha256:ab?x=1&y=%2F";
    assert_eq!(decode(&encode(url)).as_deref(), Some(url));
}

#[tokio::test(flavor = "multi_thread")]
async fn each_relay_has_its_own_128_bit_secret_as_its_first_path_segment() {
    let first = relay_for("http://127.0.0.1:9");
    let second = relay_for("http://127.0.0.1:9");
    for relay in [&first, &second] {
        assert_eq!(relay.secret.len(), 32);
        assert!(
            relay
                .secret
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{}",
            relay.secret
        );
        assert_eq!(
            relay.base(),
            format!("http://{}/{}/", relay.host, relay.secret)
        );
    }
    assert_ne!(first.secret, second.secret);
    assert_ne!(first.host, second.host);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_without_the_secret_is_refused_and_never_forwarded() {
    let upstream = answering("{}").await;
    let relay = relay_for(&upstream.uri());
    let secret = relay.secret.clone();
    let flipped = format!(
        "{}{}",
        if secret.starts_with('0') { '1' } else { '0' },
        &secret[1..]
    );
    let refused_targets = [
        "/v1/fetch/checkpoint".to_owned(),
        "/".to_owned(),
        format!("/{flipped}/v1/fetch/checkpoint"),
        format!("/{}/v1/fetch/checkpoint", &secret[..31]),
        format!("/{secret}0/v1/fetch/checkpoint"),
        format!("/{}/v1/fetch/checkpoint", secret.to_uppercase()),
        format!("/v1/{secret}/fetch/checkpoint"),
        format!(
            "/__relay/{}",
            encode(&format!("{}/v1/fetch/checkpoint", upstream.uri()))
        ),
    ];
    for target in &refused_targets {
        let (status, body) = get(&relay, target).await;
        assert_eq!(status, 403, "{target}: {body}");
        assert!(body.len() < 100, "a small refusal: {body}");
        assert!(!body.contains(&secret), "{body}");
    }
    assert!(
        requests(&upstream).await.is_empty(),
        "nothing reached the server"
    );

    // With the secret, the request reaches the server, without it.
    for target in [
        format!("/{secret}/v1/fetch/checkpoint?x=1"),
        format!("/{secret}"),
        format!("/{secret}?y=2"),
    ] {
        let (status, body) = get(&relay, &target).await;
        assert_eq!(status, 200, "{target}: {body}");
    }
    let received: Vec<_> = requests(&upstream)
        .await
        .iter()
        .map(|r| (r.url.path().to_owned(), r.url.query().map(str::to_owned)))
        .collect();
    assert_eq!(
        received,
        [
            ("/v1/fetch/checkpoint".to_owned(), Some("x=1".to_owned())),
            ("/".to_owned(), None),
            ("/".to_owned(), Some("y=2".to_owned())),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_for_another_host_is_refused_and_never_forwarded() {
    let upstream = answering("{}").await;
    let relay = relay_for(&upstream.uri());
    let secret = &relay.secret;
    let port = relay.host.rsplit(':').next().unwrap();
    let target = format!("/{secret}/v1/fetch/checkpoint");
    for head in [
        // DNS rebinding: a page's own name resolving to 127.0.0.1.
        format!("GET {target} HTTP/1.1\r\nHost: attacker.example:{port}"),
        format!("GET {target} HTTP/1.1\r\nHost: localhost:{port}"),
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1"),
        format!(
            "GET {target} HTTP/1.1\r\nHost: {}\r\nHost: attacker.example",
            relay.host
        ),
        format!("GET {target} HTTP/1.0"),
        // An absolute request target naming another place, with the right `Host`.
        format!(
            "GET http://attacker.example{target} HTTP/1.1\r\nHost: {}",
            relay.host
        ),
        format!(
            "GET https://{}{target} HTTP/1.1\r\nHost: {}",
            relay.host, relay.host
        ),
    ] {
        let (status, body) = raw(&relay, &head, b"").await;
        assert_eq!(status, 403, "{head}: {body}");
    }
    assert!(
        requests(&upstream).await.is_empty(),
        "nothing reached the server"
    );

    // Its own name, in either form, is served.
    let (status, _) = get(&relay, &target).await;
    assert_eq!(status, 200);
    let head = format!(
        "GET http://{}{target} HTTP/1.1\r\nHost: {}",
        relay.host, relay.host
    );
    assert_eq!(raw(&relay, &head, b"").await.0, 200);
    assert_eq!(requests(&upstream).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_to_another_host_is_not_followed() {
    let elsewhere = answering(r#"{"contentSources": {}}"#).await;
    let upstream = MockServer::start().await;
    Mock::given(path("/v1/fetch/checkpoint"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            format!("{}/v1/fetch/checkpoint", elsewhere.uri()),
        ))
        .mount(&upstream)
        .await;
    let sources = serde_json::json!({
        "contentSources": {
            "sha256:aa": [{ "type": "httpGet", "url": format!("{}/content/aa", upstream.uri()) }]
        }
    });
    Mock::given(path("/v1/content/sha256:aa"))
        .respond_with(ResponseTemplate::new(200).set_body_json(sources))
        .mount(&upstream)
        .await;
    Mock::given(path("/content/aa"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/content/aa", elsewhere.uri())),
        )
        .mount(&upstream)
        .await;
    let relay = relay_for(&upstream.uri());
    let secret = &relay.secret;

    // An answer of the API.
    let (status, body) = get(&relay, &format!("/{secret}/v1/fetch/checkpoint")).await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("follows no redirect"), "{body}");
    assert!(body.contains(&elsewhere.uri()), "it says where: {body}");

    // A content source the server named.
    let (status, body) = get(&relay, &format!("/{secret}/v1/content/sha256:aa")).await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let url = answer["contentSources"]["sha256:aa"][0]["url"]
        .as_str()
        .unwrap();
    let (status, body) = get(&relay, target_of(&relay, url)).await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("follows no redirect"), "{body}");

    assert!(
        requests(&elsewhere).await.is_empty(),
        "the other host was never asked"
    );
    assert_eq!(requests(&upstream).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_json_answer_over_32_mib_is_refused() {
    let limit = ANSWER_MAX_BYTES.to_string();
    // 33 MiB of valid JSON: `[`, spaces, `]`.
    let mut big = vec![b' '; 33 * 1024 * 1024];
    big[0] = b'[';
    *big.last_mut().unwrap() = b']';

    // With a `Content-Length`.
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(big.clone(), "application/json"))
        .mount(&upstream)
        .await;
    let relay = relay_for(&upstream.uri());
    let (status, body) = get(&relay, &format!("/{}/v1/fetch/logs", relay.secret)).await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains(&format!("over the {limit}-byte limit")),
        "{body}"
    );

    // Without one: read as it streams, and refused once past the cap.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read_exact(&mut byte).await.is_ok() {
            head.push(byte[0]);
        }
        let _ = stream
            .write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
            )
            .await;
        for piece in big.chunks(1024 * 1024) {
            if stream.write_all(piece).await.is_err() {
                break;
            }
        }
    });
    let relay = relay_for(&format!("http://{address}"));
    let (status, body) = get(&relay, &format!("/{}/v1/fetch/logs", relay.secret)).await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains(&format!("over the {limit}-byte limit")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_fields_naming_content_open_the_relay_to_other_places() {
    let mirror = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/content/aa"))
        .respond_with(ResponseTemplate::new(200).set_body_string("content"))
        .mount(&mirror)
        .await;
    Mock::given(method("POST"))
        .and(path("/upload"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&mirror)
        .await;
    let elsewhere = answering("secret data").await;
    let upstream = MockServer::start().await;
    let sources = serde_json::json!({
        "contentSources": {
            "sha256:aa": [{ "type": "httpGet", "url": format!("{}/content/aa", mirror.uri()) }]
        },
        "message": format!("{}/x", elsewhere.uri()),
        "links": [format!("{}/y", elsewhere.uri())],
    });
    Mock::given(method("GET"))
        .and(path("/v1/content/sha256:aa"))
        .respond_with(ResponseTemplate::new(200).set_body_json(sources))
        .mount(&upstream)
        .await;
    let record = serde_json::json!({
        "recordId": "sha256:bb",
        "state": "sourcing",
        "missingContent": { "sha256:aa": { "upload": [
            { "type": "http", "method": "POST", "url": format!("{}/upload", mirror.uri()) },
            { "type": "http", "method": "PUT", "url": "v1/relative/upload" },
        ] } },
    });
    Mock::given(method("GET"))
        .and(path("/v1/package/log/record/rec"))
        .respond_with(ResponseTemplate::new(200).set_body_json(record))
        .mount(&upstream)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v1/relative/upload"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&upstream)
        .await;
    let relay = relay_for(&upstream.uri());
    let secret = relay.secret.clone();
    let relayed = format!("{}__relay/", relay.base());

    // A content source goes through the relay, for GET; other strings are left alone.
    let (status, body) = get(&relay, &format!("/{secret}/v1/content/sha256:aa")).await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let content = answer["contentSources"]["sha256:aa"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(content.starts_with(&relayed), "{content}");
    assert_eq!(answer["message"], format!("{}/x", elsewhere.uri()));
    assert_eq!(answer["links"][0], format!("{}/y", elsewhere.uri()));
    let (status, body) = get(&relay, target_of(&relay, &content)).await;
    assert_eq!((status, body.as_str()), (200, "content"));
    let (status, _) = send(&relay, "POST", target_of(&relay, &content), b"x").await;
    assert_eq!(status, 403, "a content source is for GET only");

    // What no content field named is refused: another host, another path of the mirror.
    for url in [
        format!("{}/x", elsewhere.uri()),
        format!("{}/y", elsewhere.uri()),
        format!("{}/content/bb", mirror.uri()),
    ] {
        let (status, body) = get(&relay, &format!("/{secret}/__relay/{}", encode(&url))).await;
        assert_eq!(status, 403, "{url}: {body}");
    }
    assert!(requests(&elsewhere).await.is_empty());

    // Upload endpoints, absolute or relative to the server, for their method only.
    let (status, body) = get(&relay, &format!("/{secret}/v1/package/log/record/rec")).await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let uploads = &answer["missingContent"]["sha256:aa"]["upload"];
    let absolute = uploads[0]["url"].as_str().unwrap();
    let relative = uploads[1]["url"].as_str().unwrap();
    assert!(absolute.starts_with(&relayed), "{absolute}");
    assert!(relative.starts_with(&relayed), "{relative}");
    assert_eq!(
        send(&relay, "POST", target_of(&relay, absolute), b"bytes")
            .await
            .0,
        201
    );
    assert_eq!(
        send(&relay, "PUT", target_of(&relay, relative), b"bytes")
            .await
            .0,
        201
    );
    assert_eq!(get(&relay, target_of(&relay, absolute)).await.0, 403);
    let uploaded: Vec<_> = requests(&mirror)
        .await
        .into_iter()
        .filter(|r| r.method == wiremock::http::Method::POST)
        .collect();
    assert_eq!(uploaded.len(), 1);
    assert_eq!(uploaded[0].body, b"bytes");
}

#[test]
fn the_accept_back_off_doubles_from_10_ms_to_1_s() {
    let mut delay = None;
    let mut seen = Vec::new();
    for _ in 0..9 {
        let next = next_backoff(delay);
        seen.push(next.as_millis());
        delay = Some(next);
    }
    assert_eq!(seen, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_show_the_server_instead_of_a_relay_s_secret() {
    let key = RelayKey {
        upstream: "https://warg.example/base/".into(),
        settings: "messages_show_the_server".into(),
    };
    let base = shared(key.clone(), &example(), || Ok(reqwest::Client::builder())).unwrap();
    assert_eq!(
        shared(key, &example(), || panic!("started once")).unwrap(),
        base
    );
    let secret = base.trim_end_matches('/').rsplit('/').next().unwrap();
    let text = format!("error sending request for url ({base}v1/fetch/logs): refused {secret}");
    let shown = redact(&text);
    assert_eq!(
        shown,
        "error sending request for url (https://warg.example/base/v1/fetch/logs): refused <relay>"
    );
}

/// Set in the child process of the test below.
#[cfg(unix)]
const EMFILE_CHILD: &str = "REGISTRY_WARG_RELAY_EMFILE_CHILD";

/// Runs [`emfile_child`] in a process of its own (its file descriptor limit lowered to
/// 256, so that it can run out of them without harming other tests).
#[cfg(unix)]
#[test]
fn the_accept_loop_backs_off_and_survives_emfile() {
    // In the child (this same test, run again under a lowered descriptor limit).
    if std::env::var_os(EMFILE_CHILD).is_some() {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(emfile_child());
        return;
    }
    let output = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" \"$@\"")
        .arg(std::env::current_exe().unwrap())
        .args([
            "relay::tests::the_accept_loop_backs_off_and_survives_emfile",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(EMFILE_CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("emfile child: the relay answered"),
        "the child ran: {stdout}\n{stderr}"
    );
}

/// Files open until the process may open no more.
#[cfg(unix)]
fn every_descriptor() -> Vec<std::fs::File> {
    let mut files = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(file) => files.push(file),
            Err(err) => {
                assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
                return files;
            }
        }
        assert!(files.len() < 10_000, "the descriptor limit was not lowered");
    }
}

/// The child's part of [`the_accept_loop_backs_off_and_survives_emfile`].
#[cfg(unix)]
#[allow(clippy::print_stdout)]
async fn emfile_child() {
    let upstream = answering("pong").await;
    let relay = relay_for(&upstream.uri());
    let ping = format!("/{}/ping", relay.secret);
    assert_eq!(get(&relay, &ping).await, (200, "pong".to_owned()));
    // The relay closes its side of that connection on its own time; a descriptor freed
    // after the ones below are taken would let it accept.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // No descriptor left but one, which the connection to the relay takes: the relay's
    // accept fails with EMFILE while the connection waits in the backlog.
    let failed = || relay.accept_failures.load(Ordering::Relaxed);
    let before = failed();
    let mut files = every_descriptor();
    files.pop();
    let mut stream = tokio::net::TcpStream::connect(&relay.host).await.unwrap();
    files.extend(every_descriptor());
    let request = format!(
        "GET {ping} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        relay.host
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let waiting = Instant::now();
    while failed() == before {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "the relay's accept never failed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let first = failed();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let again = failed() - first;
    drop(files);

    // After the first failure, 10 + 20 + 40 + 80 + 160 + 320 ms: about 6 more in 700 ms. A
    // loop that retried at once would have tried hundreds of thousands of times.
    assert!(again <= 12, "{again} more failed accepts in 700 ms");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the relay answers once descriptors are free")
        .unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("pong"), "{response}");
    println!(
        "emfile child: the relay answered after {} failed accepts",
        failed() - before
    );
}
