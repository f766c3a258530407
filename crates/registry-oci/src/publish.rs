//! Publishing: the CNCF Wasm OCI artifact layout, streamed from a temporary file.
//!
//! The content is read once, into an unnamed temporary file, hashing as it goes; then the
//! component's imports, exports and metadata are read from the file section by section;
//! then the layer is uploaded from the file in chunks (skipped when the registry already has
//! it), then the config blob, then the manifest under the version's tag. Memory stays
//! constant whatever the size of the content.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use registry_core::{
    Container, ContentDigest, ContentReader, Error, PackageRef, PublishOptions, Release, Version,
};
use registry_transport::Spool;

use crate::OciBackend;
use registry_core::metadata::WasmMetadata;

use crate::component;
use crate::manifest::{
    ComponentConfig, Descriptor, ImageManifest, OCI_MANIFEST, WASM_CONFIG, WASM_LAYER, WasmConfig,
};
use crate::reference::version_to_tag;

/// Bytes read or sent at a time.
const CHUNK: usize = 1024 * 1024;

pub(crate) async fn publish(
    backend: &OciBackend,
    package: &PackageRef,
    version: &Version,
    mut content: ContentReader,
    options: &PublishOptions,
) -> Result<Release, Error> {
    let registry = backend.registry();
    refuse_existing(backend, package, version, options).await?;
    // The client and credentials for the pushes (a push token asked for by us, capped).
    let pushes = Pushes::new(backend, package, version).await?;

    // Spooled to an unnamed temporary file, hashed as it lands; or the publisher's own
    // file, read in place and hashed as it is uploaded.
    let spool = Spool::for_publish(&mut content, options).await?;
    let (digest, size) = (spool.digest(), spool.size());

    let mut inspected = spool.reopen()?;
    let mut info = tokio::task::spawn_blocking(move || {
        WasmMetadata::read(&mut inspected).map_err(|e| e.to_string())
    })
    .await
    .map_err(|err| Error::registry_with_source(registry, "inspecting the content failed", err))?
    .map_err(|message| Error::InvalidInput {
        message: format!("cannot publish {package}@{version}: {message}"),
    })?;
    // Metadata given with the publish (a `wkg.toml` `[metadata]` table) wins.
    for (field, text) in &options.metadata {
        info.set_field(*field, text.clone());
    }

    // The layer, from the file; the config blob; the manifest, under the version's tag.
    pushes.layer(&spool).await?;
    let artifact = Artifact::new(package, version, &info, &digest, size, SystemTime::now());
    pushes
        .blob(&artifact.config_digest, artifact.config.into())
        .await?;
    pushes
        .manifest(artifact.manifest, http_header(OCI_MANIFEST))
        .await?;
    tracing::debug!(%package, %version, tag = version_to_tag(version), "published");
    Ok(Release::new(version.clone(), digest).with_size(size))
}

/// Publishes `content` as `version` of `package` in `container` as it is: the layer, the
/// container's blobs, then its manifest's bytes under the version's tag, so the release
/// keeps the container's digest (and the signatures naming it).
pub(crate) async fn publish_container(
    backend: &OciBackend,
    package: &PackageRef,
    version: &Version,
    container: &Container,
    mut content: ContentReader,
    options: &PublishOptions,
) -> Result<Release, Error> {
    let media_type =
        http::HeaderValue::from_str(&container.media_type).map_err(|_| Error::InvalidInput {
            message: format!(
                "cannot publish {package}@{version}: its manifest's media type {:?} is not a \
                 header value",
                container.media_type
            ),
        })?;
    refuse_existing(backend, package, version, options).await?;
    let pushes = Pushes::new(backend, package, version).await?;
    let spool = Spool::for_publish(&mut content, options).await?;
    let what = format!("{package}@{version}");
    // Checked before anything is sent.
    let blobs = crate::container::blobs_to_write(container, &spool.digest(), &what)?;
    pushes.layer(&spool).await?;
    for (digest, bytes) in blobs {
        pushes.blob(&digest.to_string(), bytes.clone()).await?;
    }
    pushes
        .manifest(container.manifest.to_vec(), media_type)
        .await?;
    tracing::debug!(%package, %version, manifest = %container.digest, "published in its container");
    Ok(Release::new(version.clone(), spool.digest()).with_size(spool.size()))
}

