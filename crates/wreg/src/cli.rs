//! The command line: arguments, help texts and examples.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Fetch, publish and configure WebAssembly packages in OCI, warg and directory registries.
#[derive(Debug, Parser)]
#[command(name = "wreg", version, propagate_version = true, after_help = EXAMPLES)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

const EXAMPLES: &str = "\
Examples:
  wreg get wasi:http@0.2.0 -o http.wasm
  wreg versions wasi:http
  wreg publish widget.wasm --package acme:widget@1.0.0
  wreg fetch --dep wasi:http@^0.2 --dep acme:widget@1.0.0
  wreg config show --origin
  wreg config set --user default_registry ghcr.io

Exit codes: 0 ok, 1 other errors, 2 not found, 3 unauthorized, 4 network or registry
error, 5 integrity (digest or size mismatch), 64 usage, 78 configuration (a bad value in a
config file, manifest, dependency file or variable).";

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Read this config file as the user file (instead of ~/.config/wasm-pkg/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Load the configuration cargo-component gets for this package: its cargo
    /// configuration files' `[wasm-pkg]` tables and its (and its workspace root's)
    /// `[package.metadata.component]` settings, above the user and project files.
    #[arg(long, global = true, value_name = "CARGO_TOML")]
    pub(crate) manifest_path: Option<PathBuf>,
    /// Keep the cache here (default: ~/.cache/wasm-pkg). wkg's `--cache` is read as this.
    #[arg(long, global = true, value_name = "DIR", alias = "cache")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// How outputs are made from the cache: `copy` (the default) gives each its own file;
    /// `hardlink` links them to the cache entry where it is on the same file system (a pull
    /// writes its bytes once), so outputs linked to one entry are one file: rewriting one in
    /// place rewrites them all (the cache notices and fetches its copy again).
    #[arg(
        long,
        global = true,
        value_name = "MODE",
        env = "WREG_LINK_MODE",
        value_parser = ["copy", "hardlink"]
    )]
    pub(crate) link_mode: Option<String>,
    /// Use only the cache and lock file; no network.
    #[arg(long, global = true)]
    pub(crate) offline: bool,
    /// The most bytes accepted for content whose size nobody stated (a lock file pin
    /// without one, as wkg writes them); a source sending more is cut off. Default 2 GiB.
    #[arg(
        long,
        global = true,
        value_name = "BYTES",
        env = "WREG_MAX_CONTENT_SIZE",
        hide = true
    )]
    pub(crate) max_content_size: Option<u64>,
    /// Print machine-readable JSON on stdout (commands that print data).
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// More logging (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Print nothing but errors and requested data.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// When to use colors and progress bars.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub(crate) color: Color,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Resolve a package, fetch it through the verified cache, and write it out.
    #[command(after_help = "\
Examples:
  wreg get wasi:http                 newest release, to ./wasi_http@<version>.wasm
  wreg get wasi:http@0.2.0 -o out/   exact version, into a directory
  wreg get 'wasi:http@^0.2' -o -     newest 0.2.x, to stdout")]
    Get(GetArgs),
    /// Publish a component.
    #[command(after_help = "\
Examples:
  wreg publish api.wasm                                 a WIT package names itself
  wreg publish named.wasm                               so does a component whose name
                                                        (wasm-tools metadata add --name) is ns:name;
                                                        its version section gives the version
  wreg publish widget.wasm --package acme:widget@1.0.0
  wreg publish widget.wasm --package acme:widget@1.0.0 --registry localhost:5000 --dry-run
  wreg publish base/wit app/wit                         several, each after what it uses
  wreg publish --workspace                              every member of the wkg.toml workspace")]
    Publish(PublishArgs),
    /// List a package's versions, newest first.
    #[command(
        after_help = "Examples:\n  wreg versions wasi:http\n  wreg versions wasi:http --json"
    )]
    Versions(VersionsArgs),
    /// Show who signed a release and whether the provenance policy accepts it (exit 10
    /// when not).
    #[command(after_help = "\
