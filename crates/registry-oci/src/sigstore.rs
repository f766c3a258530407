//! Sigstore bundles as OCI referrers: the shapes cosign 3 and sigstore-js (`@sigstore/oci`)
//! write, read by the registry backend and the layout backend alike.
//!
//! A bundle is attached to a release's manifest (its *subject*) by a manifest of its own:
//! an empty config, one layer holding the bundle's JSON, a `subject` descriptor pointing at
//! the release's manifest. A registry lists such referrers at `/v2/<repo>/referrers/<subject>`
//! or, when it has no referrers API, in an index tagged `sha256-<hex of the subject>` (the
//! referrers tag schema); a layout lists them in `index.json` without a name.
//!
//! Nothing read here is trusted: every descriptor is read leniently (what is not a Sigstore
//! bundle is passed over), every size is bounded, and the callers check each blob against
//! its digest before using it.

use std::time::SystemTime;

use registry_core::provenance::{AttachedBundle, SIGSTORE_BUNDLE_MEDIA_TYPE};
use registry_core::{ContentDigest, Error, PackageRef, Release};
use serde::Deserialize;

use crate::manifest::{OCI_INDEX, OCI_MANIFEST, RawDescriptor};

/// What the media type of a Sigstore bundle starts with, whatever its version
/// (`application/vnd.dev.sigstore.bundle.v0.3+json`, `...bundle+json;version=0.2`).
pub(crate) const BUNDLE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
/// The media type of the empty config a referrer has.
pub(crate) const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The empty config's bytes.
pub(crate) const EMPTY_BLOB: &[u8] = b"{}";
/// The annotation saying what a bundle holds.
const CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
/// The annotation saying when a referrer was made.
const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// The largest referrers index read (about 5,000 entries).
pub(crate) const INDEX_MAX_BYTES: usize = 1024 * 1024;
/// The most referrers read for one release.
pub(crate) const REFERRERS_MAX: usize = 64;
/// The largest referrer manifest read.
pub(crate) const REFERRER_MAX_BYTES: usize = 64 * 1024;
/// The largest bundle read.
pub(crate) const BUNDLE_MAX_BYTES: usize = 4 * 1024 * 1024;

/// One manifest a referrers index lists, or one blob a referrer holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    /// Its digest.
    pub(crate) digest: ContentDigest,
    /// Its size as declared (unchecked until read).
    pub(crate) size: u64,
}

impl Found {
    /// The descriptor `raw` as read, if its digest and size are usable.
    pub(crate) fn of(raw: &RawDescriptor) -> Option<Self> {
        Some(Self {
            digest: raw.digest.parse().ok()?,
            size: u64::try_from(raw.size).ok()?,
        })
    }

    /// Refuses a descriptor that declares more than `cap` bytes, before anything is read.
    pub(crate) fn within(&self, cap: usize, what: &str) -> Result<(), String> {
        if self.size > cap as u64 {
            return Err(format!(
                "{what} declares {} bytes, over the {cap}-byte limit for it; it was not read",
                self.size
            ));
        }
        Ok(())
    }
}

/// A referrers index or a referrer manifest: the parts we look at, each entry read on its
/// own so that one we cannot read is passed over rather than refused with the rest.
#[derive(Deserialize)]
struct Listing {
    #[serde(default)]
    manifests: Vec<serde_json::Value>,
    #[serde(default)]
    layers: Vec<serde_json::Value>,
    #[serde(default)]
    subject: Option<serde_json::Value>,
}

/// The descriptors in `list` we can read.
fn descriptors(list: Vec<serde_json::Value>) -> impl Iterator<Item = RawDescriptor> {
    list.into_iter()
        .filter_map(|raw| serde_json::from_value(raw).ok())
}

/// The manifests a referrers index lists, each digest once, in the index's order; entries
/// without a usable digest and size are passed over. `what` names the index in errors.
pub(crate) fn index_entries(bytes: &[u8], what: &str) -> Result<Vec<Found>, String> {
    let index: Listing = serde_json::from_slice(bytes)
        .map_err(|err| format!("{what} is not an OCI image index: {err}"))?;
    let listed = index.manifests.len();
    let found = distinct(index.manifests);
    tracing::debug!(%what, listed, distinct = found.len(), "referrers listed");
    Ok(found)
}

