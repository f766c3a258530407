//! The `[registry."<name>".oci]` section.

use std::fmt;

use registry_config::{Config, ConfigError, RegistrySettings, Secret, Setting};
use registry_core::Registry;
use registry_transport::{InlineCertificate, TlsKeys, TlsTrust};
use serde::{Deserialize, Deserializer, Serialize};

use crate::BACKEND_NAME;

/// Settings of one OCI registry, read from `[registry."<name>".oci]`.
///
/// A superset of what `wkg` reads there (`auth`, `protocol`):
///
/// ```toml
/// [registry."example.com".oci]
/// registry = "ghcr.io"              # the OCI registry packages live in (default: the name)
/// namespace_prefix = "webassembly/" # put before `<namespace>/<name>` in repositories
/// protocol = "https"                # or "http"; loopback registries default to "http"
/// auth = { username = "me", password = "..." }   # or "base64(user:pass)", or { token = "..." }
/// ca_file = "/etc/ssl/private-ca.pem" # extra roots (or `ca_pem` inline)
/// extra_root_certificates = [{ encoding = "pem", data = "-----BEGIN CERTIFICATE-----..." }]
/// insecure_skip_tls_verify = false  # only for a registry you control
/// accept_invalid_certificates = false # wkg's name for the same
/// connect_timeout = 10              # seconds
/// read_timeout = 60                 # seconds
/// ```
///
/// Proxies come from the usual `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` variables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OciSettings {
    /// The OCI registry (host and optional port) that holds the packages; defaults to the
    /// package registry's own name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// A prefix put before `<namespace>/<name>` in repository names, e.g. `webassembly/`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "namespacePrefix"
    )]
    pub namespace_prefix: Option<String>,
    /// `https` (the default) or `http`. Loopback registries default to `http`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// Credentials. Without them, the registry is used anonymously.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    /// A PEM file of extra root certificates to trust (e.g. a private CA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Extra root certificates, inline, in PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// Extra root certificates, inline, as `wkg` 0.15.1 and later write them: a list of
    /// `{ encoding = "pem" | "der", data = "..." }` (DER as base64).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_root_certificates: Vec<InlineCertificate>,
    /// Accept any TLS certificate. Only for a registry you control; never the default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_tls_verify: bool,
    /// `wkg`'s name (0.15.1 and later) for [`insecure_skip_tls_verify`](Self::insecure_skip_tls_verify):
    /// either one set accepts any certificate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accept_invalid_certificates: bool,
    /// Seconds to wait for a connection (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<u64>,
    /// Seconds to wait for the next bytes of a response (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_timeout: Option<u64>,
}

/// Where a registry's packages live, as its well-known document (or a mapping's metadata)
/// says; used where the `[registry."<name>".oci]` section is silent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OciDefaults {
    /// The OCI registry host.
    pub registry: Option<String>,
    /// The repository prefix.
    pub namespace_prefix: Option<String>,
}

impl OciDefaults {
    /// Defaults from a document's `registry` and `namespacePrefix`.
    pub fn new(registry: Option<String>, namespace_prefix: Option<String>) -> Self {
        Self {
            registry,
            namespace_prefix,
        }
    }
}

/// The scheme used to reach a registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TLS (the default).
    Https,
    /// Plain HTTP: only for registries on loopback or explicitly configured.
    Http,
}

/// Credentials for an OCI registry.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Auth {
    /// A username and password (HTTP basic, or exchanged for a token).
    Basic {
        /// The username.
        username: String,
        /// The password.
        password: Secret,
    },
    /// A bearer token used as is.
    Token {
        /// The token.
        token: Secret,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Auth::Token { .. } => f
                .debug_struct("Token")
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

impl<'de> Deserialize<'de> for Auth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// The forms `auth` takes: `wkg`'s base64 string and table, and a token table.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Base64(Secret),
            Table(AuthTable),
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct AuthTable {
            username: Option<String>,
            password: Option<Secret>,
            token: Option<Secret>,
        }
        use serde::de::Error as _;
        let invalid = || {
            D::Error::custom(
                "expected `{ username = \"...\", password = \"...\" }`, `{ token = \"...\" }` \
                 or a base64-encoded \"username:password\"",
            )
        };
        match Raw::deserialize(deserializer).map_err(|_| invalid())? {
            Raw::Base64(encoded) => decode_basic(encoded.expose())
                .ok_or_else(|| D::Error::custom("is not a base64-encoded \"username:password\"")),
            Raw::Table(AuthTable {
                username: Some(username),
                password: Some(password),
                token: None,
            }) => Ok(Auth::Basic { username, password }),
            Raw::Table(AuthTable {
                username: None,
                password: None,
                token: Some(token),
            }) => Ok(Auth::Token { token }),
            Raw::Table(_) => Err(invalid()),
        }
    }
}

/// Decodes `base64(username:password)`, padded or not.
fn decode_basic(encoded: &str) -> Option<Auth> {
    let bytes = registry_transport::base64_decode(encoded.trim())?;
    let text = String::from_utf8(bytes).ok()?;
    let (username, password) = text.split_once(':')?;
    Some(Auth::Basic {
        username: username.to_owned(),
        password: Secret::new(password),
    })
}

impl OciSettings {
    /// Reads the `[registry."<registry>".oci]` section of `config`; empty settings when the
    /// registry has none.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file, line and key of a bad value.
    pub fn from_config(config: &Config, registry: &Registry) -> Result<Setting<Self>, ConfigError> {
        let settings = config.registry_settings(registry);
        Ok(settings.backend::<Self>(BACKEND_NAME)?.unwrap_or(Setting {
            value: Self::default(),
            origin: registry_config::Origin::Builtin,
        }))
    }

