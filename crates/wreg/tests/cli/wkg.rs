//! A wkg user's world: wkg's environment variables, registries whose well-known document
//! is missing or is a web page, and releases published a moment ago.

use std::process::Output;

use test_support::Distribution;
use test_support::http::FrontEnd;

use super::{Home, s};

/// `wreg` with only the variables given (no `--config`, no `--cache-dir`).
fn wreg_with_env(home: &Home, vars: &[(&str, &str)], args: &[&str]) -> Output {
    home.bare()
        .envs(vars.iter().copied())
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn wkg_config_file_cache_dir_and_registry_variables() {
    let home = Home::new("");
    let config = home.path("config.toml");
    let cache = home.path("wkg-cache");
    let vars = [
        ("WKG_CONFIG_FILE", s(&config)),
        ("WKG_CACHE_DIR", s(&cache)),
    ];
    let one = home.component("one.wasm", "wkg env");
    ok(&wreg_with_env(
        &home,
        &vars,
        &["publish", s(&one), "--package", "acme:widget@1.0.0"],
    ));
    // The file WKG_CONFIG_FILE names is the user file: its values and their lines show.
    let shown = ok(&wreg_with_env(
        &home,
        &vars,
        &["config", "show", "--origin"],
    ));
    assert!(
        shown.contains(&format!(
            "default_registry = \"local.test\"  # {}:2:1",
            config.display()
        )),
        "{shown}"
    );
    let paths = ok(&wreg_with_env(&home, &vars, &["config", "path"]));
    assert!(
        paths.contains(&format!("{} (from WKG_CONFIG_FILE)", config.display())),
        "{paths}"
    );
    // WKG_CACHE_DIR is the cache.
    ok(&wreg_with_env(
        &home,
        &vars,
        &["fetch", "--dep", "acme:widget@1"],
    ));
    assert!(
        cache.join("content/sha256").is_dir(),
        "the cache is where WKG_CACHE_DIR says"
    );

    // WKG_REGISTRY is the registry of the command, over the configured one.
    let registry = Distribution::shared();
    let on_oci = home.component("oci.wasm", "wkg registry");
    let with_registry = [
        vars[0],
        vars[1],
        ("WKG_REGISTRY", registry.host().leak() as &str),
    ];
    ok(&wreg_with_env(
        &home,
        &with_registry,
        &["publish", s(&on_oci), "--package", "wkgenv:widget@4.0.0"],
    ));
    assert_eq!(
        ok(&wreg_with_env(
            &home,
            &with_registry,
            &["versions", "wkgenv:widget"]
        )),
        "4.0.0\n"
    );
    // ... and the flag wins over the variable.
    let out = wreg_with_env(
        &home,
        &with_registry,
        &["versions", "wkgenv:widget", "--registry", "local.test"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_registry_without_a_usable_document_gets_plain_oci_with_one_warning() {
    let registry = Distribution::shared();
    let home = Home::new("");
    let file = home.component("c.wasm", "front end");
    home.ok(&[
        "publish",
        s(&file),
        "--package",
        "frontend:widget@1.0.0",
        "--registry",
        &registry.host(),
    ]);
    let upstream: std::net::SocketAddr = registry.host().parse().unwrap();
    for (front_end, problem) in [
        (
            FrontEnd::answering(upstream, 200, "<!doctype html><html>Welcome</html>"),
            Some("is not JSON"),
        ),
        (
            FrontEnd::answering(upstream, 500, "oops"),
            Some("answered HTTP 500"),
        ),
        (
            FrontEnd::answering(upstream, 403, "no"),
            Some("answered HTTP 403"),
        ),
        (
            FrontEnd::stalling(upstream),
            Some("did not answer within 10s"),
        ),
        (FrontEnd::answering(upstream, 404, "not here"), None),
    ] {
        // The registry is behind a web front end that answers its well-known path itself;
        // nothing configures the registry, so its document is asked for.
        let fe = front_end.host();
        let home = Home::new(&format!("[namespace_registries]\nfrontend = \"{fe}\"\n"));
        let out = home.wreg(&["versions", "frontend:widget"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{problem:?}: {stderr}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "1.0.0\n");
        let url = format!("http://{fe}/.well-known/wasm-pkg/registry.json");
        match problem {
            Some(problem) => {
                assert_eq!(stderr.matches(&url).count(), 1, "one warning: {stderr}");
                assert!(stderr.contains(problem), "{stderr}");
                assert!(stderr.contains("using plain OCI defaults"), "{stderr}");
            }
            None => assert!(!stderr.contains("WARN"), "a 404 is no surprise: {stderr}"),
        }
    }
}

#[test]
fn a_release_published_a_moment_ago_is_seen_by_the_next_command() {
    let registry = Distribution::shared();
    let home = Home::new(&format!(
        "[namespace_registries]\nfresh = \"{}\"\n",
        registry.host()
    ));
    let one = home.component("one.wasm", "fresh 1");
    let two = home.component("two.wasm", "fresh 2");
    home.ok(&["publish", s(&one), "--package", "fresh:widget@1.0.0"]);
    assert_eq!(home.ok(&["versions", "fresh:widget"]), "1.0.0\n");
    home.ok(&["get", "fresh:widget@^1", "-o", "first.wasm"]);

    // Another machine (its own cache) publishes 1.1.0 ...
    let other = home
        .command("other-cache")
        .args(["publish", s(&two), "--package", "fresh:widget@1.1.0"])
        .output()
        .unwrap();
    assert!(
        other.status.success(),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    // ... and this one sees it at once, listing and resolving.
    assert_eq!(home.ok(&["versions", "fresh:widget"]), "1.1.0\n1.0.0\n");
    let out = home.ok(&["get", "fresh:widget@^1", "-o", "second.wasm"]);
    assert!(out.starts_with("fresh:widget@1.1.0"), "{out}");
    assert_eq!(
        std::fs::read(home.path("second.wasm")).unwrap(),
        std::fs::read(&two).unwrap()
    );
    // Offline, the last list seen is used.
    assert_eq!(
        home.ok(&["--offline", "versions", "fresh:widget"]),
        "1.1.0\n1.0.0\n"
    );
}

/// The manifest's annotations, as the registry serves them.
fn annotations(registry: &Distribution, repository: &str, tag: &str) -> serde_json::Value {
    let response = test_support::http::request(
        registry.host().parse().unwrap(),
        "GET",
        &format!("/v2/{repository}/manifests/{tag}"),
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        b"",
    )
    .unwrap();
    assert_eq!(response.status, 200);
    let manifest: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    manifest["annotations"].clone()
}

#[test]
fn wkg_toml_overrides_metadata_and_workspace() {
    let registry = Distribution::shared();
    let home = Home::new(&format!(
        "[namespace_registries]\nwkgtoml = \"{}\"\n",
        registry.host()
    ));
    let one = home.component("one.wasm", "wkg.toml 1");
    let two = home.component("two.wasm", "wkg.toml 2");
    let local = home.component("local.wasm", "wkg.toml local");
    home.ok(&["publish", s(&one), "--package", "acme:widget@1.0.0"]);
    home.ok(&["publish", s(&two), "--package", "acme:widget@1.1.0"]);
    std::fs::create_dir_all(home.path("wit-gadget")).unwrap();
    std::fs::write(
        home.path("wit-gadget/gadget.wit"),
        "package acme:gadget@0.1.0;\ninterface api { run: func(); }\n",
    )
    .unwrap();

    // [overrides]: a requirement, a local file and a local WIT directory.
    std::fs::write(
        home.path("wkg.toml"),
        "[overrides]\n\"acme:widget\" = { version = \"=1.0.0\" }\n\
         \"acme:thing\" = { path = \"local.wasm\" }\n\
         \"acme:gadget\" = { path = \"wit-gadget\" }\n",
    )
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&home.ok(&[
        "--json",
        "fetch",
        "--dep",
        "acme:widget@^1",
        "--dep",
        "acme:thing@^9",
        "--dep",
        "acme:gadget@0.1",
    ]))
    .unwrap();
    assert_eq!(
        json[0]["version"], "1.0.0",
        "the override's requirement: {json}"
    );
    assert_eq!(
        std::fs::read(home.path("deps/acme/thing.wasm")).unwrap(),
        std::fs::read(&local).unwrap()
    );
    let gadget = std::fs::read(home.path("deps/acme/gadget.wasm")).unwrap();
    assert!(gadget.starts_with(b"\0asm"), "the WIT directory, encoded");

    // A mistake names the file, line and key (a configuration error: 78).
    std::fs::write(
        home.path("wkg.toml"),
        "[overrides]\n\"acme:widget\" = { verison = \"1\" }\n",
    )
    .unwrap();
    let err = home.fails(&["fetch", "--dep", "acme:widget@^1"], 78);
    assert!(
        err.contains("wkg.toml:2:") && err.contains("overrides.\"acme:widget\".verison"),
        "{err}"
    );
    std::fs::remove_file(home.path("wkg.toml")).unwrap();

    // [metadata] becomes annotations; a member of a [workspace] adds the root's metadata.
    std::fs::write(
        home.path("wkg.toml"),
        "[workspace]\nmembers = [\"member\"]\n[workspace.metadata]\nlicenses = \"MIT\"\n\
         description = \"from the workspace\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(home.path("member")).unwrap();
    std::fs::write(
        home.path("member/wkg.toml"),
        "[metadata]\ndescription = \"a member\"\nauthor = \"Acme\"\n",
    )
    .unwrap();
    let out = home
        .command("cache")
        .current_dir(home.path("member"))
        .args(["publish", s(&one), "--package", "wkgtoml:widget@1.0.0"])
        .output()
        .unwrap();
    ok(&out);
    let annotations = annotations(registry, "wkgtoml/widget", "1.0.0");
    assert_eq!(
        annotations["org.opencontainers.image.description"],
        "a member"
    );
    assert_eq!(annotations["org.opencontainers.image.authors"], "Acme");
    assert_eq!(annotations["org.opencontainers.image.licenses"], "MIT");
}
