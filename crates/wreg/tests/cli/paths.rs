//! Every path a user passes, written each way people write paths: relative to the working
//! directory, absolute, through `..` from a sibling directory, through a symbolic link to
//! the project directory, and as a symbolic link itself (to a file or directory elsewhere).
//! Each run must succeed and do its work at the path meant: the file written there with the
//! right bytes, the value read from there. Then the paths that do not exist.
#![cfg(unix)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Output;

use test_support::component;

mod cases;

use cases::{APP_WIT, CASES, document, home, put, widget, wit_package_name};

use super::{Home, s};

/// How the path argument is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    /// `<rel>`, run in `proj`.
    Relative,
    /// `$HOME/proj/<rel>`, run in `elsewhere`.
    Absolute,
    /// `../proj/<rel>`, run in `elsewhere`.
    DotDot,
    /// `../link/<rel>`, run in `elsewhere`; `link` is a symbolic link to `proj`.
    LinkedDir,
    /// `<rel>`, run in `proj`, where `proj/<rel>` is a symbolic link to `real/<name>`.
    LinkedLeaf,
}

const WAYS: [Way; 5] = [
    Way::Relative,
    Way::Absolute,
    Way::DotDot,
    Way::LinkedDir,
    Way::LinkedLeaf,
];

/// What the path is to the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Read (or updated) by the command; the case's setup makes it. As a link
    /// ([`Way::LinkedLeaf`]) it is moved to `real/` and linked to from where it was.
    Input,
    /// A file the command makes. As a link: a link to `real/<name>`, not there yet, which
    /// must be written through (the link stays).
    OutputFile,
    /// A directory the command makes or fills. As a link: a link to the empty `real/<name>`.
    OutputDir,
}

/// One path argument of one command.
struct Case {
    name: &'static str,
    /// The path, below `proj`.
    rel: &'static str,
    kind: Kind,
    /// Makes what the command needs (below `$HOME`); runs before the path is linked.
    setup: fn(&Home),
    /// `{}` is the path as written; `$HOME` the home directory. `--config` and
    /// `--cache-dir` (absolute) are added unless given.
    args: &'static [&'static str],
    check: fn(&Run<'_>),
}

/// What a case's check looks at.
struct Run<'a> {
    home: &'a Home,
    /// Where the path really is (through every link).
    target: PathBuf,
    /// The working directory the command ran in.
    cwd: PathBuf,
    stdout: String,
}

impl Run<'_> {
    fn read(&self, path: &Path) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn text(&self, path: &Path) -> String {
        String::from_utf8(self.read(path)).unwrap()
    }
}

/// `wreg args` in `cwd`, with the home's `--config` and `--cache-dir` (absolute) unless the
/// arguments give their own.
fn wreg_in(home: &Home, cwd: &Path, args: &[impl AsRef<std::ffi::OsStr>]) -> Output {
    let given = |flag: &str| args.iter().any(|a| a.as_ref() == flag);
    let mut command = home.bare();
    command.current_dir(cwd);
    if !given("--config") {
        command.arg("--config").arg(home.path("config.toml"));
    }
    if !given("--cache-dir") && !given("--cache") {
        command.arg("--cache-dir").arg(home.path("cache"));
    }
    command.args(args).output().unwrap()
}

/// Runs `case` written `way` in a home of its own; panics with what went wrong.
fn run(case: &Case, way: Way) {
    let home = home();
    (case.setup)(&home);
    let at = home.path("proj").join(case.rel);
    let target = if way == Way::LinkedLeaf {
        let real = home.path("real").join(at.file_name().unwrap());
        match case.kind {
            Kind::Input => std::fs::rename(&at, &real).unwrap(),
            Kind::OutputFile => {}
            Kind::OutputDir => std::fs::create_dir(&real).unwrap(),
        }
        symlink(&real, &at).unwrap();
        real
    } else {
        at.clone()
    };
    let (cwd, written) = match way {
        Way::Relative | Way::LinkedLeaf => (home.path("proj"), case.rel.to_owned()),
        Way::Absolute => (home.path("elsewhere"), s(&at).to_owned()),
        Way::DotDot => (home.path("elsewhere"), format!("../proj/{}", case.rel)),
        Way::LinkedDir => (home.path("elsewhere"), format!("../link/{}", case.rel)),
    };
    let home_dir = s(home.dir.path()).to_owned();
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| a.replace("{}", &written).replace("$HOME", &home_dir))
        .collect();
    let out = wreg_in(&home, &cwd, &args);
    assert!(
        out.status.success(),
        "wreg {} in {}: {}",
        args.join(" "),
        cwd.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (case.check)(&Run {
        home: &home,
        target,
        cwd,
        stdout: String::from_utf8(out.stdout).unwrap(),
    });
    if way == Way::LinkedLeaf {
        assert!(
            std::fs::symlink_metadata(&at).unwrap().is_symlink(),
            "the link {} was replaced",
            at.display()
        );
    }
}

#[test]
fn every_path_argument_works_relative_absolute_with_dotdot_and_through_links() {
    let mut failed = Vec::new();
    for case in CASES {
        for way in WAYS {
            let result = std::panic::catch_unwind(|| run(case, way));
            if let Err(panic) = result {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|m| (*m).to_owned()))
                    .unwrap_or_default();
                failed.push(format!("{} ({way:?}): {message}", case.name));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} runs failed:\n{}",
        failed.len(),
        CASES.len() * WAYS.len(),
        failed.join("\n\n")
    );
}

