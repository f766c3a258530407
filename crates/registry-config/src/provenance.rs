//! `[registry."<name>".provenance]`: which signatures a release needs, per registry, per
//! namespace (`.namespace.<ns>`) or per package (`.package."<ns:name>"`).
//!
//! A table under a registry, as `mirrors` is, so that `wkg` (which reads every table of a
//! registry as an opaque backend section) still accepts the file. Plain data: this crate
//! checks the keys and resolves which value applies; the client verifies signatures.
//!
//! Each key resolves on its own: the most specific table that sets it wins (package, then
//! namespace, then registry), and among the layers that set it in one table, the highest.
//! Keys that are alternatives for one thing resolve together: `identity` and
//! `identity_regexp` are one choice, `issuer` and `issuer_regexp` another, and a table that
//! sets `public_key` (a managed key) hides the keyless signer (`identity*`, `issuer*`) of
//! the tables below it, and is hidden by a keyless signer above it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use registry_core::{PackageRef, Registry};

use crate::node::Node;
use crate::{Config, ConfigError, KeyPath, Origin, Setting};

mod check;

pub(crate) use check::check;

/// The name of the section, `[registry."<name>".provenance]`.
pub(crate) const PROVENANCE: &str = "provenance";
const NAMESPACE: &str = "namespace";
const PACKAGE: &str = "package";

const VERIFY: &str = "verify";
const TRUSTED_ROOT: &str = "trusted_root";
const IDENTITY: &str = "identity";
const IDENTITY_REGEXP: &str = "identity_regexp";
const ISSUER: &str = "issuer";
const ISSUER_REGEXP: &str = "issuer_regexp";
const PUBLIC_KEY: &str = "public_key";
const FULCIO_URL: &str = "fulcio_url";
const REKOR_URL: &str = "rekor_url";

/// The keys of a provenance table, each with an example value for messages.
const KEYS: &[(&str, &str)] = &[
    (VERIFY, r#""always""#),
    (TRUSTED_ROOT, r#""public-good""#),
    (
        IDENTITY,
        r#""https://github.com/acme/widget/.github/workflows/release.yml@refs/heads/main""#,
    ),
    (IDENTITY_REGEXP, r"'^https://github\.com/acme/'"),
    (ISSUER, r#""https://token.actions.githubusercontent.com""#),
    (
        ISSUER_REGEXP,
        r"'^https://token\.actions\.githubusercontent\.com$'",
    ),
    (PUBLIC_KEY, r#""keys/ci.pub""#),
    (FULCIO_URL, r#""https://fulcio.sigstore.dev""#),
    (REKOR_URL, r#""https://rekor.sigstore.dev""#),
];

/// The keys that name a keyless signer (a certificate's identity and its issuer).
const KEYLESS: &[&str] = &[IDENTITY, IDENTITY_REGEXP, ISSUER, ISSUER_REGEXP];

/// When releases are checked against the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VerifyWhen {
    /// On every resolve and fetch: a release without an accepted signature is refused.
    Always,
    /// Only when asked (`wreg verify`). The default.
    Command,
    /// Never: turns off a policy a lower layer or a less specific table set.
    Never,
}

impl VerifyWhen {
    const ALL: [VerifyWhen; 3] = [VerifyWhen::Always, VerifyWhen::Command, VerifyWhen::Never];

    /// The spelling in the file: `always`, `command` or `never`.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyWhen::Always => "always",
            VerifyWhen::Command => "command",
            VerifyWhen::Never => "never",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|when| when.as_str() == name)
    }
}

impl fmt::Display for VerifyWhen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The Sigstore trust root that signatures are checked against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrustedRootSource {
    /// `public-good`: the public Sigstore instance (the default).
    PublicGood,
    /// `github`: GitHub's Sigstore instance (attestations of private repositories).
    Github,
    /// `staging`: the public Sigstore staging instance.
    Staging,
    /// A `trusted_root.json` file, its path absolute (a relative path in a file is taken
    /// from that file's directory).
    File(PathBuf),
}

impl TrustedRootSource {
    const NAMED: [TrustedRootSource; 3] = [
        TrustedRootSource::PublicGood,
        TrustedRootSource::Github,
        TrustedRootSource::Staging,
    ];

    /// The name in the file (`public-good`, `github`, `staging`); `None` for a file.
    pub fn name(&self) -> Option<&'static str> {
        match self {
            TrustedRootSource::PublicGood => Some("public-good"),
            TrustedRootSource::Github => Some("github"),
            TrustedRootSource::Staging => Some("staging"),
            TrustedRootSource::File(_) => None,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::NAMED
            .into_iter()
            .find(|root| root.name() == Some(name))
    }
}

impl fmt::Display for TrustedRootSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustedRootSource::File(path) => write!(f, "{}", path.display()),
            named => f.write_str(named.name().unwrap_or_default()),
        }
    }
}

