//! The path arguments of every command, and what each must have done; the fixtures they
//! use.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use test_support::component::{self, Spec};

use super::{Case, Kind, Run};
use crate::{Home, s};

pub(super) fn widget() -> Vec<u8> {
    component::small("widget 1.0.0")
}

pub(super) fn producer() -> Vec<u8> {
    component::build(&Spec {
        imports: &["dep"],
        exports: &["greet"],
        ..Spec::default()
    })
}

pub(super) fn consumer() -> Vec<u8> {
    component::build(&Spec {
        imports: &["greet"],
        exports: &["run"],
        ..Spec::default()
    })
}

/// `acme:api@1.0.0`, a WIT package.
pub(super) fn api() -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let id = resolve
        .push_str(
            "api.wit",
            "package acme:api@1.0.0;\ninterface greet { hello: func() -> string; }\n",
        )
        .unwrap();
    wit_component::encode(&resolve, id, false).unwrap()
}

pub(super) const APP_WIT: &str =
    "package my:app@0.1.0;\n\nworld app {\n  import acme:api/greet@1.0.0;\n}\n";

/// A composition of the registry's producer and consumer, or of the names given.
pub(super) fn document(producer: &str, consumer: &str) -> String {
    format!(
        "package app:composition;\n\nlet producer = new {producer} {{ ... }};\n\
         let consumer = new {consumer} {{ greet: producer.greet }};\nexport consumer...;\n"
    )
}

/// A release put straight into the home's directory registry.
pub(super) fn release(home: &Home, package: &str, version: &str, bytes: &[u8]) {
    let (ns, name) = package.split_once(':').unwrap();
    let dir = home.path(&format!("registry/{ns}/{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{version}.wasm")), bytes).unwrap();
}

/// A home with `proj`, `elsewhere`, `real` and `link` (to `proj`), a second directory
/// registry `other.test`, and the releases every case may use.
pub(super) fn home() -> Home {
    let home = Home::new("");
    let mut config = std::fs::read_to_string(home.path("config.toml")).unwrap();
    config.push_str(&format!(
        "[registry.\"other.test\".local]\nroot = {:?}\n",
        s(&home.path("registry2"))
    ));
    std::fs::write(home.path("config.toml"), config).unwrap();
    for dir in ["proj", "elsewhere", "real"] {
        std::fs::create_dir(home.path(dir)).unwrap();
    }
    symlink(home.path("proj"), home.path("link")).unwrap();
    release(&home, "acme:widget", "1.0.0", &widget());
    release(&home, "acme:api", "1.0.0", &api());
    release(&home, "acme:producer", "1.0.0", &producer());
    release(&home, "acme:consumer", "1.0.0", &consumer());
    home
}

