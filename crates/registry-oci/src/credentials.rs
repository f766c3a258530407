//! Where OCI credentials come from, in order: the config's `auth`; our environment
//! variables (`WASM_PKG_OCI_TOKEN_<HOST>`, `WASM_PKG_OCI_USERNAME_<HOST>` with
//! `WASM_PKG_OCI_PASSWORD_<HOST>`); `wkg`'s `WKG_REGISTRY_<HOST>_AUTH_BEARER`; Docker's
//! `config.json` (`credHelpers`, `credsStore`, `auths`); anonymous.
//!
//! An identity token (an OAuth2 refresh token: the `identitytoken` that `docker login` to
//! Azure Container Registry stores, or a credential helper's answer with the username
//! [`IDENTITY_TOKEN_USERNAME`]) is returned as Docker's own credential stores return it:
//! basic credentials with the username `<token>` and the token as the password, which the
//! reader exchanges at the registry's token service.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use registry_core::Secret;
use serde::Deserialize;

use crate::settings::Auth;
use registry_transport::base64_decode;

/// The places credentials are looked up besides the config. The default reads the process
/// environment and `$DOCKER_CONFIG/config.json` (else `~/.docker/config.json`), and finds
/// credential helpers on `PATH`.
#[derive(Clone, Debug, Default)]
pub struct CredentialSources {
    /// Environment variables to read instead of the process's.
    pub env: Option<BTreeMap<String, String>>,
    /// The Docker config directory to read instead of the default.
    pub docker_config_dir: Option<PathBuf>,
    /// Directories searched for `docker-credential-<name>` before `PATH`.
    pub helper_dirs: Vec<PathBuf>,
    /// How long a credential helper may take ([`HELPER_TIMEOUT`] when `None`).
    pub helper_timeout: Option<Duration>,
}

/// The username that marks basic credentials as an identity token, the password being the
/// token itself: a Docker credential helper answers so for one, and Docker's token flow sends
/// one so when a token service takes no OAuth2 `POST`.
pub const IDENTITY_TOKEN_USERNAME: &str = "<token>";

/// How long a Docker credential helper may take to answer before it is stopped.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// A Docker credential helper that did not answer in time (it is stopped).
#[derive(Debug, thiserror::Error)]
#[error(
    "the Docker credential helper `{program}` did not answer within {} s for `{server}` \
     (named in {}); fix or remove it there, or give credentials in the registry's `auth`",
    .timeout.as_secs_f64(),
    .config.display()
)]
pub struct HelperTimedOut {
    /// `docker-credential-<name>`.
    pub program: String,
    /// The server it was asked about.
    pub server: String,
    /// The Docker config file naming it.
    pub config: PathBuf,
    /// The time it was given.
    pub timeout: Duration,
}

impl From<HelperTimedOut> for registry_core::Error {
    /// A configuration error located at the Docker config file that names the helper.
    fn from(err: HelperTimedOut) -> Self {
        let origin = registry_core::Origin::File {
            scope: registry_core::Scope::User,
            path: err.config.clone(),
            line: 1,
            column: 1,
        };
        let key = registry_core::KeyPath::new(["credHelpers", err.server.as_str()]);
        registry_core::ConfigError::invalid(&origin, &key, err.to_string()).into()
    }
}

/// Where the credentials in use came from (for messages; never the credentials).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialOrigin {
    /// The `auth` key of the registry's `oci` section.
    Config,
    /// Environment variables.
    Env(String),
    /// Docker's config file.
    DockerConfig(PathBuf),
    /// A Docker credential helper.
    Helper(String),
    /// No credentials.
    Anonymous,
}

impl std::fmt::Display for CredentialOrigin {
    /// Where the credentials came from, for a message: "the Docker config
    /// /home/me/.docker/config.json", "the credential helper `docker-credential-acr`".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config => f.write_str("the registry's `auth` setting"),
            Self::Env(names) => write!(f, "the environment (`{names}`)"),
            Self::DockerConfig(path) => write!(f, "the Docker config {}", path.display()),
            Self::Helper(program) => write!(f, "the credential helper `{program}`"),
            Self::Anonymous => f.write_str("no credentials"),
        }
    }
}

