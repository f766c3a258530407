//! The `[registry."<name>".warg]` section.

use std::path::PathBuf;
use std::time::Duration;

use registry_config::{
    Config, ConfigError, ConfigLoader, KeyPath, Origin, RegistrySettings, Secret, Setting,
    ToolLayer,
};
use registry_core::{Error, Registry};
use registry_transport::{InlineCertificate, TlsKeys, TlsTrust};
use serde::{Deserialize, Serialize};

use crate::BACKEND_NAME;

/// Settings of one warg registry, read from `[registry."<name>".warg]`.
///
/// ```toml
/// [registry."example.com".warg]
/// url = "https://warg.example.com"    # default: the well-known document's, else https://<name>
/// auth_token = "..."                  # or auth_token_file = "path", or auth_token_env = "VAR"
/// signing_key = "ecdsa-p256:..."      # or signing_key_file = "path", or signing_key_env = "VAR"
/// storage_dir = "/var/cache/warg"     # package logs and content (default: under the cache)
/// auto_init = true                    # create a package on its first publish (default true)
/// publish_timeout = 60                # seconds to wait for a release to be accepted
/// lock_timeout = 60                   # seconds to wait for another process's storage lock
/// connect_timeout = 10                # seconds to reach the server (as for OCI)
/// read_timeout = 60                   # seconds an answer may stall (as for OCI)
/// ca_file = "/etc/ssl/private-ca.pem" # trust a private CA (or ca_pem = "..."), as for OCI
/// extra_root_certificates = [{ encoding = "pem", data = "-----BEGIN CERTIFICATE-----..." }]
/// keyring_backend = "secret-service"  # read a token or key missing above from this keyring
/// ```
///
/// The TLS keys (`ca_file`, `ca_pem`, `extra_root_certificates`, `insecure_skip_tls_verify`
/// and its other name `accept_invalid_certificates`) are those of the OCI section, read the
/// same way. Nothing here is prompted for, and the OS keyring is used only when
/// `keyring_backend` is set. `http` URLs are accepted for loopback hosts only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WargSettings {
    /// The warg server's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A bearer token sent with every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<Secret>,
    /// A file holding the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token_file: Option<PathBuf>,
    /// An environment variable holding the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token_env: Option<String>,
    /// The key that signs published records, `ecdsa-p256:<base64>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<Secret>,
    /// A file holding the signing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key_file: Option<PathBuf>,
    /// An environment variable holding the signing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key_env: Option<String>,
    /// Where package logs and downloaded content are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_dir: Option<PathBuf>,
    /// Whether publishing a package the registry does not have creates it (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_init: Option<bool>,
    /// Seconds to wait for a published release to be accepted (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_timeout: Option<u64>,
    /// Seconds to wait for another process to release the storage directory (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_timeout: Option<u64>,
    /// Seconds to reach the server (default 10, as for OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<u64>,
    /// Seconds an answer may stall before the request fails (default 60, as for OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_timeout: Option<u64>,
    /// A PEM file of certificates to trust besides the public roots (a private CA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// PEM certificates to trust, inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// Certificates to trust, inline, as `wkg` writes them for OCI: a list of
    /// `{ encoding = "pem" | "der", data = "..." }` (DER as base64).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_root_certificates: Vec<InlineCertificate>,
    /// Accept any certificate (never for a registry reached over a network you do not
    /// control).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_tls_verify: Option<bool>,
    /// `wkg`'s name for [`insecure_skip_tls_verify`](Self::insecure_skip_tls_verify), as
    /// the OCI section takes it: either one set accepts any certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_invalid_certificates: Option<bool>,
    /// A keyring backend (as the `warg` CLI names them) to read a token or signing key from
    /// when none is configured above. Unset: the keyring is never touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyring_backend: Option<String>,
}

/// Every key of the section, for [`SectionOrigins`].
const KEYS: &[&str] = &[
    "url",
    "auth_token",
    "auth_token_file",
    "auth_token_env",
    "signing_key",
    "signing_key_file",
    "signing_key_env",
    "storage_dir",
    "auto_init",
    "publish_timeout",
    "lock_timeout",
    "connect_timeout",
    "read_timeout",
    "ca_file",
    "ca_pem",
    "extra_root_certificates",
    "insecure_skip_tls_verify",
    "accept_invalid_certificates",
    "keyring_backend",
];

