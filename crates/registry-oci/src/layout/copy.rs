//! Releases in a layout in the containers their registry keeps: read whole
//! (`Backend::container`) and written whole ([`LayoutWriter::add_container`]), so a bundle
//! keeps each manifest's digest and the signatures naming it; and the parts every write of
//! a release shares.

use std::path::Path;

use registry_core::{Container, ContentDigest, Error, PackageRef, Release, Version};

use super::{
    LayoutBackend, LayoutWriter, REF_NAME, blob_is, blob_path, io_error, put_blob, read_blob,
};
use crate::container::{BLOB_MAX_BYTES, beside, blobs_to_write};

impl LayoutBackend {
    /// `release`'s container: its manifest and each blob it names beside the content.
    pub(super) fn copy_out(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<Container, Error> {
        let manifest = self.release_manifest(package, release)?;
        let what = format!(
            "the manifest of {package}@{} in {}",
            release.version,
            self.dir.display()
        );
        let (media_type, named) = beside(&manifest, &release.digest, &what)
            .map_err(|message| Error::registry(&self.registry, message))?;
        let mut container = Container::new(media_type, manifest.into());
        for blob in named {
            let what = format!("the blob {} of {package}@{}", blob.digest, release.version);
            blob.within(BLOB_MAX_BYTES, &what)
                .map_err(|message| Error::registry(&self.registry, message))?;
            let bytes = read_blob(&self.dir, &blob.digest, BLOB_MAX_BYTES)?;
            container.blobs.push((blob.digest, bytes.into()));
        }
        Ok(container)
    }
}

impl LayoutWriter {
    /// Adds `package@version` in `container` as it is (its manifest's bytes, so its
    /// digest): the verified content in the file `content`, whose digest is `digest`, the
    /// container's blobs, then its manifest; an entry of the same name is replaced.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the manifest does not hold `digest` as its Wasm layer or
    /// the container lacks a blob it names; [`Error::Io`] naming the file.
    pub fn add_container(
        &mut self,
        package: &PackageRef,
        version: &Version,
        container: &Container,
        content: &Path,
        digest: &ContentDigest,
    ) -> Result<ContentDigest, Error> {
        let blobs = blobs_to_write(container, digest, &format!("{package}@{version}"))?;
        self.put_content(content, digest)?;
        for (blob, bytes) in blobs {
            put_blob(&self.dir, &blob, bytes)?;
        }
        put_blob(&self.dir, &container.digest, &container.manifest)?;
        self.set_entry(package, version, &container.media_type, &container.manifest);
        Ok(container.digest)
    }

    /// Copies the verified content in the file `content`, whose digest is `digest`, into
    /// the layout, unless it is there.
    pub(super) fn put_content(&self, content: &Path, digest: &ContentDigest) -> Result<(), Error> {
        let layer = blob_path(&self.dir, digest);
        if blob_is(&layer, digest) {
            return Ok(());
        }
        let temp = self.temp()?;
        // A failure to write is the bundle's (a full disk, say), to read the content's.
        std::fs::copy(content, temp.path()).map_err(|err| {
            if registry_config::fs::is_write_refused(&err) {
                let advised = registry_config::fs::advise(
                    err,
                    &self.dir,
                    Some("or export the bundle to another directory"),
                );
                io_error(&self.dir)(advised)
            } else {
                io_error(content)(err)
            }
        })?;
        registry_config::fs::persist(temp, &layer, registry_config::fs::Durability::Renamed)
            .map_err(io_error(&layer))
    }

    /// Names the manifest `manifest` (of `media_type`) `package@version` in the index, in
    /// the place of the entry of that name (so exporting again keeps the order), else last.
    pub(super) fn set_entry(
        &mut self,
        package: &PackageRef,
        version: &Version,
        media_type: &str,
        manifest: &[u8],
    ) {
        let name = format!("{package}@{version}");
        let entry = serde_json::json!({
            "mediaType": media_type,
            "digest": ContentDigest::sha256(manifest).to_string(),
            "size": manifest.len(),
            "annotations": { REF_NAME: name },
        });
        let named = |raw: &serde_json::Value| {
            raw.get("annotations")
                .and_then(|a| a.get(REF_NAME))
                .and_then(|n| n.as_str())
                == Some(name.as_str())
        };
        let Some(at) = self.index.manifests.iter().position(named) else {
            self.index.manifests.push(entry);
            return;
        };
        self.index.manifests[at] = entry;
        let mut index = 0;
        self.index.manifests.retain(|raw| {
            index += 1;
            index - 1 <= at || !named(raw)
        });
    }
}

#[cfg(test)]
mod tests {
    use registry_core::Backend as _;
    use test_support::component;

    use super::*;

    #[tokio::test]
    async fn a_container_copied_between_layouts_keeps_its_digest_and_its_place() {
        let (from, to) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let package: PackageRef = "acme:widget".parse().unwrap();
        let version = Version::new(1, 0, 0);
        let bytes = component::small("acme:widget");
        let file = from.path().join("widget.wasm");
        std::fs::write(&file, &bytes).unwrap();
        let digest = ContentDigest::sha256(&bytes);
        let mut writer = LayoutWriter::open(from.path().join("layout")).unwrap();
        let manifest = writer.add(&package, &version, &file, &digest).unwrap();
        writer.finish().unwrap();
        let source =
            LayoutBackend::open("a.local".parse().unwrap(), from.path().join("layout")).unwrap();
        let release = Release::new(version.clone(), digest);
        let container = source.container(&package, &release).await.unwrap().unwrap();
        assert_eq!(container.digest, manifest);
        assert_eq!(container.blobs.len(), 1, "the config");

        // Another release first, then the copy, then an unnamed entry (a referrer's).
        let mut writer = LayoutWriter::open(to.path()).unwrap();
        let other: PackageRef = "acme:other".parse().unwrap();
        writer.add(&other, &version, &file, &digest).unwrap();
        let copied = writer
            .add_container(&package, &version, &container, &file, &digest)
            .unwrap();
        assert_eq!(copied, manifest);
        writer
            .index
            .manifests
            .push(serde_json::json!({"digest": "sha256:00"}));
        writer.finish().unwrap();
        let copy = LayoutBackend::open("b.local".parse().unwrap(), to.path()).unwrap();
        assert_eq!(
            copy.container(&package, &release).await.unwrap(),
            Some(container.clone())
        );
        let order = |dir: &Path| {
            let index: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
            index["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["digest"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        let before = order(to.path());
        assert_eq!(before.len(), 3);

        // Written again, each entry keeps its place.
        let mut writer = LayoutWriter::open(to.path()).unwrap();
        writer
            .add_container(&package, &version, &container, &file, &digest)
            .unwrap();
        writer.add(&other, &version, &file, &digest).unwrap();
        writer.finish().unwrap();
        assert_eq!(order(to.path()), before);

        // A container whose blob is missing, or that names other content, is not written.
        let mut bare = container.clone();
        bare.blobs.clear();
        let mut writer = LayoutWriter::open(to.path()).unwrap();
        let err = writer
            .add_container(&package, &version, &bare, &file, &digest)
            .unwrap_err();
        assert!(err.to_string().contains("is missing"), "{err}");
        let wrong = ContentDigest::sha256(b"other");
        let err = writer
            .add_container(&package, &version, &container, &file, &wrong)
            .unwrap_err();
        assert!(err.to_string().contains("not the content"), "{err}");
    }
}
