//! [`WargBackend`]: the [`Backend`] over warg-client.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use registry_config::Config;
use registry_core::async_trait;
use registry_core::{
    Backend, ContentDigest, ContentReader, ContentStream, Error, PackageRef, PublishOptions,
    Registry, Release, Secret, VersionInfo,
};
use semver::Version;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use warg_client::storage::{ContentStorage, PublishEntry, PublishInfo};
use warg_client::{FileSystemClient, RegistryUrl};
use warg_crypto::hash::AnyHash;
use warg_crypto::signing::PrivateKey;
use warg_protocol::package::LogState as PackageState;
use warg_protocol::registry::PackageName;

use crate::error::Context;
use crate::settings::WargSettings;
use crate::storage::{self, ClientSpec, StorageDirs};

/// How often a pending record's state is asked for while waiting for it.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

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
    ///
    /// Nothing is contacted or locked until the first operation.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a URL that is not `https` (or `http` on loopback), a
    /// signing key that does not parse, or a token or key file or variable that cannot be
    /// read.
    pub fn new(
        registry: Registry,
        settings: WargSettings,
        default_storage: impl Into<PathBuf>,
    ) -> Result<Self, Error> {
        let url_text = settings.effective_url(&registry);
        let url = RegistryUrl::new(url_text.as_str()).map_err(|err| {
            Error::config(format!(
                "warg registry `{registry}`: `{url_text}` is not a usable server URL ({err}); \
                 set `url = \"https://...\"` under [registry.\"{registry}\".warg] (`http` is \
                 allowed only for loopback hosts)"
            ))
        })?;
        let root = settings
            .storage_dir
            .clone()
            .unwrap_or_else(|| default_storage.into());
        let dirs = StorageDirs::under(&root, &url);
        let mut auth_token = settings.resolve_auth_token(&registry)?;
        // A key in a file or variable is read when publishing, so reading never needs it.
        let mut signing_key = settings.signing_key.clone();
        let key_configured = signing_key.is_some()
            || settings.signing_key_file.is_some()
            || settings.signing_key_env.is_some();
        if let Some(backend) = &settings.keyring_backend {
            let keyring = warg_client::keyring::Keyring::new(backend).map_err(|err| {
                Error::config(format!(
                    "[registry.\"{registry}\".warg] keyring_backend = \"{backend}\": {err}; \
                         supported here: {}",
                    warg_client::keyring::Keyring::SUPPORTED_BACKENDS.join(", ")
                ))
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
            parse_key(&registry, key)?;
        }
        Ok(Self {
            registry,
            url,
            dirs,
            settings,
            auth_token,
            signing_key,
        })
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
        if settings.url.is_none() {
            settings.url = discovered_url.map(str::to_owned);
        }
        Self::new(registry.clone(), settings, default_storage)
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

    async fn client(&self) -> Result<Arc<FileSystemClient>, Error> {
        // warg-client's own HTTP client has no timeouts, trusts the public roots only and
        // reads whole answers: it talks to the server through our relay.
        let key = crate::relay::RelayKey {
            upstream: self.url.to_string(),
            settings: format!(
                "{:?} {:?} {:?} {:?} {:?}",
                self.settings.ca_file,
                self.settings.ca_pem,
                self.settings.insecure_skip_tls_verify,
                self.settings.connect_timeout,
                self.settings.read_timeout
            ),
        };
        let client_url = crate::relay::shared(key, || self.settings.http_client(&self.registry))?;
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
            publishing: false,
        }
    }

    /// The package's log, fetched from the registry and verified now.
    async fn fresh_state(
        &self,
        client: &FileSystemClient,
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

    fn signing_key(&self, package: &PackageRef) -> Result<PrivateKey, Error> {
        let resolved = match &self.signing_key {
            Some(key) => Some(key.clone()),
            None => self.settings.resolve_signing_key(&self.registry)?,
        };
        let Some(key) = &resolved else {
            return Err(Error::InvalidInput {
                message: format!(
                    "publishing `{package}` to warg registry `{}` needs a signing key; set \
                     `signing_key`, `signing_key_file` or `signing_key_env` under \
                     [registry.\"{}\".warg]",
                    self.registry, self.registry
                ),
            });
        };
        parse_key(&self.registry, key)
    }

    /// Submits `entries` for `package` and waits, within the publish timeout, for the
    /// registry to accept them.
    async fn submit(
        &self,
        client: &FileSystemClient,
        key: &PrivateKey,
        package: &PackageRef,
        version: Option<&Version>,
        entries: Vec<PublishEntry>,
    ) -> Result<(), Error> {
        let name = package_name(package)?;
        let context = Context {
            publishing: true,
            ..self.context(package, version)
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
            Some(version),
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
                None => Error::registry(&registry, format!("downloading content failed: {err:#}")),
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
        content: ContentReader,
        options: &PublishOptions,
    ) -> Result<Release, Error> {
        // Check what can be checked before anything is sent; the key is read once.
        let key = self.signing_key(package)?;
        let client = self.client().await?;
        match self.fresh_state(&client, package).await {
            Ok(state) => {
                if state.release(version).is_some() {
                    let why = if options.allow_overwrite {
                        " (a warg log is append-only: overwriting is impossible)"
                    } else {
                        ""
                    };
                    return Err(Error::InvalidInput {
                        message: format!(
                            "`{package}@{version}` already exists in warg registry `{}`{why}; \
                             publish a new version",
                            self.registry
                        ),
                    });
                }
            }
            Err(Error::PackageNotFound { .. }) if self.settings.auto_init() => {}
            Err(Error::PackageNotFound { .. }) => {
                return Err(crate::error::must_initialize(&self.registry, package));
            }
            Err(err) => return Err(err),
        }

        let (digest, size) = store_content(&client, content, options).await?;
        let any_hash = AnyHash::from_str(&digest.to_string()).map_err(|err| {
            Error::registry_with_source(&self.registry, "digest not representable in warg", err)
        })?;
        self.submit(
            &client,
            &key,
            package,
            Some(version),
            vec![PublishEntry::Release {
                version: version.clone(),
                content: any_hash,
            }],
        )
        .await?;
        tracing::info!(%package, %version, registry = %self.registry, %digest, "published to warg");
        Ok(Release::new(version.clone(), digest).with_size(size))
    }
}

/// Streams `content` into warg's content storage (from which publishing uploads it),
/// checking it against `options`.
async fn store_content(
    client: &FileSystemClient,
    mut content: ContentReader,
    options: &PublishOptions,
) -> Result<(ContentDigest, u64), Error> {
    // warg's storage wants a `Sync` stream; a reader is not, so a task feeds a channel.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let reader = tokio::spawn(async move {
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        loop {
            let mut buf = vec![0u8; 256 * 1024];
            match content.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    hasher.update(&buf);
                    size += n as u64;
                    if tx.send(Ok(Bytes::from(buf))).await.is_err() {
                        break;
                    }
                }
                Err(err) => {
                    let kind = err.kind();
                    let _ = tx
                        .send(Err(std::io::Error::new(kind, err.to_string())))
                        .await;
                    return Err(err);
                }
            }
        }
        Ok((
            ContentDigest::from_sha256_bytes(hasher.finalize().into()),
            size,
        ))
    });
    let stream =
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).map_err(anyhow::Error::from);
    let expected = options
        .digest
        .map(|d| AnyHash::from_str(&d.to_string()))
        .transpose()
        .map_err(|err| Error::InvalidInput {
            message: format!("the digest to publish is not valid: {err}"),
        })?;
    let stored = client
        .content()
        .store_content(Box::pin(stream), expected.as_ref())
        .await;
    let read = reader.await.map_err(|err| Error::Io {
        path: None,
        source: std::io::Error::other(err),
    })?;
    let (digest, size) = read.map_err(|source| Error::Io { path: None, source })?;
    if let Err(err) = stored {
        return Err(Error::InvalidInput {
            message: format!("the content to publish was not stored: {err:#}"),
        });
    }
    if let Some(expected) = options.size
        && expected != size
    {
        return Err(Error::InvalidInput {
            message: format!("the content to publish is {size} bytes, not the {expected} declared"),
        });
    }
    Ok((digest, size))
}

fn package_name(package: &PackageRef) -> Result<PackageName, Error> {
    PackageName::new(package.to_string()).map_err(|err| Error::InvalidInput {
        message: format!("`{package}` is not a valid warg package name: {err}"),
    })
}

fn parse_key(registry: &Registry, key: &Secret) -> Result<PrivateKey, Error> {
    PrivateKey::decode(key.expose().to_owned()).map_err(|_| {
        Error::config(format!(
            "the signing key for warg registry `{registry}` does not parse; it must look like \
             `ecdsa-p256:<base64 of 32 bytes>` (the value is not shown)"
        ))
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
