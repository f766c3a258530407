//! Well-known registry metadata: `GET /.well-known/wasm-pkg/registry.json`.
//!
//! Both forms of the document are read:
//!
//! ```json
//! {"preferredProtocol": "oci", "oci": {"registry": "ghcr.io", "namespacePrefix": "webassembly/"},
//!  "warg": {"url": "https://warg.example.com"}}
//! {"ociRegistry": "ghcr.io", "ociNamespacePrefix": "webassembly/", "wargUrl": "https://..."}
//! ```
//!
//! A 404 means "no metadata": the defaults apply. Anything else that is not a small, valid
//! document is an error, never a silent fallback: a registry that answers with garbage may
//! be an impostor. Plain `http` is used only for loopback registries. Answers (including
//! 404s) are cached on disk for an hour.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use registry_core::{Error, Registry};
use serde::{Deserialize, Serialize};

/// The path of the document.
pub const WELL_KNOWN_PATH: &str = "/.well-known/wasm-pkg/registry.json";
/// The largest document accepted.
const MAX_BYTES: usize = 64 * 1024;
/// How long a cached answer is used.
pub const CACHE_TTL: Duration = Duration::from_secs(3600);

/// What a registry says about itself (or what a config mapping's `metadata` says for it).
/// Deserializing accepts both document forms and checks the values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "Document")]
#[non_exhaustive]
pub struct RegistryMetadata {
    /// The protocol it prefers (`oci`, `warg`, `local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_protocol: Option<String>,
    /// Where its OCI packages live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<OciMetadata>,
    /// Where its warg server is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warg: Option<WargMetadata>,
}

/// The `oci` part of the metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OciMetadata {
    /// The OCI registry host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The repository prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_prefix: Option<String>,
}

/// The `warg` part of the metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WargMetadata {
    /// The warg server URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The document as registries write it, both forms; checked into [`RegistryMetadata`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[doc(hidden)]
pub struct Document {
    preferred_protocol: Option<String>,
    oci: Option<OciMetadata>,
    warg: Option<WargMetadata>,
    oci_registry: Option<String>,
    oci_namespace_prefix: Option<String>,
    warg_url: Option<String>,
}

impl RegistryMetadata {
    /// The protocol to use: the preferred one, else the only one described.
    pub fn protocol(&self) -> Option<&str> {
        if let Some(p) = &self.preferred_protocol {
            return Some(p);
        }
        match (&self.oci, &self.warg) {
            (Some(_), None) => Some("oci"),
            (None, Some(_)) => Some("warg"),
            _ => None,
        }
    }

    /// Parses and checks a document served by `registry`.
    ///
    /// # Errors
    /// [`Error::Registry`] saying what is wrong with it.
    pub fn parse(bytes: &[u8], registry: &Registry) -> Result<Self, Error> {
        let bad = |why: String| {
            Error::registry(
                registry,
                format!("its {WELL_KNOWN_PATH} is not a valid registry document: {why}"),
            )
        };
        if bytes.len() > MAX_BYTES {
            return Err(bad(format!("it is over {MAX_BYTES} bytes")));
        }
        serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))
    }
}

impl TryFrom<Document> for RegistryMetadata {
    type Error = String;

    fn try_from(doc: Document) -> Result<Self, String> {
        let mut oci = doc.oci;
        if doc.oci_registry.is_some() || doc.oci_namespace_prefix.is_some() {
            let legacy = oci.get_or_insert_with(OciMetadata::default);
            legacy.registry = legacy.registry.take().or(doc.oci_registry);
            legacy.namespace_prefix = legacy.namespace_prefix.take().or(doc.oci_namespace_prefix);
        }
        let mut warg = doc.warg;
        if let Some(url) = doc.warg_url {
            warg.get_or_insert_with(WargMetadata::default)
                .url
                .get_or_insert(url);
        }
        if let Some(oci) = &oci {
            if let Some(host) = &oci.registry {
                host.parse::<Registry>().map_err(|e| e.to_string())?;
            }
            if let Some(prefix) = &oci.namespace_prefix {
                let ok = prefix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c))
                    && !prefix.split('/').any(|part| part == "..");
                if !ok {
                    return Err(format!(
                        "namespacePrefix {prefix:?} is not a repository path"
                    ));
                }
            }
        }
        if let Some(url) = warg.as_ref().and_then(|w| w.url.as_deref()) {
            check_url(url)?;
        }
        if let Some(protocol) = &doc.preferred_protocol
            && !["oci", "warg", "local"].contains(&protocol.as_str())
        {
            return Err(format!(
                "preferredProtocol {protocol:?} is not oci, warg or local"
            ));
        }
        Ok(Self {
            preferred_protocol: doc.preferred_protocol,
            oci,
            warg,
        })
    }
}