Examples:
  wreg verify wasi:http@0.2.0           that release
  wreg verify 'acme:widget@^1' --json   the newest 1.x, as JSON

The policy is the configuration's `[registry.\"<registry>\".provenance]` table (or its
`namespace.<ns>` / `package.\"<ns:name>\"` overrides); see docs/provenance.md.")]
    Verify(VerifyArgs),
    /// Resolve dependencies, fetch them into a directory, and update the lock file; in a
    /// WIT project without `--dep`/`--deps`/`--wit`, `wit fetch` (as `wkg fetch`).
    #[command(after_help = "\
Examples:
  wreg fetch                          in a WIT project (./wit): `wreg wit fetch`, as `wkg fetch`
  wreg fetch --workspace              every member of the wkg.toml workspace, into <root>/wkg/deps
  wreg fetch --wit wit                the packages ./wit imports, as binaries in ./deps
  wreg fetch --dep wasi:http@^0.2 --dep acme:widget@1.0.0     into ./deps, ./wkg.lock
  wreg fetch --deps deps.toml --locked                         fail if the lock would change

A bare version in a dependency asks for a semver-compatible release: `--dep acme:widget@1.2.0`,
`\"acme:widget\" = \"1.2.0\"` and a WIT `use ns:pkg/iface@1.2.0` all mean `^1.2.0` (write
`=1.2.0` for exactly that release). `wreg get ns:name@1.2.0` names one release exactly.

A dependency file lists packages and requirements:
  [dependencies]
  \"wasi:http\" = \"^0.2\"
  \"acme:widget\" = { version = \"1.0\", registry = \"localhost:5000\" }
  \"acme:local\" = { path = \"../local.wasm\" }")]
    Fetch(FetchArgs),
    /// The same as `wit build` (wkg 0.16's `wkg build`).
    #[command(after_help = "\
Examples:
  wreg build                        ./wit -> ./acme:api@1.0.0.wasm
  wreg build -d api/wit -o api.wasm")]
    Build(WitBuildArgs),
    /// Resolve dependencies and write the lock file, without writing a deps directory.
    #[command(after_help = "Examples:\n  wreg lock --dep wasi:http@^0.2")]
    Lock(LockArgs),
    /// Work with a WIT directory: fetch its whole dependency graph into `wit/deps`, build
    /// it into a WIT package.
    #[command(subcommand)]
    Wit(WitCommand),
    /// Compose components with a wac document, every package resolved through the
    /// registries (or wac's `--deps-dir` and `--dep`) and pinned by the lock file.
    #[command(after_help = "\
Examples:
  wreg compose app.wac -o app.wasm              packages from ./deps, else the registries
  wreg compose app.wac -o app.wasm --locked     CI: the packages wkg.lock pins, or fail
  wreg compose app.wac --dep acme:greeter=g.wasm -o app.wasm")]
    Compose(ComposeArgs),
    /// Plug the exports of components into a socket component's imports (as `wac plug`),
    /// packages named by `ns:name[@version]` resolved through the registries.
    #[command(after_help = "\
Examples:
  wreg plug socket.wasm --plug acme:greeter@1.0.0 -o out.wasm
  wreg plug acme:app --plug ./plug.wasm --plug acme:logger -o out.wasm")]
    Plug(PlugArgs),
    /// Print the locked dependency graph: each package, version, registry and digest, and
    /// the packages each one uses (WIT dependencies included).
    #[command(after_help = "Examples:\n  wreg tree\n  wreg tree --lock app/wkg.lock --json")]
    Tree(LockViewArgs),
    /// Print the paths through the locked graph that pull a package in.
    #[command(after_help = "Examples:\n  wreg why wasi:io")]
    Why(WhyArgs),
    /// List, for each locked package, the newest compatible and the newest release.
    #[command(after_help = "Examples:\n  wreg outdated\n  wreg outdated --json")]
    Outdated(LockViewArgs),
    /// Move lock file pins to the newest compatible releases (all, or the packages named),
    /// printing each change; nothing else moves a pin. In a WIT project (./wit, or
    /// `--wit-dir`), as `wkg update`: its graph resolved again and `wit/deps` rewritten.
    #[command(after_help = "\
