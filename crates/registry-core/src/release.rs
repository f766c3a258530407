//! What a registry knows about one version of a package.

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::ContentDigest;

/// One published version of a package: its version, the digest of its content and, when the
/// registry says, the content's size in bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Release {
    /// The version.
    pub version: Version,
    /// The digest of the content.
    pub digest: ContentDigest,
    /// The size of the content in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl Release {
    /// A release whose size is not known.
    pub fn new(version: Version, digest: ContentDigest) -> Self {
        Self {
            version,
            digest,
            size: None,
        }
    }

    /// The same release with its size set.
    pub fn with_size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }
}

/// A version of a package as listed by a registry, and whether it was yanked.
///
/// A yanked version stays fetchable for lock files that pin it, but is never chosen to
/// satisfy a new requirement.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VersionInfo {
    /// The version.
    pub version: Version,
    /// Whether the publisher withdrew it.
    #[serde(default)]
    pub yanked: bool,
}

impl VersionInfo {
    /// A version that is not yanked.
    pub fn new(version: Version) -> Self {
        Self {
            version,
            yanked: false,
        }
    }

    /// The same version, marked yanked or not.
    pub fn with_yanked(mut self, yanked: bool) -> Self {
        self.yanked = yanked;
        self
    }
}
