//! [`OciBackend`]: the `Backend` trait over an OCI distribution registry.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use futures_util::StreamExt as _;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use registry_config::Config;
use registry_core::provenance::Attestations;
use registry_core::{
    Backend, ContentReader, ContentStream, Error, PackageRef, PublishOptions, Registry, Release,
    Version, VersionInfo, async_trait,
};

use crate::credentials::{CredentialOrigin, CredentialSources, IDENTITY_TOKEN_USERNAME};
use crate::http::{Reader, TAGS_MAX_BYTES};
use crate::manifest::{self, Parsed};
use crate::reference::{Repository, tag_to_version};
use crate::retry::RetryPolicy;
use crate::settings::{Auth, OciDefaults, OciSettings, Protocol};
use registry_config::RegistrySettings;
use registry_transport::{RootCertificate, TlsTrust};

mod attach;
mod copy;
mod errors;
mod recent;
mod referrers;

use errors::{download_error, is_transient};
use recent::{RecentManifests, ReferrersApi};

/// Tags asked for per page when listing versions.
const TAG_PAGE: usize = 1000;
/// Pages read at most when listing versions (a registry that never stops paginating).
const TAG_PAGES_MAX: usize = 1000;

/// The `oci-client` configuration for `registry` with `settings` and `trust` (for
/// publishing).
fn client_config(settings: &OciSettings, registry: &Registry, trust: &TlsTrust) -> ClientConfig {
    let protocol = match settings.effective_protocol(registry) {
        Protocol::Http => ClientProtocol::Http,
        Protocol::Https => ClientProtocol::Https,
    };
    let extra_root_certificates = trust
        .extra_roots
        .iter()
        .cloned()
        .map(|root| match root {
            RootCertificate::Pem(data) => Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            },
            RootCertificate::Der(data) => Certificate {
                encoding: CertificateEncoding::Der,
                data,
            },
        })
        .collect();
    ClientConfig {
        protocol,
        connect_timeout: Some(Duration::from_secs(settings.connect_timeout.unwrap_or(10))),
        read_timeout: Some(Duration::from_secs(settings.read_timeout.unwrap_or(60))),
        accept_invalid_certificates: trust.insecure,
        // One streamed PUT per blob: fewer round trips than chunked PATCHes, and no token
        // can expire between the chunks of one upload.
        use_monolithic_push: true,
        extra_root_certificates,
        platform_resolver: None,
        user_agent: concat!("wreg/", env!("CARGO_PKG_VERSION")),
        ..ClientConfig::default()
    }
}

/// A package registry whose packages live in an OCI registry.
///
/// Built once per registry and shared: the underlying HTTP client pools connections and
/// caches tokens.
pub struct OciBackend {
    /// The package registry (for messages).
    registry: Registry,
    settings: OciSettings,
    /// The TLS trust `settings` give, read once (`ca_file`).
    trust: TlsTrust,
    client: oci_client::Client,
    /// Manifests, tags and blobs are read with our own requests (capped, `Retry-After`);
    /// `client` publishes.
    reader: Reader,
    auth: RegistryAuth,
    credential_origin: CredentialOrigin,
    tag_page: usize,
    retry: RetryPolicy,
    /// The manifests `get_release` read lately, for the signature check that follows.
    recent: RecentManifests,
    /// Whether the registry said it has no referrers API.
    referrers_api: ReferrersApi,
}

impl fmt::Debug for OciBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OciBackend")
            .field("registry", &self.registry)
            .field("settings", &self.settings)
            .field("credentials", &self.credential_origin)
            .finish_non_exhaustive()
    }
}

impl OciBackend {
    /// A backend for `registry` with `settings`; credentials not in the settings are looked
    /// up in the environment and Docker's config ([`CredentialSources::default`]).
    ///
    /// # Errors
    /// [`Error::Config`] when a root certificate or `ca_file` cannot be used (located as
    /// "settings from `the calling program`", as these settings come from no file).
    pub fn new(registry: Registry, settings: OciSettings) -> Result<Self, Error> {
        Self::with_credential_sources(registry, settings, &CredentialSources::default())
    }

    /// A backend that looks up credentials missing from `settings` in `sources`.
    ///
    /// # Errors
    /// As for [`new`](Self::new).
    pub fn with_credential_sources(
        registry: Registry,
        settings: OciSettings,
        sources: &CredentialSources,
    ) -> Result<Self, Error> {
        let section = RegistrySettings::unconfigured(registry.clone());
        Self::build(registry, settings, sources, &section)
    }

