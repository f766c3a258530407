//! The commands, a module each: every command is a few calls into `registry-client`, and
//! returns a report that [`output::print`] prints as text or JSON.

mod bundle;
mod cache;
mod compose;
mod config;
mod deps;
mod get;
mod locked;
mod plan;
mod project;
mod publish;
mod verify;
mod versions;
mod wit;
mod workspace;

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::CommandFactory as _;
use registry_adapters::cargo_component::ComponentManifest;
use registry_client::wkg_manifest::WkgManifest;
use registry_client::{Client, LockFile, LockMode, Overrides, Route};
use registry_config::{Config, ConfigLoader};
use registry_core::{PackageRef, Registry};

use crate::cli::{Cli, Command, Global};
use crate::output::{self, UsageError};

pub(crate) async fn run(cli: Cli) -> Result<()> {
    let global = &cli.global;
    match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "wreg", &mut std::io::stdout());
            Ok(())
        }
        Command::Manpages { dir } => manpages(&dir),
        Command::Config(command) => config::run(command, global),
        Command::Get(args) => get::run(&client(global)?, global, &args).await,
        Command::Publish(args) => publish::run(&client(global)?, global, &args).await,
        Command::Versions(args) => versions::run(&client(global)?, global, &args).await,
        Command::Verify(args) => verify::run(&client(global)?, global, &args).await,
        Command::Fetch(args) => project::fetch(&client(global)?, global, &args).await,
        Command::Build(args) => wit::build_command(&client(global)?, global, &args).await,
        Command::Lock(args) => deps::lock(&client(global)?, global, &args.deps).await,
        Command::Cache(command) => cache::run(command, &client(global)?, global).await,
        Command::Wit(command) => wit::run(command, &client(global)?, global).await,
        Command::Compose(args) => compose::compose(&client(global)?, global, &args).await,
        Command::Plug(args) => compose::plug(&client(global)?, global, &args).await,
        Command::Tree(args) => locked::tree(&client(global)?, global, &args).await,
        Command::Why(args) => locked::why(&client(global)?, global, &args).await,
        Command::Outdated(args) => locked::outdated(&client(global)?, global, &args).await,
        Command::Update(args) => project::update(&client(global)?, global, &args).await,
        Command::Bundle(command) => bundle::run(command, &client(global)?, global).await,
    }
}

/// A man page for `wreg` and for every subcommand, named as `man` expects (`wreg-config-show.1`).
fn manpages(dir: &std::path::Path) -> Result<()> {
    fn write(command: &clap::Command, name: &str, dir: &std::path::Path) -> Result<()> {
        let command = command.clone().name(name.to_owned());
        let mut page = Vec::new();
        clap_mangen::Man::new(command.clone()).render(&mut page)?;
        std::fs::write(dir.join(format!("{name}.1")), page)?;
        for sub in command
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            write(sub, &format!("{name}-{}", sub.get_name()), dir)?;
        }
        Ok(())
    }
    std::fs::create_dir_all(dir)?;
    let mut command = Cli::command();
    command.build();
    write(&command, "wreg", dir)
}

/// A mistake in how the command was used (exit code 64).
pub(crate) fn usage(err: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(UsageError(err.to_string()))
}

fn load_config(global: &Global) -> Result<Config> {
    let mut loader = ConfigLoader::new();
    if let Some(path) = &global.config {
        if !path.is_file() {
            return Err(usage(format!(
                "--config {}: no such file{}; give the path of an existing config file (`wreg \
                 config path` lists the ones read without it)",
                path.display(),
                relative_to_cwd(path)
            )));
        }
        loader = loader.user_file(path);
    }
    if let Some(manifest) = &global.manifest_path {
        if !manifest.is_file() {
            return Err(usage(format!(
                "--manifest-path {}: no such file{}; give the path of a Cargo.toml",
                manifest.display(),
                relative_to_cwd(manifest)
            )));
        }
        let dir = manifest
            .canonicalize()?
            .parent()
            .map(std::path::Path::to_owned)
            .unwrap_or_default();
        let component = ComponentManifest::from_path(manifest)?;
        loader = loader
            .project_dir(&dir)
            .cargo_dir(&dir)
            .tool_layer(component.tool_layer()?);
    }
    Ok(loader.load()?)
}

