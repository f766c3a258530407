//! Releases copied with their containers (`wreg bundle`): which blobs an image manifest
//! names beside its Wasm layer, read by the registry and the layout backends, and the
//! check that a container about to be written holds the content and every blob it names.
//!
//! See [`registry_core::Container`] for why a copy keeps the manifest's bytes.

use bytes::Bytes;
use registry_core::{Container, ContentDigest, Error};
use serde::Deserialize;

use crate::manifest::{self, OCI_MANIFEST, Parsed, RawDescriptor};
use crate::sigstore::Found;

/// The largest blob beside the content a container is copied with (a Wasm config is a
/// few kilobytes); a container with a larger one is not copied whole.
pub(crate) const BLOB_MAX_BYTES: usize = 4 * 1024 * 1024;

/// The parts of an image manifest that name blobs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Named {
    media_type: Option<String>,
    config: Option<RawDescriptor>,
    #[serde(default)]
    layers: Vec<RawDescriptor>,
}

/// The most blobs a copied manifest may name besides its content.
const MAX_BLOBS_BESIDE: usize = 16;

/// The media type of the image manifest `bytes` (OCI's when it says none) and the blobs
/// it names besides `content`, which must be its Wasm layer; `what` names the manifest.
pub(crate) fn beside(
    bytes: &[u8],
    content: &ContentDigest,
    what: &str,
) -> Result<(String, Vec<Found>), String> {
    let layer = match manifest::parse(bytes, what)? {
        Parsed::Layer { digest, .. } | Parsed::TitledLayer { digest, .. } => digest,
        Parsed::Index { .. } => {
            return Err(format!(
                "{what} is an index, not the manifest of one package"
            ));
        }
    };
    if layer != *content {
        return Err(format!(
            "{what} holds the Wasm layer {layer}, not the content {content}"
        ));
    }
    let named: Named = serde_json::from_slice(bytes)
        .map_err(|err| format!("{what} is not an image manifest: {err}"))?;
    let mut blobs: Vec<Found> = Vec::new();
    for raw in named.config.iter().chain(&named.layers) {
        let found = Found::of(raw)
            .ok_or_else(|| format!("{what} names a blob without a usable digest and size"))?;
        if found.digest != *content && !blobs.iter().any(|b| b.digest == found.digest) {
            blobs.push(found);
        }
        // A Wasm package's manifest names its config beside the content; a hostile one
        // could name thousands of blobs, each read whole into memory when it is copied.
        if blobs.len() > MAX_BLOBS_BESIDE {
            return Err(format!(
                "{what} names more than {MAX_BLOBS_BESIDE} blobs besides its content; a Wasm \
                 package's manifest names its config and its content"
            ));
        }
    }
    let media_type = named.media_type.unwrap_or_else(|| OCI_MANIFEST.to_owned());
    Ok((media_type, blobs))
}

/// The blobs `container` is written with, in the manifest's order: each one its manifest
/// names besides `content` (its Wasm layer), with its bytes, checked against its digest.
///
/// # Errors
/// [`Error::InvalidInput`] naming `what` (the release) for content the manifest does not
/// hold, a blob it names that the container lacks, or one whose bytes are not its digest's.
pub(crate) fn blobs_to_write<'a>(
    container: &'a Container,
    content: &ContentDigest,
    what: &str,
) -> Result<Vec<(ContentDigest, &'a Bytes)>, Error> {
    let refused = |problem: String| Error::InvalidInput {
        message: format!(
            "cannot write {what} in its container {}: {problem}",
            container.digest
        ),
    };
    let (_, named) = beside(&container.manifest, content, "its manifest").map_err(refused)?;
    named
        .into_iter()
        .map(|blob| {
            let Some((_, bytes)) = container.blobs.iter().find(|(d, _)| *d == blob.digest) else {
                return Err(refused(format!("the blob {} is missing", blob.digest)));
            };
            let actual = ContentDigest::sha256(bytes);
            if actual != blob.digest {
                return Err(refused(format!(
                    "the blob {} holds bytes whose digest is {actual}",
                    blob.digest
                )));
            }
            Ok((blob.digest, bytes))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(config: &[u8], layer: &ContentDigest) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "config": {
                "mediaType": "application/vnd.wasm.config.v0+json",
                "digest": ContentDigest::sha256(config).to_string(),
                "size": config.len(),
            },
            "layers": [{ "mediaType": "application/wasm", "digest": layer.to_string(), "size": 8 }],
        }))
        .unwrap()
    }

    #[test]
    fn a_container_is_written_only_with_its_content_and_every_blob_it_names() {
        let (config, content) = (b"{\"config\":1}", ContentDigest::sha256(b"\0asm\x01\0\0\0"));
        let bytes = manifest(config, &content);
        let (media_type, named) = beside(&bytes, &content, "m").unwrap();
        assert_eq!(media_type, OCI_MANIFEST);
        assert_eq!(named.len(), 1);
        assert_eq!(named[0].digest, ContentDigest::sha256(config));

        let mut container = Container::new(media_type, bytes.into());
        let err = blobs_to_write(&container, &content, "acme:x@1.0.0").unwrap_err();
        assert!(err.to_string().contains("is missing"), "{err}");
        container
            .blobs
            .push((ContentDigest::sha256(config), Bytes::from_static(b"{}")));
        let err = blobs_to_write(&container, &content, "acme:x@1.0.0").unwrap_err();
        assert!(
            err.to_string().contains("holds bytes whose digest"),
            "{err}"
        );
        container.blobs[0].1 = Bytes::from_static(config);
        let blobs = blobs_to_write(&container, &content, "acme:x@1.0.0").unwrap();
        assert_eq!(blobs.len(), 1);
        let other = ContentDigest::sha256(b"other");
        let err = blobs_to_write(&container, &other, "acme:x@1.0.0").unwrap_err();
        assert!(err.to_string().contains("not the content"), "{err}");
    }
}