    fn build(
        registry: Registry,
        settings: OciSettings,
        sources: &CredentialSources,
        section: &RegistrySettings<'_>,
    ) -> Result<Self, Error> {
        let trust = settings.tls_trust(section)?;
        let http = trust
            .client_builder()?
            .connect_timeout(Duration::from_secs(settings.connect_timeout.unwrap_or(10)))
            .read_timeout(Duration::from_secs(settings.read_timeout.unwrap_or(60)));
        let http = http.build().map_err(|err| {
            Error::registry_with_source(&registry, "cannot build an HTTP client", err)
        })?;
        let config = client_config(&settings, &registry, &trust);
        let host = settings.oci_registry(&registry).to_owned();
        let (auth, credential_origin) = match &settings.auth {
            Some(auth) => (Some(auth.clone()), CredentialOrigin::Config),
            None => match sources.lookup(&host).map_err(Error::from)? {
                Some((auth, origin)) => (Some(auth), origin),
                None => (None, CredentialOrigin::Anonymous),
            },
        };
        tracing::debug!(%registry, oci_registry = %host, credentials = ?credential_origin, "OCI backend");
        let auth = match auth {
            Some(Auth::Basic { username, password }) => {
                RegistryAuth::Basic(username, password.expose().to_owned())
            }
            Some(Auth::Token { token }) => RegistryAuth::Bearer(token.expose().to_owned()),
            None => RegistryAuth::Anonymous,
        };
        let scheme = match settings.effective_protocol(&registry) {
            Protocol::Http => "http",
            Protocol::Https => "https",
        };
        let reader = Reader::new(http, scheme, &host, auth.clone(), RetryPolicy::default());
        Ok(Self {
            registry,
            settings,
            trust,
            client: oci_client::Client::new(config),
            reader,
            auth,
            credential_origin,
            tag_page: TAG_PAGE,
            retry: RetryPolicy::default(),
            recent: RecentManifests::default(),
            referrers_api: ReferrersApi::default(),
        })
    }

    /// A backend for `registry` from its `[registry."<name>".oci]` section in `config`,
    /// with `defaults` (from the registry's well-known document) where the section is
    /// silent.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file, line and key of a bad setting, a `ca_file` that
    /// cannot be read or a certificate that cannot be used included.
    pub fn from_config(
        config: &Config,
        registry: &Registry,
        defaults: &OciDefaults,
    ) -> Result<Self, Error> {
        let settings = OciSettings::from_config(config, registry)?
            .value
            .with_defaults(defaults);
        let section = config.registry_settings(registry);
        Self::build(
            registry.clone(),
            settings,
            &CredentialSources::default(),
            &section,
        )
    }

    /// A backend for `mirror`, serving the packages `upstream` serves (a pull-through cache
    /// or a copy of it). How to reach the mirror (host, protocol, TLS, credentials,
    /// timeouts) comes from the mirror's own `[registry."<mirror>".oci]` section, so
    /// credentials never travel from one host to another; where packages live in it
    /// (`namespace_prefix`) is upstream's, with `defaults` from upstream's well-known
    /// document, unless the mirror's section sets its own.
    ///
    /// # Errors
    /// As for [`from_config`](Self::from_config), for either section.
    pub fn mirror_from_config(
        config: &Config,
        upstream: &Registry,
        mirror: &Registry,
        defaults: &OciDefaults,
    ) -> Result<Self, Error> {
        let upstream = OciSettings::from_config(config, upstream)?
            .value
            .with_defaults(defaults);
        let mut settings = OciSettings::from_config(config, mirror)?.value;
        if settings.namespace_prefix.is_none() {
            settings.namespace_prefix = upstream.namespace_prefix;
        }
        let section = config.registry_settings(mirror);
        Self::build(
            mirror.clone(),
            settings,
            &CredentialSources::default(),
            &section,
        )
    }

    /// Where the credentials in use came from.
    pub fn credential_origin(&self) -> &CredentialOrigin {
        &self.credential_origin
    }

    /// Lists tags `page` at a time (the default is 1000); for tests of pagination.
    pub fn with_tag_page_size(mut self, page: usize) -> Self {
        self.tag_page = page.max(1);
        self
    }

