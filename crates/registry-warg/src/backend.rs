//! [`WargBackend`]: the [`Backend`] over warg-client.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use registry_config::{Config, RegistrySettings};
use registry_core::async_trait;
use registry_core::{
    Backend, ContentDigest, ContentReader, ContentStream, Error, PackageRef, PublishOptions,
    Registry, Release, Secret, VersionInfo, chain_text,
};
use registry_transport::{Spool, TlsTrust};
use semver::Version;
use warg_client::RegistryUrl;
use warg_client::storage::{ContentStorage, PublishEntry, PublishInfo};
use warg_crypto::hash::AnyHash;
use warg_crypto::signing::PrivateKey;
use warg_protocol::package::LogState as PackageState;
use warg_protocol::registry::PackageName;

use crate::error::{Context, Submitting};
use crate::settings::{SectionOrigins, WargSettings};
use crate::storage::{self, ClientSpec, StorageDirs, WargClient};

/// How often a pending record's state is asked for while waiting for it.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Bytes read from the publish spool at a time.
const CHUNK: usize = 256 * 1024;

/// A warg registry, through `warg-client`.
///
/// Every listing refreshes the package log from the registry and verifies it (signatures,
/// checkpoint, inclusion and consistency proofs) before answering. Content streams are
/// verified against the digest the log records. Nothing prompts, and the OS keyring is read
/// only when [`WargSettings::keyring_backend`] is set.
pub struct WargBackend {
    registry: Registry,
    url: RegistryUrl,
    dirs: StorageDirs,
    settings: WargSettings,
    /// The TLS trust of the section, read (and `ca_file` loaded) at construction.
    trust: TlsTrust,
    /// Where the section's keys were set, for errors noticed after construction.
    origins: SectionOrigins,
    auth_token: Option<Secret>,
    signing_key: Option<Secret>,
}

