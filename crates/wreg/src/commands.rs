//! The commands: each a few calls into `registry-client`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::CommandFactory as _;
use registry_client::{Client, Dependency, LockFile, LockMode, Resolution};
use registry_config::{Config, ConfigLoader, Target};
use registry_core::{
    ContentDigest, PackageRef, PublishOptions, Registry, Release, Version, VersionReq,
};
use serde_json::json;
use tokio::io::AsyncWriteExt as _;

use crate::cli::{CacheCommand, Cli, Command, ConfigCommand, DepsArgs, Global, TargetArgs};
use crate::output::{self, UsageError};

pub(crate) async fn run(cli: Cli) -> Result<()> {
    let global = &cli.global;
    match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "wreg", &mut std::io::stdout());
            Ok(())
        }
        Command::Config(command) => config(command, global),
        Command::Get(args) => {
            let client = client(global)?;
            let (package, requirement) = parse_spec(&args.package)?;
            let registry = parse_registry(args.registry.as_deref())?;
            get(
                &client,
                global,
                &package,
                registry.as_ref(),
                &requirement,
                args.output.as_deref(),
            )
            .await
        }
        Command::Publish(args) => {
            let client = client(global)?;
            publish(&client, global, &args).await
        }
        Command::Versions(args) => {
            let client = client(global)?;
            let package: PackageRef = args.package.parse().map_err(usage)?;
            let registry = parse_registry(args.registry.as_deref())?;
            let mut versions = client.list_versions(&package, registry.as_ref()).await?;
            versions.sort_by(|a, b| b.version.cmp(&a.version));
            if global.json {
                let list: Vec<_> = versions
                    .iter()
                    .map(|v| json!({"version": v.version.to_string(), "yanked": v.yanked}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for v in versions {
                    println!("{}{}", v.version, if v.yanked { " (yanked)" } else { "" });
                }
            }
            Ok(())
        }
        Command::Fetch(args) => {
            let client = client(global)?;
            let resolved = resolve(&client, &args.deps).await?;
            let mut rows = Vec::new();
            for resolution in &resolved {
                let package = resolution.package();
                let dest = args
                    .output
                    .join(package.namespace())
                    .join(format!("{}.wasm", package.name()));
                write_resolution(&client, resolution, &dest).await?;
                rows.push((resolution, dest));
            }
            report(global, &rows)
        }
        Command::Lock(args) => {
            let client = client(global)?;
            let resolved = resolve(&client, &args.deps).await?;
            let rows: Vec<_> = resolved.iter().map(|r| (r, r.path().clone())).collect();
            report(global, &rows)
        }
        Command::Cache(command) => cache(command, global).await,
    }
}

fn usage(err: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(UsageError(err.to_string()))
}

fn load_config(global: &Global) -> Result<Config> {
    let mut loader = ConfigLoader::new();
    if let Some(path) = &global.config {
        if !path.is_file() {
            return Err(usage(format!("--config {}: no such file", path.display())));
        }
        loader = loader.user_file(path);
    }
    Ok(loader.load()?)
}

fn client(global: &Global) -> Result<Client> {
    let mut builder = Client::builder(load_config(global)?).offline(global.offline);
    if let Some(dir) = &global.cache_dir {
        builder = builder.cache_dir(dir);
    }
    if output::show_progress(global) {
        builder = builder.progress(Arc::new(output::Bars::default()));
    }
    Ok(builder.build())
}

fn parse_registry(registry: Option<&str>) -> Result<Option<Registry>> {
    registry.map(|r| r.parse().map_err(usage)).transpose()
}

/// `ns:name`, `ns:name@1.2.3` (exactly that version) or `ns:name@<requirement>`.
fn parse_spec(spec: &str) -> Result<(PackageRef, VersionReq)> {
    let (name, version) = match spec.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (spec, None),
    };
    let package: PackageRef = name.parse().map_err(usage)?;
    let requirement = match version {
        None => VersionReq::STAR,
        Some(v) => match Version::parse(v) {
            Ok(exact) => VersionReq::parse(&format!("={exact}")).map_err(usage)?,
            Err(_) => VersionReq::parse(v).map_err(|e| {
                usage(format!(
                    "`{v}` is neither a version nor a version requirement ({e}); write e.g. \
                     {package}@1.2.3 or {package}@^1.2"
                ))
            })?,
        },
    };
    Ok((package, requirement))
}