    /// Retries idempotent requests as `policy` says.
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self.reader.set_retry(policy);
        self
    }

    /// Runs an idempotent request, retrying transient failures with exponential backoff.
    pub(crate) async fn retrying<T, F, Fut>(
        &self,
        what: &str,
        mut request: F,
    ) -> Result<T, OciDistributionError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
    {
        let mut attempt = 0;
        loop {
            match request().await {
                Err(err) if attempt < self.retry.retries && is_transient(&err) => {
                    let wait = self
                        .retry
                        .base
                        .saturating_mul(1 << attempt.min(16))
                        .min(Duration::from_secs(10));
                    tracing::debug!(registry = %self.registry, %what, attempt, ?wait, "retrying after: {err}");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// The repository holding `package`.
    pub fn repository(&self, package: &PackageRef) -> Repository {
        Repository::new(
            self.settings.oci_registry(&self.registry),
            self.settings.namespace_prefix.as_deref(),
            package,
        )
    }

    /// The client and credentials a publish to `package` uses. When the registry answers
    /// with a token challenge, a push token is asked for here (its answer read with a cap,
    /// as every token) and handed to a client of its own, so `oci-client` never reads a
    /// token response; otherwise the shared client, with basic credentials or none. An
    /// identity token is never handed to `oci-client`: it is exchanged for the push token,
    /// and a registry that asks for basic credentials instead is refused
    /// ([`Error::Unauthorized`]); one that asks for nothing gets nothing.
    pub(crate) async fn publisher(
        &self,
        package: &PackageRef,
    ) -> Result<(oci_client::Client, RegistryAuth), Error> {
        let repository = self.repository(package);
        match self
            .reader
            .push_token(&repository.path)
            .await
            .map_err(|err| self.map_read(err, package, None))?
        {
            Some(token) => Ok((
                oci_client::Client::new(client_config(&self.settings, &self.registry, &self.trust)),
                RegistryAuth::Bearer(token),
            )),
            None => match &self.auth {
                RegistryAuth::Basic(user, _) if user == IDENTITY_TOKEN_USERNAME => {
                    Ok((self.client.clone(), RegistryAuth::Anonymous))
                }
                auth => Ok((self.client.clone(), auth.clone())),
            },
        }
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The manifest at `reference` (a tag or a digest), read with `cap` (at most
    /// [`MANIFEST_MAX_BYTES`](manifest::MANIFEST_MAX_BYTES)) as its cap and checked against the digest the registry declares for it (and the
    /// digest in the reference).
    pub(crate) async fn read_manifest(
        &self,
        reference: &oci_client::Reference,
        package: &PackageRef,
        version: Option<&Version>,
        cap: usize,
    ) -> Result<bytes::Bytes, Error> {
        let what = format!("the manifest of `{}`", reference.whole());
        let path = format!(
            "/v2/{}/manifests/{}",
            reference.repository(),
            reference.digest().or(reference.tag()).unwrap_or("latest")
        );
        let (headers, body) = self
            .reader
            .get(
                &path,
                reference.repository(),
                manifest::ACCEPTED,
                cap,
                &what,
            )
            .await
            .map_err(|err| self.map_read(err, package, version))?;
        let actual = registry_core::ContentDigest::sha256(&body);
        let declared = headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        for expected in [declared.as_deref(), reference.digest()]
            .into_iter()
            .flatten()
        {
            if let Ok(expected) = expected.parse::<registry_core::ContentDigest>()
                && expected != actual
            {
                return Err(Error::DigestMismatch {
                    subject: match version {
                        Some(v) => format!("the manifest of {package}@{v} from {}", self.registry),
                        None => format!("a manifest of {package} from {}", self.registry),
                    },
                    expected,
                    actual,
                });
            }
        }
        Ok(body)
    }

    /// Reads the manifest behind `version`'s tag and finds its Wasm layer, following an
    /// index one level down: the bytes of the manifest that holds the layer, the layer's
    /// digest and size.
    pub(crate) async fn find_layer(
        &self,
        package: &PackageRef,
        version: &Version,
    ) -> Result<(bytes::Bytes, registry_core::ContentDigest, u64), Error> {
        let repository = self.repository(package);
        let mut reference = repository.tag(version);
        for _hop in 0..2 {
            let bytes = self
                .read_manifest(
                    &reference,
                    package,
                    Some(version),
                    manifest::MANIFEST_MAX_BYTES,
                )
                .await?;
            let what = reference.whole();
            match manifest::parse(&bytes, &what).map_err(|m| Error::registry(&self.registry, m))? {
                // A titled layer's bytes are checked as every layer's are (`fetch_content`).
                Parsed::Layer { digest, size } | Parsed::TitledLayer { digest, size, .. } => {
                    return Ok((bytes, digest, size));
                }
                Parsed::Index { manifest } => reference = repository.digest(&manifest),
            }
        }
        Err(Error::registry(
            &self.registry,
            format!(
                "`{}` is an index of indexes; a Wasm package is one manifest",
                repository.tag(version).whole()
            ),
        ))
    }
}

#[async_trait]
impl Backend for OciBackend {
    async fn list_versions(&self, package: &PackageRef) -> Result<Vec<VersionInfo>, Error> {
        #[derive(serde::Deserialize)]
        struct TagPage {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let repository = self.repository(package);
        let mut tags = BTreeSet::new();
        let mut last: Option<String> = None;
        for _page in 0..TAG_PAGES_MAX {
            let mut path = format!("/v2/{}/tags/list?n={}", repository.path, self.tag_page);
            if let Some(last) = &last {
                path.push_str("&last=");
                path.push_str(last);
            }
            let what = format!("the tag list of `{repository}`");
            let (_, body) = self
                .reader
                .get(&path, &repository.path, &[], TAGS_MAX_BYTES, &what)
                .await
                .map_err(|err| self.map_read(err, package, None))?;
            let page: TagPage = serde_json::from_slice(&body).map_err(|err| {
                Error::registry(&self.registry, format!("{what} is not a tag list: {err}"))
            })?;
            let page_tags = page.tags.unwrap_or_default();
            let before = tags.len();
            let count = page_tags.len();
            last = page_tags.last().cloned();
            tags.extend(page_tags);
            // A short page is the last one; a page with nothing new means the registry
            // ignores `n`/`last` and sent everything already.
            if count < self.tag_page || tags.len() == before {
                break;
            }
        }
        let mut versions: Vec<VersionInfo> = tags
            .iter()
            .filter_map(|tag| match tag_to_version(tag) {
                Some(version) => Some(VersionInfo::new(version)),
                None => {
                    tracing::debug!(%tag, %package, "skipping a tag that is not a version");
                    None
                }
            })
            .collect();
        versions.sort();
        versions.dedup_by(|a, b| a.version == b.version);
        Ok(versions)
    }

    async fn get_release(&self, package: &PackageRef, version: &Version) -> Result<Release, Error> {
        let (manifest, digest, size) = self.find_layer(package, version).await?;
        self.recent
            .keep(&self.repository(package).path, version, &manifest, digest);
        Ok(Release::new(version.clone(), digest).with_size(size))
    }

    async fn fetch_content(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<ContentStream, Error> {
        let repository = self.repository(package);
        let path = format!("/v2/{}/blobs/{}", repository.path, release.digest);
        let response = self
            .reader
            .get_stream(&path, &repository.path)
            .await
            .map_err(|err| self.map_read(err, package, Some(&release.version)))?;
        let registry = self.registry.clone();
        let subject = format!("{package}@{} from {}", release.version, self.registry);
        let stream: ContentStream = Box::pin(response.bytes_stream().map(move |chunk| {
            chunk.map_err(|err| download_error(&registry, &subject, std::io::Error::other(err)))
        }));
        Ok(crate::magic::wasm_only(
            stream,
            &self.registry,
            package,
            release,
        ))
    }

    async fn publish(
        &self,
        package: &PackageRef,
        version: &Version,
        content: ContentReader,
        options: &PublishOptions,
    ) -> Result<Release, Error> {
        crate::publish::publish(self, package, version, content, options).await
    }

    async fn attestations(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<Option<Attestations>, Error> {
        self.find_attestations(package, release).await.map(Some)
    }

    async fn attach(
        &self,
        package: &PackageRef,
        release: &Release,
        bundle: bytes::Bytes,
    ) -> Result<String, Error> {
        self.attach_bundle(package, release, bundle).await
    }

    async fn container(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<Option<registry_core::Container>, Error> {
        self.copy_out(package, release).await
    }

    async fn publish_container(
        &self,
        package: &PackageRef,
        version: &Version,
        container: &registry_core::Container,
        content: ContentReader,
        options: &PublishOptions,
    ) -> Result<Release, Error> {
        crate::publish::publish_container(self, package, version, container, content, options).await
    }
}