impl fmt::Debug for WargBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WargBackend")
            .field("registry", &self.registry)
            .field("url", &self.url.to_string())
            .field("storage", &self.dirs.registry)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "signing_key",
                &self.signing_key.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl WargBackend {
    /// A backend for `registry` at `settings`' URL (else `https://<registry>`, `http` for
    /// loopback), keeping warg's state under `settings.storage_dir`, else `default_storage`.
    /// Settings given in code are not in any file: an error about one names its key and
    /// "settings from `WargSettings`".
    ///
    /// Nothing is contacted or locked until the first operation; `ca_file` is read now.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key for a URL that is not `https` (or `http` on
    /// loopback), a signing key that does not parse, a token or key file or variable that
    /// cannot be read, an unknown keyring backend, or TLS material that does not load.
    pub fn new(
        registry: Registry,
        settings: WargSettings,
        default_storage: impl Into<PathBuf>,
    ) -> Result<Self, Error> {
        let config = crate::settings::config_for_code(&registry)?;
        let section = config.registry_settings(&registry);
        Self::build(&section, settings, default_storage.into(), false)
    }

    /// A backend for `registry` from its `[registry."<name>".warg]` section in `config`;
    /// `discovered_url` (from the registry's well-known document) is used when the section
    /// names no `url`, and warg's state goes under `default_storage` unless the section
    /// says `storage_dir`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file, line and key of a bad setting; otherwise as
    /// [`new`](Self::new).
    pub fn from_config(
        config: &Config,
        registry: &Registry,
        discovered_url: Option<&str>,
        default_storage: impl Into<PathBuf>,
    ) -> Result<Self, Error> {
        let mut settings = WargSettings::from_config(config, registry)?.value;
        let discovered = settings.url.is_none() && discovered_url.is_some();
        if settings.url.is_none() {
            settings.url = discovered_url.map(str::to_owned);
        }
        let section = config.registry_settings(registry);
        Self::build(&section, settings, default_storage.into(), discovered)
    }

    /// The backend for `section`'s registry; every bad value is located in `section`.
    fn build(
        section: &RegistrySettings<'_>,
        settings: WargSettings,
        default_storage: PathBuf,
        discovered_url: bool,
    ) -> Result<Self, Error> {
        let registry = section.registry().clone();
        let origins = SectionOrigins::new(section);
        let url_text = settings.effective_url(&registry);
        let url = RegistryUrl::new(url_text.as_str()).map_err(|err| {
            let from = if discovered_url {
                " (named by the registry's well-known document)"
            } else if settings.url.is_none() {
                " (the default)"
            } else {
                ""
            };
            origins.invalid(
                "url",
                format!(
                    "`{url_text}`{from} is not a usable server URL ({err}); set \
                     `url = \"https://...\"` (`http` is allowed only for loopback hosts)"
                ),
            )
        })?;
        let root = settings.storage_dir.clone().unwrap_or(default_storage);
        let dirs = StorageDirs::under(&root, &url);
        let trust = settings.tls_trust(section)?;
        let mut auth_token = settings.auth_token_at(&origins)?;
        // A key in a file or variable is read when publishing, so reading never needs it.
        let mut signing_key = settings.signing_key.clone();
        let key_configured = signing_key.is_some()
            || settings.signing_key_file.is_some()
            || settings.signing_key_env.is_some();
        if let Some(backend) = &settings.keyring_backend {
            let keyring = warg_client::keyring::Keyring::new(backend).map_err(|err| {
                origins.invalid(
                    "keyring_backend",
                    format!(
                        "`{backend}` cannot be used: {}; supported here: {}",
                        chain_text(&err),
                        warg_client::keyring::Keyring::SUPPORTED_BACKENDS.join(", ")
                    ),
                )
            })?;
            if auth_token.is_none() {
                auth_token = keyring
                    .get_auth_token(&url)
                    .ok()
                    .flatten()
                    .map(|t| Secret::new(secrecy::ExposeSecret::expose_secret(&t).clone()));
            }
            if !key_configured {
                signing_key = keyring
                    .get_signing_key(None, &["default".to_owned()].into_iter().collect(), None)
                    .ok()
                    .map(|key| Secret::new(key.encode().as_str()));
            }
        }
        if let Some(key) = &signing_key {
            let source = if settings.signing_key.is_some() {
                "signing_key"
            } else {
                "keyring_backend"
            };
            parse_key(&origins, source, key)?;
        }
        Ok(Self {
            registry,
            url,
            dirs,
            settings,
            trust,
            origins,
            auth_token,
            signing_key,
        })
    }

    /// Whether `config` leaves `registry`'s server URL to its well-known document (its warg
    /// section names no `url`).
    ///
    /// # Errors
    /// [`Error::Config`] for a bad warg section.
    pub fn needs_discovered_url(config: &Config, registry: &Registry) -> Result<bool, Error> {
        Ok(WargSettings::from_config(config, registry)?
            .value
            .url
            .is_none())
    }

    /// The registry this backend serves.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The warg server's URL.
    pub fn url(&self) -> String {
        self.url.to_string()
    }

    /// The directory warg's package logs are kept in.
    pub fn storage_dir(&self) -> &std::path::Path {
        &self.dirs.registry
    }

    async fn client(&self) -> Result<Arc<WargClient>, Error> {
        // warg-client's own HTTP client has no timeouts, trusts the public roots only and
        // reads whole answers: it talks to the server through our relay.
        let key = crate::relay::RelayKey {
            upstream: self.url.to_string(),
            settings: format!(
                "{:?} {:?} {:?}",
                self.trust, self.settings.connect_timeout, self.settings.read_timeout
            ),
        };
        let client_url = crate::relay::shared(key, &self.registry, || {
            self.settings.http_client(&self.trust)
        })?;
        storage::client(&ClientSpec {
            registry: &self.registry,
            url: &self.url,
            client_url: &client_url,
            dirs: &self.dirs,
            auth_token: self.auth_token.as_ref().map(Secret::expose),
            auto_init: self.settings.auto_init(),
            lock_timeout: self.settings.lock_timeout(),
        })
        .await
    }

    fn context<'a>(&'a self, package: &'a PackageRef, version: Option<&'a Version>) -> Context<'a> {
        Context {
            registry: &self.registry,
            package,
            version,
            submitting: Submitting::Nothing,
            origins: &self.origins,
        }
    }

    /// The package's log, fetched from the registry and verified now.
    async fn fresh_state(
        &self,
        client: &WargClient,
        package: &PackageRef,
    ) -> Result<PackageState, Error> {
        let name = package_name(package)?;
        let info = self
            .deadline(package, client.fetch_package(&name))
            .await?
            .map_err(|e| self.context(package, None).map(e))?;
        Ok(info.state)
    }

    /// `call`, abandoned with a registry error naming the registry and the setting once
    /// the request deadline passes (warg-client's HTTP client has no timeouts).
    async fn deadline<T>(
        &self,
        package: &PackageRef,
        call: impl std::future::Future<Output = T>,
    ) -> Result<T, Error> {
        let limit = self.settings.request_deadline();
        tokio::time::timeout(limit, call).await.map_err(|_| {
            Error::registry(
                &self.registry,
                format!(
                    "no answer about `{package}` within {} s; the server stalled (raise \
                     `connect_timeout`/`read_timeout` under [registry.\"{}\".warg] if it is \
                     only slow)",
                    limit.as_secs(),
                    self.registry
                ),
            )
        })
    }

    /// The key records are signed with: the one read at construction, else the one in
    /// `signing_key_file` or `signing_key_env`, read now.
    fn signing_key(&self, package: &PackageRef) -> Result<PrivateKey, Error> {
        if let Some(key) = &self.signing_key {
            return parse_key(&self.origins, "signing_key", key);
        }
        let Some(key) = self.settings.signing_key_at(&self.origins)? else {
            return Err(self.origins.invalid(
                "signing_key",
                format!(
                    "publishing `{package}` to warg registry `{}` needs a signing key; set \
                     `signing_key`, `signing_key_file` or `signing_key_env`",
                    self.registry
                ),
            ));
        };
        let source = if self.settings.signing_key_file.is_some() {
            "signing_key_file"
        } else {
            "signing_key_env"
        };
        parse_key(&self.origins, source, &key)
    }

    /// The error for `version` of `package` being in the log already: with the digest it
    /// was released with (unless it is yanked), and the one that was to be published.
    fn already_published(
        &self,
        package: &PackageRef,
        version: &Version,
        state: &PackageState,
        attempted: Option<ContentDigest>,
    ) -> Error {
        let existing = state
            .release(version)
            .and_then(|r| r.content())
            .and_then(|hash| to_digest(&self.registry, hash).ok());
        Error::AlreadyPublished {
            registry: self.registry.clone(),
            package: package.clone(),
            version: version.clone(),
            existing,
            attempted,
        }
    }

    /// Submits `entries` for `package` and waits, within the publish timeout, for the
    /// registry to accept them.
    async fn submit(
        &self,
        client: &WargClient,
        key: &PrivateKey,
        package: &PackageRef,
        version: &Version,
        submitting: Submitting,
        entries: Vec<PublishEntry>,
    ) -> Result<(), Error> {
        let name = package_name(package)?;
        let context = Context {
            submitting,
            ..self.context(package, Some(version))
        };
        let info = PublishInfo {
            name: name.clone(),
            head: None,
            entries,
        };
        let timeout = self.settings.publish_timeout();
        let wait = async {
            let record = client
                .publish_with_info(key, info)
                .await
                .map_err(|e| context.map(e))?;
            client
                .wait_for_publish(&name, &record, POLL_INTERVAL)
                .await
                .map_err(|e| context.map(e))
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(result) => result,
            Err(_) => Err(Error::registry(
                &self.registry,
                format!(
                    "the record for `{package}` was not accepted within {} s; it may still be \
                     published: list the versions before retrying, or raise `publish_timeout`",
                    timeout.as_secs()
                ),
            )),
        }
    }

    /// Marks `version` of `package` yanked: resolvers skip it from then on.
    ///
    /// # Errors
    /// [`Error::VersionNotFound`] when the package has no such release,
    /// [`Error::Unauthorized`] when the signing key may not yank it, and the errors of
    /// [`Backend::publish`].
    pub async fn yank(&self, package: &PackageRef, version: &Version) -> Result<(), Error> {
        let key = self.signing_key(package)?;
        let client = self.client().await?;
        let state = self.fresh_state(&client, package).await?;
        if state.release(version).is_none_or(|r| r.yanked()) {
            return Err(Error::VersionNotFound {
                registry: self.registry.clone(),
                package: package.clone(),
                requirement: format!("={version}"),
                newest: newest(&state),
            });
        }
        self.submit(
            &client,
            &key,
            package,
            version,
            Submitting::Yank,
            vec![PublishEntry::Yank {
                version: version.clone(),
            }],
        )
        .await
    }
}

