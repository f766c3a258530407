//! Signatures in an OCI image layout, stored as cosign stores them there: a Sigstore
//! bundle's referrer manifest and its blobs under `blobs/`, and an entry for the referrer
//! in `index.json` without a name (so it is no release), found by its `subject`.
//!
//! A layout carries signatures to sites without a network: attaching writes into it (the
//! blobs first, then `index.json` in one rename); nothing read from it is trusted more than
//! a registry's answer, each blob being checked against its digest and bounded.

use registry_core::provenance::{AttachedBundle, Attestations};
use registry_core::{ContentDigest, Error, PackageRef, Release};

use super::{LayoutBackend, REF_NAME, blob_path, put_blob, read_blob, read_index, write_file};
use crate::sigstore::{
    Attaching, BUNDLE_MAX_BYTES, EMPTY_BLOB, REFERRER_MAX_BYTES, REFERRERS_MAX, Subject, bundle_in,
    check_bundle, distinct, index_entry, subject_of,
};

/// The most manifests without a name (referrers) a layout's `index.json` may list.
const UNNAMED_MAX: usize = 4096;

impl LayoutBackend {
    /// `release`'s manifest and every Sigstore bundle attached to it in the layout.
    pub(super) fn find_attestations(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<Attestations, Error> {
        let manifest = self.release_manifest(package, release)?;
        let subject = ContentDigest::sha256(&manifest);
        let bundles = self.bundles_of(&subject)?;
        let mut found = Attestations::new(subject, manifest.into());
        found.bundles = bundles;
        Ok(found)
    }

    /// Attaches `bundle` to `release`'s manifest in the layout, unless it is attached
    /// already; returns the referrer manifest's digest.
    pub(super) fn attach_bundle(
        &self,
        package: &PackageRef,
        release: &Release,
        bundle: &[u8],
    ) -> Result<String, Error> {
        check_bundle(package, release, bundle)?;
        let manifest = self.release_manifest(package, release)?;
        let subject = Subject::of(&manifest);
        let attaching = Attaching::new(&subject, bundle);
        if let Some(same) = attaching.already(self.bundles_of(&subject.digest)?) {
            return Ok(same);
        }
        put_blob(&self.dir, &ContentDigest::sha256(EMPTY_BLOB), EMPTY_BLOB)?;
        put_blob(&self.dir, &attaching.bundle, bundle)?;
        let (referrer, digest) = (&attaching.referrer, attaching.digest);
        put_blob(&self.dir, &digest, referrer)?;
        // Read again just before it is written, so as little as can be is lost to another
        // writer meanwhile.
        let mut index = read_index(&self.dir)?;
        let entry = index_entry(referrer);
        if !index
            .manifests
            .iter()
            .any(|m| m.get("digest") == entry.get("digest"))
        {
            index.manifests.push(entry);
            let path = self.dir.join("index.json");
            let text = serde_json::to_vec_pretty(&index).expect("the index serializes");
            write_file(&path, &text)?;
        }
        tracing::debug!(%package, referrer = %digest, dir = %self.dir.display(), "attached");
        Ok(digest.to_string())
    }

    /// The manifest `release` is in, checked to hold `release.digest` as its Wasm layer.
    pub(super) fn release_manifest(
        &self,
        package: &PackageRef,
        release: &Release,
    ) -> Result<Vec<u8>, Error> {
        let entry = self.entry(package, &release.version)?;
        let (manifest, layer, _) = self.wasm_manifest(entry)?;
        if layer != release.digest {
            return Err(Error::DigestMismatch {
                subject: format!(
                    "the Wasm layer of {package}@{} in {}, against the release's digest",
                    release.version,
                    self.dir.display()
                ),
                expected: release.digest,
                actual: layer,
            });
        }
        Ok(manifest)
    }

    /// Every Sigstore bundle attached to `subject`: the unnamed entries of `index.json`
    /// whose manifest names it as its subject and holds a bundle.
    fn bundles_of(&self, subject: &ContentDigest) -> Result<Vec<AttachedBundle>, Error> {
        let index = read_index(&self.dir)?;
        let unnamed = index
            .manifests
            .into_iter()
            .filter(|m| m.get("annotations").and_then(|a| a.get(REF_NAME)).is_none())
            .collect();
        let unnamed: Vec<serde_json::Value> = unnamed;
        // Each unnamed entry is read to see its subject: a hostile index.json of many
        // thousands would make every release's lookup read them all.
        if unnamed.len() > UNNAMED_MAX {
            return Err(Error::registry(
                &self.registry,
                format!(
                    "index.json lists {} manifests without a name (referrers); more than \
                     {UNNAMED_MAX} are not read",
                    unnamed.len()
                ),
            ));
        }
        let mut referrers = 0;
        let mut bundles = Vec::new();
        for entry in distinct(unnamed) {
            if entry.within(REFERRER_MAX_BYTES, "it").is_err() {
                tracing::debug!(digest = %entry.digest, size = entry.size, "too large to be a referrer; passed over");
                continue;
            }
            let bytes = read_blob(&self.dir, &entry.digest, REFERRER_MAX_BYTES)?;
            if subject_of(&bytes) != Some(*subject) {
                continue;
            }
            referrers += 1;
            if referrers > REFERRERS_MAX {
                return Err(Error::registry(
                    &self.registry,
                    format!(
                        "{} lists more than {REFERRERS_MAX} referrers of {subject}, the most \
                         read for one release; its signatures were not read",
                        self.dir.join("index.json").display()
                    ),
                ));
            }
            let what = format!("{}", blob_path(&self.dir, &entry.digest).display());
            let Some(blob) = bundle_in(&bytes, &entry.digest, &what) else {
                continue;
            };
            blob.within(BUNDLE_MAX_BYTES, &format!("the Sigstore bundle of {what}"))
                .map_err(|message| Error::registry(&self.registry, message))?;
            let json = read_blob(&self.dir, &blob.digest, BUNDLE_MAX_BYTES)?;
            bundles.push(AttachedBundle::new(entry.digest.to_string(), json));
        }
        Ok(bundles)
    }
}

#[cfg(test)]
mod tests {
    use registry_core::{Backend, Registry};
    use test_support::component;