/// The manifests index entries list, each digest once, in order; entries without a usable
/// digest and size are passed over.
pub(crate) fn distinct(entries: Vec<serde_json::Value>) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    for entry in descriptors(entries).filter_map(|raw| Found::of(&raw)) {
        if !found.iter().any(|f| f.digest == entry.digest) {
            found.push(entry);
        }
    }
    found
}

/// What a referrer manifest holds.
#[derive(Debug, PartialEq, Eq)]
enum Holds {
    /// A Sigstore bundle: its first layer whose media type is a bundle's.
    Bundle(Found),
    /// Something else (an SBOM, a cosign v2 signature): its layers' media types, for the log.
    Other(String),
}

/// What the referrer manifest `bytes` holds; `what` names it in errors.
fn bundle_layer(bytes: &[u8], what: &str) -> Result<Holds, String> {
    let referrer: Listing = serde_json::from_slice(bytes)
        .map_err(|err| format!("{what} is not an OCI manifest: {err}"))?;
    let layers: Vec<RawDescriptor> = descriptors(referrer.layers).collect();
    match layers
        .iter()
        .find(|l| l.media_type.starts_with(BUNDLE_PREFIX))
    {
        Some(layer) => Found::of(layer)
            .map(Holds::Bundle)
            .ok_or_else(|| format!("{what}: its bundle layer has an unusable digest or size")),
        None => Ok(Holds::Other(
            layers
                .iter()
                .map(|l| l.media_type.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}

/// The bundle the referrer manifest `bytes` (with `digest`) holds; `None`, logged, for a
/// referrer that holds something else or cannot be read.
pub(crate) fn bundle_in(bytes: &[u8], digest: &ContentDigest, what: &str) -> Option<Found> {
    match bundle_layer(bytes, what) {
        Ok(Holds::Bundle(blob)) => Some(blob),
        Ok(Holds::Other(layers)) => {
            tracing::debug!(referrer = %digest, %layers, "not a Sigstore bundle; passed over");
            None
        }
        Err(message) => {
            tracing::debug!(referrer = %digest, "{message}; passed over");
            None
        }
    }
}

/// The digest a manifest's `subject` names, if any (how a layout's referrers are found).
pub(crate) fn subject_of(bytes: &[u8]) -> Option<ContentDigest> {
    let manifest: Listing = serde_json::from_slice(bytes).ok()?;
    manifest.subject?.get("digest")?.as_str()?.parse().ok()
}

/// The manifest a bundle is attached to.
#[derive(Clone, Debug)]
pub(crate) struct Subject {
    /// Its media type: the manifest's own `mediaType`, else an OCI image manifest's.
    pub(crate) media_type: String,
    /// The digest of its bytes.
    pub(crate) digest: ContentDigest,
    /// Their length.
    pub(crate) size: u64,
}

impl Subject {
    /// The subject whose bytes are `manifest`.
    pub(crate) fn of(manifest: &[u8]) -> Self {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct WithMediaType {
            media_type: Option<String>,
        }
        let media_type = serde_json::from_slice::<WithMediaType>(manifest)
            .ok()
            .and_then(|m| m.media_type)
            .unwrap_or_else(|| OCI_MANIFEST.to_owned());
        Self {
            media_type,
            digest: ContentDigest::sha256(manifest),
            size: manifest.len() as u64,
        }
    }

    /// The tag a registry without a referrers API lists this subject's referrers under:
    /// `sha256-<hex>`.
    pub(crate) fn fallback_tag(digest: &ContentDigest) -> String {
        format!("{}-{}", digest.algorithm(), digest.hex())
    }
}

/// A referrer manifest attaching the bundle `bundle` (`size` bytes) to `subject`, as cosign
/// 3 writes it, made at `created`.
fn referrer_manifest(
    subject: &Subject,
    bundle: &ContentDigest,
    size: u64,
    created: SystemTime,
) -> Vec<u8> {
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SIGSTORE_BUNDLE_MEDIA_TYPE,
        "config": {
            "mediaType": EMPTY_MEDIA_TYPE,
            "digest": ContentDigest::sha256(EMPTY_BLOB).to_string(),
            "size": EMPTY_BLOB.len(),
        },
        "layers": [{
            "mediaType": SIGSTORE_BUNDLE_MEDIA_TYPE,
            "digest": bundle.to_string(),
            "size": size,
        }],
        "subject": {
            "mediaType": subject.media_type,
            "digest": subject.digest.to_string(),
            "size": subject.size,
        },
        "annotations": {
            CONTENT_ANNOTATION: "dsse-envelope",
            CREATED_ANNOTATION: crate::publish::rfc3339(created),
        },
    });
    serde_json::to_vec(&manifest).expect("the manifest serializes")
}

/// A bundle being attached to a subject: the referrer manifest that attaches it, made now.
pub(crate) struct Attaching {
    /// The bundle's digest.
    pub(crate) bundle: ContentDigest,
    /// The referrer manifest.
    pub(crate) referrer: Vec<u8>,
    /// Its digest.
    pub(crate) digest: ContentDigest,
}

impl Attaching {
    /// Attaching `bundle` to `subject`.
    pub(crate) fn new(subject: &Subject, bundle: &[u8]) -> Self {
        let digest = ContentDigest::sha256(bundle);
        let referrer = referrer_manifest(subject, &digest, bundle.len() as u64, SystemTime::now());
        Self {
            bundle: digest,
            digest: ContentDigest::sha256(&referrer),
            referrer,
        }
    }

    /// Where the same bundle is among `attached` already, if it is.
    pub(crate) fn already(&self, attached: Vec<AttachedBundle>) -> Option<String> {
        let same = attached
            .into_iter()
            .find(|b| ContentDigest::sha256(&b.json) == self.bundle)?;
        tracing::debug!(referrer = %same.source, "the bundle is attached already");
        Some(same.source)
    }
}

/// The entry an index lists the referrer `manifest` under.
pub(crate) fn index_entry(manifest: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "mediaType": OCI_MANIFEST,
        "digest": ContentDigest::sha256(manifest).to_string(),
        "size": manifest.len(),
        "artifactType": SIGSTORE_BUNDLE_MEDIA_TYPE,
    })
}