#[async_trait]
impl Backend for WargBackend {
    async fn list_versions(&self, package: &PackageRef) -> Result<Vec<VersionInfo>, Error> {
        let client = self.client().await?;
        let state = self.fresh_state(&client, package).await?;
        let mut versions: Vec<VersionInfo> = state
            .releases()
            .map(|r| VersionInfo::new(r.version.clone()).with_yanked(r.yanked()))
            .collect();
        versions.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(versions)
    }

    fn tracks_yanks(&self) -> bool {
        true
    }

    async fn get_release(&self, package: &PackageRef, version: &Version) -> Result<Release, Error> {
        let client = self.client().await?;
        let name = package_name(package)?;
        // A release's content never changes, so a stored log that has it answers; only a
        // miss asks the registry.
        let stored = self
            .deadline(package, client.package(&name))
            .await?
            .map_err(|e| self.context(package, Some(version)).map(e))?
            .state;
        let state = if stored.release(version).is_some() {
            stored
        } else {
            self.fresh_state(&client, package).await?
        };
        let content = state.release(version).and_then(|r| r.content());
        let Some(content) = content else {
            let yanked = state.release(version).is_some();
            return Err(Error::VersionNotFound {
                registry: self.registry.clone(),
                package: package.clone(),
                requirement: if yanked {
                    format!("={version} (yanked)")
                } else {
                    format!("={version}")
                },
                newest: newest(&state),
            });
        };
        Ok(Release::new(
            version.clone(),
            to_digest(&self.registry, content)?,
        ))
    }

