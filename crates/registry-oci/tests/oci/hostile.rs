//! Registries that misbehave on purpose (wiremock): each gives a clear error or a bounded
//! answer, never a hang or bytes that were not verified.

use std::time::Duration;

use registry_core::{Backend, ContentDigest, Error, Release};
use registry_oci::manifest::OCI_MANIFEST;
use registry_oci::{Auth, OciSettings};
use test_support::component;
use wiremock::matchers::{header_exists, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{mock_backend, package, read_all, version};

async fn ping(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v2/"))
        .respond_with(ResponseTemplate::new(200))
        .mount(server)
        .await;
}

/// A manifest whose one layer is `bytes`.
fn manifest_body(bytes: &[u8]) -> String {
    let digest = ContentDigest::sha256(bytes);
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.wasm.config.v0+json","digest":"{digest}","size":2}},"layers":[{{"mediaType":"application/wasm","digest":"{digest}","size":{}}}]}}"#,
        bytes.len()
    )
}

/// Serves a manifest for `hostile:widget@1.0.0` whose layer is `bytes`.
async fn manifest(server: &MockServer, bytes: &[u8]) -> Release {
    let digest = ContentDigest::sha256(bytes);
    let body = manifest_body(bytes);
    Mock::given(method("GET"))
        .and(path("/v2/hostile/widget/manifests/1.0.0"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", OCI_MANIFEST)
                .set_body_string(body),
        )
        .mount(server)
        .await;
    Release::new(version("1.0.0"), digest).with_size(bytes.len() as u64)
}

/// Every page is full and names tags never seen before: the registry never stops.
struct EndlessTags;

impl Respond for EndlessTags {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n: usize = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "n")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(2);
        let start: usize = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "last")
            .and_then(|(_, v)| v.trim_start_matches("0.0.").parse().ok())
            .map_or(0, |last: usize| last + 1);
        let tags: Vec<String> = (start..start + n).map(|i| format!("0.0.{i}")).collect();
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "name": "hostile/widget",
            "tags": tags,
        }))
    }
}

#[tokio::test]
async fn endless_tag_pagination_is_cut_off() {
    let server = MockServer::start().await;
    ping(&server).await;
    Mock::given(method("GET"))
        .and(path("/v2/hostile/widget/tags/list"))
        .respond_with(EndlessTags)
        .mount(&server)
        .await;
    let backend = mock_backend(&server, OciSettings::default()).with_tag_page_size(2);
    let versions = backend
        .list_versions(&package("hostile:widget"))
        .await
        .unwrap();
    let pages = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/tags/list"))
        .count();
    assert_eq!(pages, 1000, "at most 1000 pages are read");
    assert_eq!(versions.len(), 2000);
}

#[tokio::test]
async fn tags_with_path_characters_are_not_versions() {
    let server = MockServer::start().await;
    ping(&server).await;
    Mock::given(method("GET"))
        .and(path("/v2/hostile/widget/tags/list"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "name": "hostile/widget",
            "tags": ["../../etc/passwd", "1.0.0/../../x", "/abs", "1.0.0", "a\u{0}b", "..", "2.0.0"],
        })))
        .mount(&server)
        .await;
    let versions = mock_backend(&server, OciSettings::default())
        .list_versions(&package("hostile:widget"))
        .await
        .unwrap();
    let listed: Vec<String> = versions.iter().map(|v| v.version.to_string()).collect();
    assert_eq!(listed, ["1.0.0", "2.0.0"]);
}

