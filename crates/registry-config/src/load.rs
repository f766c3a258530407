//! Finding and reading the layers: built-in defaults, the user file, project files, tool
//! layers, environment variables and overrides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml_edit::Value;

use crate::layer::{Layer, parse_file, read_cargo_table};
use crate::node::Node;
use crate::{Config, ConfigError, KeyPath, Origin, Scope};

/// The built-in defaults, the lowest layer.
const BUILTIN: &str = r#"
[namespace_registries]
wasi = "wasi.dev"
ba = "bytecodealliance.org"
"#;

/// The name of a project's config file, relative to a directory.
pub const PROJECT_FILE: &str = ".wasm-pkg/config.toml";

/// The environment variables read by the environment layer. All share the prefix
/// `WASM_PKG_`; a variable that is set but empty counts as unset.
pub mod env {
    /// A config file to load as part of the environment layer, below the variables below.
    pub const CONFIG_FILE: &str = "WASM_PKG_CONFIG_FILE";
    /// `default_registry`, e.g. `ghcr.io`.
    pub const DEFAULT_REGISTRY: &str = "WASM_PKG_DEFAULT_REGISTRY";
    /// `namespace_registries` entries, as `ns=registry` pairs separated by commas, e.g.
    /// `acme=ghcr.io,wasi=wasi.dev`.
    pub const NAMESPACE_REGISTRIES: &str = "WASM_PKG_NAMESPACE_REGISTRIES";
    /// `package_registry_overrides` entries, as `ns:name=registry` pairs separated by
    /// commas, e.g. `acme:widget=localhost:5000`.
    pub const PACKAGE_REGISTRY_OVERRIDES: &str = "WASM_PKG_PACKAGE_REGISTRY_OVERRIDES";

    /// `wkg`'s variable for its config file, read as the user file (in place of
    /// `<config dir>/wasm-pkg/config.toml`) unless the caller names one. `WASM_PKG_CONFIG_FILE`
    /// is read too when both are set, above it: its values win.
    pub const WKG_CONFIG_FILE: &str = "WKG_CONFIG_FILE";

    /// Every variable above with the `WASM_PKG_` prefix.
    pub const ALL: &[&str] = &[
        CONFIG_FILE,
        DEFAULT_REGISTRY,
        NAMESPACE_REGISTRIES,
        PACKAGE_REGISTRY_OVERRIDES,
    ];
}

/// Settings handed in by an embedding tool (wac, cargo-component), loaded above the project
/// files and below the environment.
#[derive(Clone, Debug)]
pub struct ToolLayer {
    layer: Layer,
}

impl ToolLayer {
    /// Settings written as TOML in the config format, e.g. a tool's built-in defaults.
    /// Values carry the origin "settings from `<name>`".
    pub fn from_toml_str(name: &str, text: &str) -> Result<Self, ConfigError> {
        let origin = Origin::Tool {
            name: name.to_owned(),
        };
        let doc =
            toml_edit::Document::parse(text.to_owned()).map_err(|err| ConfigError::Invalid {
                origin: origin.clone(),
                key: KeyPath::default(),
                message: format!("invalid TOML: {}", err.message().trim_end()),
            })?;
        let tree = Node::from_table_like(doc.as_table(), origin.clone(), &|_| origin.clone());
        Ok(Self {
            layer: Layer::from_tree(Scope::Tool, name, tree)?,
        })
    }

    /// A tool's own config file in the config format; values carry its lines.
    pub fn from_file(name: &str, path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        Ok(Self {
            layer: Layer::read(Scope::Tool, name, path.as_ref(), true)?,
        })
    }
}

/// Chooses which layers to load, then loads them into a [`Config`].
///
/// ```no_run
/// use registry_config::ConfigLoader;
///
/// let config = ConfigLoader::new()
///     .project_dir("/path/to/project")
///     .set_override("default_registry", "localhost:5000", "--registry")?
///     .load()?;
/// # Ok::<(), registry_config::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConfigLoader {
    builtin: bool,
    user_file: UserFile,
    project_dir: ProjectDir,
    cargo_dir: Option<PathBuf>,
    tools: Vec<ToolLayer>,
    env: Option<BTreeMap<String, String>>,
    overrides: Vec<(KeyPath, Value, String)>,
}