    async fn fetch_content(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<ContentStream, Error> {
        let client = self.client().await?;
        let name = package_name(package)?;
        let context_err = |e| self.context(package, Some(&release.version)).map(e);
        let (info, stream) = self
            .deadline(
                package,
                client.download_exact_as_stream(&name, &release.version),
            )
            .await?
            .map_err(context_err)?;
        let declared = to_digest(&self.registry, &info.digest)?;
        if declared != release.digest {
            return Err(Error::DigestMismatch {
                subject: format!("{package}@{} from {}", release.version, self.registry),
                expected: release.digest,
                actual: declared,
            });
        }
        let subject = format!("{package}@{} from {}", release.version, self.registry);
        let registry = self.registry.clone();
        let expected = release.digest;
        // warg-client hashes the body as it passes and fails the stream's end on a mismatch,
        // naming both digests in prose; that becomes `DigestMismatch` here rather than being
        // hashed a second time. The client stays alive (and its storage locked) until the
        // stream is dropped.
        let stall = self.settings.read_timeout();
        let stalled_registry = self.registry.clone();
        let stream = stream.map(move |item| {
            let _keep = &client;
            item.map_err(|err| match computed_digest(&err.to_string()) {
                Some(actual) => Error::DigestMismatch {
                    subject: subject.clone(),
                    expected,
                    actual,
                },
                None => Error::registry(
                    &registry,
                    format!(
                        "downloading content failed: {}",
                        crate::relay::redact(&chain_text(err.as_ref()))
                    ),
                ),
            })
        });
        // A piece that does not come within `read_timeout` ends the stream with an error.
        let stream =
            futures_util::stream::unfold((Box::pin(stream), false), move |(mut inner, ended)| {
                let registry = stalled_registry.clone();
                async move {
                    if ended {
                        return None;
                    }
                    match tokio::time::timeout(stall, inner.next()).await {
                        Ok(Some(item)) => Some((item, (inner, false))),
                        Ok(None) => None,
                        Err(_) => Some((
                            Err(Error::registry(
                                &registry,
                                format!(
                                    "the download stalled for {} s (read_timeout)",
                                    stall.as_secs()
                                ),
                            )),
                            (inner, true),
                        )),
                    }
                }
            });
        Ok(Box::pin(stream))
    }

    async fn publish(
        &self,
        package: &PackageRef,
        version: &Version,
        mut content: ContentReader,
        options: &PublishOptions,
    ) -> Result<Release, Error> {
        // Check what can be checked before anything is sent; the key is read once. The
        // content is spooled first: its size and digest are checked against `options`, and
        // a release that is there already can be compared with it.
        let key = self.signing_key(package)?;
        let spool = Spool::new(&mut content, options).await?;
        drop(content);
        let digest = spool.digest();
        let client = self.client().await?;
        match self.fresh_state(&client, package).await {
            Ok(state) => {
                if state.release(version).is_some() {
                    if options.allow_overwrite {
                        tracing::warn!(
                            %package, %version, registry = %self.registry,
                            "a warg log is append-only: an existing release cannot be overwritten"
                        );
                    }
                    return Err(self.already_published(package, version, &state, Some(digest)));
                }
            }
            Err(Error::PackageNotFound { .. }) if self.settings.auto_init() => {}
            Err(Error::PackageNotFound { .. }) => {
                return Err(crate::error::must_initialize(
                    &self.origins,
                    &self.registry,
                    package,
                ));
            }
            Err(err) => return Err(err),
        }

        let any_hash = warg_hash(&self.registry, &digest)?;
        store_content(&client, &self.dirs, &spool, &any_hash).await?;
        let submitted = self
            .submit(
                &client,
                &key,
                package,
                version,
                Submitting::Release(digest),
                vec![PublishEntry::Release {
                    version: version.clone(),
                    content: any_hash,
                }],
            )
            .await;
        if let Err(Error::AlreadyPublished { existing: None, .. }) = &submitted {
            // Released by someone else meanwhile: say with what, when the log tells.
            if let Ok(state) = self.fresh_state(&client, package).await {
                return Err(self.already_published(package, version, &state, Some(digest)));
            }
        }
        submitted?;
        tracing::info!(%package, %version, registry = %self.registry, %digest, "published to warg");
        Ok(Release::new(version.clone(), digest).with_size(spool.size()))
    }
}

/// Streams the spooled content into warg's content storage, from which publishing uploads
/// it; warg's storage hashes it again and refuses it unless it has the spool's digest.
async fn store_content(
    client: &WargClient,
    dirs: &StorageDirs,
    spool: &Spool,
    expected: &AnyHash,
) -> Result<(), Error> {
    let file = tokio::fs::File::from_std(spool.reopen()?);
    let stream =
        tokio_util::io::ReaderStream::with_capacity(file, CHUNK).map_err(anyhow::Error::from);
    client
        .content()
        .store_content(Box::pin(stream), Some(expected))
        .await
        .map_err(|err| {
            let kind = err
                .root_cause()
                .downcast_ref::<std::io::Error>()
                .map_or(std::io::ErrorKind::Other, std::io::Error::kind);
            Error::Io {
                path: Some(dirs.content.clone()),
                source: std::io::Error::new(
                    kind,
                    format!(
                        "storing the content to publish in warg's storage: {}",
                        chain_text(err.as_ref())
                    ),
                ),
            }
        })?;
    Ok(())
}

fn package_name(package: &PackageRef) -> Result<PackageName, Error> {
    PackageName::new(package.to_string()).map_err(|err| Error::InvalidInput {
        message: format!("`{package}` is not a valid warg package name: {err}"),
    })
}

/// `key` parsed; `source` is the key of the section it came from (`signing_key`,
/// `signing_key_file`, `signing_key_env` or `keyring_backend`).
fn parse_key(origins: &SectionOrigins, source: &str, key: &Secret) -> Result<PrivateKey, Error> {
    PrivateKey::decode(key.expose().to_owned()).map_err(|_| {
        let whose = if source == "keyring_backend" {
            "the signing key in the keyring"
        } else {
            "the signing key"
        };
        origins.invalid(
            source,
            format!(
                "{whose} does not parse; it must look like `ecdsa-p256:<base64 of 32 bytes>` \
                 (the value is not shown)"
            ),
        )
    })
}

/// `digest` as warg names content.
fn warg_hash(registry: &Registry, digest: &ContentDigest) -> Result<AnyHash, Error> {
    AnyHash::from_str(&digest.to_string()).map_err(|err| {
        Error::registry_with_source(registry, "digest not representable in warg", err)
    })
}

fn to_digest(registry: &Registry, hash: &AnyHash) -> Result<ContentDigest, Error> {
    hash.to_string().parse().map_err(|err| {
        Error::registry_with_source(
            registry,
            format!("the log names content by `{hash}`, which is not a sha256 digest"),
            err,
        )
    })
}

/// The digest warg-client computed, from its mismatch message: "expected digest `a` but
/// computed digest `b`".
fn computed_digest(message: &str) -> Option<ContentDigest> {
    let rest = message.strip_prefix("expected digest `")?;
    let (_, computed) = rest.split_once("computed digest `")?;
    computed.strip_suffix('`')?.parse().ok()
}

fn newest(state: &PackageState) -> Option<Version> {
    state
        .releases()
        .filter(|r| !r.yanked())
        .map(|r| r.version.clone())
        .max()
}
