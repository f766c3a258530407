//! `wreg config`: show, get, set, unset, path.

use std::fmt;

use anyhow::Result;
use registry_config::{Config, Entry, Target};
use serde::Serialize;

use super::{load_config, usage};
use crate::cli::{ConfigCommand, Global, TargetArgs};
use crate::output::{self, Channel};

/// One value: its key, its value as JSON (TOML's types kept), and where it was set.
#[derive(Serialize)]
struct Value {
    key: String,
    value: serde_json::Value,
    origin: String,
    /// The value as TOML text, for the text form.
    #[serde(skip)]
    toml: String,
}

impl Value {
    fn new(entry: &Entry) -> Self {
        Self {
            key: entry.key.to_string(),
            value: toml_to_json(&entry.value),
            origin: entry.origin.to_string(),
            toml: entry.value.clone(),
        }
    }
}

/// A TOML value's text as a JSON value: strings, numbers, booleans, arrays and tables keep
/// their types (a date becomes its text).
fn toml_to_json(text: &str) -> serde_json::Value {
    let wrapped = format!("v = {text}");
    toml_edit::de::from_str::<serde_json::Map<String, serde_json::Value>>(&wrapped)
        .ok()
        .and_then(|mut map| map.remove("v"))
        .unwrap_or_else(|| serde_json::Value::String(text.to_owned()))
}

/// `config show`: every value, `key = value`, with `# origin` when asked.
#[derive(Serialize)]
#[serde(transparent)]
struct Show {
    values: Vec<Value>,
    #[serde(skip)]
    origin: bool,
}

impl fmt::Display for Show {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for v in &self.values {
            write!(f, "{} = {}", v.key, v.toml)?;
            if self.origin {
                write!(f, "  # {}", v.origin)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// `config get`: the value at a key (its plain text when it is a string), or the values
/// under it.
#[derive(Serialize)]
#[serde(transparent)]
struct Get {
    values: serde_json::Map<String, serde_json::Value>,
    #[serde(skip)]
    text: String,
}

/// What `config set`/`unset` did.
#[derive(Serialize)]
struct Changed {
    key: String,
    action: &'static str,
    files: Vec<String>,
}

impl fmt::Display for Changed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.action, self.files.first()) {
            ("set", _) => {
                for file in &self.files {
                    writeln!(f, "set `{}` in {file}", self.key)?;
                }
                Ok(())
            }
            (_, Some(file)) => writeln!(f, "removed `{}` from {file}", self.key),
            (_, None) => writeln!(f, "`{}` was not set there", self.key),
        }
    }
}

/// `config path`: the files, lowest precedence first.
#[derive(Serialize)]
struct File {
    scope: String,
    path: String,
    exists: bool,
    /// The variable that named the file, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    variable: Option<String>,
}

#[derive(Serialize)]
#[serde(transparent)]
struct Files(Vec<File>);

impl fmt::Display for Files {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.0 {
            let state = if file.exists {
                ""
            } else {
                " (not created yet)"
            };
            let from = match &file.variable {
                Some(var) => format!(" (from {var})"),
                None => String::new(),
            };
            writeln!(f, "{:<8} {}{from}{state}", file.scope, file.path)?;
        }
        Ok(())
    }
}

impl fmt::Display for Get {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.text)
    }
}

fn target(args: &TargetArgs) -> Target {
    if args.project {
        Target::Project
    } else {
        Target::User
    }
}

pub(super) fn run(command: ConfigCommand, global: &Global) -> Result<()> {
    let mut config = load_config(global)?;
    match command {
        ConfigCommand::Show { origin } => {
            let values = config.entries().iter().map(Value::new).collect();
            output::print(global, &Show { values, origin }, Channel::Data)
        }
        ConfigCommand::Get { key } => get(&config, &key, global),
        ConfigCommand::Set {
            key,
            value,
            target: t,
        } => {
            let value = value
                .parse::<toml_edit::Value>()
                .unwrap_or_else(|_| toml_edit::Value::from(value.as_str()));
            config.set(target(&t), &key, value).map_err(usage)?;
            let files = config.save()?;
            let report = Changed {
                key,
                action: "set",
                files: files.iter().map(|p| p.display().to_string()).collect(),
            };
            output::print(global, &report, Channel::Status)
        }
        ConfigCommand::Unset { key, target: t } => {
            let removed = config.unset(target(&t), &key).map_err(usage)?;
            let written = config.save()?;
            let files = match removed {
                true => written.iter().map(|p| p.display().to_string()).collect(),
                false => Vec::new(),
            };
            let report = Changed {
                key,
                action: "unset",
                files,
            };
            output::print(global, &report, Channel::Status)
        }
        ConfigCommand::Path => {
            let files = config
                .layers()
                .into_iter()
                .filter_map(|layer| {
                    // A file named by a variable has the variable as its layer's name.
                    let variable = layer
                        .name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c == '_')
                        .then(|| layer.name.clone());
                    Some(File {
                        scope: layer.scope.to_string(),
                        path: layer.path?.display().to_string(),
                        exists: layer.exists,
                        variable,
                    })
                })
                .collect();
            output::print(global, &Files(files), Channel::Data)
        }
    }
}

fn get(config: &Config, key: &str, global: &Global) -> Result<()> {
    let entries = config.get(key).map_err(usage)?;
    if entries.is_empty() {
        return Err(usage(format!("`{key}` is not set")));
    }
    let values: Vec<Value> = entries.iter().map(Value::new).collect();
    let text = match values.as_slice() {
        // The value itself: a string as its text, anything else as TOML.
        [one] if one.key == key => match &one.value {
            serde_json::Value::String(text) => text.clone(),
            _ => one.toml.clone(),
        },
        many => many
            .iter()
            .map(|v| format!("{} = {}", v.key, v.toml))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    let map = values
        .into_iter()
        .map(|v| {
            let body = serde_json::json!({"value": v.value, "origin": v.origin});
            (v.key, body)
        })
        .collect();
    output::print(global, &Get { values: map, text }, Channel::Data)
}
