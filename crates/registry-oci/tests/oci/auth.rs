//! Credentials against a registry that requires HTTP basic auth.

use std::sync::OnceLock;

use registry_core::{Backend, Error};
use registry_oci::{Auth, CredentialOrigin, CredentialSources, OciBackend, OciSettings};
use test_support::{Distribution, component};

use crate::support::{package, publish, read_all, version};

const USER: &str = "ci-bot";
pub(crate) const PASSWORD: &str = "s3cr3t-Pa55w0rd";

fn locked() -> &'static Distribution {
    static REGISTRY: OnceLock<Distribution> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        Distribution::start_with_basic_auth(USER, PASSWORD).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// No process environment and no Docker config: only what a test gives.
fn isolated(env: &[(&str, &str)]) -> CredentialSources {
    CredentialSources {
        env: Some(
            env.iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        ),
        docker_config_dir: Some(std::env::temp_dir().join("no-docker-config-here")),
        helper_dirs: Vec::new(),
        helper_timeout: None,
    }
}

pub(crate) fn backend(auth: Option<Auth>, env: &[(&str, &str)]) -> OciBackend {
    let mut settings = OciSettings::default();
    settings.auth = auth;
    OciBackend::with_credential_sources(locked().host().parse().unwrap(), settings, &isolated(env))
        .unwrap()
}

pub(crate) fn basic(password: &str) -> Option<Auth> {
    Some(Auth::Basic {
        username: USER.into(),
        password: registry_core::Secret::new(password),
    })
}

#[tokio::test]
async fn configured_credentials_publish_and_fetch() {
    let backend = backend(basic(PASSWORD), &[]);
    assert_eq!(backend.credential_origin(), &CredentialOrigin::Config);
    let pkg = package("private:widget");
    let bytes = component::small("private");
    let release = publish(&backend, &pkg, &version("1.0.0"), bytes.clone())
        .await
        .unwrap();
    assert_eq!(backend.list_versions(&pkg).await.unwrap().len(), 1);
    let fetched = read_all(backend.fetch_verified(&pkg, &release).await.unwrap())
        .await
        .unwrap();
    assert_eq!(fetched, bytes);
}

#[tokio::test]
async fn credentials_from_the_environment_are_used() {
    let suffix = registry_oci::env_suffix(&locked().host());
    let user_var = format!("WASM_PKG_OCI_USERNAME_{suffix}");
    let pass_var = format!("WASM_PKG_OCI_PASSWORD_{suffix}");
    let backend = backend(None, &[(&user_var, USER), (&pass_var, PASSWORD)]);
    assert!(matches!(
        backend.credential_origin(),
        CredentialOrigin::Env(_)
    ));
    let pkg = package("envcreds:widget");
    publish(&backend, &pkg, &version("1.0.0"), component::small("env"))
        .await
        .unwrap();
    assert_eq!(backend.list_versions(&pkg).await.unwrap().len(), 1);
}

