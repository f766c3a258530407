//! Package names and versions as OCI repositories and tags.

use oci_client::Reference;
use registry_core::{PackageRef, Version};

/// Where a package's releases live: `<oci registry>/<prefix><namespace>/<name>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    /// The OCI registry, host and optional port.
    pub registry: String,
    /// The repository path within it.
    pub path: String,
}

impl Repository {
    /// The repository of `package` in `registry`, with `prefix` (e.g. `webassembly/`) before
    /// `<namespace>/<name>`.
    pub fn new(registry: &str, prefix: Option<&str>, package: &PackageRef) -> Self {
        let prefix = prefix.unwrap_or_default();
        Self {
            registry: registry.to_owned(),
            path: format!("{prefix}{}/{}", package.namespace(), package.name()),
        }
    }

    /// A reference to the tag of `version`.
    pub fn tag(&self, version: &Version) -> Reference {
        Reference::with_tag(
            self.registry.clone(),
            self.path.clone(),
            version_to_tag(version),
        )
    }

    /// A reference to content by digest.
    pub fn digest(&self, digest: &str) -> Reference {
        Reference::with_digest(self.registry.clone(), self.path.clone(), digest.to_owned())
    }

    /// A reference to the repository (for listing tags).
    pub fn any(&self) -> Reference {
        Reference::with_tag(
            self.registry.clone(),
            self.path.clone(),
            "latest".to_owned(),
        )
    }
}

impl std::fmt::Display for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)
    }
}

/// The tag of a version.
///
/// OCI tags (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`) cannot hold the `+` of semver build
/// metadata, so `+` is written `_`, as Helm does. Semver identifiers never contain `_`, so
/// the mapping is reversible: `1.0.0+build.5` <-> `1.0.0_build.5`.
pub fn version_to_tag(version: &Version) -> String {
    version.to_string().replace('+', "_")
}

/// The version a tag names, if it names one (see [`version_to_tag`]).
pub fn tag_to_version(tag: &str) -> Option<Version> {
    Version::parse(&tag.replace('_', "+")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_round_trip_through_tags() {
        for v in [
            "0.2.0",
            "1.0.0-rc.1",
            "1.0.0+build.5",
            "2.0.0-alpha-1+sha.abc-def",
        ] {
            let version = Version::parse(v).unwrap();
            let tag = version_to_tag(&version);
            assert!(!tag.contains('+'), "{tag}");
            assert!(tag.len() <= 128);
            assert_eq!(tag_to_version(&tag), Some(version), "{tag}");
        }
        assert_eq!(
            version_to_tag(&Version::parse("1.0.0+b").unwrap()),
            "1.0.0_b"
        );
        assert_eq!(tag_to_version("latest"), None);
        assert_eq!(tag_to_version("sha256-abc.sig"), None);
        assert_eq!(tag_to_version("v1.0.0"), None);
    }

    #[test]
    fn repositories() {
        let package: PackageRef = "wasi:http".parse().unwrap();
        let repo = Repository::new("ghcr.io", Some("webassembly/"), &package);
        assert_eq!(repo.to_string(), "ghcr.io/webassembly/wasi/http");
        let reference = repo.tag(&Version::new(0, 2, 0));
        assert_eq!(reference.whole(), "ghcr.io/webassembly/wasi/http:0.2.0");
        let plain = Repository::new("localhost:5000", None, &package);
        assert_eq!(
            plain.tag(&Version::new(1, 0, 0)).whole(),
            "localhost:5000/wasi/http:1.0.0"
        );
    }
}
