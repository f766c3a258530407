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

    /// Adds a segment at the end (for walkers that descend a tree).
    pub fn push(&mut self, segment: impl Into<String>) {
        self.0.push(segment.into());
    }

    /// Removes the last segment.
    pub fn pop(&mut self) {
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

/// Whether a key name (one segment) holds a credential.
pub fn is_secret_key(key: &str) -> bool {
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

    /// Parses TOML dotted-key syntax: bare segments (`A-Za-z0-9_-`), basic strings (`"a.b"`,
    /// with `\"`, `\\`, `\t`, `\n`, `\r`, `\uXXXX` escapes) and literal strings (`'a.b'`),
    /// joined by dots with optional blanks around them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_dotted(s)
            .map(Self)
            .map_err(|message| ConfigError::InvalidKey {
                key: s.to_owned(),
                message: format!(
                    "{message}; write keys as TOML dotted keys, quoting parts with dots, e.g. \
                 `registry.\"ghcr.io\".oci`"
                ),
            })
    }
}

fn is_bare(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn parse_dotted(s: &str) -> Result<Vec<String>, String> {
    let mut chars = s.chars().peekable();
    let mut segments = Vec::new();
    let skip_blanks = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
    };
    loop {
        skip_blanks(&mut chars);
        let segment = match chars.peek().copied() {
            Some(quote @ ('"' | '\'')) => {
                chars.next();
                let mut out = String::new();
                loop {
                    match chars.next() {
                        None => return Err(format!("a quoted part has no closing `{quote}`")),
                        Some(c) if c == quote => break,
                        Some('\\') if quote == '"' => out.push(unescape(&mut chars)?),
                        Some(c) if c.is_control() && c != '\t' => {
                            return Err("control character in a quoted key".to_owned());
                        }
                        Some(c) => out.push(c),
                    }
                }
                out
            }
            Some(c) if is_bare(c) => {
                let mut out = String::new();
                while let Some(c) = chars.next_if(|c| is_bare(*c)) {
                    out.push(c);
                }
                out
            }
            Some(c) => return Err(format!("unexpected `{c}`")),
            None => return Err("expected a key".to_owned()),
        };
        segments.push(segment);
        skip_blanks(&mut chars);
        match chars.next() {
            None => return Ok(segments),
            Some('.') => {}
            Some(c) => return Err(format!("unexpected `{c}` after a key")),
        }
    }
}

fn unescape(chars: &mut impl Iterator<Item = char>) -> Result<char, String> {
    let hex = |chars: &mut dyn Iterator<Item = char>, n: usize| -> Result<char, String> {
        let digits: String = chars.take(n).collect();
        u32::from_str_radix(&digits, 16)
            .ok()
            .filter(|_| digits.len() == n)
            .and_then(char::from_u32)
            .ok_or_else(|| format!("invalid escape `\\u{digits}`"))
    };
    match chars.next() {
        Some('"') => Ok('"'),
        Some('\\') => Ok('\\'),
        Some('t') => Ok('\t'),
        Some('n') => Ok('\n'),
        Some('r') => Ok('\r'),
        Some('b') => Ok('\u{8}'),
        Some('f') => Ok('\u{c}'),
        Some('e') => Ok('\u{1b}'),
        Some('u') => hex(chars, 4),
        Some('U') => hex(chars, 8),
        Some(c) => Err(format!("invalid escape `\\{c}`")),
        None => Err("unterminated escape".to_owned()),
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            if !segment.is_empty() && segment.chars().all(is_bare) {
                f.write_str(segment)?;
            } else {
                f.write_str("\"")?;
                for c in segment.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        '\n' => f.write_str("\\n")?,
                        '\t' => f.write_str("\\t")?,
                        '\r' => f.write_str("\\r")?,
                        c if c.is_control() => write!(f, "\\u{:04X}", u32::from(c))?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("\"")?;
            }
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
        assert!("a.\"b".parse::<KeyPath>().is_err());
        assert!("a b".parse::<KeyPath>().is_err());
        let key: KeyPath = r#" a . 'lit.\x' . "q\"\u00e9" "#.parse().unwrap();
        assert_eq!(key.segments(), ["a", "lit.\\x", "q\"é"]);
        assert_eq!(key.to_string(), r#"a."lit.\\x"."q\"é""#);
        let odd = KeyPath::new(["", "tab\there"]);
        assert_eq!(odd.to_string(), r#"""."tab\there""#);
        assert_eq!(odd.to_string().parse::<KeyPath>().unwrap(), odd);
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
