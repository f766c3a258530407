//! Dotted key paths such as `registry."ghcr.io".oci.auth`.

use std::fmt;
use std::str::FromStr;

use crate::ConfigError;

/// A path of keys from the top of the config, written as TOML dotted keys:
/// `default_registry`, `namespace_registries.acme`, `registry."ghcr.io".oci.auth.token`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct KeyPath(Vec<String>);

impl KeyPath {
    /// A path from its segments.
    pub fn new<I, S>(segments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(segments.into_iter().map(Into::into).collect())
    }

    /// The segments, unquoted.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// The same path with one more segment.
    pub fn join(&self, segment: impl Into<String>) -> Self {
        let mut out = self.clone();
        out.0.push(segment.into());
        out
    }

    pub(crate) fn push(&mut self, segment: impl Into<String>) {
        self.0.push(segment.into());
    }

    pub(crate) fn pop(&mut self) {
        self.0.pop();
    }

    /// Whether this path starts with `prefix`.
    pub fn starts_with(&self, prefix: &KeyPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// The last segment.
    pub fn last(&self) -> Option<&str> {
        self.0.last().map(String::as_str)
    }

    /// Whether the value at this path is a credential that must never be shown: its last
    /// key is `auth` or names a password, token, secret, credential or private/signing key.
    pub fn is_secret(&self) -> bool {
        self.last().is_some_and(is_secret_key)
    }
}

/// Key names whose values are credentials.
pub(crate) fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key == "auth"
        || [
            "password",
            "token",
            "secret",
            "signing_key",
            "private_key",
            "credential",
        ]
        .iter()
        .any(|word| key.contains(word))
}

impl FromStr for KeyPath {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let keys = toml_edit::Key::parse(s).map_err(|err| ConfigError::InvalidKey {
            key: s.to_owned(),
            message: format!(
                "{}; write keys as TOML dotted keys, quoting parts with dots, e.g. \
                 `registry.\"ghcr.io\".oci`",
                err.message().trim_end()
            ),
        })?;
        Ok(Self(keys.iter().map(|k| k.get().to_owned()).collect()))
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(&toml_edit::Key::new(segment.as_str()).display_repr())?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPath({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let key: KeyPath = r#"registry."ghcr.io".oci.auth"#.parse().unwrap();
        assert_eq!(key.segments(), ["registry", "ghcr.io", "oci", "auth"]);
        assert_eq!(key.to_string(), r#"registry."ghcr.io".oci.auth"#);
        let key: KeyPath = r#"package_registry_overrides."acme:widget""#.parse().unwrap();
        assert_eq!(key.segments()[1], "acme:widget");
        assert_eq!(
            key.to_string(),
            r#"package_registry_overrides."acme:widget""#
        );
        assert!("registry..x".parse::<KeyPath>().is_err());
    }

    #[test]
    fn secrets() {
        assert!(KeyPath::new(["registry", "r", "oci", "auth", "password"]).is_secret());
        assert!(KeyPath::new(["registry", "r", "warg", "auth_token"]).is_secret());
        assert!(KeyPath::new(["registry", "r", "warg", "signing_key"]).is_secret());
        assert!(!KeyPath::new(["registry", "r", "oci", "auth", "username"]).is_secret());
        assert!(KeyPath::new(["registry", "r", "oci", "auth"]).is_secret());
        assert!(!KeyPath::new(["default_registry"]).is_secret());
        assert!(!KeyPath::new(["registry", "token.example.com", "oci", "protocol"]).is_secret());
    }
}