Examples:
  wreg update                   every pin (in a WIT project: its whole graph, and wit/deps)
  wreg update wasi:http         one package's pins
  wreg update --dry-run         print what would change, write nothing")]
    Update(UpdateArgs),
    /// Carry packages to sites without a network: write them into an OCI image layout
    /// directory, and push such a directory into a registry.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Show and change the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Inspect and clean the cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Print a shell completion script.
    #[command(after_help = "Examples:\n  wreg completions bash > /etc/bash_completion.d/wreg")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write man pages (`wreg.1`, `wreg-get.1`, ...) into a directory; `cargo xtask dist`
    /// packages them.
    #[command(hide = true)]
    Manpages {
        /// The directory (created if missing).
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub(crate) struct LockViewArgs {
    /// The lock file.
    #[arg(long, value_name = "FILE", default_value = "wkg.lock")]
    pub(crate) lock: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct WhyArgs {
    /// The package, `ns:name`.
    pub(crate) package: String,
    #[command(flatten)]
    pub(crate) lock: LockViewArgs,
}

#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    /// Only these packages (`ns:name`); all when none is given.
    pub(crate) packages: Vec<String>,
    /// The WIT directory whose graph to update (default: `./wit` when it holds `.wit`
    /// files); its `deps` is written again.
    #[arg(short = 'd', long = "wit-dir", value_name = "DIR")]
    pub(crate) wit_dir: Option<PathBuf>,
    /// For a WIT project: write `deps` as `wit` text or `wasm` binary packages.
    #[arg(short = 't', long = "type", value_enum)]
    pub(crate) output_type: Option<DepsType>,
    /// Print what would change; leave the lock file as it is.
    #[arg(long)]
    pub(crate) dry_run: bool,
    #[command(flatten)]
    pub(crate) lock: LockViewArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ComposeArgs {
    /// The wac document.
    #[arg(value_name = "PATH")]
    pub(crate) path: PathBuf,
    /// Where to write the component (default: stdout, refused on a terminal).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// The directory to look in first (`<ns>/<name>.wasm`, `<ns>/<name>/` WIT).
    #[arg(long, value_name = "PATH", default_value = "deps")]
    pub(crate) deps_dir: PathBuf,
    /// A package's file, `ns:name[@version]=PATH` (repeatable).
    #[arg(long = "dep", short = 'd', value_name = "PKG=PATH")]
    pub(crate) deps: Vec<String>,
    /// Do not validate the composed component.
    #[arg(long)]
    pub(crate) no_validate: bool,
    /// Import the packages the composition instantiates instead of defining them in it.
    #[arg(long, short = 'i')]
    pub(crate) import_dependencies: bool,
    #[command(flatten)]
    pub(crate) lock: WitLockArgs,
}

#[derive(Debug, Args)]
pub(crate) struct PlugArgs {
    /// The socket: a component file or `ns:name[@version]`.
    #[arg(value_name = "SOCKET")]
    pub(crate) socket: String,
    /// A plug: a component file or `ns:name[@version]` (repeatable).
    #[arg(long = "plug", value_name = "PLUG", required = true)]
    pub(crate) plugs: Vec<String>,
    /// Where to write the component (default: stdout, refused on a terminal).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) lock: WitLockArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum WitCommand {
    /// Resolve every package the WIT uses, and every package those use, and write them
    /// under `<dir>/deps` (as WIT text by default, the directories `wkg wit fetch` writes).
    #[command(after_help = "\
Examples:
  wreg wit fetch                    ./wit -> ./wit/deps/<ns>-<name>-<version>/package.wit
  wreg wit fetch --type wasm        binary packages, ./wit/deps/<ns>-<name>-<version>.wasm
  wreg wit fetch --locked           fail if wkg.lock would change

One version of each package is chosen: the newest that satisfies everything that needs it.
A WIT `use wasi:io/streams@0.2.0` asks for `^0.2.0`. Pins in the lock file are reused when
they satisfy; `[overrides]` in wkg.toml replace a package by a local directory or file.")]
    Fetch(WitFetchArgs),
    /// Build the WIT directory, with its resolved dependencies, into a binary WIT package
    /// (`<ns>:<name>@<version>.wasm`).
    #[command(after_help = "\
Examples:
  wreg wit build                    ./wit -> ./acme:api@1.0.0.wasm
  wreg wit build -d api/wit -o api.wasm
  wreg publish wit                  build, then publish")]
    Build(WitBuildArgs),
    /// Resolve the WIT directory's graph again (the lock file cleared, or only the
    /// packages named) and write `deps` and the lock file: `update` in a WIT project, wkg's
    /// `wit update`.
    #[command(after_help = "\
Examples:
  wreg wit update                   ./wit: every package of its graph
  wreg wit update -d api/wit wasi:io")]
    Update(UpdateArgs),
}

/// The WIT directory and the lock file.
#[derive(Debug, Args)]
pub(crate) struct WitLockArgs {
    /// The lock file.
    #[arg(long, value_name = "FILE", default_value = "wkg.lock")]
    pub(crate) lock: PathBuf,
    /// Fail if the lock file would change.
    #[arg(long)]
    pub(crate) locked: bool,
}

#[derive(Debug, Args)]
pub(crate) struct WitFetchArgs {
    /// The WIT directory.
    #[arg(default_value = "wit", value_name = "DIR")]
    pub(crate) dir: PathBuf,
    /// `wit` (WIT text, one directory per package) or `wasm` (binary packages).
    #[arg(short = 't', long = "type", value_enum, default_value_t = DepsType::Wit)]
    pub(crate) output_type: DepsType,
    #[command(flatten)]
    pub(crate) lock: WitLockArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DepsType {
    Wit,
    Wasm,
}

#[derive(Debug, Args)]
pub(crate) struct WitBuildArgs {
    /// The WIT directory.
    #[arg(
        short = 'd',
        long = "wit-dir",
        default_value = "wit",
        value_name = "DIR"
    )]
    pub(crate) dir: PathBuf,
    /// The file to write (default: `<ns>:<name>@<version>.wasm` here).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) lock: WitLockArgs,
}

/// How `get` writes a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GetFormat {
    /// The bytes as published.
    Wasm,
    /// WIT text: a WIT package as itself, a component as its world with the packages the
    /// world uses.
    Wit,
}