/// The effective provenance policy for one package on one registry
/// ([`Config::provenance`]): each value with where it was set.
///
/// It names a signer when `verify` is not [`VerifyWhen::Never`]: either `public_key`, or
/// an identity (`identity` or `identity_regexp`) and an issuer (`issuer` or
/// `issuer_regexp`); never both kinds, never both spellings of one.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProvenancePolicy {
    /// When releases are checked; [`VerifyWhen::Command`] (built-in) when no table says.
    pub verify: Setting<VerifyWhen>,
    /// The trust root; [`TrustedRootSource::PublicGood`] (built-in) when no table says.
    pub trusted_root: Setting<TrustedRootSource>,
    /// The signing certificate's identity (its SAN), exactly.
    pub identity: Option<Setting<String>>,
    /// A regular expression the certificate's identity must match.
    pub identity_regexp: Option<Setting<String>>,
    /// The OIDC issuer of the signing certificate, exactly.
    pub issuer: Option<Setting<String>>,
    /// A regular expression the certificate's issuer must match.
    pub issuer_regexp: Option<Setting<String>>,
    /// A PEM public key that signs (a managed key), its path absolute.
    pub public_key: Option<Setting<PathBuf>>,
    /// The Fulcio instance to get a signing certificate from (`wreg publish --sign`).
    pub fulcio_url: Option<Setting<String>>,
    /// The Rekor instance to log signatures in.
    pub rekor_url: Option<Setting<String>>,
    /// The most specific table that applies and sets a key.
    table: Located,
    /// The key path each set value was read at.
    paths: BTreeMap<&'static str, KeyPath>,
}

/// A table's key path and where it is (in the highest layer that has it).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Located {
    path: KeyPath,
    origin: Origin,
}

impl ProvenancePolicy {
    /// The most specific table that applies to the package, e.g.
    /// `registry."ghcr.io".provenance.package."acme:widget"`.
    pub fn table(&self) -> &KeyPath {
        &self.table.path
    }

    /// The full key path of `key` (a key of the table, e.g. `identity_regexp`) where its
    /// effective value was set; for a value not set, the key in [`table`](Self::table).
    pub fn key_path(&self, key: &str) -> KeyPath {
        self.paths
            .get(key)
            .cloned()
            .unwrap_or_else(|| self.table.path.join(key))
    }

    /// Where the effective value of `key` was set; for a value not set, where the
    /// [`table`](Self::table) is.
    pub fn origin_of(&self, key: &str) -> Origin {
        let origin = match key {
            VERIFY => Some(&self.verify.origin),
            TRUSTED_ROOT => Some(&self.trusted_root.origin),
            PUBLIC_KEY => self.public_key.as_ref().map(|s| &s.origin),
            _ => self.string(key).map(|s| &s.origin),
        };
        match origin {
            Some(origin) if *origin != Origin::Builtin => origin.clone(),
            _ => self.table.origin.clone(),
        }
    }

    /// A [`ConfigError::Invalid`] for `key`, located at its file, line and key
    /// ([`origin_of`](Self::origin_of), [`key_path`](Self::key_path)): how a reader of the
    /// policy reports a value it finds bad later, e.g. a regular expression that does not
    /// compile.
    pub fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::invalid(&self.origin_of(key), &self.key_path(key), message)
    }

    fn string(&self, key: &str) -> Option<&Setting<String>> {
        match key {
            IDENTITY => self.identity.as_ref(),
            IDENTITY_REGEXP => self.identity_regexp.as_ref(),
            ISSUER => self.issuer.as_ref(),
            ISSUER_REGEXP => self.issuer_regexp.as_ref(),
            FULCIO_URL => self.fulcio_url.as_ref(),
            REKOR_URL => self.rekor_url.as_ref(),
            _ => None,
        }
    }
}

/// One provenance table that applies, in one layer.
struct Table<'a> {
    path: KeyPath,
    node: &'a Node,
}