#[derive(Clone, Debug)]
enum UserFile {
    Default,
    Path(PathBuf),
    None,
}

#[derive(Clone, Debug)]
enum ProjectDir {
    Current,
    Path(PathBuf),
    None,
}

impl Default for ConfigLoader {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigLoader {
    /// Every layer, the usual way: built-in defaults, the user file
    /// ([`Config::user_config_path`]), `.wasm-pkg/config.toml` files from the current
    /// directory up, the process environment.
    pub fn new() -> Self {
        Self {
            builtin: true,
            user_file: UserFile::Default,
            project_dir: ProjectDir::Current,
            cargo_dir: None,
            tools: Vec::new(),
            env: None,
            overrides: Vec::new(),
        }
    }

    /// Leaves out the built-in defaults.
    pub fn without_builtin(mut self) -> Self {
        self.builtin = false;
        self
    }

    /// Reads the user layer from `path` instead of the default location.
    pub fn user_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.user_file = UserFile::Path(path.into());
        self
    }

    /// Leaves out the user file.
    pub fn without_user_file(mut self) -> Self {
        self.user_file = UserFile::None;
        self
    }

    /// Looks for project files from `dir` up, instead of from the current directory; a
    /// project file created by a `set` goes in `dir`.
    pub fn project_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.project_dir = ProjectDir::Path(dir.into());
        self
    }

    /// Leaves out project files.
    pub fn without_project_files(mut self) -> Self {
        self.project_dir = ProjectDir::None;
        self
    }

    /// Reads the `[wasm-pkg]` table of every cargo configuration file cargo reads for a
    /// package in `dir` (the directory of its `Cargo.toml`), in cargo's order:
    /// `$CARGO_HOME/config.toml` (`~/.cargo`), then `.cargo/config.toml` (or the legacy
    /// `.cargo/config`, which cargo prefers when both exist) in each directory from the root
    /// down to `dir`, nearer files winning. These layers sit above the project files and
    /// below tool layers (a manifest's own settings); they are read-only.
    pub fn cargo_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cargo_dir = Some(dir.into());
        self
    }

    /// Adds a tool layer; tool layers added later win over earlier ones.
    pub fn tool_layer(mut self, layer: ToolLayer) -> Self {
        self.tools.push(layer);
        self
    }

    /// Reads the environment layer from these variables instead of the process's.
    pub fn env_vars<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Leaves out the environment layer.
    pub fn without_env(self) -> Self {
        self.env_vars(std::iter::empty::<(String, String)>())
    }

    /// Sets `key` to `value` above every other layer; `name` says what set it (a flag such
    /// as `--registry`) and shows as the value's origin.
    ///
    /// # Errors
    /// [`ConfigError::InvalidKey`] when `key` is not a dotted TOML key. The value itself is
    /// checked by [`load`](Self::load).
    pub fn set_override(
        mut self,
        key: &str,
        value: impl Into<Value>,
        name: &str,
    ) -> Result<Self, ConfigError> {
        self.overrides
            .push((key.parse()?, value.into(), name.to_owned()));
        Ok(self)
    }

    /// Reads every chosen layer and merges them.
    ///
    /// # Errors
    /// The first layer that cannot be read or is not valid, with its file, line, column
    /// and key.
    pub fn load(self) -> Result<Config, ConfigError> {
        let env = self.env.unwrap_or_else(|| {
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .filter(|(k, _)| {
                    k.starts_with("WASM_PKG_")
                        || k == env::WKG_CONFIG_FILE
                        || k == "CARGO_HOME"
                        || k == "HOME"
                })
                .collect()
        });
        let mut layers = Vec::new();
        if self.builtin {
            layers.push(builtin_layer());
        }
        let wkg_file = env
            .get(env::WKG_CONFIG_FILE)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let from_wkg = matches!(self.user_file, UserFile::Default) && wkg_file.is_some();
        let user_path = match self.user_file {
            UserFile::Default => wkg_file.or_else(Config::user_config_path),
            UserFile::Path(path) => Some(path),
            UserFile::None => None,
        };
        if let Some(path) = &user_path {
            let layer = if from_wkg {
                Layer::read(Scope::User, env::WKG_CONFIG_FILE, path, true)
                    .map_err(|err| variable_names_unreadable_file(env::WKG_CONFIG_FILE, err))?
            } else {
                Layer::read(Scope::User, "user", path, false)?
            };
            layers.push(layer);
        }
        let project_dir = match self.project_dir {
            ProjectDir::Current => Some(
                std::env::current_dir()
                    .map_err(|err| ConfigError::io("find the current directory", ".", err))?,
            ),
            ProjectDir::Path(dir) => Some(dir),
            ProjectDir::None => None,
        };
        if let Some(dir) = &project_dir {
            for path in project_files(dir) {
                if Some(&path) != user_path.as_ref() {
                    layers.push(Layer::read(Scope::Project, "project", &path, true)?);
                }
            }
        }
        if let Some(dir) = &self.cargo_dir {
            for path in cargo_config_files(dir, &env) {
                layers.extend(read_cargo_table(&path)?);
            }
        }
        layers.extend(self.tools.into_iter().map(|tool| tool.layer));
        layers.extend(env_layers(&env)?);
        if !self.overrides.is_empty() {
            layers.push(override_layer(self.overrides)?);
        }
        Config::from_layers(layers, project_dir, user_path)
    }
}