/// Refuses to publish over a release that exists, unless `options` allow it.
async fn refuse_existing(
    backend: &OciBackend,
    package: &PackageRef,
    version: &Version,
    options: &PublishOptions,
) -> Result<(), Error> {
    if options.allow_overwrite {
        return Ok(());
    }
    match registry_core::Backend::get_release(backend, package, version).await {
        Ok(existing) => Err(Error::AlreadyPublished {
            registry: backend.registry().clone(),
            package: package.clone(),
            version: version.clone(),
            existing: Some(existing.digest),
            attempted: options.digest,
        }),
        Err(err) if err.is_not_found() => Ok(()),
        Err(err) => Err(err),
    }
}

/// The pushes of one release: the client and credentials a publish uses, and where.
struct Pushes<'a> {
    backend: &'a OciBackend,
    package: &'a PackageRef,
    version: &'a Version,
    reference: oci_client::Reference,
    client: oci_client::Client,
    auth: RegistryAuth,
}

impl<'a> Pushes<'a> {
    async fn new(
        backend: &'a OciBackend,
        package: &'a PackageRef,
        version: &'a Version,
    ) -> Result<Self, Error> {
        let (client, auth) = backend.publisher(package).await?;
        Ok(Self {
            backend,
            package,
            version,
            reference: backend.repository(package).tag(version),
            client,
            auth,
        })
    }

    fn map(&self) -> impl Fn(OciDistributionError) -> Error + '_ {
        |err| {
            self.backend
                .map_error(err, self.package, Some(self.version))
        }
    }

    async fn exists(&self, digest: &str) -> Result<bool, Error> {
        let (backend, client, auth) = (self.backend, &self.client, &self.auth);
        blob_exists(backend, client, auth, &self.reference, digest, self.package).await
    }

    /// The spooled content, streamed from its file, unless the registry has it. Content
    /// read in place is hashed as it is sent: when it is not what was declared (the file
    /// changed during the publish), the error stops the publish before any manifest
    /// refers to the blob.
    async fn layer(&self, spool: &Spool) -> Result<(), Error> {
        use futures_util::StreamExt as _;
        let digest = spool.digest().to_string();
        if self.exists(&digest).await? {
            // The registry has the declared bytes; a file read in place must still be them,
            // or the manifest would describe another file than its layer.
            return spool.check_in_place().await;
        }
        let file = spool.reopen()?;
        let chunks = file_chunks(
            tokio::fs::File::from_std(file),
            OciDistributionError::IoError,
        );
        // Bytes read in place are hashed as they go, and the chunk that completes them is
        // sent only if they are the declared ones: otherwise the stream ends in an error
        // before the upload is whole, so the registry commits no blob under the digest
        // (even one that does not check digests).
        let size = spool.size();
        let verifier = std::sync::Mutex::new(spool.verifier());
        let failed: std::sync::Arc<std::sync::Mutex<Option<Error>>> = std::sync::Arc::default();
        let failing = failed.clone();
        let chunks = chunks.map(move |chunk| {
            let mut slot = verifier.lock().expect("not poisoned");
            let (Ok(bytes), Some(checking)) = (&chunk, slot.as_mut()) else {
                return chunk;
            };
            let _ = checking.update(bytes);
            if checking.bytes_seen() < size {
                return chunk;
            }
            let checking = slot.take().expect("checked above");
            match checking.finish() {
                Ok(_) => chunk,
                Err(err) => {
                    let text = err.to_string();
                    *failing.lock().expect("not poisoned") = Some(err);
                    Err(OciDistributionError::IoError(std::io::Error::other(text)))
                }
            }
        });
        let pushed = self
            .client
            .push_blob_stream(&self.reference, chunks, &digest, Some(size))
            .await
            .map_err(self.map());
        if let Some(err) = failed.lock().expect("not poisoned").take() {
            return Err(spool.changed(&err));
        }
        pushed.map(|_| ())
    }

    /// A small blob, unless the registry has it.
    async fn blob(&self, digest: &str, bytes: Bytes) -> Result<(), Error> {
        if !self.exists(digest).await? {
            self.client
                .push_blob(&self.reference, bytes, digest)
                .await
                .map_err(self.map())?;
        }
        Ok(())
    }

    /// The manifest's bytes, as they are, under the version's tag.
    async fn manifest(&self, bytes: Vec<u8>, media_type: http::HeaderValue) -> Result<(), Error> {
        self.client
            .push_manifest_raw(&self.reference, bytes, media_type)
            .await
            .map_err(self.map())?;
        Ok(())
    }
}