#[tokio::test]
async fn too_many_requests_is_retried() {
    let server = MockServer::start().await;
    ping(&server).await;
    let bytes = component::small("429");
    let release = manifest(&server, &bytes).await;
    Mock::given(method("GET"))
        .and(path("/v2/hostile/widget/manifests/1.0.0"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let got = mock_backend(&server, OciSettings::default())
        .get_release(&package("hostile:widget"), &version("1.0.0"))
        .await
        .unwrap();
    assert_eq!(got, release);
}

#[tokio::test]
async fn a_redirect_to_another_host_does_not_carry_credentials() {
    let (server, elsewhere) = (MockServer::start().await, MockServer::start().await);
    // The registry asks for credentials.
    Mock::given(method("GET"))
        .and(path("/v2/"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/"))
        .respond_with(
            ResponseTemplate::new(401).insert_header("WWW-Authenticate", "Basic realm=\"test\""),
        )
        .mount(&server)
        .await;
    let bytes = component::small("redirected");
    let release = manifest(&server, &bytes).await;
    // The blob too, as registries do on every endpoint.
    Mock::given(method("GET"))
        .and(path_regex("^/v2/hostile/widget/blobs/"))
        .respond_with(
            ResponseTemplate::new(401).insert_header("WWW-Authenticate", "Basic realm=\"test\""),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/v2/hostile/widget/blobs/"))
        .and(header_exists("authorization"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/storage/blob", elsewhere.uri())),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/storage/blob"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(bytes.clone()))
        .mount(&elsewhere)
        .await;
    let mut settings = OciSettings::default();
    settings.auth = Some(Auth::Basic {
        username: "me".into(),
        password: registry_config::Secret::new("hunter2"),
    });
    let got = read_all(
        mock_backend(&server, settings)
            .fetch_verified(&package("hostile:widget"), &release)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(got, bytes);
    let to_registry = server.received_requests().await.unwrap();
    assert!(
        to_registry
            .iter()
            .any(|r| r.headers.contains_key("authorization")),
        "the registry itself gets the credentials"
    );
    for request in elsewhere.received_requests().await.unwrap() {
        assert!(
            !request.headers.contains_key("authorization"),
            "credentials went to another host: {request:?}"
        );
    }
}

#[tokio::test]
async fn a_redirect_loop_ends_with_an_error() {
    let server = MockServer::start().await;
    ping(&server).await;
    let bytes = component::small("loop");
    let release = manifest(&server, &bytes).await;
    Mock::given(method("GET"))
        .and(path_regex("^/v2/hostile/widget/blobs/"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "/loop"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/loop"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "Location",
            format!("/v2/hostile/widget/blobs/{}", release.digest),
        ))
        .mount(&server)
        .await;
    let backend = mock_backend(&server, OciSettings::default());
    let result = match backend
        .fetch_verified(&package("hostile:widget"), &release)
        .await
    {
        Ok(stream) => read_all(stream).await.map(|_| ()),
        Err(err) => Err(err),
    };
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Registry { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&server.address().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn a_registry_that_stops_answering_hits_the_read_timeout() {
    let server = MockServer::start().await;
    ping(&server).await;
    Mock::given(method("GET"))
        .and(path("/v2/hostile/widget/tags/list"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"name": "hostile/widget", "tags": ["1.0.0"]}))
                .set_delay(Duration::from_secs(30)),
        )
        .mount(&server)
        .await;
    let mut settings = OciSettings::default();
    settings.read_timeout = Some(1);
    let started = std::time::Instant::now();
    let err = mock_backend(&server, settings)
        .list_versions(&package("hostile:widget"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Registry { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "gave up instead of waiting for the 30 s answer"
    );
}

#[tokio::test]
async fn a_manifest_that_does_not_match_its_declared_digest_is_refused() {
    let server = MockServer::start().await;
    ping(&server).await;
    let body = manifest_body(&component::small("digest header"));
    let wrong = ContentDigest::sha256(b"another manifest");
    Mock::given(method("GET"))
        .and(path("/v2/hostile/widget/manifests/1.0.0"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", OCI_MANIFEST)
                .insert_header("Docker-Content-Digest", wrong.to_string())
                .set_body_string(body),
        )
        .mount(&server)
        .await;
    let err = mock_backend(&server, OciSettings::default())
        .get_release(&package("hostile:widget"), &version("1.0.0"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("the manifest of hostile:widget@1.0.0 from 127.0.0.1:"),
        "{err}"
    );
}

#[tokio::test]
async fn an_oversized_manifest_is_refused() {
    let server = MockServer::start().await;
    ping(&server).await;
    let huge = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","annotations":{{"padding":"{}"}}}}"#,
        "x".repeat(5 << 20)
    );
    Mock::given(method("GET"))
        .and(path("/v2/hostile/widget/manifests/1.0.0"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", OCI_MANIFEST)
                .set_body_string(huge),
        )
        .mount(&server)
        .await;
    let err = mock_backend(&server, OciSettings::default())
        .get_release(&package("hostile:widget"), &version("1.0.0"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("over the 4194304-byte limit"),
        "{err}"
    );
}

const HUGE_CHILD: &str = "WREG_TEST_HUGE_MANIFEST_CHILD";
const GIB: u64 = 1 << 30;

/// A registry that answers every manifest request with a 1 GiB manifest, streamed in
/// chunks without a `Content-Length` (so nothing can be refused before reading); counts the
/// bytes it managed to send.
fn serve_a_gibibyte_manifest(
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> std::net::SocketAddr {
    use std::io::{BufRead as _, BufReader, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let sent = sent.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                if !request_line.contains("/manifests/") {
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                    return;
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {OCI_MANIFEST}\r\nTransfer-Encoding: chunked\r\n\r\n"
                );
                if stream.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 * 1024];
                let mut total = 0u64;
                while total < GIB {
                    let framed =
                        [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
                    if stream.write_all(&framed).is_err() {
                        break;
                    }
                    total += chunk.len() as u64;
                    sent.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
                let _ = stream.write_all(b"0\r\n\r\n");
            });
        }
    });
    addr
}

/// Refusing a 1 GiB manifest streamed by a registry takes a bounded amount of memory: the
/// child process that reads it peaks under 64 MiB of resident memory (the cap is 4 MiB),
/// and stops reading long before the end.
#[test]
#[expect(
    clippy::print_stdout,
    reason = "the measured peak is shown in the test's output (cargo xtask test keeps it)"
)]
fn a_gibibyte_manifest_is_refused_in_bounded_memory() {
    if let Ok(addr) = std::env::var(HUGE_CHILD) {
        return huge_child(&addr);
    }
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let addr = serve_a_gibibyte_manifest(sent.clone());
    let output =
        test_support::rerun_test("hostile::a_gibibyte_manifest_is_refused_in_bounded_memory")
            .env(HUGE_CHILD, addr.to_string())
            .output()
            .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let peak_kib: u64 = stdout
        .lines()
        .find_map(|l| l.split("peak_kib=").nth(1))
        .unwrap_or_else(|| panic!("the child reports its peak: {stdout}"))
        .trim()
        .parse()
        .unwrap();
    println!(
        "refusing a 1 GiB manifest: peak resident memory {:.1} MiB, {:.1} MiB sent by the server",
        peak_kib as f64 / 1024.0,
        sent.load(std::sync::atomic::Ordering::Relaxed) as f64 / (1 << 20) as f64
    );
    assert!(peak_kib < 64 * 1024, "peak {peak_kib} KiB");
    assert!(sent.load(std::sync::atomic::Ordering::Relaxed) < GIB / 4);
}

#[expect(
    clippy::print_stdout,
    reason = "the child reports its peak to the parent"
)]
fn huge_child(addr: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let err = runtime
        .block_on(async {
            let backend =
                registry_oci::OciBackend::new(addr.parse().unwrap(), OciSettings::default())
                    .unwrap();
            backend
                .get_release(&package("hostile:widget"), &version("1.0.0"))
                .await
        })
        .unwrap_err();
    assert!(
        err.to_string().contains("over the 4194304-byte limit"),
        "{err}"
    );
    println!("peak_kib={}", test_support::memory_kib("VmHWM"));
}

/// `429` and `503` wait what `Retry-After` says (seconds, or an HTTP date) instead of the
/// backoff, which here is 10 ms.
#[tokio::test]
async fn retry_after_is_honoured_in_seconds_and_as_a_date() {
    for status in [429, 503] {
        // Seconds for one, a date (two seconds from now, to the second) for the other.
        let retry_after = match status {
            429 => "1".to_owned(),
            _ => httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2)),
        };
        let server = MockServer::start().await;
        let bytes = component::small("retry-after");
        let release = manifest(&server, &bytes).await;
        Mock::given(method("GET"))
            .and(path("/v2/hostile/widget/manifests/1.0.0"))
            .respond_with(
                ResponseTemplate::new(status).insert_header("Retry-After", retry_after.as_str()),
            )
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        let backend = mock_backend(&server, OciSettings::default()).with_retry_policy(
            registry_oci::RetryPolicy {
                retries: 1,
                base: Duration::from_millis(10),
            },
        );
        let started = std::time::Instant::now();
        let got = backend
            .get_release(&package("hostile:widget"), &version("1.0.0"))
            .await
            .unwrap();
        assert_eq!(got, release);
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{status} with Retry-After {retry_after}: retried after {:?}",
            started.elapsed()
        );
    }
}

/// A token service that answers with more than a token: refused at 64 KiB, whether the
/// token is for reading or for a publish (which asks for its push token itself, so
/// `oci-client` never reads a token response).
#[tokio::test]
async fn an_oversized_token_response_is_refused_for_reads_and_publishes() {
    let server = MockServer::start().await;
    let realm = format!("{}/token", server.uri());
    let challenge = format!("Bearer realm=\"{realm}\",service=\"hostile\"");
    Mock::given(method("GET"))
        .and(path_regex("^/v2/"))
        .respond_with(
            ResponseTemplate::new(401).insert_header("WWW-Authenticate", challenge.as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", "application/json")
                .set_body_string(format!(r#"{{"token":"{}"}}"#, "t".repeat(1 << 20))),
        )
        .mount(&server)
        .await;
    let backend = mock_backend(&server, OciSettings::default());
    let err = backend
        .list_versions(&package("hostile:widget"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the token response is 1048588 bytes, over the 65536-byte limit"),
        "{err}"
    );
    // Overwriting skips the check for an existing release, so the push token is the first
    // thing asked for.
    let mut overwrite = registry_core::PublishOptions::default();
    overwrite.allow_overwrite = true;
    let fresh = mock_backend(&server, OciSettings::default());
    let err = fresh
        .publish(
            &package("hostile:widget"),
            &version("1.0.0"),
            Box::pin(std::io::Cursor::new(component::small("never sent"))),
            &overwrite,
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("over the 65536-byte limit"),
        "{err}"
    );
    let pushes = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() != "GET")
        .count();
    assert_eq!(pushes, 0, "nothing was pushed");
}