#[tokio::test]
async fn missing_or_wrong_credentials_are_refused_clearly_and_never_echoed() {
    let pkg = package("private:widget");
    for auth in [None, basic("wrong-password")] {
        let anonymous = auth.is_none();
        let backend = backend(auth, &[]);
        let err = backend.list_versions(&pkg).await.unwrap_err();
        assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("not found or not authorized"), "{message}");
        if anonymous {
            assert!(
                message.contains("set credentials under [registry."),
                "{message}"
            );
        }
        for text in [message.clone(), format!("{err:?}"), format!("{backend:?}")] {
            assert!(
                !text.contains(PASSWORD) && !text.contains("wrong-password"),
                "{text}"
            );
        }
        let err = publish(&backend, &pkg, &version("9.0.0"), component::small("x"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    }
}

pub(crate) mod token {
    //! Token authentication: basic credentials exchanged for short-lived JWTs.

    use std::sync::OnceLock;
    use std::time::Duration;

    use registry_core::{Backend, Error};
    use registry_oci::{Auth, OciBackend, OciSettings};
    use test_support::token::TokenServer;
    use test_support::{Distribution, component};

    use super::{PASSWORD, USER, isolated};
    use crate::support::{package, publish, read_all, version};

    fn registry() -> &'static (Distribution, TokenServer) {
        static REGISTRY: OnceLock<(Distribution, TokenServer)> = OnceLock::new();
        REGISTRY.get_or_init(|| {
            // Tokens live two seconds, so a test can outlive one.
            let server = TokenServer::start(USER, PASSWORD, Duration::from_secs(2));
            let registry =
                Distribution::start_with_token_auth(&server).unwrap_or_else(|e| panic!("{e}"));
            (registry, server)
        })
    }

    pub(crate) fn backend(password: Option<&str>) -> OciBackend {
        let mut settings = OciSettings::default();
        settings.auth = password.map(|p| Auth::Basic {
            username: USER.into(),
            password: registry_core::Secret::new(p),
        });
        OciBackend::with_credential_sources(
            registry().0.host().parse().unwrap(),
            settings,
            &isolated(&[]),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn credentials_are_exchanged_for_tokens_and_tokens_are_renewed() {
        let backend = backend(Some(PASSWORD));
        let pkg = package("tokened:widget");
        let bytes = component::small("tokened");
        let release = publish(&backend, &pkg, &version("1.0.0"), bytes.clone())
            .await
            .unwrap();
        let before = registry().1.issued();
        assert!(before > 0, "the token server issued tokens");

        // Outlive the token (expiry is in whole seconds, so wait well past two), then use
        // the same backend again: it must fetch a new token.
        tokio::time::sleep(Duration::from_millis(3500)).await;
        let fetched = read_all(backend.fetch_verified(&pkg, &release).await.unwrap())
            .await
            .unwrap();
        assert_eq!(fetched, bytes);
        assert_eq!(backend.list_versions(&pkg).await.unwrap().len(), 1);
        assert!(
            registry().1.issued() > before,
            "a fresh token was issued after expiry"
        );
    }

    /// `wkg`'s `WKG_REGISTRY_<HOST>_AUTH_BEARER`: a token handed in by CI, sent as it is.
    #[tokio::test]
    async fn a_wkg_bearer_variable_is_sent_as_the_token() {
        let host = registry().0.host();
        let var = format!(
            "WKG_REGISTRY_{}_AUTH_BEARER",
            registry_oci::env_suffix(&host)
        );
        let with = |token: &str| {
            OciBackend::with_credential_sources(
                host.parse().unwrap(),
                OciSettings::default(),
                &isolated(&[(var.as_str(), token)]),
            )
            .unwrap()
        };
        let token = registry().1.mint(&["repository:bearer/widget:pull"]);
        let backend = with(&token);
        assert_eq!(
            backend.credential_origin(),
            &registry_oci::CredentialOrigin::Env(var.clone())
        );
        let err = backend
            .list_versions(&package("bearer:widget"))
            .await
            .unwrap_err();
        // Let in: the registry says the package is not there (without the token: 401).
        assert!(err.is_not_found(), "{err}");
        let err = with("not-a-token")
            .list_versions(&package("bearer:widget"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
        assert!(!format!("{err} {err:?}").contains(&token[..20]), "{err}");
    }

    #[tokio::test]
    async fn without_valid_credentials_there_is_no_token() {
        for password in [None, Some("wrong")] {
            let backend = backend(password);
            let err = backend
                .list_versions(&package("tokened:widget"))
                .await
                .unwrap_err();
            assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
            assert!(!format!("{err} {err:?}").contains("wrong"), "{err}");
        }
    }
}

mod logs {
    //! Credentials never reach the logs, at any level, ours or our dependencies'.

    use registry_core::Backend;
    use test_support::component;

    use super::{PASSWORD, USER, backend, basic};
    use crate::support::{logs_of, package, publish, read_all, version};

    #[test]
    fn a_full_authenticated_session_logs_no_credential() {
        let logs = logs_of(|| async {
            let backend = backend(basic(PASSWORD), &[]);
            let pkg = package("logged:widget");
            let release = publish(
                &backend,
                &pkg,
                &version("1.0.0"),
                component::small("logged"),
            )
            .await
            .unwrap();
            backend.list_versions(&pkg).await.unwrap();
            read_all(backend.fetch_verified(&pkg, &release).await.unwrap())
                .await
                .unwrap();
            let wrong = backend_with_wrong_password();
            let _ = wrong.list_versions(&pkg).await;
        });
        assert!(logs.lines().count() > 20, "the session was logged:\n{logs}");
        let encoded = base64_basic(USER, PASSWORD);
        for secret in [PASSWORD, encoded.as_str(), "wrong-password-for-logs"] {
            assert!(!logs.contains(secret), "`{secret}` is in the logs");
        }
    }

    fn backend_with_wrong_password() -> registry_oci::OciBackend {
        backend(basic("wrong-password-for-logs"), &[])
    }

    fn base64_basic(user: &str, password: &str) -> String {
        test_support::token::base64(format!("{user}:{password}").as_bytes(), false)
    }
}
