//! [`Route`]: one package's registry and backend, with the operations on it, reading from
//! the registry's mirrors in order where it has any.

use std::path::PathBuf;
use std::sync::Arc;

use registry_config::Origin;
use registry_core::{
    Backend, ContentReader, Error, PackageRef, PublishOptions, Registry, Release, Version,
    VersionInfo, VersionReq,
};

use super::{Client, Inner};
use crate::cache::{Cache, CachedContent};
use crate::progress::Reporting;

/// One place a route's packages can be read from: the registry itself or one of its
/// mirrors.
#[derive(Clone)]
pub(super) struct Source {
    pub(super) registry: Registry,
    pub(super) backend: Arc<dyn Backend>,
}

/// Whether a failure from one source lets the next be tried: the source is down, slow,
/// refuses, or does not have it. Content that fails its check, a registry whose proofs
/// fail, and mistakes in the request or the configuration are reported instead.
fn falls_through(err: &Error) -> bool {
    match err {
        Error::DigestMismatch { .. } | Error::Untrusted { .. } => false,
        // A body cut short is a broken transfer; one that runs long is cut off at the size
        // (nothing of it is kept) and another source may have the right bytes: a hostile
        // mirror cannot make a fetch write without end.
        Error::SizeMismatch { .. } => true,
        Error::InvalidInput { .. }
        | Error::NoRegistryForNamespace { .. }
        | Error::Config(_)
        | Error::AlreadyPublished { .. }
        | Error::NotCached { .. }
        | Error::LockOutOfDate { .. }
        | Error::InvalidWit { .. }
        | Error::SemverIncompatible { .. }
        | Error::ProvenanceRejected { .. }
        | Error::Unsupported { .. } => false,
        _ => true,
    }
}

/// Where one package comes from: its registry, where that was configured, and the backend
/// that speaks to it, worked out once by [`Client::route`] and used for every operation on
/// the package.
///
/// ```no_run
/// # async fn example(client: registry_client::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let route = client.route(&"wasi:http".parse()?).await?;
/// let release = route.resolve(&"^0.2".parse()?).await?;
/// let content = route.fetch_open(&release).await?; // verified, held open
/// println!("{} {} from {}", route.package(), release.version, route.registry());
/// # drop(content); Ok(()) }
/// ```
#[derive(Clone)]
pub struct Route {
    pub(super) client: Client,
    pub(super) package: PackageRef,
    pub(super) registry: Registry,
    pub(super) origin: Option<Origin>,
    /// The registry's own backend (publishing goes here).
    pub(super) backend: Arc<dyn Backend>,
    /// Where reads go, in order: the mirrors and the registry itself, or the registry alone.
    pub(super) sources: Arc<[Source]>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("package", &self.package)
            .field("registry", &self.registry)
            .field("origin", &self.origin)
            .field("sources", &self.sources().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Route {
    /// The package.
    pub fn package(&self) -> &PackageRef {
        &self.package
    }

    /// The registry it comes from.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Where the mapping to the registry was configured (`None` when the registry was named
    /// explicitly and no mapping agrees).
    pub fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }

    /// The backend that speaks to the registry.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Where reads go, in the order they are tried: the registry's mirrors and the registry
    /// itself (`[registry."<name>".mirrors]`), or the registry alone.
    pub fn sources(&self) -> impl Iterator<Item = &Registry> {
        self.sources.iter().map(|s| &s.registry)
    }

    /// Whether reads may be served by a mirror.
    pub(crate) fn has_mirrors(&self) -> bool {
        self.sources.len() > 1 || self.sources[0].registry != self.registry
    }

    /// The first answer of the sources, in order, falling through to the next on the
    /// failures [`falls_through`] names; otherwise, or from the last, the error.
    async fn first_answer<T, F, Fut>(&self, what: &str, mut ask: F) -> Result<T, Error>
    where
        F: FnMut(Source) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let mut sources = self.sources.iter().peekable();
        loop {
            let source = sources.next().expect("a route has at least one source");
            match ask(source.clone()).await {
                Err(err) if falls_through(&err) && sources.peek().is_some() => {
                    let next = &sources.peek().expect("peeked").registry;
                    if err.is_not_found() {
                        tracing::debug!(package = %self.package, "{what}: `{}` does not have it; trying `{next}`", source.registry);
                    } else {
                        tracing::warn!(
                            "{what} for `{}` from `{}` failed, trying `{next}`: {err}",
                            self.package,
                            source.registry
                        );
                    }
                }
                result => return result,
            }
        }
    }

