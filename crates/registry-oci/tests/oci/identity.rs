//! Identity tokens (OAuth2 refresh tokens): the `identitytoken` that `docker login` to Azure
//! Container Registry (or `az acr login`) stores in `config.json`, and a credential helper's
//! answer with the username `<token>`. They are exchanged at the registry's token service
//! (a `POST` of `grant_type=refresh_token`, or a `GET` where the realm has no such endpoint)
//! for the tokens `docker-registry` takes.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use registry_core::{Backend, Error};
use registry_oci::{CredentialOrigin, CredentialSources, OciBackend, OciSettings};
use test_support::token::{IdentityTokens, SERVICE, TokenServer, base64};
use test_support::{Distribution, component};

use crate::support::{logs_of, package, publish, read_all, version};

const IDENTITY_TOKEN: &str = "idtok-REFRESH-8c1f";
const REVOKED: &str = "idtok-REVOKED-2b7d";

/// A token-auth registry whose token server takes [`IDENTITY_TOKEN`] as `how` says.
fn registry(how: IdentityTokens) -> &'static Distribution {
    &server(how).0
}

fn server(how: IdentityTokens) -> &'static (Distribution, TokenServer) {
    static OAUTH2: OnceLock<(Distribution, TokenServer)> = OnceLock::new();
    static GET_ONLY: OnceLock<(Distribution, TokenServer)> = OnceLock::new();
    let cell = match how {
        IdentityTokens::OAuth2 => &OAUTH2,
        IdentityTokens::GetOnly => &GET_ONLY,
    };
    cell.get_or_init(|| {
        let server = TokenServer::start_with_identity_token(
            "ci-bot",
            "s3cr3t-Pa55w0rd",
            IDENTITY_TOKEN,
            how,
            Duration::from_secs(60),
        );
        let registry =
            Distribution::start_with_token_auth(&server).unwrap_or_else(|e| panic!("{e}"));
        (registry, server)
    })
}

/// Where the identity token is kept.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// `auths.<host>.identitytoken` in `config.json`, as `az acr login` writes it.
    DockerConfig,
    /// `docker-credential-acr`, named in `credHelpers`, answering `Username: <token>`.
    Helper,
}

/// A Docker config directory keeping `token` for `host` in `source`.
fn docker_dir(host: &str, token: &str, source: Source) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = match source {
        Source::DockerConfig => serde_json::json!({"auths": {host: {
            "auth": base64(b"00000000-0000-0000-0000-000000000000:", false),
            "identitytoken": token,
        }}}),
        Source::Helper => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let helper = dir.path().join("docker-credential-acr");
                let reply =
                    serde_json::json!({"ServerURL": host, "Username": "<token>", "Secret": token});
                std::fs::write(
                    &helper,
                    format!("#!/bin/sh\ncat >/dev/null\necho '{reply}'\n"),
                )
                .unwrap();
                std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            serde_json::json!({"credHelpers": {host: "acr"}})
        }
    };
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    dir
}

/// A backend for `registry` whose only credentials are in the Docker config `dir`.
fn backend(registry: &Distribution, dir: &Path) -> OciBackend {
    let sources = CredentialSources {
        env: Some(Default::default()),
        docker_config_dir: Some(dir.to_owned()),
        helper_dirs: vec![dir.to_owned()],
        helper_timeout: None,
    };
    OciBackend::with_credential_sources(
        registry.host().parse().unwrap(),
        OciSettings::default(),
        &sources,
    )
    .unwrap()
}

/// Publishes to and reads back from `namespace:widget` with `backend`.
async fn publish_and_fetch(backend: &OciBackend, namespace: &str) {
    let pkg = package(&format!("{namespace}:widget"));
    let bytes = component::small(namespace);
    let release = publish(backend, &pkg, &version("1.0.0"), bytes.clone())
        .await
        .unwrap();
    assert_eq!(backend.list_versions(&pkg).await.unwrap().len(), 1);
    let fetched = read_all(backend.fetch_verified(&pkg, &release).await.unwrap())
        .await
        .unwrap();
    assert_eq!(fetched, bytes);
}