/// Where each key of one registry's warg section was set (else its section, else the
/// registry): what a bad value noticed after the configuration is gone (a signing key file
/// read when publishing) is located with, as [`RegistrySettings::invalid`] would.
#[derive(Clone, Debug)]
pub(crate) struct SectionOrigins {
    keys: Vec<(&'static str, Origin, KeyPath)>,
    registry: Registry,
}

impl SectionOrigins {
    pub(crate) fn new(section: &RegistrySettings<'_>) -> Self {
        let keys = KEYS
            .iter()
            .map(|key| {
                let origin = section
                    .origin_of(BACKEND_NAME, key)
                    .unwrap_or(Origin::Builtin);
                (*key, origin, section.key_path(BACKEND_NAME, key))
            })
            .collect();
        Self {
            keys,
            registry: section.registry().clone(),
        }
    }

    /// A [`ConfigError::Invalid`] for `key` of the section, at the file, line and column
    /// it was set.
    pub(crate) fn invalid(&self, key: &str, message: impl Into<String>) -> Error {
        let (origin, path) = match self.keys.iter().find(|(k, _, _)| *k == key) {
            Some((_, origin, path)) => (origin.clone(), path.clone()),
            None => (
                Origin::Builtin,
                KeyPath::new(["registry", self.registry.as_str(), BACKEND_NAME, key]),
            ),
        };
        ConfigError::invalid(&origin, &path, message).into()
    }
}

/// A configuration holding only an empty `[registry."<registry>".warg]` section, set by
/// the tool layer `WargSettings`: what settings given in code are located in, so their
/// errors read "settings from `WargSettings`" rather than naming a file they are not in.
pub(crate) fn config_for_code(registry: &Registry) -> Result<Config, Error> {
    let text = format!("[registry.\"{registry}\".{BACKEND_NAME}]\n");
    let layer = ToolLayer::from_toml_str("WargSettings", &text)?;
    Ok(ConfigLoader::new()
        .without_builtin()
        .without_user_file()
        .without_project_files()
        .without_env()
        .tool_layer(layer)
        .load()?)
}

impl WargSettings {
    /// Reads the `[registry."<registry>".warg]` section of `config`; empty settings when the
    /// registry has none.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file, line and key of a bad value.
    pub fn from_config(config: &Config, registry: &Registry) -> Result<Setting<Self>, ConfigError> {
        let settings = config.registry_settings(registry);
        Ok(settings.backend::<Self>(BACKEND_NAME)?.unwrap_or(Setting {
            value: Self::default(),
            origin: Origin::Builtin,
        }))
    }

    /// The server URL: the configured one, else `https://<registry>` (`http` for loopback).
    pub fn effective_url(&self, registry: &Registry) -> String {
        match &self.url {
            Some(url) => url.clone(),
            None if registry.is_loopback() => format!("http://{registry}"),
            None => format!("https://{registry}"),
        }
    }

    /// How long to wait for a release to be accepted.
    pub fn publish_timeout(&self) -> Duration {
        Duration::from_secs(self.publish_timeout.unwrap_or(60))
    }

    /// How long one exchange with the server may take before it is abandoned: warg-client
    /// builds its own HTTP client with no timeouts, so each call is given a deadline of
    /// `connect_timeout` + `read_timeout`, and each piece of a download `read_timeout`.
    pub fn request_deadline(&self) -> Duration {
        Duration::from_secs(self.connect_timeout.unwrap_or(10) + self.read_timeout.unwrap_or(60))
    }

    /// How to trust the server's certificate: the section's TLS keys, read (and `ca_file`
    /// loaded) the way the OCI backend reads its own.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file, line and key of a value that cannot be used (a
    /// `ca_file` that cannot be read or holds no certificate, PEM that is not PEM).
    pub fn tls_trust(&self, section: &RegistrySettings<'_>) -> Result<TlsTrust, Error> {
        TlsTrust::read(
            section,
            BACKEND_NAME,
            TlsKeys {
                ca_file: self.ca_file.as_deref(),
                ca_pem: self.ca_pem.as_deref(),
                extra_root_certificates: &self.extra_root_certificates,
                insecure: self.insecure_skip_tls_verify.unwrap_or(false)
                    || self.accept_invalid_certificates.unwrap_or(false),
            },
        )
    }

    /// The HTTP client requests to the server go through (by way of the relay, which
    /// also makes it follow no redirect): `trust` (from [`tls_trust`](Self::tls_trust)) and
    /// the configured timeouts.
    ///
    /// # Errors
    /// When `trust` cannot be given to a client.
    pub(crate) fn http_client(&self, trust: &TlsTrust) -> Result<reqwest::ClientBuilder, Error> {
        Ok(trust
            .client_builder()?
            .connect_timeout(Duration::from_secs(self.connect_timeout.unwrap_or(10)))
            .read_timeout(Duration::from_secs(self.read_timeout.unwrap_or(60))))
    }