    /// Without the `provenance` feature no signature can be checked: a release whose
    /// policy says to check it on every fetch is refused rather than used unchecked.
    #[cfg(not(feature = "provenance"))]
    pub async fn enforce_provenance(
        &self,
        release: &Release,
        _pinned: Option<&registry_core::provenance::Provenance>,
    ) -> Result<Option<registry_core::provenance::Provenance>, Error> {
        let policy = self
            .client
            .config()
            .provenance(&self.registry, &self.package)?;
        match policy {
            Some(policy) if policy.verify.value == registry_config::VerifyWhen::Always => {
                Err(policy
                    .invalid(
                        "verify",
                        format!(
                            "{}@{} must have its signature verified, and this build of the \
                             client has no provenance support (Cargo feature `provenance` of \
                             registry-client)",
                            self.package, release.version
                        ),
                    )
                    .into())
            }
            _ => Ok(None),
        }
    }

    /// The client the route belongs to.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn cache(&self) -> &Cache {
        self.client.cache()
    }

    pub(super) fn offline(&self) -> bool {
        self.client.is_offline()
    }

    /// The package's versions (newest last). The registry is asked once per package in the
    /// client's life (every time with [`ClientBuilder::refresh`]), so a release published a
    /// moment ago shows in the next command; offline, the list last stored is used whatever
    /// its age.
    ///
    /// # Errors
    /// The backend's errors; offline, [`Error::NotCached`] when nothing is cached.
    pub async fn list_versions(&self) -> Result<Vec<VersionInfo>, Error> {
        if self.offline() {
            return self
                .cache()
                .versions(&self.registry, &self.package)
                .ok_or_else(|| self.client.offline_error(&self.package, "the version list"));
        }
        if !self.client.refreshes()
            && let Some(versions) = self
                .inner()
                .listings
                .lock()
                .expect("not poisoned")
                .get(&self.key())
        {
            return Ok(versions.clone());
        }
        self.fresh_versions().await
    }

    /// The version list from the registry itself (never a list this process remembers),
    /// then remembered and stored for offline use: for decisions that must see every
    /// release, such as the checks before a publish.
    ///
    /// # Errors
    /// The backend's errors.
    pub async fn fresh_versions(&self) -> Result<Vec<VersionInfo>, Error> {
        tracing::debug!(package = %self.package, registry = %self.registry, "asking the registry for the version list");
        let versions = self
            .first_answer("listing versions", |s| async move {
                s.backend.list_versions(&self.package).await
            })
            .await?;
        self.cache()
            .store_versions(&self.registry, &self.package, &versions);
        self.inner()
            .listings
            .lock()
            .expect("not poisoned")
            .insert(self.key(), versions.clone());
        Ok(versions)
    }

    fn inner(&self) -> &Inner {
        &self.client.inner
    }

    fn key(&self) -> (Registry, PackageRef) {
        (self.registry.clone(), self.package.clone())
    }

    /// The newest release matching `requirement` that is not yanked.
    ///
    /// # Errors
    /// [`Error::VersionNotFound`] naming the newest release there is.
    pub async fn resolve(&self, requirement: &VersionReq) -> Result<Release, Error> {
        let mut versions = self.list_versions().await?;
        if pick(&versions, requirement).is_none() && !self.offline() {
            // The cached list may predate the release asked for: ask the registry.
            versions = self.fresh_versions().await?;
        }
        let chosen = pick(&versions, requirement).ok_or_else(|| Error::VersionNotFound {
            registry: self.registry.clone(),
            package: self.package.clone(),
            requirement: requirement.to_string(),
            newest: versions
                .iter()
                .filter(|v| !v.yanked)
                .map(|v| v.version.clone())
                .max(),
        })?;
        self.release(&chosen).await
    }

    /// The release of `version`, asked of the registry once in the client's life; offline,
    /// the description last stored.
    ///
    /// # Errors
    /// The backend's errors; offline, [`Error::NotCached`] when nothing is cached.
    pub async fn release(&self, version: &Version) -> Result<Release, Error> {
        if self.offline() {
            return self
                .cache()
                .release(&self.registry, &self.package, version)
                .ok_or_else(|| {
                    self.client
                        .offline_error(&self.package, &format!("release {version}"))
                });
        }
        let key = (self.registry.clone(), self.package.clone(), version.clone());
        if !self.client.refreshes()
            && let Some(release) = self
                .inner()
                .releases
                .lock()
                .expect("not poisoned")
                .get(&key)
        {
            return Ok(release.clone());
        }
        let release = self
            .first_answer("describing a release", |s| async move {
                s.backend.get_release(&self.package, version).await
            })
            .await?;
        self.cache()
            .store_release(&self.registry, &self.package, &release);
        self.inner()
            .releases
            .lock()
            .expect("not poisoned")
            .insert(key, release.clone());
        Ok(release)
    }

    /// The verified content of `release` in the cache, fetching it if needed. A cached copy
    /// is hashed first (unless its stamp vouches for it, see [`Cache::open_verified`]) and
    /// fetched again if it was corrupted.
    ///
    /// The path can be removed by a concurrent `cache clean` before the caller opens it;
    /// [`fetch_open`](Self::fetch_open) returns the content held open instead.
    pub async fn fetch(&self, release: &Release) -> Result<PathBuf, Error> {
        Ok(self.fetch_open(release).await?.into_path())
    }

    /// Like [`fetch`](Self::fetch), returning the verified content held open, so its bytes
    /// stay readable whatever another process does to the cache meanwhile.
    pub async fn fetch_open(&self, release: &Release) -> Result<CachedContent, Error> {
        let cache = self.cache();
        if let Some(content) = cache.open_verified(&release.digest, release.size).await? {
            return Ok(content);
        }
        if self.offline() {
            return Err(self.client.offline_error(
                &self.package,
                &format!("the content of {}", release.version),
            ));
        }
        // Any source with the digest will do: the bytes are checked against it whoever
        // serves them. Wrong bytes are reported, never passed over for the next source; a
        // body longer than the content's size (or, when nobody stated one, than the
        // ceiling) is cut off there, and the next source asked.
        let ceiling = self.client.max_content_size();
        let _slot = self.client.download_slot(release.size).await;
        self.first_answer("fetching", |source| async move {
            let mut stream = source.backend.fetch_content(&self.package, release).await?;
            if release.size.is_none() {
                stream = capped(
                    stream,
                    ceiling,
                    source.registry.clone(),
                    &self.package,
                    release,
                );
            }
            if let Some(progress) = self.client.progress() {
                stream = Reporting::wrap(
                    stream,
                    progress.clone(),
                    &self.package,
                    &release.version,
                    release.size,
                );
            }
            let subject = format!(
                "{}@{} from {}",
                self.package, release.version, source.registry
            );
            cache
                .insert(&release.digest, release.size, &subject, stream)
                .await
        })
        .await
    }

    /// Publishes `content` as `version` of the package.
    ///
    /// # Errors
    /// Offline, [`Error::InvalidInput`]; otherwise the backend's errors.
    pub async fn publish(
        &self,
        version: &Version,
        content: ContentReader,
        options: &PublishOptions,
    ) -> Result<Release, Error> {
        if self.offline() {
            return Err(Error::InvalidInput {
                message: format!("offline: cannot publish {}@{version}", self.package),
            });
        }
        let release = self
            .backend
            .publish(&self.package, version, content, options)
            .await;
        // Whatever happened, the lists known so far may now be out of date.
        self.inner()
            .listings
            .lock()
            .expect("not poisoned")
            .remove(&self.key());
        self.cache().forget_versions(&self.registry, &self.package);
        release
    }
}