fn http_header(value: &'static str) -> http::HeaderValue {
    http::HeaderValue::from_static(value)
}

/// The config blob and manifest of a Wasm OCI artifact: what a publish uploads and what a
/// bundle holds, built the same way for both.
pub(crate) struct Artifact {
    /// The config blob.
    pub(crate) config: Vec<u8>,
    /// Its digest, `sha256:...`.
    pub(crate) config_digest: String,
    /// The image manifest.
    pub(crate) manifest: Vec<u8>,
}

impl Artifact {
    /// The artifact of one layer (`layer`, `size` bytes) described by `info`, made at
    /// `created`.
    pub(crate) fn new(
        package: &PackageRef,
        version: &Version,
        info: &WasmMetadata,
        layer: &ContentDigest,
        size: u64,
        created: SystemTime,
    ) -> Self {
        let layer_digest = layer.to_string();
        let config = WasmConfig {
            created: rfc3339(created),
            architecture: "wasm".to_owned(),
            os: if info.is_component {
                "wasip2"
            } else {
                "wasip1"
            }
            .to_owned(),
            layer_digests: vec![layer_digest.clone()],
            component: ComponentConfig {
                imports: info.imports.clone(),
                exports: info.exports.clone(),
                target: None,
            },
        };
        let config_bytes = serde_json::to_vec(&config).expect("the config serializes");
        let config_digest = ContentDigest::sha256(&config_bytes).to_string();
        let manifest = image_manifest(
            package,
            version,
            info,
            &config,
            Descriptor {
                media_type: WASM_CONFIG.to_owned(),
                digest: config_digest.clone(),
                size: config_bytes.len() as u64,
                annotations: BTreeMap::new(),
            },
            Descriptor {
                media_type: WASM_LAYER.to_owned(),
                digest: layer_digest,
                size,
                annotations: BTreeMap::from([(
                    "org.opencontainers.image.title".to_owned(),
                    format!("{}.wasm", package.name()),
                )]),
            },
        );
        Self {
            config: config_bytes,
            config_digest,
            manifest: serde_json::to_vec(&manifest).expect("the manifest serializes"),
        }
    }
}

fn image_manifest(
    package: &PackageRef,
    version: &Version,
    info: &WasmMetadata,
    config: &WasmConfig,
    config_descriptor: Descriptor,
    layer: Descriptor,
) -> ImageManifest {
    let mut annotations = component::annotations(info);
    annotations.insert(
        "org.opencontainers.image.version".to_owned(),
        version.to_string(),
    );
    annotations.insert(
        "org.opencontainers.image.created".to_owned(),
        config.created.clone(),
    );
    annotations
        .entry("org.opencontainers.image.title".to_owned())
        .or_insert_with(|| package.to_string());
    ImageManifest {
        schema_version: 2,
        media_type: OCI_MANIFEST,
        config: config_descriptor,
        layers: vec![layer],
        annotations,
    }
}

pub(crate) async fn blob_exists(
    backend: &OciBackend,
    client: &oci_client::Client,
    auth: &RegistryAuth,
    reference: &oci_client::Reference,
    digest: &str,
    package: &PackageRef,
) -> Result<bool, Error> {
    client
        .store_auth_if_needed(reference.resolve_registry(), auth)
        .await;
    match backend
        .retrying("blob", || client.blob_exists(reference, digest))
        .await
    {
        Ok(exists) => Ok(exists),
        // A repository that does not exist yet has no blobs.
        Err(OciDistributionError::ServerError { code: 404, .. }) => Ok(false),
        Err(err) => Err(backend.map_error(err, package, None)),
    }
}

/// The file's bytes as a stream of chunks, a read error turned into `E` by `error` (the
/// stream ends after it).
pub(crate) fn file_chunks<E: Send + 'static>(
    file: tokio::fs::File,
    error: impl FnMut(std::io::Error) -> E + Send + 'static,
) -> impl futures_util::Stream<Item = Result<Bytes, E>> + Send + 'static {
    use futures_util::TryStreamExt as _;
    tokio_util::io::ReaderStream::with_capacity(file, CHUNK).map_err(error)
}

/// `time` as RFC 3339 in UTC, to the second.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_825_896);
        assert_eq!(rfc3339(t), "2026-11-28T00:31:36Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }
}
