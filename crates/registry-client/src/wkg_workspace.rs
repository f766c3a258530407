//! A `wkg.toml` workspace: `[workspace] members = [...]`, each a path or a glob (`*`, `?`,
//! `[abc]`, `[!a-z]` within one path component) relative to the root, as wkg 0.16 reads
//! them: a glob keeps the directories that hold WIT (wkg's rule); a literal path must be
//! one. A member is the WIT directory itself, or a directory whose `wit/` holds its WIT.

use std::path::{Path, PathBuf};

use registry_config::Origin;
use registry_core::{ConfigError, Error, KeyPath};

use crate::wkg_manifest::{WKG_MANIFEST, WkgManifest};

/// One `members` entry as written, with where.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberPattern {
    /// The path or glob, relative to the workspace root.
    pub pattern: String,
    /// Where it was written.
    pub origin: Origin,
}

impl MemberPattern {
    /// A pattern written at `origin`.
    pub fn new(pattern: impl Into<String>, origin: Origin) -> Self {
        Self {
            pattern: pattern.into(),
            origin,
        }
    }

    fn error(&self, message: String) -> Error {
        let key = KeyPath::new(["workspace", "members"]);
        ConfigError::invalid(&self.origin, &key, message).into()
    }

    fn is_glob(&self) -> bool {
        self.pattern.contains(['*', '?', '['])
    }
}

/// The WIT directory of a member directory: itself when it holds `.wit` files, else its
/// `wit/` when that does.
pub fn member_wit_dir(dir: &Path) -> Option<PathBuf> {
    [dir.to_owned(), dir.join("wit")]
        .into_iter()
        .find(|d| holds_wit(d))
}

/// Whether `dir` holds a WIT package: at least one `.wit` file (as wkg decides for
/// workspace members and for a WIT project's `./wit`).
pub fn holds_wit(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|entry| {
            entry.path().extension().is_some_and(|ext| ext == "wit")
                && entry.file_type().is_ok_and(|t| t.is_file())
        })
    })
}

impl WkgManifest {
    /// The workspace root for `dir`: the `wkg.toml` with a `[workspace]` table in `dir` or
    /// the nearest parent. `Ok(None)` when there is none.
    ///
    /// # Errors
    /// As for [`WkgManifest::from_path`].
    pub fn find_workspace_root(dir: &Path) -> Result<Option<Self>, Error> {
        let dir = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
        for candidate in dir.ancestors().map(|d| d.join(WKG_MANIFEST)) {
            if candidate.is_file() {
                let manifest = Self::from_path(&candidate)?;
                if manifest.is_workspace_root() {
                    return Ok(Some(manifest));
                }
            }
        }
        Ok(None)
    }

    /// Whether this file has a `[workspace]` table.
    pub fn is_workspace_root(&self) -> bool {
        !self.member_patterns.is_empty() || !self.members.is_empty()
    }

    /// The directory the file is in.
    pub fn root_dir(&self) -> &Path {
        registry_config::fs::parent_dir(&self.path)
    }

    /// The WIT directory of every member, globs expanded (each sorted), in the order
    /// written, each once.
    ///
    /// # Errors
    /// [`Error::Config`] at the `members` entry: a glob that matches no directory holding
    /// WIT, a path that is not a directory, or a member directory without a WIT package
    /// (no `.wit` file in it or in its `wit/`), each naming this file.
    pub fn workspace_members(&self) -> Result<Vec<PathBuf>, Error> {
        let root = self.root_dir().to_owned();
        let mut members: Vec<PathBuf> = Vec::new();
        for pattern in &self.member_patterns {
            let found: Vec<PathBuf> = if pattern.is_glob() {
                let matched: Vec<PathBuf> = expand(&root, &pattern.pattern)
                    .into_iter()
                    .filter_map(|d| member_wit_dir(&d))
                    .collect();
                if matched.is_empty() {
                    return Err(pattern.error(format!(
                        "the glob `{}` matches no directory holding WIT (a `.wit` file, in it \
                         or in its `wit/`) under {}; fix it or remove it from {}",
                        pattern.pattern,
                        root.display(),
                        self.path.display()
                    )));
                }
                matched
            } else {
                let dir = root.join(&pattern.pattern);
                if !dir.is_dir() {
                    return Err(pattern.error(format!(
                        "the member `{}` is not a directory ({}); fix it or remove it from {}",
                        pattern.pattern,
                        dir.display(),
                        self.path.display()
                    )));
                }
                let wit = member_wit_dir(&dir).ok_or_else(|| {
                    pattern.error(format!(
                        "the member `{}` has no WIT package: no `.wit` file in {} or in its \
                         `wit/`; every member of the workspace in {} is a WIT package",
                        pattern.pattern,
                        dir.display(),
                        self.path.display()
                    ))
                })?;
                vec![wit]
            };
            for dir in found {
                if !members.contains(&dir) {
                    members.push(dir);
                }
            }
        }
        Ok(members)
    }
}