/// A URL must be `https`, or `http` on a loopback host.
fn check_url(url: &str) -> Result<(), String> {
    if url.starts_with("https://") {
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split('/').next().unwrap_or_default();
        if host.parse::<Registry>().is_ok_and(|r| r.is_loopback()) {
            return Ok(());
        }
        return Err(format!(
            "{url:?} uses plain http for a host that is not loopback; only https is accepted"
        ));
    }
    Err(format!("{url:?} is not an https URL"))
}

/// How to reach a registry's document: the same TLS trust its OCI section gives
/// (`ca_file`, `ca_pem`, `extra_root_certificates`, `insecure_skip_tls_verify`).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Tls {
    /// Use `https` even for a loopback registry (its OCI section says `protocol = "https"`).
    pub https: bool,
    /// Which certificates to trust.
    pub trust: registry_transport::TlsTrust,
    /// Wait at most this long (less than the discovery's own timeout), e.g. the OCI
    /// section's `read_timeout`.
    pub timeout: Option<Duration>,
}

/// What asking a registry for its document gave.
enum Fetched {
    /// A valid document.
    Document(RegistryMetadata),
    /// 404: the registry has none.
    Missing,
    /// No usable answer (another status, a timeout, a web page, ...): plain defaults apply.
    Unusable {
        /// The document's URL.
        url: String,
        /// What was wrong, after the URL.
        why: String,
    },
}

/// Fetches registry metadata, with an on-disk cache.
#[derive(Clone, Debug)]
pub struct Discovery {
    cache_dir: PathBuf,
    timeout: Duration,
    offline: bool,
}

#[derive(Serialize, Deserialize)]
struct Cached {
    fetched: u64,
    metadata: Option<RegistryMetadata>,
}

impl Discovery {
    /// Discovery caching its answers in `cache_dir`.
    pub fn new(cache_dir: impl Into<PathBuf>, offline: bool) -> Self {
        Self {
            cache_dir: cache_dir.into(),
            timeout: Duration::from_secs(10),
            offline,
        }
    }

    /// Gives up on a registry that takes longer than `timeout` to answer.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn cache_path(&self, registry: &Registry) -> PathBuf {
        let name = crate::cache::file_name_for(registry);
        self.cache_dir.join("metadata").join(format!("{name}.json"))
    }

    /// The metadata of `registry`: `Ok(None)` when it has none (404), or when offline and
    /// nothing is cached.
    pub async fn metadata(&self, registry: &Registry) -> Result<Option<RegistryMetadata>, Error> {
        self.metadata_with(registry, &Tls::default()).await
    }

    /// As [`metadata`](Self::metadata), trusting certificates as `tls` says.
    pub async fn metadata_with(
        &self,
        registry: &Registry,
        tls: &Tls,
    ) -> Result<Option<RegistryMetadata>, Error> {
        let path = self.cache_path(registry);
        if let Some(cached) = read_cached(&path, self.offline) {
            return Ok(cached.metadata);
        }
        if self.offline {
            return Ok(None);
        }
        match self.fetch(registry, tls).await? {
            Fetched::Document(metadata) => {
                let metadata = Some(metadata);
                write_cached(&path, &metadata);
                Ok(metadata)
            }
            Fetched::Missing => {
                write_cached(&path, &None);
                Ok(None)
            }
            // Not cached: the next command asks again, and warns again if it must.
            Fetched::Unusable { url, why } => {
                tracing::warn!(
                    "{url} {why}; using plain OCI defaults for registry `{registry}` (configure \
                     it under [registry.\"{registry}\"] to silence this)"
                );
                Ok(None)
            }
        }
    }

    async fn fetch(&self, registry: &Registry, tls: &Tls) -> Result<Fetched, Error> {
        let scheme = if registry.is_loopback() && !tls.https {
            "http"
        } else {
            "https"
        };
        let url = format!("{scheme}://{registry}{WELL_KNOWN_PATH}");
        let builder = tls.trust.client_builder()?;
        let timeout = tls.timeout.map_or(self.timeout, |t| t.min(self.timeout));
        let client = builder
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| Error::registry_with_source(registry, "cannot build an HTTP client", e))?;
        let failed = |e: reqwest::Error| {
            if e.is_timeout() {
                format!("did not answer within {timeout:?}")
            } else {
                format!("cannot be read ({})", registry_core::chain_text(&e))
            }
        };
        let unusable = |why: String| Fetched::Unusable {
            url: url.clone(),
            why,
        };
        let mut response = match client.get(&url).send().await {
            Ok(response) => response,
            Err(err) => return Ok(unusable(failed(err))),
        };
        match response.status().as_u16() {
            404 => return Ok(Fetched::Missing),
            200 => {}
            status => return Ok(unusable(format!("answered HTTP {status}"))),
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(err) => return Ok(unusable(failed(err))),
            }
            if body.len() > MAX_BYTES {
                return Ok(unusable(format!("is over {MAX_BYTES} bytes")));
            }
        }
        // A web page or other text (a registry's front end answering every path) is no
        // document; JSON that is a document but says something unsafe is refused.
        if let Err(err) = serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
            let start: String = String::from_utf8_lossy(&body[..body.len().min(40)])
                .chars()
                .filter(|c| !c.is_control())
                .collect();
            return Ok(unusable(format!(
                "is not JSON ({err}; it starts {start:?})"
            )));
        }
        RegistryMetadata::parse(&body, registry).map(Fetched::Document)
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn read_cached(path: &Path, any_age: bool) -> Option<Cached> {
    let cached: Cached = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    (any_age || now().saturating_sub(cached.fetched) < CACHE_TTL.as_secs()).then_some(cached)
}

