//! `wreg bundle`: a lock file's releases carried to a site without a network, read there
//! as a registry, pushed into the site's registry; and skopeo reading our bundles and
//! writing layouts we read.

use test_support::{Distribution, component, is_listening, skopeo};

use crate::{Home, s};

/// Every file below `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_bundle_carries_a_lock_file_to_a_site_without_a_network() {
    let upstream = Distribution::start().unwrap_or_else(|e| panic!("{e}"));
    let home = Home::new(&format!(
        "[namespace_registries]\nfleet = \"{}\"\n",
        upstream.host()
    ));
    for (name, version) in [("fleet:a", "1.0.0"), ("fleet:b", "1.1.0")] {
        let file = home.component(&format!("{name}.wasm"), &format!("{name}@{version}"));
        home.ok(&[
            "publish",
            s(&file),
            "--package",
            &format!("{name}@{version}"),
        ]);
    }
    home.ok(&["lock", "--dep", "fleet:a@^1", "--dep", "fleet:b@^1"]);

    // Export what the lock file pins.
    let out = home.ok(&["bundle", "export", "bundle"]);
    assert!(out.contains("fleet:a@1.0.0 added (sha256:"), "{out}");
    assert!(out.contains("fleet:b@1.1.0 added"), "{out}");
    let index = std::fs::read_to_string(home.path("bundle/index.json")).unwrap();
    assert!(
        index.contains("\"org.opencontainers.image.ref.name\": \"fleet:a@1.0.0\""),
        "{index}"
    );
    // Exporting again makes the same bundle, byte for byte.
    home.ok(&["bundle", "export", "bundle"]);
    assert_eq!(
        std::fs::read_to_string(home.path("bundle/index.json")).unwrap(),
        index
    );

    // skopeo reads it: one release copied into the site's registry.
    let site = Distribution::start().unwrap_or_else(|e| panic!("{e}"));
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:fleet:a@1.0.0", s(&home.path("bundle"))),
        &format!("docker://{}/fleet/a:1.0.0", site.host()),
    ]);

    // The site has no network: the upstream is gone. The bundle, as a mirror of the
    // upstream, serves `fetch --locked` with an empty cache.
    let upstream_host = upstream.host();
    let upstream_addr = upstream.addr();
    drop(upstream);
    assert!(!is_listening(upstream_addr));
    let offline_config = home.path("offline.toml");
    std::fs::write(
        &offline_config,
        format!(
            "[namespace_registries]\nfleet = \"{upstream_host}\"\n\
             [registry.\"offline\".oci-layout]\npath = {:?}\n\
             [registry.\"{upstream_host}\".mirrors]\norder = [\"offline\"]\n",
            s(&home.path("bundle"))
        ),
    )
    .unwrap();
    home.ok_with(
        &offline_config,
        "site-cache",
        &[
            "fetch",
            "--locked",
            "--dep",
            "fleet:a@^1",
            "--dep",
            "fleet:b@^1",
            "-o",
            "site-deps",
        ],
    );
    let fetched: Vec<_> = walk(&home.path("site-deps"))
        .iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect();
    assert_eq!(fetched.len(), 2);
    assert!(fetched.contains(&component::small("fleet:b@1.1.0")));

    // Or the site pushes the bundle into its own registry: what skopeo copied is left alone.
    let out = home.ok(&["bundle", "import", "bundle", "--registry", &site.host()]);
    assert!(out.contains("fleet:a@1.0.0 already-there"), "{out}");
    assert!(out.contains("fleet:b@1.1.0 published"), "{out}");
    let got = home.wreg(&[
        "get",
        "fleet:b@1.1.0",
        "--registry",
        &site.host(),
        "-o",
        "-",
    ]);
    assert_eq!(got.stdout, component::small("fleet:b@1.1.0"));

    // A layout skopeo writes (named the registry way, `fleet/b:1.1.0`) is a registry too.
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{}/fleet/b:1.1.0", site.host()),
        &format!("oci:{}:fleet/b:1.1.0", s(&home.path("from-skopeo"))),
    ]);
    let skopeo_config = home.path("skopeo.toml");
    std::fs::write(
        &skopeo_config,
        format!(
            "[registry.\"copied\".oci-layout]\npath = {:?}\n",
            s(&home.path("from-skopeo"))
        ),
    )
    .unwrap();
    let got = home.ok_with(
        &skopeo_config,
        "skopeo-cache",
        &["get", "fleet:b@1.1.0", "--registry", "copied", "-o", "-"],
    );
    assert_eq!(got, component::small("fleet:b@1.1.0"));
}

#[test]
fn bundle_mistakes_are_named() {
    let home = Home::new("");
    let err = home.fails(&["bundle", "export", "out"], 1);
    assert!(err.contains("wkg.lock does not exist"), "{err}");
    let err = home.fails(&["bundle", "export", "out", "acme:x"], 64);
    assert!(err.contains("name an exact release"), "{err}");
    std::fs::create_dir(home.path("busy")).unwrap();
    std::fs::write(home.path("busy/notes.txt"), "mine").unwrap();
    let file = home.component("x.wasm", "x");
    home.ok(&["publish", s(&file), "--package", "acme:x@1.0.0"]);
    let err = home.fails(&["bundle", "export", "busy", "acme:x@1.0.0"], 64);
    assert!(
        err.contains("is not empty and is not an OCI image layout"),
        "{err}"
    );
    let err = home.fails(&["bundle", "import", "nothing-here"], 74);
    assert!(
        err.contains("I/O error on `nothing-here`")
            && err.contains("hint: nothing-here does not exist; a relative path is taken from"),
        "{err}"
    );
    std::fs::create_dir(home.path("empty")).unwrap();
    let err = home.fails(&["bundle", "import", "empty"], 74);
    assert!(err.contains("is empty an OCI image layout?"), "{err}");
}
