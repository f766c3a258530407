//! Package names (`wasi:http`) and package specs (`wasi:http@0.2.0`).

use std::fmt;
use std::str::FromStr;

use semver::Version;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ParseError;

/// A package name: `namespace:name`, for example `wasi:http`.
///
/// Both parts are WIT kebab-case labels: one or more words joined by `-`, each word made of
/// lowercase ASCII letters and digits and starting with a letter.
///
/// ```
/// use registry_core::PackageRef;
///
/// let pkg: PackageRef = "wasi:http".parse().unwrap();
/// assert_eq!(pkg.namespace(), "wasi");
/// assert_eq!(pkg.name(), "http");
///
/// let err = "WASI:http".parse::<PackageRef>().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     r#""WASI:http" is not a valid package name: namespace must be lowercase, e.g. "wasi:http""#
/// );
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageRef {
    /// `namespace:name`; `colon` is the index of the `:`.
    full: String,
    colon: usize,
}

impl PackageRef {
    /// Builds a package name from its two parts, checking each.
    pub fn new(namespace: &str, name: &str) -> Result<Self, ParseError> {
        format!("{namespace}:{name}").parse()
    }

    /// The namespace, e.g. `wasi`.
    pub fn namespace(&self) -> &str {
        &self.full[..self.colon]
    }

    /// The name within the namespace, e.g. `http`.
    pub fn name(&self) -> &str {
        &self.full[self.colon + 1..]
    }

    /// The whole name, `namespace:name`.
    pub fn as_str(&self) -> &str {
        &self.full
    }
}

const PACKAGE_EXAMPLE: &str = "wasi:http";

impl FromStr for PackageRef {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| {
            let example = suggest_package(s).unwrap_or_else(|| PACKAGE_EXAMPLE.to_owned());
            ParseError::new(s, "package name", reason, example)
        };
        if let Some(at) = s.find('@') {
            return Err(fail(format!(
                "`@{}` is a version, which a package name does not carry",
                &s[at + 1..]
            )));
        }
        let Some((namespace, name)) = s.split_once(':') else {
            return Err(fail(
                "expected `namespace:name`, with a `:` between the two".to_owned(),
            ));
        };
        if name.contains(':') {
            return Err(fail("expected exactly one `:`".to_owned()));
        }
        check_label(namespace, "namespace").map_err(fail)?;
        check_label(name, "name").map_err(fail)?;
        Ok(Self {
            full: s.to_owned(),
            colon: namespace.len(),
        })
    }
}

/// Checks one WIT kebab-case label, returning the reason it is invalid.
pub(crate) fn check_label(label: &str, what: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if let Some(bad) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(format!(
            "{what} contains {bad:?}; only lowercase letters, digits and `-` are allowed"
        ));
    }
    if label.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("{what} must be lowercase"));
    }
    for word in label.split('-') {
        match word.chars().next() {
            None => {
                return Err(format!(
                    "{what} `{label}` has an empty word (a leading, trailing or doubled `-`)"
                ));
            }
            Some(first) if !first.is_ascii_alphabetic() => {
                return Err(format!(
                    "{what} `{label}` has a word starting with `{first}`; each word between \
                     `-` must start with a letter"
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A corrected spelling of `input`, when lowercasing and trimming make it valid.
fn suggest_package(input: &str) -> Option<String> {
    let base = input.split('@').next()?.trim().to_ascii_lowercase();
    let (ns, name) = base.split_once(':')?;
    let ok = check_label(ns, "").is_ok() && check_label(name, "").is_ok();
    ok.then_some(base)
}

impl fmt::Display for PackageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Debug for PackageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PackageRef({:?})", self.full)
    }
}

impl Serialize for PackageRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.full)
    }
}

impl<'de> Deserialize<'de> for PackageRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A package name with an optional exact version: `wasi:http@0.2.0` or `wasi:http`.
///
/// ```
/// use registry_core::PackageSpec;
///
/// let spec: PackageSpec = "wasi:http@0.2.0".parse().unwrap();
/// assert_eq!(spec.package.to_string(), "wasi:http");
/// assert_eq!(spec.version.unwrap().to_string(), "0.2.0");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct PackageSpec {
    /// The package.
    pub package: PackageRef,
    /// The exact version, when one was given.
    pub version: Option<Version>,
}

impl FromStr for PackageSpec {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, version) = match s.split_once('@') {
            Some((name, version)) => (name, Some(version)),
            None => (s, None),
        };
        let package = name.parse::<PackageRef>().map_err(|err| ParseError {
            input: s.to_owned(),
            what: "package spec",
            ..err
        })?;
        let version = version
            .map(|v| {
                Version::parse(v).map_err(|err| {
                    ParseError::new(
                        s,
                        "package spec",
                        format!("`{v}` is not a semantic version ({err})"),
                        format!("{package}@0.2.0"),
                    )
                })
            })
            .transpose()?;
        Ok(Self { package, version })
    }
}