#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// `ns:name`, `ns:name@version` (exactly that release) or `ns:name@requirement` (e.g.
    /// `wasi:http@^0.2`).
    pub(crate) package: String,
    /// Where to write: a file, a directory, or `-` for stdout.
    #[arg(short, long, value_name = "PATH")]
    pub(crate) output: Option<PathBuf>,
    /// Use this registry instead of the configured one (also `WKG_REGISTRY`, as for wkg;
    /// the flag wins).
    #[arg(long, value_name = "REGISTRY", env = "WKG_REGISTRY")]
    pub(crate) registry: Option<String>,
    /// `wasm` (the bytes as published) or `wit` (WIT text, `.wit`: a WIT package as itself,
    /// a component as its world and the packages it uses).
    #[arg(long, value_enum, default_value_t = GetFormat::Wasm)]
    pub(crate) format: GetFormat,
}

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// The component or WIT package files, or WIT directories (built first, as `wit build`
    /// does); several are published one by one, each after the ones whose packages it
    /// uses, and the first failure stops the rest.
    #[arg(value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,
    /// The package and version, `ns:name@version`, for a single path (also `WKG_PACKAGE`,
    /// as for wkg). Without it, a WIT package names itself, and a component by its
    /// `ns:name` name and `version` metadata.
    #[arg(long, value_name = "NS:NAME@VERSION", env = "WKG_PACKAGE")]
    pub(crate) package: Option<String>,
    /// Use this registry instead of the configured one (also `WKG_REGISTRY`, as for wkg;
    /// the flag wins).
    #[arg(long, value_name = "REGISTRY", env = "WKG_REGISTRY")]
    pub(crate) registry: Option<String>,
    /// Check everything, publish nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Succeed without uploading when this version is already published with the same
    /// bytes (a different digest is still an error). wkg's `--skip-dupes` is read as this.
    #[arg(long, alias = "skip-dupes")]
    pub(crate) skip_existing: bool,
    /// Publish a WIT package even when it removes or changes items of the previous
    /// release in its major line.
    #[arg(long)]
    pub(crate) skip_semver_check: bool,
    /// Publish every member of the `wkg.toml` workspace here or above, each after the
    /// members whose packages it uses.
    #[arg(long, conflicts_with = "paths")]
    pub(crate) workspace: bool,
    /// Sign each release published (keyless: Fulcio certifies the identity of the OIDC
    /// token in `SIGSTORE_ID_TOKEN`, Rekor logs the signature; the services are the
    /// policy's `fulcio_url`/`rekor_url`, else Sigstore's public-good ones) and attach the
    /// signature to it as an OCI referrer.
    #[arg(long, conflicts_with = "sign_key")]
    pub(crate) sign: bool,
    /// Sign with this key instead (an unencrypted PKCS#8 P-256 PEM, e.g. `openssl genpkey
    /// -algorithm EC -pkeyopt ec_paramgen_curve:P-256`); the signature is logged to the
    /// policy's `rekor_url`, else public-good Rekor.
    #[arg(long, value_name = "PEM")]
    pub(crate) sign_key: Option<PathBuf>,
    /// The lock file, when building a WIT directory.
    #[command(flatten)]
    pub(crate) lock: WitLockArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BundleCommand {
    /// Write releases into an OCI image layout (`oci-layout`, `index.json`, `blobs/`): every
    /// release the lock file pins, or the ones named. Each is fetched through the verified
    /// cache and named `<ns>:<name>@<version>` in `index.json`.
    #[command(after_help = "\
Examples:
  wreg bundle export bundle/                       everything wkg.lock pins
  wreg bundle export bundle/ wasi:http@0.2.0       one release (added to an existing bundle)
  skopeo copy oci:bundle/:wasi:http@0.2.0 docker://registry.internal/wasi/http:0.2.0

On the site without a network, use the directory as a registry, as a mirror of the
registries the lock file names:
  [registry.\"offline\".oci-layout]
  path = \"/srv/bundle\"
  [registry.\"ghcr.io\".mirrors]
  order = [\"offline\"]
or push it into the site's registry with `wreg bundle import`.")]
    Export(BundleExportArgs),
    /// Publish every release of an OCI image layout to its package's registry (or
    /// `--registry`). Releases already there with the same bytes are left alone.
    #[command(
        after_help = "Examples:\n  wreg bundle import bundle/\n  wreg bundle import bundle/ --registry registry.internal:5000"
    )]
    Import(BundleImportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct BundleExportArgs {
    /// The layout directory (created, or added to).
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
    /// Releases to add, `ns:name@version`; without any, every release the lock file pins.
    #[arg(value_name = "NS:NAME@VERSION")]
    pub(crate) packages: Vec<String>,
    /// The lock file.
    #[arg(long, value_name = "FILE", default_value = "wkg.lock")]
    pub(crate) lock: PathBuf,
    /// Read the named releases from this registry instead of the configured one.
    #[arg(long, value_name = "REGISTRY")]
    pub(crate) registry: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct BundleImportArgs {
    /// The layout directory.
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
    /// Publish to this registry instead of each package's configured one.
    #[arg(long, value_name = "REGISTRY")]
    pub(crate) registry: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VersionsArgs {
    /// `ns:name`.
    pub(crate) package: String,
    /// Use this registry instead of the configured one (also `WKG_REGISTRY`, as for wkg;
    /// the flag wins).
    #[arg(long, value_name = "REGISTRY", env = "WKG_REGISTRY")]
    pub(crate) registry: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// `ns:name@version` (that release) or `ns:name@requirement` (the newest match).
    pub(crate) package: String,
    /// Use this registry instead of the configured one (also `WKG_REGISTRY`).
    #[arg(long, value_name = "REGISTRY", env = "WKG_REGISTRY")]
    pub(crate) registry: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct DepsArgs {
    /// A dependency, `ns:name@requirement` (repeatable); a bare version means `^version`.
    #[arg(long = "dep", value_name = "NS:NAME[@REQ]")]
    pub(crate) deps: Vec<String>,
    /// A dependency file (`[dependencies]` table).
    #[arg(long = "deps", value_name = "FILE")]
    pub(crate) deps_file: Option<PathBuf>,
    /// A WIT directory whose imports are the dependencies (default: `./wit` when no other
    /// dependency is given).
    #[arg(long, value_name = "DIR")]
    pub(crate) wit: Option<PathBuf>,
    /// The lock file.
    #[arg(long, value_name = "FILE", default_value = "wkg.lock")]
    pub(crate) lock: PathBuf,
    /// Fail if the lock file would change.
    #[arg(long)]
    pub(crate) locked: bool,
}

#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// A WIT directory: its whole graph into `DIR/deps`, as `wit fetch DIR` (wkg's `fetch
    /// DIR`).
    #[arg(value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) deps: DepsArgs,
    /// The directory to write `<ns>/<name>.wasm` files into (default: `deps`).
    #[arg(short, long, value_name = "DIR")]
    pub(crate) output: Option<PathBuf>,
    /// For a WIT project: write `wit/deps` as `wit` text or `wasm` binary packages.
    #[arg(short = 't', long = "type", value_enum)]
    pub(crate) output_type: Option<DepsType>,
    /// Fetch for every member of the `wkg.toml` workspace here or above (`[workspace]
    /// members`), as `wkg fetch` does in a workspace root: the lock file and `wkg/deps` at
    /// the root, members taking each other from their directories.
    #[arg(long)]
    pub(crate) workspace: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LockArgs {
    #[command(flatten)]
    pub(crate) deps: DepsArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print every effective value (credentials redacted).
    #[command(after_help = "Examples:\n  wreg config show --origin")]
    Show {
        /// Say where each value comes from.
        #[arg(long)]
        origin: bool,
    },
    /// Print the effective value(s) at a key.
    #[command(
        after_help = "Examples:\n  wreg config get default_registry\n  wreg config get 'registry.\"ghcr.io\"'"
    )]
    Get {
        /// A dotted key.
        key: String,
    },
    /// Set a key in the user file (default) or the project file, keeping its comments.
    #[command(
        after_help = "Examples:\n  wreg config set default_registry ghcr.io\n  wreg config set --project namespace_registries.acme localhost:5000"
    )]
    Set {
        /// A dotted key.
        key: String,
        /// The value: TOML (`true`, `5`, `\"text\"`) or plain text.
        value: String,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Remove a key from the user file (default) or the project file.
    #[command(
        after_help = "Examples:\n  wreg config unset namespace_registries.acme\n  wreg config unset --project default_registry"
    )]
    Unset {
        /// A dotted key.
        key: String,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Print the config files, lowest precedence first.
    #[command(after_help = "Examples:\n  wreg config path\n  wreg --json config path")]
    Path,
}

#[derive(Debug, Args)]
pub(crate) struct TargetArgs {
    /// Change the user file.
    #[arg(long, conflicts_with = "project")]
    pub(crate) user: bool,
    /// Change the nearest project file (`.wasm-pkg/config.toml`).
    #[arg(long)]
    pub(crate) project: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// List cached content.
    #[command(after_help = "Examples:\n  wreg cache ls\n  wreg --json cache ls")]
    Ls,
    /// Re-hash every entry; remove and report corrupt ones.
    #[command(after_help = "Examples:\n  wreg cache verify")]
    Verify,
    /// Remove cached content (all, or older than a duration such as `7d`, `12h`, `30m`).
    #[command(after_help = "Examples:\n  wreg cache clean\n  wreg cache clean --older-than 30d")]
    Clean {
        /// Only entries not used for this long.
        #[arg(long, value_name = "DURATION")]
        older_than: Option<String>,
    },
}