impl<'a> Table<'a> {
    fn value(&self, key: &str) -> Option<&'a Node> {
        self.node.entries()?.get(key)
    }

    fn sets_any(&self, keys: &[&str]) -> bool {
        keys.iter().any(|key| self.value(key).is_some())
    }
}

/// A value found in a table: its key, its node and its full key path.
struct Found<'a> {
    key: &'static str,
    node: &'a Node,
    path: KeyPath,
}

impl Found<'_> {
    fn text(&self) -> Setting<String> {
        Setting {
            value: self.node.as_str().unwrap_or_default().to_owned(),
            origin: self.node.origin().clone(),
        }
    }

    fn path_value(&self) -> Setting<PathBuf> {
        let origin = self.node.origin().clone();
        Setting {
            value: resolve_path(self.node.as_str().unwrap_or_default(), &origin),
            origin,
        }
    }
}

/// The first of `tables` that sets one of `keys`, and the first of `keys` it sets.
fn first<'a>(tables: &[Table<'a>], keys: &[&'static str]) -> Option<Found<'a>> {
    tables.iter().find_map(|table| {
        keys.iter().find_map(|key| {
            table.value(key).map(|node| Found {
                key,
                node,
                path: table.path.join(*key),
            })
        })
    })
}

/// A path from a file made absolute: a relative one is taken from the directory of the
/// file that says it, after following that file's links (as saving does,
/// [`crate::fs::write_target`]), so a config linked in from a dotfiles repository finds the
/// keys beside it; a relative path set outside a file, from the working directory.
fn resolve_path(value: &str, origin: &Origin) -> PathBuf {
    let path = Path::new(value);
    let joined = match origin.path() {
        Some(file) if path.is_relative() => {
            let file = crate::fs::write_target(file).unwrap_or_else(|_| file.to_owned());
            crate::fs::parent_dir(&file).join(path)
        }
        _ => path.to_owned(),
    };
    std::path::absolute(&joined).unwrap_or(joined)
}

impl Config {
    /// The provenance policy for `package` on `registry`: each key from the most specific
    /// of `[registry."<registry>".provenance.package."<package>"]`, `.namespace.<ns>` and
    /// `[registry."<registry>".provenance]` that sets it, and within one of them from the
    /// highest layer (see the module `provenance` in the source for how alternatives such
    /// as `identity`/`identity_regexp` resolve together). `None` when no table that
    /// applies sets any key.
    ///
    /// A policy to verify with may still lack a signer (a table may only say where to
    /// sign): [`ProvenancePolicy::check_signer`] says so.
    ///
    /// # Errors
    /// None today beyond what loading the layers checked; the `Result` is kept for checks
    /// that need the package.
    pub fn provenance(
        &self,
        registry: &Registry,
        package: &PackageRef,
    ) -> Result<Option<ProvenancePolicy>, ConfigError> {
        let tables = self.provenance_tables(registry, package);
        let keys: Vec<&'static str> = KEYS.iter().map(|(key, _)| *key).collect();
        let Some(table) = tables.iter().find(|t| t.sets_any(&keys)) else {
            return Ok(None);
        };
        let table = Located {
            path: table.path.clone(),
            origin: table.node.origin().clone(),
        };
        // The signer: the kind the first table naming one says; a keyless signer's
        // identity and issuer from the tables above the first that names a key.
        let keyed = tables.iter().position(|t| t.sets_any(&[PUBLIC_KEY]));
        let keyless = tables.iter().position(|t| t.sets_any(KEYLESS));
        let (public_key, keyless_tables) = match (keyed, keyless) {
            (Some(k), l) if l.is_none_or(|l| k < l) => {
                (first(&tables[k..], &[PUBLIC_KEY]), &[][..])
            }
            (k, _) => (None, &tables[..k.unwrap_or(tables.len())]),
        };
        let identity = first(keyless_tables, &[IDENTITY, IDENTITY_REGEXP]);
        let issuer = first(keyless_tables, &[ISSUER, ISSUER_REGEXP]);
        let verify = first(&tables, &[VERIFY]);
        let trusted_root = first(&tables, &[TRUSTED_ROOT]);
        let fulcio_url = first(&tables, &[FULCIO_URL]);
        let rekor_url = first(&tables, &[REKOR_URL]);
        let found = [
            &public_key,
            &identity,
            &issuer,
            &verify,
            &trusted_root,
            &fulcio_url,
            &rekor_url,
        ];
        let paths = found
            .into_iter()
            .flatten()
            .map(|found| (found.key, found.path.clone()))
            .collect();

        let only = |found: &Option<Found<'_>>, key: &str| {
            found.as_ref().filter(|f| f.key == key).map(Found::text)
        };
        let policy = ProvenancePolicy {
            verify: verify.as_ref().map_or(
                Setting {
                    value: VerifyWhen::Command,
                    origin: Origin::Builtin,
                },
                |found| Setting {
                    value: found
                        .node
                        .as_str()
                        .and_then(VerifyWhen::from_name)
                        .unwrap_or(VerifyWhen::Command),
                    origin: found.node.origin().clone(),
                },
            ),
            trusted_root: trusted_root.as_ref().map_or(
                Setting {
                    value: TrustedRootSource::PublicGood,
                    origin: Origin::Builtin,
                },
                |found| Setting {
                    value: match found.node.as_str().and_then(TrustedRootSource::from_name) {
                        Some(named) => named,
                        None => TrustedRootSource::File(found.path_value().value),
                    },
                    origin: found.node.origin().clone(),
                },
            ),
            identity: only(&identity, IDENTITY),
            identity_regexp: only(&identity, IDENTITY_REGEXP),
            issuer: only(&issuer, ISSUER),
            issuer_regexp: only(&issuer, ISSUER_REGEXP),
            public_key: public_key.as_ref().map(Found::path_value),
            fulcio_url: fulcio_url.as_ref().map(Found::text),
            rekor_url: rekor_url.as_ref().map(Found::text),
            table,
            paths,
        };
        Ok(Some(policy))
    }

    /// The provenance tables that apply to `package` on `registry`: the package's, the
    /// namespace's, the registry's, and within each the highest layer first.
    fn provenance_tables(&self, registry: &Registry, package: &PackageRef) -> Vec<Table<'_>> {
        let base = KeyPath::new(["registry", registry.as_str(), PROVENANCE]);
        let scopes = [
            base.join(PACKAGE).join(package.as_str()),
            base.join(NAMESPACE).join(package.namespace()),
            base,
        ];
        scopes
            .iter()
            .flat_map(|path| {
                self.layers.iter().rev().filter_map(|layer| {
                    let node = layer.tree.get(path.segments())?;
                    node.entries().map(|_| Table {
                        path: path.clone(),
                        node,
                    })
                })
            })
            .collect()
    }
}