impl fmt::Display for PackageSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(version) => write!(f, "{}@{version}", self.package),
            None => write!(f, "{}", self.package),
        }
    }
}

impl Serialize for PackageSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PackageSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    fn check_err(input: &str, expected: Expect) {
        let err = input.parse::<PackageRef>().unwrap_err();
        expected.assert_eq(&err.to_string());
    }

    #[test]
    fn valid_names() {
        for name in [
            "wasi:http",
            "a:b",
            "my-ns:my-pkg2",
            "ns1:x-y-z",
            "ba:sample-wasi-http-rust",
        ] {
            let pkg: PackageRef = name.parse().unwrap();
            assert_eq!(pkg.to_string(), name);
            let (ns, n) = name.split_once(':').unwrap();
            assert_eq!(pkg.namespace(), ns);
            assert_eq!(pkg.name(), n);
        }
    }

    #[test]
    fn invalid_names_explain_themselves() {
        check_err(
            "WASI:http",
            expect![[
                r#""WASI:http" is not a valid package name: namespace must be lowercase, e.g. "wasi:http""#
            ]],
        );
        check_err(
            "wasi-http",
            expect![[
                r#""wasi-http" is not a valid package name: expected `namespace:name`, with a `:` between the two, e.g. "wasi:http""#
            ]],
        );
        check_err(
            "wasi:http@0.2.0",
            expect![[
                r#""wasi:http@0.2.0" is not a valid package name: `@0.2.0` is a version, which a package name does not carry, e.g. "wasi:http""#
            ]],
        );
        check_err(
            "wasi:2http",
            expect![[
                r#""wasi:2http" is not a valid package name: name `2http` has a word starting with `2`; each word between `-` must start with a letter, e.g. "wasi:http""#
            ]],
        );
        check_err(
            "wasi:http-",
            expect![[
                r#""wasi:http-" is not a valid package name: name `http-` has an empty word (a leading, trailing or doubled `-`), e.g. "wasi:http""#
            ]],
        );
        check_err(
            "wasi:ht_tp",
            expect![[
                r#""wasi:ht_tp" is not a valid package name: name contains '_'; only lowercase letters, digits and `-` are allowed, e.g. "wasi:http""#
            ]],
        );
        check_err(
            ":http",
            expect![[
                r#"":http" is not a valid package name: namespace is empty, e.g. "wasi:http""#
            ]],
        );
        check_err(
            "a:b:c",
            expect![[
                r#""a:b:c" is not a valid package name: expected exactly one `:`, e.g. "wasi:http""#
            ]],
        );
        check_err(
            "Acme:Widget",
            expect![[
                r#""Acme:Widget" is not a valid package name: namespace must be lowercase, e.g. "acme:widget""#
            ]],
        );
        check_err(
            "../../etc:passwd",
            expect![[
                r#""../../etc:passwd" is not a valid package name: namespace contains '.'; only lowercase letters, digits and `-` are allowed, e.g. "wasi:http""#
            ]],
        );
    }

    #[test]
    fn package_spec_round_trips() {
        let spec: PackageSpec = "wasi:http@0.2.0-rc.1+build.5".parse().unwrap();
        assert_eq!(spec.package.as_str(), "wasi:http");
        assert_eq!(spec.version.as_ref().unwrap().pre.as_str(), "rc.1");
        assert_eq!(spec.to_string(), "wasi:http@0.2.0-rc.1+build.5");

        let bare: PackageSpec = "wasi:http".parse().unwrap();
        assert_eq!(bare.version, None);
        assert_eq!(bare.to_string(), "wasi:http");
    }

    #[test]
    fn package_spec_errors() {
        let err = "wasi:http@latest".parse::<PackageSpec>().unwrap_err();
        expect![[r#""wasi:http@latest" is not a valid package spec: `latest` is not a semantic version (unexpected character 'l' while parsing major version number), e.g. "wasi:http@0.2.0""#]]
            .assert_eq(&err.to_string());
        let err = "WASI:http@1.0.0".parse::<PackageSpec>().unwrap_err();
        expect![[r#""WASI:http@1.0.0" is not a valid package spec: namespace must be lowercase, e.g. "wasi:http""#]]
            .assert_eq(&err.to_string());
    }

    #[test]
    fn serde_as_string() {
        let pkg: PackageRef = serde_json::from_str("\"wasi:io\"").unwrap();
        assert_eq!(serde_json::to_string(&pkg).unwrap(), "\"wasi:io\"");
        let err = serde_json::from_str::<PackageRef>("\"Wasi:io\"").unwrap_err();
        assert!(
            err.to_string().contains("namespace must be lowercase"),
            "{err}"
        );
    }
}
