//! What one [`OciBackend`](super::OciBackend) remembers between requests, so that a
//! provenance check right after resolving asks the registry only what it must:
//!
//! - [`RecentManifests`]: the manifests `get_release` read lately. The resolver checks a
//!   policy between resolving a release and fetching it, and the signatures name the
//!   manifest `get_release` has just read: it is used again rather than asked for again
//!   (briefly, and only while it still holds the release's digest).
//! - [`ReferrersApi`]: whether the registry answered that it has no referrers API. Then
//!   the referrers tag is read first, and the API is asked only when the tag lists no
//!   bundle, so a registry that has the API after all (in another repository, or since)
//!   is still read through it.
//!
//! Both live as long as the backend: a client's, for one process.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use registry_core::{ContentDigest, Version};

/// How long a manifest read by `get_release` is used again.
const KEPT_FOR: Duration = Duration::from_secs(30);
/// The most manifests kept (the oldest go first).
const KEPT_MAX: usize = 256;
/// The largest manifest kept (a Wasm package's is well under 1 KiB).
const KEPT_MAX_BYTES: usize = 64 * 1024;

/// A manifest read under a version's tag.
struct Kept {
    repository: String,
    version: Version,
    manifest: Bytes,
    layer: ContentDigest,
    read_at: Instant,
}

/// The manifests `get_release` read in the last [`KEPT_FOR`], by repository and version.
#[derive(Default)]
pub(crate) struct RecentManifests(Mutex<VecDeque<Kept>>);

impl RecentManifests {
    /// Keeps `manifest`, read under `version`'s tag in `repository`, whose Wasm layer is
    /// `layer` (in place of one kept before for the same version).
    pub(crate) fn keep(
        &self,
        repository: &str,
        version: &Version,
        manifest: &Bytes,
        layer: ContentDigest,
    ) {
        if manifest.len() > KEPT_MAX_BYTES {
            return;
        }
        let mut kept = self.0.lock().expect("manifests lock");
        kept.retain(|k| !(k.repository == repository && &k.version == version));
        if kept.len() >= KEPT_MAX {
            kept.pop_front();
        }
        kept.push_back(Kept {
            repository: repository.to_owned(),
            version: version.clone(),
            manifest: manifest.clone(),
            layer,
            read_at: Instant::now(),
        });
    }

    /// The manifest kept for `version` in `repository`, when it was read in the last
    /// [`KEPT_FOR`] and its Wasm layer is `layer`; `None` otherwise (then it is read again).
    pub(crate) fn get(
        &self,
        repository: &str,
        version: &Version,
        layer: &ContentDigest,
    ) -> Option<Bytes> {
        self.get_at(repository, version, layer, Instant::now())
    }

    fn get_at(
        &self,
        repository: &str,
        version: &Version,
        layer: &ContentDigest,
        now: Instant,
    ) -> Option<Bytes> {
        let mut kept = self.0.lock().expect("manifests lock");
        kept.retain(|k| now.saturating_duration_since(k.read_at) < KEPT_FOR);
        kept.iter()
            .find(|k| k.repository == repository && &k.version == version && &k.layer == layer)
            .map(|k| k.manifest.clone())
    }
}

/// Whether the registry answered that it has no referrers API.
#[derive(Default)]
pub(crate) struct ReferrersApi {
    absent: AtomicBool,
}

impl ReferrersApi {
    /// The registry answered without the API (or with it) just now.
    pub(crate) fn answered(&self, has_api: bool) {
        self.absent.store(!has_api, Ordering::Relaxed);
    }

    /// Whether it last answered that it has none.
    pub(crate) fn known_absent(&self) -> bool {
        self.absent.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> Version {
        text.parse().unwrap()
    }

    #[test]
    fn a_manifest_is_used_again_for_its_version_and_layer_only_and_briefly() {
        let recent = RecentManifests::default();
        let (layer, other) = (ContentDigest::sha256(b"a"), ContentDigest::sha256(b"b"));
        let manifest = Bytes::from_static(b"{}");
        recent.keep("ns/a", &version("1.0.0"), &manifest, layer);
        assert_eq!(
            recent.get("ns/a", &version("1.0.0"), &layer),
            Some(manifest)
        );
        assert_eq!(recent.get("ns/a", &version("1.0.0"), &other), None);
        assert_eq!(recent.get("ns/a", &version("1.0.1"), &layer), None);
        assert_eq!(recent.get("ns/b", &version("1.0.0"), &layer), None);
        let later = Instant::now() + KEPT_FOR;
        assert_eq!(
            recent.get_at("ns/a", &version("1.0.0"), &layer, later),
            None
        );
        assert!(recent.0.lock().unwrap().is_empty());
    }

    #[test]
    fn a_newer_read_replaces_the_kept_one_and_the_oldest_go_first() {
        let recent = RecentManifests::default();
        let (old, new) = (ContentDigest::sha256(b"old"), ContentDigest::sha256(b"new"));
        recent.keep("r", &version("1.0.0"), &Bytes::from_static(b"1"), old);
        recent.keep("r", &version("1.0.0"), &Bytes::from_static(b"2"), new);
        assert_eq!(recent.get("r", &version("1.0.0"), &old), None);
        assert_eq!(
            recent.get("r", &version("1.0.0"), &new),
            Some(Bytes::from_static(b"2"))
        );
        for i in 0..KEPT_MAX {
            let v = version(&format!("2.0.{i}"));
            recent.keep("r", &v, &Bytes::from_static(b"x"), new);
        }
        assert_eq!(recent.get("r", &version("1.0.0"), &new), None);
        assert!(recent.get("r", &version("2.0.0"), &new).is_some());
        let large = Bytes::from(vec![b' '; KEPT_MAX_BYTES + 1]);
        recent.keep("r", &version("3.0.0"), &large, new);
        assert_eq!(recent.get("r", &version("3.0.0"), &new), None);
    }

    #[test]
    fn the_referrers_api_is_absent_until_the_registry_answers_with_it() {
        let api = ReferrersApi::default();
        assert!(!api.known_absent());
        api.answered(false);
        assert!(api.known_absent());
        api.answered(true);
        assert!(!api.known_absent());
    }
}