    /// How to trust the registry's TLS certificate, with `ca_file` read: what the backend
    /// and the registry's well-known document both use. `section` locates a bad value (a
    /// section given in code, not read from a file, is located as such).
    ///
    /// # Errors
    /// [`registry_core::Error::Config`] naming the file, line and key of a certificate or
    /// `ca_file` that cannot be used.
    pub fn tls_trust(
        &self,
        section: &RegistrySettings<'_>,
    ) -> Result<TlsTrust, registry_core::Error> {
        TlsTrust::read(
            section,
            crate::BACKEND_NAME,
            TlsKeys {
                ca_file: self.ca_file.as_deref(),
                ca_pem: self.ca_pem.as_deref(),
                extra_root_certificates: &self.extra_root_certificates,
                insecure: self.insecure_skip_tls_verify || self.accept_invalid_certificates,
            },
        )
    }

    /// The settings with what a registry's well-known document says filled in where the
    /// configuration leaves it unset.
    pub fn with_defaults(mut self, defaults: &OciDefaults) -> Self {
        self.registry = self.registry.or_else(|| defaults.registry.clone());
        self.namespace_prefix = self
            .namespace_prefix
            .or_else(|| defaults.namespace_prefix.clone());
        self
    }

    /// The OCI registry that holds the packages of `registry`.
    pub fn oci_registry<'a>(&'a self, registry: &'a Registry) -> &'a str {
        self.registry.as_deref().unwrap_or(registry.as_str())
    }

    /// The protocol to use for `registry`: as configured, else `http` for loopback hosts and
    /// `https` for the rest.
    pub fn effective_protocol(&self, registry: &Registry) -> Protocol {
        match self.protocol {
            Some(protocol) => protocol,
            None => {
                let oci: Option<Registry> = self.oci_registry(registry).parse().ok();
                if oci.is_some_and(|r| r.is_loopback()) {
                    Protocol::Http
                } else {
                    Protocol::Https
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(section: &str) -> Result<OciSettings, String> {
        let text = format!("[registry.\"example.com\".oci]\n{section}\n");
        let config = Config::from_toml_str("config.toml", &text).unwrap();
        OciSettings::from_config(&config, &"example.com".parse().unwrap())
            .map(|s| s.value)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn wkg_0_16_tls_keys() {
        let ca = test_support::tls::TestCa::new();
        let der: String = ca
            .ca_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let settings = parse(&format!(
            "accept_invalid_certificates = true\n\
             extra_root_certificates = [\n\
             {{ encoding = \"pem\", data = {:?} }},\n\
             {{ encoding = \"der\", data = \"{der}\" }},\n]",
            ca.ca_pem
        ))
        .unwrap();
        let registry: Registry = "example.com".parse().unwrap();
        let section = RegistrySettings::unconfigured(registry.clone());
        let trust = settings.tls_trust(&section).unwrap();
        assert!(trust.insecure, "accept_invalid_certificates means insecure");
        assert!(
            matches!(&trust.extra_roots[..], [registry_transport::RootCertificate::Pem(_), registry_transport::RootCertificate::Der(d)] if d.first() == Some(&0x30))
        );
        let err = parse("extra_root_certificates = [{ encoding = \"base64\", data = \"x\" }]")
            .unwrap_err();
        assert!(err.contains("expected `pem` or `der`"), "{err}");
        assert!(!OciSettings::default().tls_trust(&section).unwrap().insecure);
    }

    #[test]
    fn wkg_forms_of_auth() {
        let basic = parse("auth = { username = \"open\", password = \"sesame\" }").unwrap();
        let Some(Auth::Basic { username, password }) = basic.auth else {
            panic!("basic auth expected");
        };
        assert_eq!((username.as_str(), password.expose()), ("open", "sesame"));

        // "ping:pong", as wkg's own tests write it.
        let encoded = parse("auth = \"cGluZzpwb25n\"").unwrap();
        let Some(Auth::Basic { username, password }) = encoded.auth else {
            panic!("basic auth expected");
        };
        assert_eq!((username.as_str(), password.expose()), ("ping", "pong"));

        let token = parse("auth = { token = \"t0k\" }").unwrap();
        assert!(matches!(&token.auth, Some(Auth::Token { token }) if token.expose() == "t0k"));
        assert_eq!(
            format!("{:?}", token.auth),
            "Some(Token { token: \"<redacted>\" })"
        );
    }

    #[test]
    fn bad_auth_is_reported_without_the_value() {
        let err = parse("auth = \"not base64 !!\"").unwrap_err();
        assert!(!err.contains("not base64 !!"), "{err}");
        assert!(err.contains("config.toml:2:1"), "{err}");
        let err = parse("auth = { username = \"u\" }").unwrap_err();
        assert!(err.contains("expected `{ username"), "{err}");
    }

    #[test]
    fn protocol_and_registry() {
        let settings = parse(
            "protocol = \"http\"\nregistry = \"ghcr.io\"\nnamespace_prefix = \"webassembly/\"",
        )
        .unwrap();
        let name: Registry = "example.com".parse().unwrap();
        assert_eq!(settings.oci_registry(&name), "ghcr.io");
        assert_eq!(settings.effective_protocol(&name), Protocol::Http);
        let defaults = OciSettings::default();
        assert_eq!(defaults.effective_protocol(&name), Protocol::Https);
        let local: Registry = "localhost:5000".parse().unwrap();
        assert_eq!(defaults.effective_protocol(&local), Protocol::Http);
        assert!(
            parse("protocol = \"ftp\"")
                .unwrap_err()
                .contains("unknown variant `ftp`")
        );
    }
}