/// The directories under `root` that `pattern` (components separated by `/`) matches,
/// sorted.
fn expand(root: &Path, pattern: &str) -> Vec<PathBuf> {
    let mut current = vec![root.to_owned()];
    for component in pattern.split('/').filter(|c| !c.is_empty() && *c != ".") {
        let mut next = Vec::new();
        for dir in &current {
            if !component.contains(['*', '?', '[']) {
                let path = dir.join(component);
                if path.is_dir() {
                    next.push(path);
                }
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut matched: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    // As shells do: a leading `.` is matched only by a leading `.`.
                    (!name.starts_with('.') || component.starts_with('.'))
                        && glob_matches(component, &name)
                })
                .map(|e| e.path())
                .collect();
            matched.sort();
            next.extend(matched);
        }
        current = next;
    }
    current
}

/// One piece of a glob component.
enum Piece {
    /// `*`: any run of characters.
    Any,
    /// `?`: one character.
    One,
    /// `[...]` (`[!...]`, `[^...]` negated): one character of the set, ranges allowed.
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    Char(char),
}

fn pieces(pattern: &str) -> Vec<Piece> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let piece = match chars[i] {
            '*' => Piece::Any,
            '?' => Piece::One,
            '[' => {
                let (negated, from) = match chars.get(i + 1) {
                    Some('!' | '^') => (true, i + 2),
                    _ => (false, i + 1),
                };
                // The set holds at least one character, so a `]` right after `[` is one.
                match chars
                    .iter()
                    .skip(from + 1)
                    .position(|&c| c == ']')
                    .map(|p| p + from + 1)
                {
                    Some(close) => {
                        let set = &chars[from..close];
                        let mut ranges = Vec::new();
                        let mut k = 0;
                        while k < set.len() {
                            if k + 2 < set.len() && set[k + 1] == '-' {
                                ranges.push((set[k], set[k + 2]));
                                k += 3;
                            } else {
                                ranges.push((set[k], set[k]));
                                k += 1;
                            }
                        }
                        i = close;
                        Piece::Set { negated, ranges }
                    }
                    None => Piece::Char('['),
                }
            }
            c => Piece::Char(c),
        };
        out.push(piece);
        i += 1;
    }
    out
}

/// Whether `name` matches the glob component `pattern` (`*`, `?`, `[...]`), in time
/// proportional to their lengths multiplied, whatever the pattern (no backtracking).
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let pieces = pieces(pattern);
    let name: Vec<char> = name.chars().collect();
    // `row[j]`: the pieces so far match the first `j` characters.
    let mut row = vec![false; name.len() + 1];
    row[0] = true;
    for piece in &pieces {
        let mut next = vec![false; name.len() + 1];
        for j in 0..=name.len() {
            next[j] = match piece {
                Piece::Any => row[j] || (j > 0 && next[j - 1]),
                _ if j == 0 => false,
                Piece::One => row[j - 1],
                Piece::Char(c) => row[j - 1] && name[j - 1] == *c,
                Piece::Set { negated, ranges } => {
                    let c = name[j - 1];
                    row[j - 1] && ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
                }
            };
        }
        row = next;
    }
    row[name.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_components() {
        for (pattern, name, expected) in [
            ("*", "app", true),
            ("fetch-*", "fetch-a", true),
            ("fetch-*", "other", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("[ab]*", "beta", true),
            ("[!ab]*", "beta", false),
            ("[a-c]x", "bx", true),
            ("[a-c]x", "dx", false),
            ("*.wit", "x.wit", true),
            ("[]a]x", "]x", true),
            ("[a", "[a", true),
            ("*a*a*a*a*a*a*a*a*a*a*b", &"a".repeat(200), false),
        ] {
            assert_eq!(glob_matches(pattern, name), expected, "{pattern} {name}");
        }
    }
}
