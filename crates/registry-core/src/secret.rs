//! A wrapper that keeps credentials out of `Debug` and `Display` output.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A string that must not be shown: a password, a token, a signing key.
///
/// `Debug` and `Display` print `<redacted>`; the value is reached only through
/// [`expose`](Self::expose), which makes every use easy to find. It deserializes from, and
/// serializes to, the plain string, so it can stand in a config struct; a value of the wrong
/// type is rejected without echoing it. Serializing it is meant for writing config files,
/// never for logs.
///
/// ```
/// use registry_core::Secret;
///
/// let token = Secret::new("hunter2");
/// assert_eq!(format!("{token:?} {token}"), "<redacted> <redacted>");
/// assert_eq!(token.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself. Never log it or put it in an error.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;

        impl Visitor<'_> for SecretVisitor {
            type Value = Secret;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Secret, E> {
                Ok(Secret(v))
            }

            // Every other `visit_*` falls back to serde's default, which would echo the value
            // (`invalid type: integer `1234``); these say only what kind of value it was.
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Secret, E> {
                Err(E::invalid_type(de::Unexpected::Other("an integer"), &self))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Secret, E> {
                Err(E::invalid_type(de::Unexpected::Other("an integer"), &self))
            }

            fn visit_i128<E: de::Error>(self, _: i128) -> Result<Secret, E> {
                Err(E::invalid_type(de::Unexpected::Other("an integer"), &self))
            }

            fn visit_u128<E: de::Error>(self, _: u128) -> Result<Secret, E> {
                Err(E::invalid_type(de::Unexpected::Other("an integer"), &self))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(E::invalid_type(de::Unexpected::Other("a float"), &self))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Secret, E> {
                Err(E::invalid_type(de::Unexpected::Other("a boolean"), &self))
            }

            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Secret, E> {
                Err(E::invalid_type(de::Unexpected::Other("bytes"), &self))
            }
        }

        deserializer.deserialize_any(SecretVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_type_is_not_echoed() {
        let err = serde_json::from_str::<Secret>("987654321").unwrap_err();
        assert!(!err.to_string().contains("987654321"), "{err}");
        assert!(err.to_string().contains("an integer"), "{err}");
        for other in ["1.5e3", "true", "[\"a\"]", "{\"k\": \"v\"}"] {
            let err = serde_json::from_str::<Secret>(other)
                .unwrap_err()
                .to_string();
            assert!(
                !err.contains("1.5") && !err.contains("\"a\"") && !err.contains("\"v\""),
                "{err}"
            );
        }
        let ok: Secret = serde_json::from_str("\"s3cr3t\"").unwrap();
        assert_eq!(ok.expose(), "s3cr3t");
        assert_eq!(format!("{ok:?}"), "<redacted>");
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"s3cr3t\"");
    }
}