/// The forms POSTed to the realm for scopes of `repository`.
fn posted_for(how: IdentityTokens, repository: &str) -> Vec<Vec<(String, String)>> {
    let prefix = format!("repository:{repository}:");
    server(how)
        .1
        .posted()
        .into_iter()
        .filter(|form| {
            form.iter()
                .any(|(k, v)| k == "scope" && v.starts_with(&prefix))
        })
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn a_docker_config_identity_token_is_exchanged_by_post_for_reads_and_pushes() {
    let how = IdentityTokens::OAuth2;
    let registry = registry(how);
    let dir = docker_dir(&registry.host(), IDENTITY_TOKEN, Source::DockerConfig);
    let backend = backend(registry, dir.path());
    assert_eq!(
        backend.credential_origin(),
        &CredentialOrigin::DockerConfig(dir.path().join("config.json"))
    );
    publish_and_fetch(&backend, "acrconfig").await;

    let forms = posted_for(how, "acrconfig/widget");
    let scopes: Vec<&str> = forms.iter().filter_map(|f| field(f, "scope")).collect();
    assert!(
        scopes.contains(&"repository:acrconfig/widget:pull,push"),
        "a push token: {scopes:?}"
    );
    assert!(
        scopes.contains(&"repository:acrconfig/widget:pull"),
        "a pull token: {scopes:?}"
    );
    for form in &forms {
        assert_eq!(field(form, "grant_type"), Some("refresh_token"));
        assert_eq!(field(form, "service"), Some(SERVICE));
        assert_eq!(field(form, "client_id"), Some("wreg"));
        assert!(
            field(form, "refresh_token") == Some(IDENTITY_TOKEN),
            "the refresh token sent is not the identity token"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_credential_helper_answering_token_gives_an_identity_token() {
    let how = IdentityTokens::OAuth2;
    let registry = registry(how);
    let dir = docker_dir(&registry.host(), IDENTITY_TOKEN, Source::Helper);
    let backend = backend(registry, dir.path());
    assert_eq!(
        backend.credential_origin(),
        &CredentialOrigin::Helper("docker-credential-acr".into())
    );
    publish_and_fetch(&backend, "acrhelper").await;
    assert!(!posted_for(how, "acrhelper/widget").is_empty());
}

#[tokio::test]
async fn a_realm_without_the_oauth2_endpoint_takes_the_token_with_get() {
    let how = IdentityTokens::GetOnly;
    let registry = registry(how);
    let dir = docker_dir(&registry.host(), IDENTITY_TOKEN, Source::DockerConfig);
    let backend = backend(registry, dir.path());
    let before = server(how).1.issued();
    publish_and_fetch(&backend, "acrget").await;
    assert!(
        !posted_for(how, "acrget/widget").is_empty(),
        "the POST was tried first"
    );
    assert!(
        server(how).1.issued() > before,
        "tokens were issued for the GET"
    );
}

#[tokio::test]
async fn a_refused_identity_token_names_its_source_and_is_never_shown() {
    let mut cases = vec![
        (IdentityTokens::OAuth2, Source::DockerConfig),
        (IdentityTokens::GetOnly, Source::DockerConfig),
    ];
    if cfg!(unix) {
        cases.push((IdentityTokens::OAuth2, Source::Helper));
    }
    for (how, source) in cases {
        let registry = registry(how);
        let host = registry.host();
        let dir = docker_dir(&host, REVOKED, source);
        let backend = backend(registry, dir.path());
        let pkg = package("acrrefused:widget");
        let read = backend.list_versions(&pkg).await.unwrap_err();
        let push = publish(&backend, &pkg, &version("1.0.0"), component::small("x"))
            .await
            .unwrap_err();
        for err in [read, push] {
            let case = format!("{how:?}, {source:?}");
            assert!(matches!(err, Error::Unauthorized { .. }), "{case}: {err}");
            assert_eq!(err.exit_code(), 3, "{case}: {err}");
            let text = err.to_string();
            assert!(
                text.starts_with(&format!(
                    "registry `{host}` refused access: the token service http://"
                )),
                "{case}: {text}"
            );
            assert!(
                text.contains("refused the identity token from"),
                "{case}: {text}"
            );
            let from = match source {
                Source::DockerConfig => format!(
                    "the Docker config {}",
                    dir.path().join("config.json").display()
                ),
                Source::Helper => "the credential helper `docker-credential-acr`".to_owned(),
            };
            assert!(text.contains(&from), "{case}: {text}");
            if how == IdentityTokens::OAuth2 {
                // The realm echoed the token back; the message keeps what it said without it.
                assert!(
                    text.contains("unknown refresh token <redacted>"),
                    "{case}: {text}"
                );
            }
            for shown in [text, format!("{err:?}"), format!("{backend:?}")] {
                assert!(!shown.contains("idtok"), "{case}: the token is shown");
            }
        }
    }
}

/// Every level of every crate's logging, through an exchange, a fallback and a refusal.
#[test]
fn identity_tokens_never_reach_the_logs() {
    let logs = logs_of(|| async {
        for how in [IdentityTokens::OAuth2, IdentityTokens::GetOnly] {
            let registry = registry(how);
            let good = docker_dir(&registry.host(), IDENTITY_TOKEN, Source::DockerConfig);
            let namespace = format!("acrlogged{}", how as u8);
            publish_and_fetch(&backend(registry, good.path()), &namespace).await;
            let bad = docker_dir(&registry.host(), REVOKED, Source::DockerConfig);
            let _ = backend(registry, bad.path())
                .list_versions(&package("acrlogged:widget"))
                .await;
        }
    });
    assert!(
        logs.contains("identity token"),
        "the exchange was logged:\n{logs}"
    );
    let encoded = base64(format!("<token>:{IDENTITY_TOKEN}").as_bytes(), false);
    for secret in [IDENTITY_TOKEN, REVOKED, encoded.as_str()] {
        assert!(!logs.contains(secret), "an identity token is in the logs");
    }
}

/// A realm that echoes the token deep in a long answer (a fault no real server is known to
/// have, served by wiremock): no part of the token is left where the answer is cut short.
#[tokio::test]
async fn a_token_echoed_at_the_cut_of_a_long_answer_is_not_shown() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    let challenge = format!(r#"Bearer realm="{}/token",service="echo""#, server.uri());
    Mock::given(method("GET"))
        .and(path("/v2/echo/widget/tags/list"))
        .respond_with(ResponseTemplate::new(401).insert_header("WWW-Authenticate", challenge))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(401).set_body_string(format!(
            "{}{REVOKED}{}",
            "x".repeat(290),
            "y".repeat(100)
        )))
        .mount(&server)
        .await;
    let dir = docker_dir(&server.address().to_string(), REVOKED, Source::DockerConfig);
    let sources = CredentialSources {
        env: Some(Default::default()),
        docker_config_dir: Some(dir.path().to_owned()),
        helper_dirs: Vec::new(),
        helper_timeout: None,
    };
    let backend = OciBackend::with_credential_sources(
        server.address().to_string().parse().unwrap(),
        OciSettings::default(),
        &sources,
    )
    .unwrap();
    let err = backend
        .list_versions(&package("echo:widget"))
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    let text = err.to_string();
    assert!(text.contains("xxx<redacted>"), "{text}");
    assert!(!text.contains("idtok"), "a part of the token is shown");
}

/// Every way a backend reads or publishes: listing, a release, a pinned fetch, a publish
/// that looks for the version first and one that overwrites (straight to the push).
async fn every_use(backend: &OciBackend, namespace: &str) -> Vec<(&'static str, Error)> {
    let pkg = package(&format!("{namespace}:widget"));
    let v = version("1.0.0");
    let content = component::small(namespace);
    let pin =
        registry_core::Release::new(v.clone(), registry_core::ContentDigest::sha256(&content));
    let fetched = match backend.fetch_verified(&pkg, &pin).await {
        Ok(stream) => read_all(stream).await.map(|_| ()),
        Err(err) => Err(err),
    };
    let mut overwrite = registry_core::PublishOptions::default();
    overwrite.allow_overwrite = true;
    let overwritten = backend
        .publish(
            &pkg,
            &v,
            Box::pin(std::io::Cursor::new(content.clone())),
            &overwrite,
        )
        .await;
    vec![
        ("list", backend.list_versions(&pkg).await.unwrap_err()),
        ("release", backend.get_release(&pkg, &v).await.unwrap_err()),
        ("fetch", fetched.unwrap_err()),
        (
            "publish",
            publish(backend, &pkg, &v, content).await.unwrap_err(),
        ),
        ("overwrite", overwritten.unwrap_err()),
    ]
}

/// A registry that takes basic credentials (docker-registry with `htpasswd`) gets no
/// identity token: Docker only ever exchanges one at a token service, and so do we. Every
/// read and publish is refused, naming where the token came from, never showing it.
#[tokio::test]
async fn a_registry_asking_for_basic_credentials_is_never_sent_the_identity_token() {
    let registry = Distribution::start_with_basic_auth("ci-bot", "s3cr3t-Pa55w0rd")
        .unwrap_or_else(|e| panic!("{e}"));
    let host = registry.host();
    let mut sources = vec![Source::DockerConfig];
    if cfg!(unix) {
        sources.push(Source::Helper);
    }
    for source in sources {
        let dir = docker_dir(&host, IDENTITY_TOKEN, source);
        let backend = backend(&registry, dir.path());
        let from = match source {
            Source::DockerConfig => format!(
                "the Docker config {}",
                dir.path().join("config.json").display()
            ),
            Source::Helper => "the credential helper `docker-credential-acr`".to_owned(),
        };
        for (what, err) in every_use(&backend, "acrbasic").await {
            let case = format!("{source:?}, {what}");
            assert!(matches!(err, Error::Unauthorized { .. }), "{case}: {err}");
            assert_eq!(err.exit_code(), 3, "{case}: {err}");
            assert_eq!(
                err.to_string(),
                format!(
                    "registry `{host}` refused access: an identity token (from {from}) can only \
                     be exchanged at a token service, and {host} asks for basic credentials \
                     instead; the token was not sent. Give a username and password for it \
                     (`docker login` with them, or `auth` under [registry.\"{host}\".oci])"
                ),
                "{case}"
            );
            for shown in [err.to_string(), format!("{err:?}"), format!("{backend:?}")] {
                assert!(!shown.contains("idtok"), "{case}: the token is shown");
            }
        }
    }
}

/// What the registry receives (wiremock, which keeps every request: docker-registry logs
/// no headers). Asking for basic credentials everywhere, or everywhere but `GET /v2/` (so
/// a publish finds no challenge before it pushes), it is never sent the identity token, in
/// clear or encoded, nor any other `Authorization`.
#[tokio::test]
async fn no_request_to_a_basic_registry_carries_the_identity_token() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let encoded = base64(format!("<token>:{IDENTITY_TOKEN}").as_bytes(), false);
    for open_root in [false, true] {
        let server = MockServer::start().await;
        if open_root {
            Mock::given(method("GET"))
                .and(path("/v2/"))
                .respond_with(ResponseTemplate::new(200))
                .with_priority(1)
                .mount(&server)
                .await;
        }
        Mock::given(wiremock::matchers::any())
            .respond_with(
                ResponseTemplate::new(401)
                    .insert_header("WWW-Authenticate", r#"Basic realm="registry""#),
            )
            .mount(&server)
            .await;
        let host = server.address().to_string();
        let dir = docker_dir(&host, IDENTITY_TOKEN, Source::DockerConfig);
        let backend = backend_for(&host, dir.path());
        for (what, err) in every_use(&backend, "mocked").await {
            assert_eq!(err.exit_code(), 3, "{open_root}, {what}: {err} {err:?}");
            assert!(!format!("{err} {err:?}").contains("idtok"), "{what}");
        }
        let requests = server.received_requests().await.unwrap();
        assert!(
            requests.len() >= 5,
            "every use reached the registry: {}",
            requests.len()
        );
        for request in requests {
            let sent = format!("{:?} {:?}", request.headers, request.body);
            assert!(
                !sent.contains("idtok") && !sent.contains(&encoded),
                "the identity token was sent to the registry: {} {}",
                request.method,
                request.url
            );
            assert!(
                !request.headers.contains_key("authorization"),
                "credentials were sent to the registry: {} {}",
                request.method,
                request.url
            );
        }
    }
}

/// A backend for the registry at `host` whose only credentials are in the Docker config
/// `dir`.
fn backend_for(host: &str, dir: &Path) -> OciBackend {
    let sources = CredentialSources {
        env: Some(Default::default()),
        docker_config_dir: Some(dir.to_owned()),
        helper_dirs: vec![dir.to_owned()],
        helper_timeout: None,
    };
    OciBackend::with_credential_sources(host.parse().unwrap(), OciSettings::default(), &sources)
        .unwrap()
        .with_retry_policy(registry_oci::RetryPolicy {
            retries: 0,
            base: Duration::ZERO,
        })
}
