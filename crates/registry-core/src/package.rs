//! Package names (`wasi:http`) and package specs (`wasi:http@0.2.0`).

use std::fmt;
use std::str::FromStr;

use semver::{Version, VersionReq};
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

/// What a bare version (`ns:name@1.2.3`, no operator) asks for.
///
/// This is the one place the rule is written down. A bare version means the releases
/// compatible with it ([`BareVersion::Compatible`], `^1.2.3`), as in Cargo, cargo-component
/// and WIT `use` statements; a caller that names one release exactly (`wreg get`, like `wkg
/// get`) asks for [`BareVersion::Exact`] (`=1.2.3`). A requirement with an operator (`^1`,
/// `~1.2`, `=1.2.3`, `>=1, <2`) means what it says either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BareVersion {
    /// `1.2.3` means `^1.2.3`: that release or a newer compatible one.
    #[default]
    Compatible,
    /// `1.2.3` means `=1.2.3`: that release only.
    Exact,
}

/// A package name with a version requirement: `wasi:http`, `wasi:http@0.2.0`,
/// `wasi:http@^0.2`, `wasi:http@>=0.2.1, <0.3`.
///
/// The grammar every command line, dependency file and manifest uses. Without a version the
/// requirement is `*` (any release); a bare version follows [`BareVersion`] (compatible by
/// default, see [`PackageReq::parse_with`]).
///
/// ```
/// use registry_core::{BareVersion, PackageReq};
///
/// let req: PackageReq = "wasi:http@0.2.0".parse().unwrap();
/// assert_eq!(req.requirement.to_string(), "^0.2.0");
/// let exact = PackageReq::parse_with("wasi:http@0.2.0", BareVersion::Exact).unwrap();
/// assert_eq!(exact.requirement.to_string(), "=0.2.0");
/// let any: PackageReq = "wasi:http".parse().unwrap();
/// assert_eq!(any.to_string(), "wasi:http");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct PackageReq {
    /// The package.
    pub package: PackageRef,
    /// The acceptable versions (`*` when none was given).
    pub requirement: VersionReq,
}

impl PackageReq {
    /// Parses `ns:name[@requirement]`, reading a bare version as `bare` says.
    ///
    /// # Errors
    /// A [`ParseError`] saying what is wrong with the name or the requirement, with an
    /// example.
    pub fn parse_with(s: &str, bare: BareVersion) -> Result<Self, ParseError> {
        let (name, version) = match s.split_once('@') {
            Some((name, version)) => (name, Some(version)),
            None => (s, None),
        };
        let package = name.parse::<PackageRef>().map_err(|err| ParseError {
            input: s.to_owned(),
            what: "package requirement",
            ..err
        })?;
        let requirement = match version {
            None => VersionReq::STAR,
            Some(text) => parse_requirement(text, bare).map_err(|reason| {
                ParseError::new(s, "package requirement", reason, format!("{package}@^0.2"))
            })?,
        };
        Ok(Self {
            package,
            requirement,
        })
    }

    /// Whether any release satisfies the requirement (`*`).
    pub fn is_any(&self) -> bool {
        self.requirement == VersionReq::STAR
    }
}

/// A version requirement as written after `@` (or in a dependency table's `version`),
/// reading a bare version as `bare` says.
///
/// # Errors
/// The reason the text is neither a version nor a requirement.
pub fn parse_requirement(text: &str, bare: BareVersion) -> Result<VersionReq, String> {
    let text = text.trim();
    if let Ok(version) = Version::parse(text) {
        let op = match bare {
            BareVersion::Compatible => "^",
            BareVersion::Exact => "=",
        };
        return VersionReq::parse(&format!("{op}{version}")).map_err(|err| err.to_string());
    }
    VersionReq::parse(text)
        .map_err(|err| format!("`{text}` is neither a version nor a version requirement ({err})"))
}

impl FromStr for PackageReq {
    type Err = ParseError;

    /// As [`PackageReq::parse_with`] with [`BareVersion::Compatible`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_with(s, BareVersion::Compatible)
    }
}

impl fmt::Display for PackageReq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_any() {
            write!(f, "{}", self.package)
        } else {
            write!(f, "{}@{}", self.package, self.requirement)
        }
    }
}

impl From<PackageSpec> for PackageReq {
    /// An exact version becomes `=version`; no version becomes `*`.
    fn from(spec: PackageSpec) -> Self {
        let requirement = match &spec.version {
            Some(version) => {
                VersionReq::parse(&format!("={version}")).expect("a version is a requirement")
            }
            None => VersionReq::STAR,
        };
        Self {
            package: spec.package,
            requirement,
        }
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

    #[test]
    fn package_req_reads_one_grammar() {
        let cases = [
            ("wasi:http", BareVersion::Compatible, "*"),
            ("wasi:http@0.2.0", BareVersion::Compatible, "^0.2.0"),
            ("wasi:http@0.2.0", BareVersion::Exact, "=0.2.0"),
            ("wasi:http@^0.2", BareVersion::Exact, "^0.2"),
            ("wasi:http@~1.2", BareVersion::Compatible, "~1.2"),
            ("wasi:http@=1.2.3", BareVersion::Compatible, "=1.2.3"),
            ("wasi:http@>=1, <2", BareVersion::Compatible, ">=1, <2"),
            ("wasi:http@1.2", BareVersion::Exact, "^1.2"),
        ];
        for (input, bare, expected) in cases {
            let req = PackageReq::parse_with(input, bare).unwrap();
            assert_eq!(req.package.as_str(), "wasi:http");
            assert_eq!(req.requirement.to_string(), expected, "{input} {bare:?}");
        }
        let exact: PackageReq = PackageSpec {
            package: "a:b".parse().unwrap(),
            version: Some("1.0.0".parse().unwrap()),
        }
        .into();
        assert_eq!(exact.to_string(), "a:b@=1.0.0");
    }

    #[test]
    fn package_req_errors() {
        let err = "wasi:http@latest".parse::<PackageReq>().unwrap_err();
        expect![[r#""wasi:http@latest" is not a valid package requirement: `latest` is neither a version nor a version requirement (unexpected character 'l' while parsing major version number), e.g. "wasi:http@^0.2""#]]
            .assert_eq(&err.to_string());
        let err = "Wasi:http@1".parse::<PackageReq>().unwrap_err();
        expect![[r#""Wasi:http@1" is not a valid package requirement: namespace must be lowercase, e.g. "wasi:http""#]]
            .assert_eq(&err.to_string());
    }
}