/// `index` (a referrers index as read, or none yet) with `entry` added unless an entry of
/// its digest is there; every other entry and field kept. `None` when it is there already.
pub(crate) fn with_entry(
    index: Option<&[u8]>,
    entry: serde_json::Value,
    what: &str,
) -> Result<Option<Vec<u8>>, String> {
    let mut index: serde_json::Value = match index {
        Some(bytes) => serde_json::from_slice(bytes)
            .map_err(|err| format!("{what} is not an OCI image index: {err}"))?,
        None => serde_json::json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [] }),
    };
    let Some(object) = index.as_object_mut() else {
        return Err(format!("{what} is not an OCI image index: not an object"));
    };
    object.entry("schemaVersion").or_insert(2.into());
    object.entry("mediaType").or_insert(OCI_INDEX.into());
    let manifests = object
        .entry("manifests")
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    let Some(manifests) = manifests.as_array_mut() else {
        return Err(format!(
            "{what} is not an OCI image index: `manifests` is not a list"
        ));
    };
    if manifests
        .iter()
        .any(|m| m.get("digest") == entry.get("digest"))
    {
        return Ok(None);
    }
    manifests.push(entry);
    Ok(Some(
        serde_json::to_vec(&index).expect("the index serializes"),
    ))
}

/// Refuses a bundle that is too large or not a JSON object before anything is sent.
pub(crate) fn check_bundle(
    package: &PackageRef,
    release: &Release,
    bundle: &[u8],
) -> Result<(), Error> {
    let problem = if bundle.len() > BUNDLE_MAX_BYTES {
        format!(
            "is {} bytes, over the {BUNDLE_MAX_BYTES}-byte limit for a bundle",
            bundle.len()
        )
    } else if !serde_json::from_slice::<serde_json::Value>(bundle).is_ok_and(|v| v.is_object()) {
        "is not a JSON object, as a Sigstore bundle is".to_owned()
    } else {
        return Ok(());
    };
    Err(Error::InvalidInput {
        message: format!(
            "cannot attach a signature to {package}@{}: the bundle {problem}",
            release.version
        ),
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn a_referrer_is_what_cosign_writes() {
        let subject = Subject::of(br#"{"schemaVersion":2,"layers":[]}"#);
        assert_eq!(
            subject.media_type, OCI_MANIFEST,
            "no mediaType: an OCI manifest"
        );
        let bundle = ContentDigest::sha256(b"bundle");
        let created = UNIX_EPOCH + Duration::from_secs(1_795_825_896);
        let bytes = referrer_manifest(&subject, &bundle, 6, created);
        let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(manifest["artifactType"], SIGSTORE_BUNDLE_MEDIA_TYPE);
        assert_eq!(
            manifest["config"]["digest"],
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(manifest["config"]["size"], 2);
        assert_eq!(manifest["layers"][0]["digest"], bundle.to_string());
        assert_eq!(manifest["subject"]["digest"], subject.digest.to_string());
        assert_eq!(manifest["subject"]["size"], subject.size);
        assert_eq!(
            manifest["annotations"]["org.opencontainers.image.created"],
            "2026-11-28T00:31:36Z"
        );
        assert_eq!(subject_of(&bytes), Some(subject.digest));
        assert_eq!(subject_of(br#"{"layers":[]}"#), None);
        assert_eq!(
            bundle_layer(&bytes, "r").unwrap(),
            Holds::Bundle(Found {
                digest: bundle,
                size: 6
            })
        );
        assert_eq!(
            Subject::fallback_tag(&bundle),
            format!("sha256-{}", bundle.hex())
        );
    }

    #[test]
    fn bundles_of_every_version_are_found_and_other_referrers_are_not() {
        let digest = ContentDigest::sha256(b"x");
        let referrer = |media_type: &str| {
            format!(r#"{{"layers":[{{"mediaType":"{media_type}","digest":"{digest}","size":1}}]}}"#)
        };
        for media_type in [
            "application/vnd.dev.sigstore.bundle.v0.3+json",
            "application/vnd.dev.sigstore.bundle+json;version=0.2",
        ] {
            assert!(matches!(
                bundle_layer(referrer(media_type).as_bytes(), "r").unwrap(),
                Holds::Bundle(_)
            ));
        }
        assert_eq!(
            bundle_layer(referrer("application/spdx+json").as_bytes(), "r").unwrap(),
            Holds::Other("application/spdx+json".to_owned())
        );
        assert!(
            bundle_layer(b"[", "the referrer")
                .unwrap_err()
                .contains("the referrer")
        );
    }

    #[test]
    fn an_index_lists_each_usable_digest_once() {
        let (a, b) = (ContentDigest::sha256(b"a"), ContentDigest::sha256(b"b"));
        let index = format!(
            r#"{{"manifests":[{{"digest":"{a}","size":3}},{{"digest":"nonsense","size":1}},{{"digest":"{b}"}},{{"digest":"{b}","size":-1}},{{"digest":"{b}","size":1}},{{"digest":"{a}","size":3}}]}}"#
        );
        let found = index_entries(index.as_bytes(), "i").unwrap();
        assert_eq!(
            found,
            [Found { digest: a, size: 3 }, Found { digest: b, size: 1 }],
            "without a digest or a size, an entry cannot be bounded: passed over"
        );
        let refused = found[0].within(2, "it").unwrap_err();
        assert!(
            refused.contains("it declares 3 bytes, over the 2-byte limit"),
            "{refused}"
        );
        assert!(found[1].within(1, "it").is_ok());
        assert!(index_entries(b"{\"manifests\":{}}", "the index").is_err());
    }

    #[test]
    fn an_entry_is_added_once_and_others_are_kept() {
        let entry = index_entry(b"referrer");
        let first = with_entry(None, entry.clone(), "i").unwrap().unwrap();
        let index: serde_json::Value = serde_json::from_slice(&first).unwrap();
        assert_eq!(index["mediaType"], OCI_INDEX);
        assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
        assert_eq!(with_entry(Some(&first), entry, "i").unwrap(), None);
        let foreign = br#"{"schemaVersion":2,"manifests":[{"digest":"sha256:00","x":1}],"annotations":{"k":"v"}}"#;
        let both = with_entry(Some(foreign), index_entry(b"other"), "i")
            .unwrap()
            .unwrap();
        let index: serde_json::Value = serde_json::from_slice(&both).unwrap();
        assert_eq!(index["manifests"][0]["x"], 1);
        assert_eq!(index["annotations"]["k"], "v");
        assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
        assert!(
            with_entry(Some(b"[]"), index_entry(b"r"), "the tag")
                .unwrap_err()
                .contains("the tag")
        );
    }
}