fn builtin_layer() -> Layer {
    let (_, mut tree) = parse_file(Scope::Builtin, Path::new("<built-in>"), BUILTIN)
        .expect("the built-in defaults are valid");
    set_origin(&mut tree, &Origin::Builtin);
    Layer::from_tree(Scope::Builtin, "built-in", tree).expect("the built-in defaults are valid")
}

fn set_origin(node: &mut Node, origin: &Origin) {
    match node {
        Node::Value { origin: o, .. } => *o = origin.clone(),
        Node::Table { entries, origin: o } => {
            *o = origin.clone();
            entries.values_mut().for_each(|n| set_origin(n, origin));
        }
    }
}

/// Cargo's configuration files for a package in `dir`, lowest precedence first:
/// `$CARGO_HOME/config.toml` (unless it is also one of the files below), then from the root
/// down to `dir`, `.cargo/config` when it exists, else `.cargo/config.toml`.
fn cargo_config_files(dir: &Path, env: &BTreeMap<String, String>) -> Vec<PathBuf> {
    let in_dir = |cargo: &Path| {
        [cargo.join("config"), cargo.join("config.toml")]
            .into_iter()
            .find(|p| p.is_file())
    };
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    let mut hierarchy: Vec<PathBuf> = dir
        .ancestors()
        .filter_map(|d| in_dir(&d.join(".cargo")))
        .collect();
    hierarchy.reverse();
    let home = env
        .get("CARGO_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").map(|h| Path::new(h).join(".cargo")))
        .or_else(|| dirs::home_dir().map(|h| h.join(".cargo")));
    let same = |a: &Path, b: &Path| {
        a.canonicalize()
            .ok()
            .zip(b.canonicalize().ok())
            .is_some_and(|(a, b)| a == b)
    };
    let mut files = Vec::new();
    if let Some(home_file) = home.as_deref().and_then(in_dir)
        && !hierarchy.iter().any(|p| same(p, &home_file))
    {
        files.push(home_file);
    }
    files.extend(hierarchy);
    files
}

/// `.wasm-pkg/config.toml` files from the root down to `dir`: farthest first, so the
/// nearest ends up with the highest precedence.
fn project_files(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = dir
        .ancestors()
        .map(|d| d.join(PROJECT_FILE))
        .filter(|p| p.is_file())
        .collect();
    found.reverse();
    found
}

/// Inserts `value` at `path` below `root`, creating tables on the way.
fn insert_path(root: &mut Node, path: &KeyPath, value: Node) -> Result<(), ConfigError> {
    let origin = value.origin().clone();
    let (last, parents) = path
        .segments()
        .split_last()
        .ok_or_else(|| ConfigError::InvalidKey {
            key: String::new(),
            message: "the key is empty".to_owned(),
        })?;
    let mut node = root;
    for (depth, segment) in parents.iter().enumerate() {
        let entries = node.entries_mut().ok_or_else(|| {
            ConfigError::invalid(
                &origin,
                &KeyPath::new(path.segments()[..depth].iter().cloned()),
                "is a value, so it cannot hold other keys",
            )
        })?;
        node = entries
            .entry(segment.clone())
            .or_insert_with(|| Node::empty_table(origin.clone()));
    }
    let entries = node
        .entries_mut()
        .ok_or_else(|| ConfigError::invalid(&origin, path, "its parent is a value, not a table"))?;
    entries.insert(last.clone(), value);
    Ok(())
}

