//! What a `[registry."<name>".provenance]` table may contain, checked with the rest of a
//! layer so that an error names the file, line and key.

use super::{
    FULCIO_URL, IDENTITY, IDENTITY_REGEXP, ISSUER, ISSUER_REGEXP, KEYS, NAMESPACE, PACKAGE,
    PUBLIC_KEY, REKOR_URL, TRUSTED_ROOT, TrustedRootSource, VERIFY, VerifyWhen,
};
use crate::node::Node;
use crate::schema::{
    KeyCheck, check_namespace, check_package, closest, table_entries, unknown_key,
};
use crate::{ConfigError, KeyPath};

/// Keys a table may not set together: the second is reported, naming the first, and why.
const EXCLUSIVE: &[(&str, &str, &str)] = &[
    (
        IDENTITY,
        IDENTITY_REGEXP,
        "an identity is matched exactly or by a pattern: keep one",
    ),
    (
        ISSUER,
        ISSUER_REGEXP,
        "an issuer is matched exactly or by a pattern: keep one",
    ),
    (IDENTITY, PUBLIC_KEY, KEY_OR_KEYLESS),
    (IDENTITY_REGEXP, PUBLIC_KEY, KEY_OR_KEYLESS),
    (ISSUER, PUBLIC_KEY, KEY_OR_KEYLESS),
    (ISSUER_REGEXP, PUBLIC_KEY, KEY_OR_KEYLESS),
];

const KEY_OR_KEYLESS: &str = "a table names a managed key (`public_key`) or a keyless signer \
                              (an identity and an issuer), not both: keep one";

/// Checks `[registry."<name>".provenance]`, the section at `path`.
pub(crate) fn check(node: &Node, path: &KeyPath) -> Result<(), ConfigError> {
    check_table(node, path, true)
}

/// A provenance table: the registry's (`nested`: it may hold `namespace` and `package`
/// overrides) or an override.
fn check_table(node: &Node, path: &KeyPath, nested: bool) -> Result<(), ConfigError> {
    let entries = table_entries(node, path, &format!("[{path}] with `verify = \"always\"`"))?;
    let mut allowed: Vec<&str> = KEYS.iter().map(|(key, _)| *key).collect();
    if nested {
        allowed.extend([NAMESPACE, PACKAGE]);
    }
    for (key, value) in entries {
        let path = path.join(key);
        match (key.as_str(), KEYS.iter().find(|(k, _)| k == key)) {
            (NAMESPACE, _) if nested => check_overrides(value, &path, check_namespace, "wasi")?,
            (PACKAGE, _) if nested => {
                check_overrides(value, &path, check_package, "\"acme:widget\"")?;
            }
            (_, Some((key, example))) => check_value(key, value, &path, example)?,
            (_, None) => return Err(unknown_key(value, &path, &allowed)),
        }
    }
    for (first, second, why) in EXCLUSIVE {
        if let (Some(a), Some(b)) = (entries.get(*first), entries.get(*second)) {
            return Err(ConfigError::invalid(
                b.origin(),
                &path.join(*second),
                format!(
                    "`{second}` and `{first}` (at {}) are both set; {why}",
                    a.origin()
                ),
            ));
        }
    }
    Ok(())
}

/// `namespace` or `package`: a table of override tables, keyed by namespace or package.
fn check_overrides(
    node: &Node,
    path: &KeyPath,
    check_key: KeyCheck,
    example: &str,
) -> Result<(), ConfigError> {
    let entries = table_entries(node, path, &format!("[{path}.{example}]"))?;
    for (key, value) in entries {
        let path = path.join(key);
        check_key(key).map_err(|message| ConfigError::invalid(value.origin(), &path, message))?;
        check_table(value, &path, false)?;
    }
    Ok(())
}

fn check_value(key: &str, node: &Node, path: &KeyPath, example: &str) -> Result<(), ConfigError> {
    let invalid = |message: String| ConfigError::invalid(node.origin(), path, message);
    let value = node
        .as_str()
        .filter(|value| !value.is_empty())
        .ok_or_else(|| {
            invalid(format!(
                "expected a non-empty string, e.g. `{key} = {example}`"
            ))
        })?;
    let is_path = value.contains(['/', '\\']) || value.ends_with(".json");
    let is_url = value.starts_with("https://") || value.starts_with("http://");
    let problem = match key {
        VERIFY if VerifyWhen::from_name(value).is_none() => format!(
            "`{value}` is not a choice{}; expected \"always\" (every resolve and fetch \
             checks), \"command\" (only `wreg verify` checks) or \"never\"",
            suggestion(value, &VerifyWhen::ALL.map(VerifyWhen::as_str))
        ),
        TRUSTED_ROOT if TrustedRootSource::from_name(value).is_none() && !is_path => format!(
            "`{value}` names no trust root{}; expected \"public-good\", \"github\", \"staging\" \
             or the path of a trusted_root.json (`./{value}` for a file of that name beside \
             this one)",
            suggestion(
                value,
                &TrustedRootSource::NAMED.map(|root| root.name().unwrap_or_default())
            )
        ),
        FULCIO_URL | REKOR_URL if !is_url => {
            format!("`{value}` is not an http(s) URL, e.g. `{key} = {example}`")
        }
        _ => return Ok(()),
    };
    Err(invalid(problem))
}

/// ` (did you mean `x`?)` when `value` is near one of `names`.
fn suggestion(value: &str, names: &[&str]) -> String {
    closest(value, names)
        .map(|best| format!(" (did you mean `{best}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn every_key_has_one_example_and_exclusions_name_known_keys() {
        let keys: BTreeMap<&str, &str> = KEYS.iter().copied().collect();
        assert_eq!(keys.len(), KEYS.len());
        for (first, second, _) in EXCLUSIVE {
            assert!(keys.contains_key(first) && keys.contains_key(second));
        }
        assert_eq!(
            suggestion("alway", &["always", "never"]),
            " (did you mean `always`?)"
        );
        assert_eq!(suggestion("sometimes", &["always", "never"]), "");
    }
}