async fn get(
    client: &Client,
    global: &Global,
    package: &PackageRef,
    registry: Option<&Registry>,
    requirement: &VersionReq,
    output: Option<&Path>,
) -> Result<()> {
    let release = client.resolve(package, registry, requirement).await?;
    let file_name = format!(
        "{}_{}@{}.wasm",
        package.namespace(),
        package.name(),
        release.version
    );
    let to_stdout = output == Some(Path::new("-"));
    let dest = match output {
        _ if to_stdout => None,
        Some(path) if path.is_dir() => Some(path.join(file_name)),
        Some(path) => Some(path.to_owned()),
        None => Some(PathBuf::from(file_name)),
    };
    match &dest {
        None => {
            let cached = client.fetch_open(package, registry, &release).await?;
            let mut file = tokio::fs::File::from_std(cached.into_file());
            let mut stdout = tokio::io::stdout();
            tokio::io::copy(&mut file, &mut stdout).await?;
            stdout.flush().await?;
        }
        Some(dest) => {
            // A warm cache is copied out (verified on the way) without a second pass; a
            // missing or corrupt entry is fetched (verified on the way in), then copied
            // from the still open file.
            copy_out(client, package, registry, &release, dest).await?;
        }
    }
    let summary = json!({
        "package": package.to_string(),
        "version": release.version.to_string(),
        "digest": release.digest.to_string(),
        "size": release.size,
        "path": dest.as_ref().map(|d| d.display().to_string()),
    });
    if global.json && !to_stdout {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if !global.quiet {
        let line = format!(
            "{package}@{} {}{}",
            release.version,
            release.digest,
            dest.map(|d| format!(" -> {}", d.display()))
                .unwrap_or_default()
        );
        if to_stdout {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    Ok(())
}

async fn publish(client: &Client, global: &Global, args: &crate::cli::PublishArgs) -> Result<()> {
    let given: Option<registry_core::PackageSpec> = args
        .package
        .as_deref()
        .map(|spec| spec.parse().map_err(usage))
        .transpose()?;
    // The file's metadata is read (once) only when `--package` leaves something out.
    let (mut spec, info) = match given {
        Some(spec) if spec.version.is_some() => (spec, None),
        Some(spec) => (spec, Some(inspect(&args.file)?)),
        None => {
            let info = inspect(&args.file)?;
            (package_of(&args.file, &info)?, Some(info))
        }
    };
    if spec.version.is_none() {
        spec.version = info.as_ref().and_then(version_in);
    }
    let Some(version) = spec.version else {
        let (package, file) = (&spec.package, args.file.display());
        return Err(usage(match args.package {
            Some(_) => format!(
                "--package {package} has no version, and {file} has no `version` metadata; \
                 write {package}@1.0.0"
            ),
            None => format!(
                "{file} names itself {package} but has no `version` metadata; give --package \
                 {package}@1.0.0"
            ),
        }));
    };
    let registry = parse_registry(args.registry.as_deref())?;
    let file = tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let size = file.metadata().await?.len();
    let (target, _) = client.backend_for(&spec.package, registry.as_ref()).await?;
    if args.dry_run {
        let bytes = tokio::fs::read(&args.file).await?;
        if !bytes.starts_with(b"\0asm") {
            return Err(usage(format!("{} is not WebAssembly", args.file.display())));
        }
        println!(
            "would publish {}@{version} ({size} bytes, {}) to {target}",
            spec.package,
            ContentDigest::sha256(&bytes)
        );
        return Ok(());
    }
    let release = client
        .publish(
            &spec.package,
            registry.as_ref(),
            &version,
            Box::pin(file),
            &PublishOptions::default().with_size(size),
        )
        .await?;
    if global.json {
        let out = json!({
            "package": spec.package.to_string(),
            "version": version.to_string(),
            "digest": release.digest.to_string(),
            "size": release.size,
            "registry": target.to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if !global.quiet {
        println!(
            "published {}@{version} {} to {target}",
            spec.package, release.digest
        );
    }
    Ok(())
}

/// What a Wasm file says about itself, read section by section in constant memory.
fn inspect(path: &Path) -> Result<registry_oci::component::WasmInfo> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    registry_oci::component::inspect(&mut file).map_err(usage)
}

/// The version a component's `version` custom section (as `wasm-tools metadata add` writes
/// it) names, if it has a valid one.
fn version_in(info: &registry_oci::component::WasmInfo) -> Option<Version> {
    info.annotations
        .get("org.opencontainers.image.version")
        .and_then(|v| Version::parse(v.trim()).ok())
}

/// The package a file says it is: a binary-encoded WIT package names itself
/// (`package acme:api@1.2.0;`); a component names itself when its `component-name` section
/// holds `ns:name` (`wasm-tools metadata add --name acme:widget`), its version then coming
/// from `--package`'s or its `version` section. Otherwise it needs `--package`.
fn package_of(
    path: &Path,
    info: &registry_oci::component::WasmInfo,
) -> Result<registry_core::PackageSpec> {
    if let Some(name) = &info.name {
        let package: PackageRef = name.parse().map_err(|err| {
            usage(format!(
                "{} is named `{name}`, which is not a package name ({err}); give --package \
                 ns:name@version",
                path.display()
            ))
        })?;
        return Ok(registry_core::PackageSpec {
            package,
            version: None,
        });
    }
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let needs_flag = || {
        usage(format!(
            "{} does not say which package it is; give --package ns:name@version, or name \
             the component with `wasm-tools metadata add --name ns:name`",
            path.display()
        ))
    };
    match wit_parser::decoding::decode_reader(std::io::BufReader::new(file)) {
        Ok(wit_parser::decoding::DecodedWasm::WitPackage(resolve, id)) => {
            let name = &resolve.packages[id].name;
            let package = PackageRef::new(&name.namespace, &name.name).map_err(usage)?;
            let Some(version) = name.version.clone() else {
                return Err(usage(format!(
                    "the WIT package {package} in {} has no version; give --package \
                     {package}@1.0.0",
                    path.display()
                )));
            };
            Ok(registry_core::PackageSpec {
                package,
                version: Some(version),
            })
        }
        Ok(wit_parser::decoding::DecodedWasm::Component(..)) => Err(needs_flag()),
        Err(err) => Err(usage(format!(
            "{} is not a component or WIT package ({err}); give --package ns:name@version \
             to publish it anyway",
            path.display()
        ))),
    }
}

/// The dependencies from `--dep` flags and a `--deps` file.
fn dependencies(args: &DepsArgs) -> Result<Vec<Dependency>> {
    let mut deps = Vec::new();
    for dep in &args.deps {
        let (package, requirement) = parse_spec(dep)?;
        deps.push(Dependency::new(package, requirement));
    }
    if let Some(path) = &args.deps_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let doc: toml_edit::DocumentMut = text
            .parse()
            .map_err(|e| usage(format!("{}: {e}", path.display())))?;
        let Some(table) = doc.get("dependencies").and_then(|d| d.as_table_like()) else {
            return Err(usage(format!(
                "{} has no [dependencies] table",
                path.display()
            )));
        };
        let base = path.parent().unwrap_or(Path::new("."));
        for (name, value) in table.iter() {
            let package: PackageRef = name.parse().map_err(usage)?;
            let bad = || {
                usage(format!(
                    "{}: dependency `{name}` is not a requirement string or a table with version/registry/path",
                    path.display()
                ))
            };
            let dep = if let Some(req) = value.as_str() {
                Dependency::new(package, req.parse().map_err(usage)?)
            } else if let Some(t) = value.as_table_like() {
                let requirement = match t.get("version").and_then(|v| v.as_str()) {
                    Some(req) => req.parse().map_err(usage)?,
                    None => VersionReq::STAR,
                };
                let mut dep = Dependency::new(package, requirement);
                if let Some(registry) = t.get("registry").and_then(|v| v.as_str()) {
                    dep = dep.with_registry(registry.parse().map_err(usage)?);
                }
                if let Some(p) = t.get("path").and_then(|v| v.as_str()) {
                    dep = dep.with_path(base.join(p));
                }
                dep
            } else {
                return Err(bad());
            };
            deps.push(dep);
        }
    }
    let wit = match &args.wit {
        Some(dir) => Some(dir.clone()),
        None if deps.is_empty() && Path::new("wit").is_dir() => Some(PathBuf::from("wit")),
        None => None,
    };
    if let Some(dir) = wit {
        deps.extend(wit_dependencies(&dir)?);
    }
    if deps.is_empty() {
        return Err(usage(
            "no dependencies: give --dep ns:name@req, --deps FILE or --wit DIR (or run where \
             ./wit is)",
        ));
    }
    Ok(deps)
}

/// The packages a WIT directory uses but does not define, each as a semver-compatible
/// requirement on the version it names.
fn wit_dependencies(dir: &Path) -> Result<Vec<Dependency>> {
    let group = wit_parser::UnresolvedPackageGroup::parse_dir(dir)
        .map_err(|err| usage(format!("cannot read the WIT in {}: {err:#}", dir.display())))?;
    let defined: Vec<String> = std::iter::once(&group.main)
        .chain(&group.nested)
        .map(|p| format!("{}:{}", p.name.namespace, p.name.name))
        .collect();
    let mut deps: Vec<Dependency> = Vec::new();
    for package in std::iter::once(&group.main).chain(&group.nested) {
        for name in package.foreign_deps.keys() {
            let id = format!("{}:{}", name.namespace, name.name);
            if defined.contains(&id) {
                continue;
            }
            let requirement = match &name.version {
                Some(version) => VersionReq::parse(&format!("^{version}")).map_err(usage)?,
                None => VersionReq::STAR,
            };
            let dep = Dependency::new(id.parse().map_err(usage)?, requirement);
            if !deps.contains(&dep) {
                deps.push(dep);
            }
        }
    }
    Ok(deps)
}

async fn resolve(client: &Client, args: &DepsArgs) -> Result<Vec<Resolution>> {
    let deps = dependencies(args)?;
    let mut lock = LockFile::load(&args.lock)?.unwrap_or_else(LockFile::new);
    let before = lock.clone();
    let mode = if args.locked {
        LockMode::Locked
    } else {
        LockMode::Update
    };
    let resolved = client.resolve_all(&deps, Some(&mut lock), mode).await?;
    if lock != before {
        if args.locked {
            bail!(
                "{} would change, and --locked forbids it; run without --locked",
                args.lock.display()
            );
        }
        lock.save(&args.lock)?;
    }
    Ok(resolved)
}

async fn write_resolution(client: &Client, resolution: &Resolution, dest: &Path) -> Result<()> {
    if let Some(dir) = dest.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    match resolution {
        Resolution::Registry {
            package,
            registry,
            release,
            ..
        } => copy_out(client, package, Some(registry), release, dest).await?,
        _ => {
            tokio::fs::copy(resolution.path(), dest)
                .await
                .with_context(|| format!("cannot copy {}", resolution.path().display()))?;
        }
    }
    Ok(())
}

/// Writes `release`'s verified bytes to `dest`: copied from the cache, hashed on the way;
/// when the entry is missing (never fetched, or removed by a concurrent clean) or corrupt,
/// fetched and copied from the file it was verified into.
async fn copy_out(
    client: &Client,
    package: &PackageRef,
    registry: Option<&Registry>,
    release: &Release,
    dest: &Path,
) -> Result<()> {
    if !client
        .cache()
        .copy_verified(&release.digest, release.size, dest)
        .await?
    {
        client
            .fetch_open(package, registry, release)
            .await?
            .copy_to(dest)
            .await?;
    }
    Ok(())
}

fn report(global: &Global, rows: &[(&Resolution, PathBuf)]) -> Result<()> {
    if global.json {
        let list: Vec<_> = rows
            .iter()
            .map(|(r, path)| {
                let registry = match r {
                    Resolution::Registry { registry, .. } => Some(registry.to_string()),
                    _ => None,
                };
                json!({
                    "package": r.package().to_string(),
                    "version": r.version().map(ToString::to_string),
                    "digest": r.digest().map(ToString::to_string),
                    "registry": registry,
                    "path": path.display().to_string(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else if !global.quiet {
        for (r, path) in rows {
            match (r.version(), r.digest()) {
                (Some(v), Some(d)) => println!("{}@{v} {d} -> {}", r.package(), path.display()),
                _ => println!("{} (local) -> {}", r.package(), path.display()),
            }
        }
    }
    Ok(())
}

fn target(args: &TargetArgs) -> Target {
    if args.project {
        Target::Project
    } else {
        Target::User
    }
}

fn config(command: ConfigCommand, global: &Global) -> Result<()> {
    let mut config = load_config(global)?;
    match command {
        ConfigCommand::Show { origin } => {
            let entries = config.entries();
            if global.json {
                let list: Vec<_> = entries
                    .iter()
                    .map(|e| json!({"key": e.key.to_string(), "value": e.value, "origin": e.origin.to_string()}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for entry in entries {
                    if origin {
                        println!("{entry}  # {}", entry.origin);
                    } else {
                        println!("{entry}");
                    }
                }
            }
        }
        ConfigCommand::Get { key } => {
            let entries = config.get(&key).map_err(usage)?;
            if entries.is_empty() {
                return Err(usage(format!("`{key}` is not set")));
            }
            if global.json {
                let map: serde_json::Map<String, serde_json::Value> = entries
                    .iter()
                    .map(|e| {
                        (
                            e.key.to_string(),
                            json!({"value": e.value, "origin": e.origin.to_string()}),
                        )
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&map)?);
            } else if entries.len() == 1 && entries[0].key.to_string() == key {
                println!("{}", entries[0].value.trim_matches('"'));
            } else {
                for entry in entries {
                    println!("{entry}");
                }
            }
        }
        ConfigCommand::Set {
            key,
            value,
            target: t,
        } => {
            let value = value
                .parse::<toml_edit::Value>()
                .unwrap_or_else(|_| toml_edit::Value::from(value.as_str()));
            config.set(target(&t), &key, value).map_err(usage)?;
            let written = config.save()?;
            if !global.quiet {
                for path in written {
                    println!("set `{key}` in {}", path.display());
                }
            }
        }
        ConfigCommand::Unset { key, target: t } => {
            let removed = config.unset(target(&t), &key).map_err(usage)?;
            let written = config.save()?;
            if !global.quiet {
                match (removed, written.first()) {
                    (true, Some(path)) => println!("removed `{key}` from {}", path.display()),
                    _ => println!("`{key}` was not set there"),
                }
            }
        }
        ConfigCommand::Path if global.json => {
            let files: Vec<_> = config
                .layers()
                .into_iter()
                .filter_map(|layer| {
                    let path = layer.path?;
                    Some(json!({
                        "scope": layer.scope.to_string(),
                        "path": path.display().to_string(),
                        "exists": layer.exists,
                    }))
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&files)?);
        }
        ConfigCommand::Path => {
            for layer in config.layers() {
                if let Some(path) = layer.path {
                    let state = if layer.exists {
                        ""
                    } else {
                        " (not created yet)"
                    };
                    println!("{:<8} {}{state}", layer.scope, path.display());
                }
            }
        }
    }
    Ok(())
}

fn parse_duration(text: &str) -> Result<Duration> {
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: u64 = number.parse().map_err(|_| {
        usage(format!(
            "`{text}` is not a duration; write e.g. 7d, 12h, 30m or 45s"
        ))
    })?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => {
            return Err(usage(format!(
                "`{text}` is not a duration; write e.g. 7d, 12h, 30m or 45s"
            )));
        }
    };
    Ok(Duration::from_secs(secs))
}

async fn cache(command: CacheCommand, global: &Global) -> Result<()> {
    let client = client(global)?;
    let cache = client.cache();
    match command {
        CacheCommand::Ls => {
            let entries = cache.entries().await?;
            if global.json {
                let list: Vec<_> = entries
                    .iter()
                    .map(|e| json!({"digest": e.digest.to_string(), "size": e.size, "path": e.path.display().to_string()}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for entry in &entries {
                    println!("{} {}", entry.digest, entry.size);
                }
                if !global.quiet {
                    let total: u64 = entries.iter().map(|e| e.size).sum();
                    eprintln!(
                        "{} entries, {total} bytes in {}",
                        entries.len(),
                        cache.dir().display()
                    );
                }
            }
        }
        CacheCommand::Verify => {
            let entries = cache.entries().await?;
            let mut corrupt = Vec::new();
            for entry in &entries {
                if cache.verified_path(&entry.digest, None).await?.is_none() {
                    corrupt.push(entry.digest.to_string());
                }
            }
            if global.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({"checked": entries.len(), "removed": corrupt})
                    )?
                );
            } else if !global.quiet {
                println!(
                    "checked {} entries, removed {} corrupt",
                    entries.len(),
                    corrupt.len()
                );
                for digest in &corrupt {
                    println!("removed {digest}");
                }
            }
        }
        CacheCommand::Clean { older_than } => {
            let age = older_than.as_deref().map(parse_duration).transpose()?;
            // Safe beside other processes using the cache: downloads in progress land,
            // readers keep their bytes.
            let cleaned = cache.clean(age).await?;
            if !global.quiet {
                println!("removed {} of {} entries", cleaned.removed, cleaned.listed);
            }
        }
    }
    Ok(())
}