/// A path that is not there: the error names it as typed and says what to do; nothing is
/// written on the way.
#[test]
fn a_path_that_is_not_there_is_named_with_what_to_do() {
    let home = home();
    let in_proj = |args: &[&str], code: i32| {
        let out = wreg_in(&home, &home.path("proj"), args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "wreg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        home.redact(&String::from_utf8_lossy(&out.stderr))
    };
    let cases: &[(&[&str], i32, &[&str])] = &[
        (
            &["--config", "nope.toml", "config", "show"],
            64,
            &[
                "--config nope.toml: no such file (in ",
                "give the path of an existing config file",
            ],
        ),
        (
            &["--manifest-path", "app/Cargo.toml", "config", "show"],
            64,
            &[
                "--manifest-path app/Cargo.toml: no such file (in ",
                "give the path of a Cargo.toml",
            ],
        ),
        (
            &[
                "lock",
                "--dep",
                "acme:widget@1",
                "--lock",
                "../missing/wkg.lock",
            ],
            74,
            &[
                "I/O error on `../missing/wkg.lock`",
                "the directory ../missing does not exist; create it, or give a path in a \
                 directory that exists",
            ],
        ),
        (
            &[
                "fetch",
                "--dep",
                "acme:widget@1",
                "--lock",
                "../missing/wkg.lock",
            ],
            74,
            &["the directory ../missing does not exist"],
        ),
        (
            &["tree", "--lock", "../missing/wkg.lock"],
            64,
            &["there is no lock file at ../missing/wkg.lock;"],
        ),
        (
            &["fetch", "--deps", "../missing/deps.toml"],
            74,
            &[
                "I/O error on `../missing/deps.toml`",
                "hint: ../missing does not exist (in ../missing/deps.toml); a relative path \
                 is taken from the working directory, $HOME/proj; check the path",
            ],
        ),
        (
            &["compose", "app.wac", "-o", "app.wasm"],
            74,
            &[
                "cannot read the wac document app.wac",
                "hint: app.wac does not exist; a relative path is taken from the working \
                 directory, $HOME/proj; check the path",
            ],
        ),
        (
            &["publish", "$HOME/nope.wasm", "--package", "acme:nope@1.0.0"],
            74,
            &["hint: $HOME/nope.wasm does not exist; check the path"],
        ),
        (
            &["wit", "fetch", "../wit"],
            64,
            &["../wit is not a directory; give the WIT directory"],
        ),
    ];
    let home_dir = s(home.dir.path()).to_owned();
    for (args, code, said) in cases {
        let args: Vec<String> = args.iter().map(|a| a.replace("$HOME", &home_dir)).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = in_proj(&args, *code);
        for words in *said {
            assert!(
                err.contains(words),
                "wreg {args:?}:\n{err}\nshould say: {words}"
            );
        }
    }
    assert!(!home.path("missing").exists(), "no directory was made");
    assert!(!home.path("proj/deps").exists() && !home.path("proj/app.wasm").exists());
}

/// `-o` into a directory that is not there yet makes it, for every command that writes a
/// file (as `get -o` and `fetch -o` always have).
#[test]
fn an_output_in_a_missing_directory_is_written_there() {
    let home = home();
    put(&home, "proj/wit/app.wit", APP_WIT);
    put(
        &home,
        "proj/app.wac",
        document("acme:producer", "acme:consumer"),
    );
    let runs: &[&[&str]] = &[
        &["get", "acme:widget@1.0.0", "-o", "new/get/x.wasm"],
        &[
            "get",
            "acme:api@1.0.0",
            "--format",
            "wit",
            "-o",
            "new/wit/x.wit",
        ],
        &["wit", "build", "-o", "new/build/x.wasm"],
        &["compose", "app.wac", "-o", "new/compose/x.wasm"],
        &[
            "plug",
            "acme:consumer",
            "--plug",
            "acme:producer",
            "-o",
            "new/plug/x.wasm",
        ],
    ];
    for args in runs {
        let out = wreg_in(&home, &home.path("proj"), args);
        assert!(
            out.status.success(),
            "wreg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let written = home.path("proj").join(args.last().unwrap());
        let bytes = std::fs::read(&written).unwrap();
        assert!(!bytes.is_empty(), "{}", written.display());
    }
    assert_eq!(
        std::fs::read(home.path("proj/new/get/x.wasm")).unwrap(),
        widget()
    );
    let wit = std::fs::read_to_string(home.path("proj/new/wit/x.wit")).unwrap();
    assert!(wit.contains("package acme:api@1.0.0;"), "{wit}");
    assert_eq!(
        wit_package_name(&std::fs::read(home.path("proj/new/build/x.wasm")).unwrap()),
        "my:app@0.1.0"
    );
    component::validate(&std::fs::read(home.path("proj/new/compose/x.wasm")).unwrap());
    component::validate(&std::fs::read(home.path("proj/new/plug/x.wasm")).unwrap());
}

/// Files the user asked for are readable as a plain write leaves them (0644), or keep the
/// mode of the file they replace.
#[test]
fn outputs_are_shared_files_or_keep_the_mode_they_replace() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = home();
    let mode = |rel: &str| {
        std::fs::metadata(home.path(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    home.ok(&["get", "acme:widget@1.0.0", "-o", "got.wasm"]);
    home.ok(&["fetch", "--dep", "acme:widget@1"]);
    home.ok(&["get", "acme:api@1.0.0", "--format", "wit", "-o", "api.wit"]);
    assert_eq!(
        [
            mode("got.wasm"),
            mode("deps/acme/widget.wasm"),
            mode("api.wit")
        ],
        [0o644; 3]
    );
    std::fs::set_permissions(
        home.path("got.wasm"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    home.ok(&["get", "acme:widget@1.0.0", "-o", "got.wasm"]);
    assert_eq!(mode("got.wasm"), 0o640);
}