    use super::*;
    use crate::LayoutWriter;

    /// A layout holding `acme:widget@1.0.0` and `acme:gadget@1.0.0`: the backend, and the
    /// releases with their manifest digests.
    fn layout(dir: &std::path::Path) -> (LayoutBackend, [(PackageRef, Release, ContentDigest); 2]) {
        let mut writer = LayoutWriter::open(dir).unwrap();
        let releases = ["acme:widget", "acme:gadget"].map(|name| {
            let bytes = component::small(name);
            let file = dir.join(format!("{name}.wasm").replace(':', "-"));
            std::fs::write(&file, &bytes).unwrap();
            let digest = ContentDigest::sha256(&bytes);
            let package: PackageRef = name.parse().unwrap();
            let version = registry_core::Version::new(1, 0, 0);
            let manifest = writer.add(&package, &version, &file, &digest).unwrap();
            (package, Release::new(version, digest), manifest)
        });
        writer.finish().unwrap();
        let registry: Registry = "bundle.local".parse().unwrap();
        (LayoutBackend::open(registry, dir).unwrap(), releases)
    }

    fn bundle(n: u32) -> bytes::Bytes {
        serde_json::to_vec(&serde_json::json!({ "n": n }))
            .unwrap()
            .into()
    }

    async fn found(
        backend: &LayoutBackend,
        package: &PackageRef,
        release: &Release,
    ) -> Attestations {
        backend
            .attestations(package, release)
            .await
            .unwrap()
            .expect("a layout holds signatures")
    }

    #[tokio::test]
    async fn bundles_attached_to_a_layout_are_found_by_their_subject_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let (backend, [(widget, release, manifest), (gadget, other, _)]) = layout(dir.path());
        assert!(found(&backend, &widget, &release).await.bundles.is_empty());

        let first = backend.attach(&widget, &release, bundle(1)).await.unwrap();
        let second = backend.attach(&widget, &release, bundle(2)).await.unwrap();
        assert_ne!(first, second);
        assert_eq!(
            backend.attach(&widget, &release, bundle(1)).await.unwrap(),
            first
        );

        // Read by a backend opened afresh, as the site without a network would.
        let reopened = LayoutBackend::open("bundle.local".parse().unwrap(), dir.path()).unwrap();
        let found = found(&reopened, &widget, &release).await;
        assert_eq!(found.subject, manifest);
        assert_eq!(ContentDigest::sha256(&found.manifest), manifest);
        let got: Vec<(String, bytes::Bytes)> = found
            .bundles
            .into_iter()
            .map(|b| (b.source, b.json))
            .collect();
        assert_eq!(got, [(first.clone(), bundle(1)), (second, bundle(2))]);
        assert!(
            self::found(&reopened, &gadget, &other)
                .await
                .bundles
                .is_empty(),
            "another release's signatures are not this one's"
        );
        // The referrers are no releases, and each is listed once, without a name.
        assert_eq!(reopened.entries().len(), 2);
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
        let unnamed: Vec<&str> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m.get("annotations").is_none())
            .map(|m| m["digest"].as_str().unwrap())
            .collect();
        assert_eq!(unnamed.len(), 2);
        assert!(unnamed.contains(&first.as_str()));

        // A bundle whose bytes on disk were changed is refused, not returned.
        let tampered: ContentDigest = ContentDigest::sha256(&bundle(2));
        std::fs::write(reopened.blob(&tampered), b"{\"n\":3}").unwrap();
        let err = reopened.attestations(&widget, &release).await.unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn foreign_referrers_are_passed_over_and_a_wrong_release_is_a_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let (backend, [(widget, release, manifest), _]) = layout(dir.path());
        // An SBOM attached the same way, as another tool would.
        let sbom = br#"{"spdxVersion":"SPDX-2.3"}"#;
        let sbom_digest = ContentDigest::sha256(sbom);
        put_blob(dir.path(), &sbom_digest, sbom).unwrap();
        let referrer = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "layers": [{ "mediaType": "application/spdx+json", "digest": sbom_digest.to_string(), "size": sbom.len() }],
            "subject": { "digest": manifest.to_string(), "size": 1 },
        }))
        .unwrap();
        let referrer_digest = ContentDigest::sha256(&referrer);
        put_blob(dir.path(), &referrer_digest, &referrer).unwrap();
        let mut index = read_index(dir.path()).unwrap();
        index.manifests.push(index_entry(&referrer));
        write_file(
            &dir.path().join("index.json"),
            &serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
        assert!(found(&backend, &widget, &release).await.bundles.is_empty());
        let signed = backend.attach(&widget, &release, bundle(7)).await.unwrap();
        let bundles = found(&backend, &widget, &release).await.bundles;
        assert_eq!(bundles.len(), 1);
        assert_eq!(bundles[0].source, signed);

        let claimed = Release::new(release.version.clone(), ContentDigest::sha256(b"other"));
        for err in [
            backend.attestations(&widget, &claimed).await.unwrap_err(),
            backend
                .attach(&widget, &claimed, bundle(8))
                .await
                .unwrap_err(),
        ] {
            let Error::DigestMismatch {
                subject, actual, ..
            } = &err
            else {
                panic!("{err:?}");
            };
            assert_eq!(*actual, release.digest);
            assert!(subject.contains("acme:widget@1.0.0"), "{subject}");
        }
    }
}
