//! Publishing with the checks a registry user expects, through any backend: a release is
//! not published twice, and a WIT package keeps what the releases around it offer.

use std::path::{Path, PathBuf};

use registry_client::Route;
use registry_core::{ContentDigest, Error, PublishOptions, Release, Version};

use crate::semver::{check_semver, neighbours};

/// Files up to this size are read whole to compare them as WIT (WIT packages are a few
/// KiB); larger files are components, never compared.
const SMALL: u64 = 8 * 1024 * 1024;

/// What to publish and how.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PublishRequest {
    /// The version to publish.
    pub version: Version,
    /// The Wasm file: a component or a binary WIT package.
    pub file: PathBuf,
    /// Metadata and what the backend may do ([`PublishOptions`]); the size and digest are
    /// filled in from the file.
    pub options: PublishOptions,
    /// Publish even when the release is not compatible with its neighbours.
    pub skip_semver_check: bool,
    /// A release already published with the same bytes is a success, not an error.
    pub skip_existing: bool,
    /// Check everything, upload nothing.
    pub dry_run: bool,
}

impl PublishRequest {
    /// Publishes `file` as `version`, with every check.
    pub fn new(version: Version, file: impl Into<PathBuf>) -> Self {
        Self {
            version,
            file: file.into(),
            options: PublishOptions::default(),
            skip_semver_check: false,
            skip_existing: false,
            dry_run: false,
        }
    }

    /// With these publish options (metadata, overwriting).
    pub fn with_options(mut self, options: PublishOptions) -> Self {
        self.options = options;
        self
    }

    /// Without the semver check.
    pub fn skip_semver_check(mut self, skip: bool) -> Self {
        self.skip_semver_check = skip;
        self
    }

    /// With a release already published with the same bytes counted as a success.
    pub fn skip_existing(mut self, skip: bool) -> Self {
        self.skip_existing = skip;
        self
    }

    /// Checking only.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }
}

/// What publishing did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Published {
    /// Uploaded: the release the registry now has.
    Uploaded(Release),
    /// Already published with the same bytes ([`PublishRequest::skip_existing`]).
    Existing(Release),
    /// Checked, not uploaded ([`PublishRequest::dry_run`]).
    DryRun(Release),
}

impl Published {
    /// The release (for a dry run, the one that would be published).
    pub fn release(&self) -> &Release {
        match self {
            Self::Uploaded(release) | Self::Existing(release) | Self::DryRun(release) => release,
        }
    }
}

/// Publishes `request.file` as `request.version` of `route`'s package, after checking that
/// the file is WebAssembly, that the version is not published yet (unless the same bytes
/// are and [`skip_existing`](PublishRequest::skip_existing) is set), and, for a WIT package,
/// that it keeps what the releases around it in its series offer ([`check_semver`] against
/// each of [`neighbours`]).
///
/// # Errors
/// [`Error::AlreadyPublished`] with the digest that is there;
/// [`Error::SemverIncompatible`] with every break; [`Error::InvalidInput`] for a file that
/// is not WebAssembly; the backend's errors.
pub async fn publish(route: &Route, request: &PublishRequest) -> Result<Published, Error> {
    let version = &request.version;
    let (size, digest, small) = inspect(&request.file).await?;
    let release = Release::new(version.clone(), digest).with_size(size);
    let published = published_versions(route).await?;
    if published.contains(version) && !request.options.allow_overwrite {
        let existing = route.release(version).await?;
        if request.skip_existing && existing.digest == digest {
            return Ok(Published::Existing(existing));
        }
        return Err(Error::AlreadyPublished {
            registry: route.registry().clone(),
            package: route.package().clone(),
            version: version.clone(),
            existing: Some(existing.digest),
            attempted: Some(digest),
        });
    }
    if !request.skip_semver_check
        && let Some(bytes) = &small
    {
        let (earlier, later) = neighbours(&published, version);
        let package = route.package();
        if let Some(earlier) = earlier
            && let Some(old) = content_of(route, &earlier).await?
        {
            check_semver(package, (&earlier, &old), (version, bytes))?;
        }
        if let Some(later) = later
            && let Some(new) = content_of(route, &later).await?
        {
            check_semver(package, (version, bytes), (&later, &new))?;
        }
    }
    if request.dry_run {
        return Ok(Published::DryRun(release));
    }
    let options = request
        .options
        .clone()
        .with_size(size)
        .with_digest(digest)
        .with_file(&request.file);
    let content = tokio::fs::File::open(&request.file)
        .await
        .map_err(|e| Error::io(&request.file, e))?;
    let release = route.publish(version, Box::pin(content), &options).await?;
    Ok(Published::Uploaded(release))
}

/// A neighbour's bytes, or `None` for a release too large to be a WIT package (a component,
/// never compared and not worth downloading).
async fn content_of(route: &Route, version: &Version) -> Result<Option<Vec<u8>>, Error> {
    let release = route.release(version).await?;
    if release.size.is_some_and(|size| size > SMALL) {
        return Ok(None);
    }
    route.fetch_open(&release).await?.read().await.map(Some)
}

/// The versions already published (none when the package does not exist yet).
async fn published_versions(route: &Route) -> Result<Vec<Version>, Error> {
    match route.fresh_versions().await {
        Ok(versions) => Ok(versions.into_iter().map(|v| v.version).collect()),
        Err(Error::PackageNotFound { .. }) => Ok(Vec::new()),
        Err(err) => Err(err),
    }
}

/// The file's size and digest (read in constant memory), and its bytes when it is small.
async fn inspect(file: &Path) -> Result<(u64, ContentDigest, Option<Vec<u8>>), Error> {
    let path = file.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Read as _;
        let io = |e| Error::io(&path, e);
        let mut f = std::fs::File::open(&path).map_err(io)?;
        let size = f.metadata().map_err(io)?.len();
        let mut magic = [0; 4];
        if f.read_exact(&mut magic).is_err() || &magic != b"\0asm" {
            return Err(Error::InvalidInput {
                message: format!("{} is not WebAssembly", path.display()),
            });
        }
        if size <= SMALL {
            let bytes = std::fs::read(&path).map_err(io)?;
            return Ok((size, ContentDigest::sha256(&bytes), Some(bytes)));
        }
        let f = std::fs::File::open(&path).map_err(io)?;
        Ok((size, ContentDigest::sha256_reader(f).map_err(io)?, None))
    })
    .await
    .map_err(|err| Error::Io {
        path: Some(file.to_owned()),
        source: std::io::Error::other(err),
    })?
}