/// The prefix of the per-registry credential variables:
/// `WASM_PKG_OCI_USERNAME_<HOST>`, `WASM_PKG_OCI_PASSWORD_<HOST>`, `WASM_PKG_OCI_TOKEN_<HOST>`,
/// where `<HOST>` is the OCI registry's `host[:port]` in upper case with every character
/// other than a letter or digit written `_` (`ghcr.io` -> `GHCR_IO`,
/// `localhost:5000` -> `LOCALHOST_5000`).
pub const ENV_PREFIX: &str = "WASM_PKG_OCI_";

/// The `<HOST>` part of the credential variables for `host`.
pub fn env_suffix(host: &str) -> String {
    host.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

impl CredentialSources {
    /// Finds credentials for the OCI registry `host` (`host[:port]`), after the config's.
    /// This may run a Docker credential helper and wait for it (up to
    /// [`HELPER_TIMEOUT`]): call it off async worker threads.
    ///
    /// # Errors
    /// [`HelperTimedOut`] when a credential helper does not answer in time.
    pub fn lookup(&self, host: &str) -> Result<Option<(Auth, CredentialOrigin)>, HelperTimedOut> {
        match self.env_credentials(host) {
            Some(found) => Ok(Some(found)),
            None => self.docker_credentials(host),
        }
    }

    fn var(&self, name: &str) -> Option<String> {
        match &self.env {
            Some(env) => env.get(name).cloned(),
            None => std::env::var(name).ok(),
        }
        .filter(|v| !v.is_empty())
    }

    fn env_credentials(&self, host: &str) -> Option<(Auth, CredentialOrigin)> {
        let suffix = env_suffix(host);
        let token_var = format!("{ENV_PREFIX}TOKEN_{suffix}");
        if let Some(token) = self.var(&token_var) {
            return Some((
                Auth::Token {
                    token: Secret::new(token),
                },
                CredentialOrigin::Env(token_var),
            ));
        }
        let user_var = format!("{ENV_PREFIX}USERNAME_{suffix}");
        let pass_var = format!("{ENV_PREFIX}PASSWORD_{suffix}");
        match (self.var(&user_var), self.var(&pass_var)) {
            (Some(username), Some(password)) => Some((
                Auth::Basic {
                    username,
                    password: Secret::new(password),
                },
                CredentialOrigin::Env(format!("{user_var}/{pass_var}")),
            )),
            _ => self.wkg_bearer(&suffix),
        }
    }

    /// `wkg`'s `WKG_REGISTRY_<HOST>_AUTH_BEARER`: a bearer token for one OCI registry, the
    /// host written as for our variables. Read after ours.
    fn wkg_bearer(&self, suffix: &str) -> Option<(Auth, CredentialOrigin)> {
        let var = format!("WKG_REGISTRY_{suffix}_AUTH_BEARER");
        let token = self.var(&var)?;
        Some((
            Auth::Token {
                token: Secret::new(token),
            },
            CredentialOrigin::Env(var),
        ))
    }

    fn docker_config_path(&self) -> Option<PathBuf> {
        let dir = match &self.docker_config_dir {
            Some(dir) => dir.clone(),
            None => match self.var("DOCKER_CONFIG") {
                Some(dir) => PathBuf::from(dir),
                None => home_dir()?.join(".docker"),
            },
        };
        Some(dir.join("config.json"))
    }

    fn docker_credentials(
        &self,
        host: &str,
    ) -> Result<Option<(Auth, CredentialOrigin)>, HelperTimedOut> {
        let Some(path) = self.docker_config_path() else {
            return Ok(None);
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        let config: DockerConfig = match serde_json::from_str(&text) {
            Ok(config) => config,
            Err(err) => {
                tracing::warn!(path = %path.display(), "ignoring an unreadable Docker config: {err}");
                return Ok(None);
            }
        };
        let keys = docker_keys(host);
        for key in &keys {
            if let Some(helper) = config.cred_helpers.get(key) {
                return self.run_helper(helper, key, &path);
            }
        }
        if let Some(store) = &config.creds_store {
            for key in &keys {
                if let Some(found) = self.run_helper(store, key, &path)? {
                    return Ok(Some(found));
                }
            }
        }
        Ok(keys.iter().find_map(|key| {
            let entry = config.auths.get(key)?;
            let auth = entry.to_auth()?;
            Some((auth, CredentialOrigin::DockerConfig(path.clone())))
        }))
    }

    /// Runs `docker-credential-<helper> get` for `server`, stopping it after the timeout.
    fn run_helper(
        &self,
        helper: &str,
        server: &str,
        config: &Path,
    ) -> Result<Option<(Auth, CredentialOrigin)>, HelperTimedOut> {
        let program = format!("docker-credential-{helper}");
        let path = self
            .helper_dirs
            .iter()
            .map(|dir| dir.join(&program))
            .find(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from(&program));
        let spawned = Command::new(&path)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(err) => {
                tracing::debug!(%program, "credential helper not run: {err}");
                return Ok(None);
            }
        };
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(server.as_bytes());
        }
        // The reply is read on its own thread, so a helper that writes and then hangs, or
        // hangs before writing, is stopped at the deadline either way.
        let mut stdout = child.stdout.take();
        let reader = std::thread::spawn(move || {
            let mut reply = Vec::new();
            if let Some(out) = stdout.as_mut() {
                let _ = out.take(1 << 20).read_to_end(&mut reply);
            }
            reply
        });
        let timeout = self.helper_timeout.unwrap_or(HELPER_TIMEOUT);
        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(HelperTimedOut {
                        program,
                        server: server.to_owned(),
                        config: config.to_owned(),
                        timeout,
                    });
                }
                Err(err) => {
                    tracing::debug!(%program, "credential helper lost: {err}");
                    return Ok(None);
                }
            }
        };
        let reply = reader.join().unwrap_or_default();
        if !status.success() {
            tracing::debug!(%program, %server, "credential helper found no credentials");
            return Ok(None);
        }
        let Ok(reply) = serde_json::from_slice::<HelperReply>(&reply) else {
            return Ok(None);
        };
        if reply.username == IDENTITY_TOKEN_USERNAME {
            tracing::debug!(%program, %server, "credential helper returned an identity token");
        }
        Ok(Some((
            Auth::Basic {
                username: reply.username,
                password: reply.secret,
            },
            CredentialOrigin::Helper(program),
        )))
    }
}