impl ProvenancePolicy {
    /// A policy that verifies must say who signs: call this before verifying with it. (A
    /// table that only says where to sign, `fulcio_url` and `rekor_url`, needs no signer.)
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] at the most specific table when `verify` is not `never`
    /// and the policy names neither an identity and an issuer nor a public key.
    pub fn check_signer(&self, package: &PackageRef) -> Result<(), ConfigError> {
        if self.verify.value == VerifyWhen::Never || self.public_key.is_some() {
            return Ok(());
        }
        let identity = self.identity.as_ref().or(self.identity_regexp.as_ref());
        let issuer = self.issuer.as_ref().or(self.issuer_regexp.as_ref());
        let set = |key: &str, setting: &Setting<String>| {
            format!("`{}` is set (at {})", self.key_path(key), setting.origin)
        };
        let missing = match (identity, issuer) {
            (Some(_), Some(_)) => return Ok(()),
            (None, None) => "names no signer".to_owned(),
            (Some(found), None) => {
                let key = if self.identity.is_some() {
                    IDENTITY
                } else {
                    IDENTITY_REGEXP
                };
                format!(
                    "names no issuer: {} but neither `issuer` nor `issuer_regexp`",
                    set(key, found)
                )
            }
            (None, Some(found)) => {
                let key = if self.issuer.is_some() {
                    ISSUER
                } else {
                    ISSUER_REGEXP
                };
                format!(
                    "names no identity: {} but neither `identity` nor `identity_regexp`",
                    set(key, found)
                )
            }
        };
        Err(ConfigError::invalid(
            &self.table.origin,
            &self.table.path,
            format!(
                "the provenance policy for `{package}` {missing}; a policy that is verified \
                 (`verify = \"{}\"`) needs `identity` or `identity_regexp` with `issuer` or \
                 `issuer_regexp`, or `public_key`, or else `verify = \"never\"`",
                self.verify.value
            ),
        ))
    }
}