/// For a relative path, where it was looked for: " (in <working directory>)".
fn relative_to_cwd(path: &Path) -> String {
    match std::env::current_dir() {
        Ok(cwd) if path.is_relative() => format!(" (in {})", cwd.display()),
        _ => String::new(),
    }
}

fn client(global: &Global) -> Result<Client> {
    let mut builder = Client::builder(load_config(global)?).offline(global.offline);
    if let Some(dir) = &global.cache_dir {
        builder = builder.cache_dir(dir);
    }
    if let Some(mode) = &global.link_mode {
        builder = builder.link_mode(mode.parse().map_err(usage)?);
    }
    if let Some(bytes) = global.max_content_size {
        builder = builder.max_content_size(bytes);
    }
    if output::show_progress(global) {
        builder = builder.progress(std::sync::Arc::new(output::Bars::default()));
    }
    Ok(builder.build())
}

/// A `--registry` flag's value.
pub(crate) fn registry_flag(flag: Option<&str>) -> Result<Option<Registry>> {
    flag.map(str::parse).transpose().map_err(usage)
}

/// The route of `package`: from `--registry` when given, else the configured one.
async fn route(client: &Client, package: &PackageRef, registry: Option<&str>) -> Result<Route> {
    Ok(client
        .route_via(package, registry_flag(registry)?.as_ref())
        .await?)
}

/// A lock file in use: loaded, changed by resolutions, saved only if it changed (and never
/// under `--locked`).
///
/// The session holds a [`ProjectLock`] from before the lock file is read until it is
/// dropped, so two processes in one project take turns: each reads the pins the other
/// saved, and neither loses the other's new ones. Whatever belongs with the lock file
/// (`wit/deps`, `deps/`) is written while the session lives.
pub(crate) struct LockSession {
    path: PathBuf,
    lock: LockFile,
    before: LockFile,
    locked: bool,
    _held: ProjectLock,
}

impl LockSession {
    /// Waits for the project's lock (saying so on stderr unless `-q`), then reads the lock
    /// file at `path`.
    pub(crate) fn open(path: &Path, locked: bool, global: &Global) -> Result<Self> {
        let held = ProjectLock::acquire(path, global.quiet)?;
        let lock = LockFile::load(path)?.unwrap_or_else(LockFile::new);
        Ok(Self {
            path: path.to_owned(),
            before: lock.clone(),
            lock,
            locked,
            _held: held,
        })
    }

    pub(crate) fn mode(&self) -> LockMode {
        if self.locked {
            LockMode::Locked
        } else {
            LockMode::Update
        }
    }

    pub(crate) fn lock(&mut self) -> &mut LockFile {
        &mut self.lock
    }

    /// The overrides of the `wkg.toml` next to the lock file (as wkg reads it).
    pub(crate) fn overrides(&self) -> Result<Overrides> {
        let project = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Ok(WkgManifest::find(project)?
            .map(|m| m.resolver_overrides())
            .unwrap_or_default())
    }