    /// How long a download may stall between two pieces.
    pub fn read_timeout(&self) -> Duration {
        Duration::from_secs(self.read_timeout.unwrap_or(60))
    }

    /// How long to wait for another process's storage lock.
    pub fn lock_timeout(&self) -> Duration {
        Duration::from_secs(self.lock_timeout.unwrap_or(60))
    }

    /// Whether a first publish creates the package.
    pub fn auto_init(&self) -> bool {
        self.auto_init.unwrap_or(true)
    }

    /// The auth token from the setting, its file or its variable, if any is set; `section`
    /// (the registry's settings these were read from) locates an error.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key, and the file or variable that cannot be read; the
    /// value itself is never shown.
    pub fn resolve_auth_token(
        &self,
        section: &RegistrySettings<'_>,
    ) -> Result<Option<Secret>, Error> {
        self.auth_token_at(&SectionOrigins::new(section))
    }

    /// The signing key from the setting, its file or its variable, if any is set.
    ///
    /// # Errors
    /// As [`resolve_auth_token`](Self::resolve_auth_token).
    pub fn resolve_signing_key(
        &self,
        section: &RegistrySettings<'_>,
    ) -> Result<Option<Secret>, Error> {
        self.signing_key_at(&SectionOrigins::new(section))
    }

    pub(crate) fn auth_token_at(&self, origins: &SectionOrigins) -> Result<Option<Secret>, Error> {
        resolve_secret(
            origins,
            "auth_token",
            self.auth_token.as_ref(),
            self.auth_token_file.as_ref(),
            self.auth_token_env.as_deref(),
        )
    }