/// The environment layer: the file `WASM_PKG_CONFIG_FILE` names, then the variables.
fn env_layers(env: &BTreeMap<String, String>) -> Result<Vec<Layer>, ConfigError> {
    let mut layers = Vec::new();
    let get = |var: &str| env.get(var).map(String::as_str).filter(|v| !v.is_empty());
    if let Some(path) = get(env::CONFIG_FILE) {
        let layer = Layer::read(Scope::Environment, env::CONFIG_FILE, Path::new(path), true)
            .map_err(|err| variable_names_unreadable_file(env::CONFIG_FILE, err))?;
        layers.push(layer);
    }
    for var in env.keys().filter(|k| k.starts_with("WASM_PKG_")) {
        if !env::ALL.contains(&var.as_str())
            && let Some(known) = env::ALL.iter().find(|known| near(var, known))
        {
            return Err(ConfigError::Invalid {
                origin: Origin::Env { var: var.clone() },
                key: KeyPath::default(),
                message: format!("unknown variable; did you mean `{known}`?"),
            });
        }
    }
    let mut tree = Node::empty_table(Origin::Env {
        var: "WASM_PKG_*".to_owned(),
    });
    let string = |var: &str, value: &str| {
        Node::from_value(
            Value::from(value),
            Origin::Env {
                var: var.to_owned(),
            },
        )
    };
    if let Some(registry) = get(env::DEFAULT_REGISTRY) {
        let key = KeyPath::new(["default_registry"]);
        insert_path(&mut tree, &key, string(env::DEFAULT_REGISTRY, registry))?;
    }
    for (var, table, example) in [
        (
            env::NAMESPACE_REGISTRIES,
            "namespace_registries",
            "acme=ghcr.io",
        ),
        (
            env::PACKAGE_REGISTRY_OVERRIDES,
            "package_registry_overrides",
            "acme:widget=ghcr.io",
        ),
    ] {
        let Some(list) = get(var) else { continue };
        for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, registry)) = pair.split_once('=') else {
                return Err(ConfigError::Invalid {
                    origin: Origin::Env {
                        var: var.to_owned(),
                    },
                    key: KeyPath::new([table]),
                    message: format!(
                        "`{pair}` is not a `key=registry` pair; write pairs separated by \
                         commas, e.g. `{example}`"
                    ),
                });
            };
            let path = KeyPath::new([table, key.trim()]);
            insert_path(&mut tree, &path, string(var, registry.trim()))?;
        }
    }
    if tree.entries().is_some_and(|e| !e.is_empty()) {
        layers.push(Layer::from_tree(Scope::Environment, "environment", tree)?);
    }
    Ok(layers)
}

/// A file named by variable `var` that cannot be read, as an error about the variable.
fn variable_names_unreadable_file(var: &str, err: ConfigError) -> ConfigError {
    match err {
        ConfigError::Io { source, path, .. } => ConfigError::Invalid {
            origin: Origin::Env {
                var: var.to_owned(),
            },
            key: KeyPath::default(),
            message: format!(
                "names `{}`, which cannot be read ({source}); fix the path or unset the \
                 variable",
                path.display()
            ),
        },
        other => other,
    }
}

/// Whether `a` is a likely misspelling of `b` (for environment variable names).
fn near(a: &str, b: &str) -> bool {
    crate::schema::edit_distance(a, b) <= 2
}

fn override_layer(overrides: Vec<(KeyPath, Value, String)>) -> Result<Layer, ConfigError> {
    let mut tree = Node::empty_table(Origin::Override {
        name: "overrides".to_owned(),
    });
    for (key, value, name) in overrides {
        let origin = Origin::Override { name };
        let node = match value {
            Value::InlineTable(table) => {
                Node::from_table_like(&table, origin.clone(), &|_| origin.clone())
            }
            value => Node::from_value(value, origin),
        };
        insert_path(&mut tree, &key, node)?;
    }
    Layer::from_tree(Scope::Override, "overrides", tree)
}