/// The keys Docker may have stored credentials for `host` under.
fn docker_keys(host: &str) -> Vec<String> {
    if matches!(
        host,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    ) {
        return vec![
            "https://index.docker.io/v1/".to_owned(),
            "index.docker.io".to_owned(),
            "docker.io".to_owned(),
        ];
    }
    vec![
        host.to_owned(),
        format!("https://{host}"),
        format!("http://{host}"),
        format!("https://{host}/v1/"),
        format!("https://{host}/v2/"),
    ]
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuth>,
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct DockerAuth {
    auth: Option<Secret>,
    username: Option<String>,
    password: Option<Secret>,
    /// An OAuth2 refresh token; it wins over `auth`, which then holds a placeholder user
    /// and an empty password.
    identitytoken: Option<Secret>,
}

impl DockerAuth {
    fn to_auth(&self) -> Option<Auth> {
        if let Some(token) = self
            .identitytoken
            .as_ref()
            .filter(|t| !t.expose().is_empty())
        {
            return Some(Auth::Basic {
                username: IDENTITY_TOKEN_USERNAME.to_owned(),
                password: token.clone(),
            });
        }
        if let (Some(username), Some(password)) = (&self.username, &self.password) {
            return Some(Auth::Basic {
                username: username.clone(),
                password: password.clone(),
            });
        }
        let decoded = String::from_utf8(base64_decode(self.auth.as_ref()?.expose())?).ok()?;
        let (username, password) = decoded.split_once(':')?;
        Some(Auth::Basic {
            username: username.to_owned(),
            password: Secret::new(password),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperReply {
    username: String,
    secret: Secret,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn sources(dir: &Path, env: &[(&str, &str)]) -> CredentialSources {
        CredentialSources {
            env: Some(
                env.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            docker_config_dir: Some(dir.to_owned()),
            helper_dirs: vec![dir.to_owned()],
            helper_timeout: None,
        }
    }

    fn basic(
        found: Result<Option<(Auth, CredentialOrigin)>, HelperTimedOut>,
    ) -> Option<(String, String)> {
        let found = found.unwrap();
        match found?.0 {
            Auth::Basic { username, password } => Some((username, password.expose().to_owned())),
            Auth::Token { token } => Some(("<token>".to_owned(), token.expose().to_owned())),
        }
    }

    #[test]
    fn env_variables_per_host() {
        let dir = tempfile::tempdir().unwrap();
        let s = sources(
            dir.path(),
            &[
                ("WASM_PKG_OCI_USERNAME_GHCR_IO", "me"),
                ("WASM_PKG_OCI_PASSWORD_GHCR_IO", "pw"),
                ("WASM_PKG_OCI_TOKEN_LOCALHOST_5000", "tok"),
            ],
        );
        assert_eq!(basic(s.lookup("ghcr.io")), Some(("me".into(), "pw".into())));
        assert_eq!(
            basic(s.lookup("localhost:5000")),
            Some(("<token>".into(), "tok".into()))
        );
        assert_eq!(basic(s.lookup("quay.io")), None);
        assert_eq!(env_suffix("127.0.0.1:5000"), "127_0_0_1_5000");
    }

    #[test]
    fn wkg_bearer_variables_come_after_ours() {
        let dir = tempfile::tempdir().unwrap();
        let wkg_only = sources(
            dir.path(),
            &[("WKG_REGISTRY_GHCR_IO_AUTH_BEARER", "wkg-tok")],
        );
        let (auth, origin) = wkg_only.lookup("ghcr.io").unwrap().unwrap();
        assert_eq!(
            basic(Ok(Some((auth, origin.clone())))),
            Some(("<token>".into(), "wkg-tok".into()))
        );
        assert_eq!(
            origin,
            CredentialOrigin::Env("WKG_REGISTRY_GHCR_IO_AUTH_BEARER".into())
        );
        let both = sources(
            dir.path(),
            &[
                ("WKG_REGISTRY_GHCR_IO_AUTH_BEARER", "wkg-tok"),
                ("WASM_PKG_OCI_TOKEN_GHCR_IO", "ours"),
            ],
        );
        assert_eq!(
            basic(both.lookup("ghcr.io")),
            Some(("<token>".into(), "ours".into()))
        );
    }

    #[test]
    fn docker_config_auths_in_every_key_form() {
        let dir = tempfile::tempdir().unwrap();
        // "user:pass" and "hub:secret" in base64.
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths": {
                "https://registry.example.com": {"auth": "dXNlcjpwYXNz"},
                "plain.example.com:5000": {"username": "u2", "password": "p2"},
                "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="}
            }}"#,
        )
        .unwrap();
        let s = sources(dir.path(), &[]);
        assert_eq!(
            basic(s.lookup("registry.example.com")),
            Some(("user".into(), "pass".into()))
        );
        assert_eq!(
            basic(s.lookup("plain.example.com:5000")),
            Some(("u2".into(), "p2".into()))
        );
        assert_eq!(
            basic(s.lookup("docker.io")),
            Some(("hub".into(), "secret".into()))
        );
        assert_eq!(
            basic(s.lookup("index.docker.io")),
            Some(("hub".into(), "secret".into()))
        );
        assert_eq!(basic(s.lookup("other.example.com")), None);
        // Environment variables win over the Docker config.
        let s = sources(
            dir.path(),
            &[("WASM_PKG_OCI_TOKEN_REGISTRY_EXAMPLE_COM", "t")],
        );
        assert_eq!(
            basic(s.lookup("registry.example.com")),
            Some(("<token>".into(), "t".into()))
        );
    }

    #[cfg(unix)]
    #[test]
    fn credential_helpers_and_stores() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let helper = |name: &str, script: &str| {
            let path = dir.path().join(format!("docker-credential-{name}"));
            std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        // Answers for one server only, as real helpers do.
        helper(
            "fake",
            r#"read server; if [ "$server" = "helped.example.com" ]; then echo '{"ServerURL":"x","Username":"hu","Secret":"hs"}'; else echo "credentials not found" >&2; exit 1; fi"#,
        );
        helper(
            "store",
            r#"read server; echo "{\"ServerURL\":\"$server\",\"Username\":\"su\",\"Secret\":\"ss\"}""#,
        );
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"credHelpers": {"helped.example.com": "fake", "nothing.example.com": "fake"},
                "credsStore": "store",
                "auths": {"stored.example.com": {}}}"#,
        )
        .unwrap();
        let s = sources(dir.path(), &[]);
        assert_eq!(
            basic(s.lookup("helped.example.com")),
            Some(("hu".into(), "hs".into()))
        );
        // A credHelpers entry that finds nothing does not fall back to the store.
        assert_eq!(basic(s.lookup("nothing.example.com")), None);
        assert_eq!(
            basic(s.lookup("stored.example.com")),
            Some(("su".into(), "ss".into()))
        );
        let (_, origin) = s.lookup("helped.example.com").unwrap().unwrap();
        assert_eq!(
            origin,
            CredentialOrigin::Helper("docker-credential-fake".into())
        );
    }

    #[cfg(unix)]
    #[test]
    fn identity_tokens_from_the_config_and_from_helpers() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker-credential-acr");
        std::fs::write(
            &path,
            "#!/bin/sh\necho '{\"ServerURL\":\"x\",\"Username\":\"<token>\",\"Secret\":\"idtok-helper\"}'\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        // As `az acr login` writes it: a placeholder user with no password, and the token.
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths": {
                "acme.azurecr.io": {"auth": "MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwOg==",
                                    "identitytoken": "idtok-config"},
                "empty.example.com": {"auth": "dXNlcjpwYXNz", "identitytoken": ""}},
                "credHelpers": {"helped.azurecr.io": "acr"}}"#,
        )
        .unwrap();
        let s = sources(dir.path(), &[]);
        let token = |token: &str| Some((IDENTITY_TOKEN_USERNAME.to_owned(), token.to_owned()));
        assert_eq!(basic(s.lookup("acme.azurecr.io")), token("idtok-config"));
        assert_eq!(basic(s.lookup("helped.azurecr.io")), token("idtok-helper"));
        assert_eq!(
            basic(s.lookup("empty.example.com")),
            Some(("user".into(), "pass".into())),
            "an empty identity token is none"
        );
        let (auth, origin) = s.lookup("helped.azurecr.io").unwrap().unwrap();
        assert_eq!(
            origin.to_string(),
            "the credential helper `docker-credential-acr`"
        );
        assert!(!format!("{auth:?}").contains("idtok"), "{auth:?}");
        let (_, origin) = s.lookup("acme.azurecr.io").unwrap().unwrap();
        assert_eq!(
            origin.to_string(),
            format!(
                "the Docker config {}",
                dir.path().join("config.json").display()
            )
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_helper_that_hangs_is_stopped_and_named() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker-credential-stuck");
        std::fs::write(
            &path,
            "#!/bin/sh
sleep 30
",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.path().join("config.json"), r#"{"credsStore": "stuck"}"#).unwrap();
        let mut s = sources(dir.path(), &[]);
        s.helper_timeout = Some(Duration::from_millis(300));
        let started = Instant::now();
        let err = s.lookup("ghcr.io").unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not stopped in time"
        );
        let text = err.to_string();
        assert!(
            text.starts_with("the Docker credential helper `docker-credential-stuck` did not answer within 0.3 s for `ghcr.io`"),
            "{text}"
        );
        assert!(text.contains("config.json"), "{text}");
    }
}