/// Caches an answer; a failure to cache is only logged.
fn write_cached(path: &Path, metadata: &Option<RegistryMetadata>) {
    let cached = Cached {
        fetched: now(),
        metadata: metadata.clone(),
    };
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(registry_config::fs::parent_dir(path))?;
        registry_config::fs::write_atomic(
            path,
            &serde_json::to_vec(&cached)?,
            registry_config::fs::Durability::Renamed,
        )
    };
    if let Err(err) = write() {
        tracing::debug!(path = %path.display(), "cannot cache registry metadata: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<RegistryMetadata, String> {
        RegistryMetadata::parse(json.as_bytes(), &"example.com".parse().unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn both_document_forms() {
        let current = parse(
            r#"{"preferredProtocol":"oci","oci":{"registry":"ghcr.io","namespacePrefix":"webassembly/"}}"#,
        )
        .unwrap();
        let legacy =
            parse(r#"{"ociRegistry":"ghcr.io","ociNamespacePrefix":"webassembly/"}"#).unwrap();
        assert_eq!(current.oci, legacy.oci);
        assert_eq!(current.protocol(), Some("oci"));
        assert_eq!(legacy.protocol(), Some("oci"));
        let warg = parse(r#"{"wargUrl":"https://warg.example.com"}"#).unwrap();
        assert_eq!(warg.protocol(), Some("warg"));
        assert_eq!(parse("{}").unwrap().protocol(), None);
    }

    #[test]
    fn hostile_documents_are_errors() {
        for (doc, why) in [
            ("not json", "expected ident"),
            (
                r#"{"oci":{"registry":"https://evil.example/x"}}"#,
                "is not a valid registry",
            ),
            (
                r#"{"oci":{"namespacePrefix":"../../etc/"}}"#,
                "is not a repository path",
            ),
            (
                r#"{"wargUrl":"http://warg.example.com"}"#,
                "plain http for a host that is not loopback",
            ),
            (
                r#"{"preferredProtocol":"ftp"}"#,
                "is not oci, warg or local",
            ),
            (r#"{"oci":"ghcr.io"}"#, "invalid type"),
        ] {
            let err = parse(doc).unwrap_err();
            assert!(err.contains(why), "{doc}: {err}");
            assert!(
                err.starts_with("registry `example.com`: its /.well-known/wasm-pkg/registry.json"),
                "{err}"
            );
        }
        assert!(
            parse(&format!(r#"{{"x":"{}"}}"#, "a".repeat(MAX_BYTES)))
                .unwrap_err()
                .contains("over 65536 bytes")
        );
        assert!(parse(r#"{"wargUrl":"http://127.0.0.1:8090"}"#).is_ok());
    }
}