    pub(crate) fn signing_key_at(&self, origins: &SectionOrigins) -> Result<Option<Secret>, Error> {
        resolve_secret(
            origins,
            "signing_key",
            self.signing_key.as_ref(),
            self.signing_key_file.as_ref(),
            self.signing_key_env.as_deref(),
        )
    }
}

/// The first of a value, a file and a variable that is set; whitespace around it is dropped.
fn resolve_secret(
    origins: &SectionOrigins,
    key: &str,
    value: Option<&Secret>,
    file: Option<&PathBuf>,
    env: Option<&str>,
) -> Result<Option<Secret>, Error> {
    if let Some(value) = value {
        return Ok(Some(Secret::new(value.expose().trim())));
    }
    if let Some(path) = file {
        return match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(Secret::new(text.trim()))),
            Err(err) => Err(origins.invalid(
                &format!("{key}_file"),
                format!(
                    "`{}` cannot be read: {err}; fix the path or the file's permissions",
                    path.display()
                ),
            )),
        };
    }
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(text) if !text.trim().is_empty() => Ok(Some(Secret::new(text.trim()))),
            _ => Err(origins.invalid(
                &format!("{key}_env"),
                format!(
                    "`{var}` is not set (or empty) in this environment; export it, or remove \
                     {key}_env"
                ),
            )),
        };
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(section: &str) -> Config {
        let text = format!("[registry.\"example.com\".warg]\n{section}\n");
        Config::from_toml_str("config.toml", &text).unwrap()
    }

    fn parse(section: &str) -> Result<WargSettings, String> {
        WargSettings::from_config(&config(section), &"example.com".parse().unwrap())
            .map(|s| s.value)
            .map_err(|e| e.to_string())
    }

    fn example() -> Registry {
        "example.com".parse().unwrap()
    }

    #[test]
    fn every_key_reads_and_defaults_apply() {
        let text = "url = \"https://warg.example.com\"\nauth_token = \"t\"\nauto_init = false\n\
                    publish_timeout = 5\nstorage_dir = \"/tmp/w\"";
        let settings = parse(text).unwrap();
        let registry = example();
        let config = config(text);
        let section = config.registry_settings(&registry);
        assert_eq!(
            settings.effective_url(&registry),
            "https://warg.example.com"
        );
        assert!(!settings.auto_init());
        assert_eq!(settings.publish_timeout(), Duration::from_secs(5));
        assert_eq!(settings.lock_timeout(), Duration::from_secs(60));
        assert_eq!(
            settings
                .resolve_auth_token(&section)
                .unwrap()
                .unwrap()
                .expose(),
            "t"
        );

        let empty = WargSettings::default();
        assert_eq!(empty.effective_url(&registry), "https://example.com");
        let local: Registry = "127.0.0.1:8090".parse().unwrap();
        assert_eq!(empty.effective_url(&local), "http://127.0.0.1:8090");
        assert!(empty.auto_init());
        assert!(empty.resolve_signing_key(&section).unwrap().is_none());
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_located() {
        let err = parse("signing_kye = \"x\"").unwrap_err();
        assert!(err.contains("signing_kye"), "{err}");
        assert!(err.contains("config.toml:2"), "{err}");
        let err = parse("signing_key = 12345").unwrap_err();
        assert!(!err.contains("12345"), "a wrong value is not echoed: {err}");
    }

    /// The TLS trust of `section`, or its error as text.
    fn trust(section: &str) -> Result<TlsTrust, Error> {
        let config = config(section);
        let registry = example();
        let settings = WargSettings::from_config(&config, &registry).unwrap().value;
        settings.tls_trust(&config.registry_settings(&registry))
    }

    #[test]
    fn a_bad_tls_value_is_located_at_its_file_line_and_key() {
        let err = trust("auto_init = true\nca_file = \"/no/such/ca.pem\"").unwrap_err();
        let located = err.config_error().expect("a configuration error");
        assert_eq!(
            located.origin().map(ToString::to_string).as_deref(),
            Some("config.toml:3:1")
        );
        let text = err.to_string();
        assert!(
            text.starts_with(
                "config.toml:3:1: invalid `registry.\"example.com\".warg.ca_file`: \
                 `/no/such/ca.pem` cannot be read"
            ),
            "{text}"
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "not a certificate").unwrap();
        let err = trust(&format!("ca_file = {:?}", file.display().to_string()))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("config.toml:2:1: invalid `registry.\"example.com\".warg.ca_file`")
                && err.contains("holds no PEM certificate"),
            "{err}"
        );

        let err = trust("ca_pem = \"junk\"").unwrap_err().to_string();
        assert!(
            err.starts_with("config.toml:2:1: invalid `registry.\"example.com\".warg.ca_pem`"),
            "{err}"
        );
    }

    #[test]
    fn extra_root_certificates_are_the_oci_sections_form() {
        let err = trust(
            "connect_timeout = 5\n\
             extra_root_certificates = [{ encoding = \"der\", data = \"bm90IGRlcg==\" }]",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "config.toml:3:1: invalid \
                 `registry.\"example.com\".warg.extra_root_certificates`: entry 0 is not a DER \
                 certificate"
            ),
            "{err}"
        );
        let err = parse("extra_root_certificates = [{ encoding = \"base32\", data = \"x\" }]")
            .unwrap_err();
        assert!(err.contains("config.toml:2"), "{err}");

        // No TLS keys: the public roots only, and a client that builds.
        let plain = trust("").unwrap();
        assert_eq!(plain, TlsTrust::default());
        WargSettings::default()
            .http_client(&plain)
            .unwrap()
            .build()
            .unwrap();
        let insecure = trust("accept_invalid_certificates = true").unwrap();
        assert!(insecure.insecure);
    }

    #[test]
    fn secrets_come_from_files_and_variables_without_being_shown() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "ecdsa-p256:abc\n").unwrap();
        let registry = example();
        let in_code = config_for_code(&registry).unwrap();
        let section = in_code.registry_settings(&registry);
        let settings = WargSettings {
            signing_key_file: Some(file),
            auth_token_env: Some("REGISTRY_WARG_TEST_UNSET_VARIABLE".into()),
            ..Default::default()
        };
        assert_eq!(
            settings
                .resolve_signing_key(&section)
                .unwrap()
                .unwrap()
                .expose(),
            "ecdsa-p256:abc"
        );
        let err = settings.resolve_auth_token(&section).unwrap_err();
        assert!(err.config_error().is_some(), "{err:?}");
        let text = err.to_string();
        assert_eq!(
            text,
            "settings from `WargSettings`: invalid \
             `registry.\"example.com\".warg.auth_token_env`: \
             `REGISTRY_WARG_TEST_UNSET_VARIABLE` is not set (or empty) in this environment; \
             export it, or remove auth_token_env"
        );
        let missing = WargSettings {
            signing_key_file: Some(dir.path().join("absent")),
            ..Default::default()
        };
        let err = missing
            .resolve_signing_key(&section)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("absent") && err.contains("warg.signing_key_file`"),
            "{err}"
        );
        assert!(format!("{settings:?}").contains("signing_key_file"));

        // From a file: at the key's line.
        let config = config("auto_init = true\nsigning_key_file = \"/no/such/key\"");
        let from_file = WargSettings::from_config(&config, &registry).unwrap().value;
        let err = from_file
            .resolve_signing_key(&config.registry_settings(&registry))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "config.toml:3:1: invalid `registry.\"example.com\".warg.signing_key_file`: \
                 `/no/such/key` cannot be read"
            ),
            "{err}"
        );
    }
}