    /// Saves the lock file if it changed (refusing to under `--locked`); the project stays
    /// locked until the session is dropped.
    pub(crate) fn save(&mut self) -> Result<()> {
        if self.lock != self.before {
            // Under --locked, signers recorded for pins that had none (a lock file wkg
            // rewrote drops them) are not a change: the pins are the same, and the
            // signatures were verified in this run all the same.
            if self.locked && self.lock.without_new_provenance(&self.before) == self.before {
                return Ok(());
            }
            if self.locked {
                let changed: Vec<&registry_core::PackageRef> = self
                    .lock
                    .packages
                    .iter()
                    .filter(|p| !self.before.packages.contains(p))
                    .map(|p| &p.name)
                    .collect();
                let names: Vec<String> = changed.iter().map(ToString::to_string).collect();
                if let Some(first) = changed.first() {
                    return Err(registry_core::Error::LockOutOfDate {
                        package: (*first).clone(),
                        reason: format!(
                            "{} would change (new or moved pins: {})",
                            self.path.display(),
                            names.join(", ")
                        ),
                    }
                    .into());
                }
                // Only removals: the first package whose pins would go.
                let removed = self
                    .before
                    .packages
                    .iter()
                    .find(|p| !self.lock.packages.contains(p));
                if let Some(removed) = removed {
                    return Err(registry_core::Error::LockOutOfDate {
                        package: removed.name.clone(),
                        reason: format!("{} would change (pins removed)", self.path.display()),
                    }
                    .into());
                }
                bail!(
                    "{} would change, and --locked forbids it; run without --locked",
                    self.path.display()
                );
            }
            self.lock.save(&self.path)?;
            self.before = self.lock.clone();
        }
        Ok(())
    }
}

/// An exclusive advisory lock on `<lock file>.lock` (`wkg.lock.lock`), the sidecar the
/// configuration files use too (`config.toml.lock`): the lock file itself is replaced by
/// a rename on every save, so a lock on it would not outlive the first save. Held until
/// dropped; the sidecar stays (removing it could let a third process lock a new file
/// while a second still waits on the old one).
pub(crate) struct ProjectLock {
    _file: Option<std::fs::File>,
}

impl ProjectLock {
    /// Takes the lock of the lock file `lock_file`, waiting (as long as it takes, like any
    /// blocking call interrupted by Ctrl-C) while another process holds it; says once on
    /// stderr that it waits, unless `quiet`.
    ///
    /// Where the sidecar cannot be made (a read-only directory, or one that does not
    /// exist), nothing here can write the lock file either: the run goes on without the
    /// lock, reading the lock file as it is (saves are atomic, so it is whole), and a save
    /// it then needs fails naming the lock file, as it did before.
    pub(crate) fn acquire(lock_file: &Path, quiet: bool) -> Result<Self> {
        use std::io::ErrorKind;

        // Beside the file the lock file's links end at, so that two links to one lock file
        // lock each other out.
        let lock_file =
            registry_config::fs::write_target(lock_file).unwrap_or_else(|_| lock_file.to_owned());
        // A save a killed run began is taken away, also when this run saves nothing.
        registry_config::fs::remove_abandoned_beside(&lock_file);
        let mut name = lock_file.file_name().unwrap_or_default().to_owned();
        name.push(".lock");
        let path = lock_file.with_file_name(name);
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path);
        let file = match opened {
            Ok(file) => file,
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::PermissionDenied
                        | ErrorKind::ReadOnlyFilesystem
                        | ErrorKind::NotFound
                ) =>
            {
                // A sidecar someone else made (and we may not write) still locks.
                match std::fs::File::open(&path) {
                    Ok(file) => file,
                    Err(_) => {
                        tracing::debug!(
                            "cannot create {} ({err}); going on without the project lock, \
                             as nothing here can write {} either",
                            path.display(),
                            lock_file.display()
                        );
                        return Ok(Self { _file: None });
                    }
                }
            }
            Err(err) => return Err(registry_core::Error::io(&path, err).into()),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                if !quiet {
                    eprintln!(
                        "waiting for the lock on {} (another wreg is using it)",
                        path.display()
                    );
                }
                file.lock()
                    .map_err(|err| registry_core::Error::io(&path, err))?;
            }
            Err(std::fs::TryLockError::Error(err)) => {
                return Err(registry_core::Error::io(&path, err).into());
            }
        }
        tracing::debug!("holding the project lock {}", path.display());
        Ok(Self { _file: Some(file) })
    }
}