/// The newest non-yanked version matching `requirement`.
pub(crate) fn pick(versions: &[VersionInfo], requirement: &VersionReq) -> Option<Version> {
    versions
        .iter()
        .filter(|v| !v.yanked && requirement.matches(&v.version))
        .map(|v| v.version.clone())
        .max()
}

/// `stream`, ended with an error once it has sent more than `ceiling` bytes: for content
/// whose size nobody stated.
fn capped(
    stream: registry_core::ContentStream,
    ceiling: u64,
    registry: Registry,
    package: &PackageRef,
    release: &Release,
) -> registry_core::ContentStream {
    use futures_util::StreamExt as _;
    let what = format!("{package}@{}", release.version);
    Box::pin(stream.scan((0u64, false), move |(seen, over), chunk| {
        let next = match chunk {
            _ if *over => None,
            Err(err) => Some(Err(err)),
            Ok(chunk) => {
                *seen += chunk.len() as u64;
                if *seen > ceiling {
                    *over = true;
                    Some(Err(Error::Registry {
                        registry: registry.clone(),
                        message: format!(
                            "sent more than {ceiling} bytes for `{what}`, whose size nobody \
                             stated (a lock file pin without one); it was cut off there and \
                             nothing was kept. If the package really is that large, raise the \
                             ceiling (`ClientBuilder::max_content_size`, WREG_MAX_CONTENT_SIZE \
                             for wreg)"
                        ),
                        source: None,
                    }))
                } else {
                    Some(Ok(chunk))
                }
            }
        };
        std::future::ready(next)
    }))
}