/// Writes `text` at `rel` below the home, making its directory.
pub(super) fn put(home: &Home, rel: &str, bytes: impl AsRef<[u8]>) {
    let path = home.path(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

pub(super) fn mkdir(home: &Home, rel: &str) {
    std::fs::create_dir_all(home.path(rel)).unwrap();
}

/// `proj/wkg.lock`, pinning `acme:widget@1.0.0` for `^1`.
pub(super) fn lock_file(home: &Home) {
    home.ok(&[
        "lock",
        "--dep",
        "acme:widget@^1",
        "--lock",
        s(&home.path("proj/wkg.lock")),
    ]);
}

pub(super) fn valid_component(run: &Run<'_>, path: &Path) {
    component::validate(&run.read(path));
}

/// The name of the WIT package in a binary WIT package.
pub(super) fn wit_package_name(bytes: &[u8]) -> String {
    match wit_parser::decoding::decode(bytes).unwrap() {
        wit_parser::decoding::DecodedWasm::WitPackage(resolve, id) => {
            resolve.packages[id].name.to_string()
        }
        wit_parser::decoding::DecodedWasm::Component(..) => panic!("a component"),
    }
}

/// The cache directory holds the widget, and nothing else.
fn cached_widget(r: &Run<'_>) {
    let content = r.target.join("content/sha256");
    let entries: Vec<PathBuf> = std::fs::read_dir(&content)
        .unwrap_or_else(|e| panic!("{}: {e}", content.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(r.read(&entries[0]), widget());
}

pub(super) const CASES: &[Case] = &[
    Case {
        name: "--config FILE, read",
        rel: "conf/my.toml",
        kind: Kind::Input,
        setup: |h| {
            put(
                h,
                "proj/conf/my.toml",
                "[namespace_registries]\nacme = \"mine.example\"\n",
            )
        },
        args: &[
            "--config",
            "{}",
            "config",
            "get",
            "namespace_registries.acme",
        ],
        check: |r| assert_eq!(r.stdout, "mine.example\n"),
    },
    Case {
        name: "--config FILE, written by config set",
        rel: "conf/my.toml",
        kind: Kind::Input,
        setup: |h| {
            put(
                h,
                "proj/conf/my.toml",
                "[namespace_registries]\nacme = \"mine.example\"\n",
            )
        },
        args: &[
            "--config",
            "{}",
            "config",
            "set",
            "namespace_registries.set",
            "set.example",
        ],
        check: |r| {
            let text = r.text(&r.target);
            assert!(
                text.contains("set = \"set.example\"") && text.contains("mine.example"),
                "{text}"
            );
        },
    },
    Case {
        name: "--manifest-path CARGO_TOML",
        rel: "app/Cargo.toml",
        kind: Kind::Input,
        setup: |h| {
            put(
                h,
                "proj/app/Cargo.toml",
                "[package]\nname = \"app\"\n[package.metadata.component]\npackage = \"a:app\"\n\
                 [package.metadata.component.registries]\ndefault = \"manifest.example\"\n",
            );
        },
        args: &["--manifest-path", "{}", "config", "get", "default_registry"],
        check: |r| assert_eq!(r.stdout, "manifest.example\n"),
    },
    Case {
        name: "--cache-dir DIR",
        rel: "cache",
        kind: Kind::OutputDir,
        setup: |_| {},
        args: &[
            "--cache-dir",
            "{}",
            "get",
            "acme:widget@1.0.0",
            "-o",
            "$HOME/got.wasm",
        ],
        check: cached_widget,
    },
    Case {
        name: "--cache DIR (wkg's spelling)",
        rel: "cache",
        kind: Kind::OutputDir,
        setup: |_| {},
        args: &[
            "--cache",
            "{}",
            "get",
            "acme:widget@1.0.0",
            "-o",
            "$HOME/got.wasm",
        ],
        check: cached_widget,
    },
    Case {
        name: "get -o FILE",
        rel: "out/w.wasm",
        kind: Kind::OutputFile,
        setup: |h| mkdir(h, "proj/out"),
        args: &["get", "acme:widget@1.0.0", "-o", "{}"],
        check: |r| assert_eq!(r.read(&r.target), widget()),
    },
    Case {
        name: "get -o DIR",
        rel: "out",
        kind: Kind::Input,
        setup: |h| mkdir(h, "proj/out"),
        args: &["get", "acme:widget@1.0.0", "-o", "{}"],
        check: |r| assert_eq!(r.read(&r.target.join("acme_widget@1.0.0.wasm")), widget()),
    },
    Case {
        name: "get --format wit -o FILE",
        rel: "out/api.wit",
        kind: Kind::OutputFile,
        setup: |h| mkdir(h, "proj/out"),
        args: &["get", "acme:api@1.0.0", "--format", "wit", "-o", "{}"],
        check: |r| {
            let text = r.text(&r.target);
            assert!(
                text.contains("package acme:api@1.0.0;") && text.contains("interface greet"),
                "{text}"
            );
        },
    },
    Case {
        name: "fetch --deps FILE",
        rel: "conf/deps.toml",
        kind: Kind::Input,
        setup: |h| {
            // A `path` in the file is taken from the file's directory (as named).
            put(
                h,
                "proj/conf/deps.toml",
                "[dependencies]\n\"acme:widget\" = \"1\"\n\
                 \"acme:local\" = { path = \"local.wasm\" }\n",
            );
            put(h, "proj/conf/local.wasm", component::small("local"));
        },
        args: &["fetch", "--deps", "{}"],
        check: |r| {
            assert_eq!(r.read(&r.cwd.join("deps/acme/widget.wasm")), widget());
            assert_eq!(
                r.read(&r.cwd.join("deps/acme/local.wasm")),
                component::small("local")
            );
        },
    },
    Case {
        name: "fetch -o DIR",
        rel: "vendor",
        kind: Kind::OutputDir,
        setup: |_| {},
        args: &["fetch", "--dep", "acme:widget@1", "-o", "{}"],
        check: |r| assert_eq!(r.read(&r.target.join("acme/widget.wasm")), widget()),
    },
    Case {
        name: "fetch --wit DIR",
        rel: "wit",
        kind: Kind::Input,
        setup: |h| put(h, "proj/wit/app.wit", APP_WIT),
        args: &["fetch", "--wit", "{}"],
        check: |r| assert_eq!(r.read(&r.cwd.join("deps/acme/api.wasm")), api()),
    },
    Case {
        name: "lock --lock FILE",
        rel: "locks/my.lock",
        kind: Kind::OutputFile,
        setup: |h| mkdir(h, "proj/locks"),
        args: &["lock", "--dep", "acme:widget@1", "--lock", "{}"],
        check: |r| {
            let text = r.text(&r.target);
            assert!(
                text.contains("name = \"acme:widget\"") && text.contains("version = \"1.0.0\""),
                "{text}"
            );
        },
    },
    Case {
        name: "tree --lock FILE",
        rel: "wkg.lock",
        kind: Kind::Input,
        setup: lock_file,
        args: &["tree", "--lock", "{}"],
        check: |r| assert!(r.stdout.contains("acme:widget@1.0.0"), "{}", r.stdout),
    },
    Case {
        name: "update --lock FILE",
        rel: "wkg.lock",
        kind: Kind::Input,
        setup: |h| {
            lock_file(h);
            release(h, "acme:widget", "1.1.0", &component::small("widget 1.1.0"));
        },
        args: &["update", "--lock", "{}"],
        check: |r| {
            let text = r.text(&r.target);
            assert!(text.contains("version = \"1.1.0\""), "{text}");
        },
    },
    Case {
        name: "wit fetch DIR",
        rel: "wit",
        kind: Kind::Input,
        setup: |h| put(h, "proj/wit/app.wit", APP_WIT),
        args: &["wit", "fetch", "{}"],
        check: |r| {
            let text = r.text(&r.target.join("deps/acme-api-1.0.0/package.wit"));
            assert!(text.contains("interface greet"), "{text}");
        },
    },
    Case {
        name: "fetch DIR (a WIT directory, as wkg's fetch DIR)",
        rel: "wit",
        kind: Kind::Input,
        setup: |h| put(h, "proj/wit/app.wit", APP_WIT),
        args: &["fetch", "{}"],
        check: |r| {
            let text = r.text(&r.target.join("deps/acme-api-1.0.0/package.wit"));
            assert!(text.contains("interface greet"), "{text}");
        },
    },
    Case {
        name: "update -d DIR",
        rel: "wit",
        kind: Kind::Input,
        setup: |h| put(h, "proj/wit/app.wit", APP_WIT),
        args: &["update", "-d", "{}"],
        check: |r| {
            let text = r.text(&r.target.join("deps/acme-api-1.0.0/package.wit"));
            assert!(text.contains("interface greet"), "{text}");
            let lock = r.text(&r.cwd.join("wkg.lock"));
            assert!(lock.contains("name = \"acme:api\""), "{lock}");
        },
    },
    Case {
        name: "build -d DIR",
        rel: "wit",
        kind: Kind::Input,
        setup: |h| put(h, "proj/wit/app.wit", APP_WIT),
        args: &["build", "-d", "{}", "-o", "$HOME/built.wasm"],
        check: |r| {
            assert_eq!(
                wit_package_name(&r.read(&r.home.path("built.wasm"))),
                "my:app@0.1.0"
            );
        },
    },
    Case {
        name: "wit build -d DIR",
        rel: "wit",
        kind: Kind::Input,
        setup: |h| put(h, "proj/wit/app.wit", APP_WIT),
        args: &["wit", "build", "-d", "{}", "-o", "$HOME/built.wasm"],
        check: |r| {
            assert_eq!(
                wit_package_name(&r.read(&r.home.path("built.wasm"))),
                "my:app@0.1.0"
            )
        },
    },
    Case {
        name: "wit build -o FILE",
        rel: "out/app.wasm",
        kind: Kind::OutputFile,
        setup: |h| {
            put(h, "proj/wit/app.wit", APP_WIT);
            mkdir(h, "proj/out");
        },
        args: &["wit", "build", "-d", "$HOME/proj/wit", "-o", "{}"],
        check: |r| assert_eq!(wit_package_name(&r.read(&r.target)), "my:app@0.1.0"),
    },
    Case {
        name: "publish DIR",
        rel: "wit",
        kind: Kind::Input,
        setup: |h| put(h, "proj/wit/app.wit", APP_WIT),
        args: &["publish", "{}"],
        check: |r| {
            let published = r.read(&r.home.path("registry/my/app/0.1.0.wasm"));
            assert_eq!(wit_package_name(&published), "my:app@0.1.0");
        },
    },
    Case {
        name: "publish FILE",
        rel: "files/c.wasm",
        kind: Kind::Input,
        setup: |h| put(h, "proj/files/c.wasm", component::small("published")),
        args: &["publish", "{}", "--package", "acme:published@1.0.0"],
        check: |r| {
            assert_eq!(
                r.read(&r.home.path("registry/acme/published/1.0.0.wasm")),
                component::small("published")
            );
        },
    },
    Case {
        name: "compose PATH",
        rel: "app.wac",
        kind: Kind::Input,
        setup: |h| {
            put(
                h,
                "proj/app.wac",
                document("acme:producer", "acme:consumer"),
            )
        },
        args: &["compose", "{}", "-o", "$HOME/composed.wasm"],
        check: |r| valid_component(r, &r.home.path("composed.wasm")),
    },
    Case {
        name: "compose -o FILE",
        rel: "out/app.wasm",
        kind: Kind::OutputFile,
        setup: |h| {
            put(
                h,
                "proj/app.wac",
                document("acme:producer", "acme:consumer"),
            );
            mkdir(h, "proj/out");
        },
        args: &["compose", "$HOME/proj/app.wac", "-o", "{}"],
        check: |r| valid_component(r, &r.target),
    },
    Case {
        name: "compose --deps-dir DIR",
        rel: "mydeps",
        kind: Kind::Input,
        setup: |h| {
            // Packages no registry has: found in the directory or not at all.
            put(h, "proj/mydeps/acme/dirprod.wasm", producer());
            put(h, "proj/mydeps/acme/dircons.wasm", consumer());
            put(h, "proj/app.wac", document("acme:dirprod", "acme:dircons"));
        },
        args: &[
            "compose",
            "$HOME/proj/app.wac",
            "--deps-dir",
            "{}",
            "-o",
            "$HOME/composed.wasm",
        ],
        check: |r| valid_component(r, &r.home.path("composed.wasm")),
    },
    Case {
        name: "compose --dep PKG=PATH",
        rel: "files/p.wasm",
        kind: Kind::Input,
        setup: |h| {
            put(h, "proj/files/p.wasm", producer());
            put(
                h,
                "proj/app.wac",
                document("acme:fileprod", "acme:consumer"),
            );
        },
        args: &[
            "compose",
            "$HOME/proj/app.wac",
            "--dep",
            "acme:fileprod={}",
            "-o",
            "$HOME/composed.wasm",
        ],
        check: |r| valid_component(r, &r.home.path("composed.wasm")),
    },
    Case {
        name: "plug SOCKET_FILE",
        rel: "files/socket.wasm",
        kind: Kind::Input,
        setup: |h| put(h, "proj/files/socket.wasm", consumer()),
        args: &[
            "plug",
            "{}",
            "--plug",
            "acme:producer@1.0.0",
            "-o",
            "$HOME/plugged.wasm",
        ],
        check: |r| valid_component(r, &r.home.path("plugged.wasm")),
    },
    Case {
        name: "plug --plug FILE",
        rel: "files/plug.wasm",
        kind: Kind::Input,
        setup: |h| put(h, "proj/files/plug.wasm", producer()),
        args: &[
            "plug",
            "acme:consumer@1.0.0",
            "--plug",
            "{}",
            "-o",
            "$HOME/plugged.wasm",
        ],
        check: |r| valid_component(r, &r.home.path("plugged.wasm")),
    },
    Case {
        name: "plug -o FILE",
        rel: "out/plugged.wasm",
        kind: Kind::OutputFile,
        setup: |h| mkdir(h, "proj/out"),
        args: &[
            "plug",
            "acme:consumer@1.0.0",
            "--plug",
            "acme:producer@1.0.0",
            "-o",
            "{}",
        ],
        check: |r| valid_component(r, &r.target),
    },
    Case {
        name: "bundle export DIR",
        rel: "bundle",
        kind: Kind::OutputDir,
        setup: |_| {},
        args: &["bundle", "export", "{}", "acme:widget@1.0.0"],
        check: |r| {
            let index = r.text(&r.target.join("index.json"));
            assert!(index.contains("\"acme:widget@1.0.0\""), "{index}");
        },
    },
    Case {
        name: "bundle export --lock FILE",
        rel: "wkg.lock",
        kind: Kind::Input,
        setup: lock_file,
        args: &["bundle", "export", "$HOME/bundle", "--lock", "{}"],
        check: |r| {
            let index = r.text(&r.home.path("bundle/index.json"));
            assert!(index.contains("\"acme:widget@1.0.0\""), "{index}");
        },
    },
    Case {
        name: "bundle import DIR",
        rel: "bundle",
        kind: Kind::Input,
        setup: |h| {
            h.ok(&[
                "bundle",
                "export",
                s(&h.path("proj/bundle")),
                "acme:widget@1.0.0",
            ]);
        },
        args: &["bundle", "import", "{}", "--registry", "other.test"],
        check: |r| {
            assert_eq!(
                r.read(&r.home.path("registry2/acme/widget/1.0.0.wasm")),
                widget()
            )
        },
    },
    Case {
        name: "manpages DIR",
        rel: "man",
        kind: Kind::OutputDir,
        setup: |_| {},
        args: &["manpages", "{}"],
        check: |r| assert!(r.text(&r.target.join("wreg-get.1")).contains("wreg\\-get")),
    },
];
