//! Mirrors: a real pull-through cache (docker-registry with `proxy: remoteurl:`) in front
//! of a real upstream, what happens when either is down, and a mirror that serves wrong
//! bytes.

use registry_client::{Dependency, LockFile, LockMode};
use registry_core::{Error, PublishOptions};
use test_support::{Distribution, component, is_listening};

use crate::support::{client_in as client, package, version};

const PACKAGES: &[(&str, &str)] = &[
    ("fleet:a", "1.0.0"),
    ("fleet:b", "1.0.0"),
    ("fleet:b", "1.1.0"),
];

/// `fleet` maps to `upstream`, read through `mirrors` first.
fn mirrored(upstream: &str, mirrors: &[&str]) -> String {
    let order: Vec<String> = mirrors.iter().map(|m| format!("{m:?}")).collect();
    format!(
        "[namespace_registries]\nfleet = \"{upstream}\"\n\
         [registry.\"{upstream}\".mirrors]\norder = [{}]\n",
        order.join(", ")
    )
}

async fn publish_all(dir: &std::path::Path, upstream: &Distribution) {
    let publisher = client(
        dir,
        "publisher-cache",
        &format!("[namespace_registries]\nfleet = \"{}\"\n", upstream.host()),
    );
    for (name, v) in PACKAGES {
        publisher
            .route(&package(name))
            .await
            .unwrap()
            .publish(
                &version(v),
                Box::pin(std::io::Cursor::new(component::small(&format!(
                    "{name}@{v}"
                )))),
                &PublishOptions::default(),
            )
            .await
            .unwrap();
    }
}

fn deps() -> Vec<Dependency> {
    vec![
        Dependency::new(package("fleet:a"), "^1".parse().unwrap()),
        Dependency::new(package("fleet:b"), "^1".parse().unwrap()),
    ]
}

fn catalog(registry: &Distribution) -> String {
    let response =
        test_support::http::request(registry.addr(), "GET", "/v2/_catalog", &[], &[]).unwrap();
    String::from_utf8_lossy(&response.body).into_owned()
}

#[tokio::test]
async fn a_pull_through_cache_serves_a_second_machine_after_the_upstream_is_gone() {
    let upstream = Distribution::start().unwrap_or_else(|e| panic!("{e}"));
    let cache = Distribution::start_pull_through(&upstream).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    publish_all(dir.path(), &upstream).await;
    assert_eq!(catalog(&cache), "{\"repositories\":[]}\n");

    // Machine 1 resolves through the cache and writes the lock file.
    let config = mirrored(&upstream.host(), &[&cache.host(), &upstream.host()]);
    let first = client(dir.path(), "machine-1", &config);
    let route = first.route(&package("fleet:b")).await.unwrap();
    assert_eq!(
        route.sources().map(ToString::to_string).collect::<Vec<_>>(),
        [cache.host(), upstream.host()]
    );
    let mut lock = LockFile::new();
    let resolved = first
        .resolve_all(&deps(), Some(&mut lock), LockMode::Update)
        .await
        .unwrap();
    assert_eq!(resolved[1].version().unwrap().to_string(), "1.1.0");
    for (resolution, name) in resolved.iter().zip(["fleet:a@1.0.0", "fleet:b@1.1.0"]) {
        assert_eq!(
            std::fs::read(resolution.path()).unwrap(),
            component::small(name)
        );
    }
    // The cache fetched them from the upstream and kept them. It stores what it served
    // after serving it, so give it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut kept = catalog(&cache);
    while !(kept.contains("fleet/a") && kept.contains("fleet/b"))
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        kept = catalog(&cache);
    }
    assert!(
        kept.contains("fleet/a") && kept.contains("fleet/b"),
        "{kept}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let lock_text = lock.to_toml();
    assert!(
        lock_text.contains(&format!("registry = \"{}\"", upstream.host())),
        "the lock file names the registry, not the mirror:\n{lock_text}"
    );

    // The upstream goes away; machine 2, with the lock file and an empty cache, still gets
    // every package, from the pull-through cache.
    let upstream_addr = upstream.addr();
    drop(upstream);
    assert!(!is_listening(upstream_addr));
    let second = client(dir.path(), "machine-2", &config);
    let mut locked = LockFile::parse(&lock_text, std::path::Path::new("wkg.lock")).unwrap();
    let again = second
        .resolve_all(&deps(), Some(&mut locked), LockMode::Locked)
        .await
        .unwrap();
    for (resolution, name) in again.iter().zip(["fleet:a@1.0.0", "fleet:b@1.1.0"]) {
        assert_eq!(
            std::fs::read(resolution.path()).unwrap(),
            component::small(name)
        );
        assert!(resolution.path().starts_with(dir.path().join("machine-2")));
    }
    // Without a lock file the version list comes from the cache too: with its upstream
    // down, docker-registry's pull-through cache lists the tags it has served (1.1.0, not
    // 1.0.0), and resolving `^1` gets the newest of those.
    let third = client(dir.path(), "machine-3", &config);
    let route = third.route(&package("fleet:b")).await.unwrap();
    let versions: Vec<String> = route
        .list_versions()
        .await
        .unwrap()
        .iter()
        .map(|v| v.version.to_string())
        .collect();
    assert_eq!(versions, ["1.1.0"]);
    let release = route.resolve(&"^1".parse().unwrap()).await.unwrap();
    assert_eq!(
        std::fs::read(route.fetch(&release).await.unwrap()).unwrap(),
        component::small("fleet:b@1.1.0")
    );
}

#[tokio::test]
async fn with_the_cache_down_reads_fall_through_to_the_upstream() {
    let upstream = Distribution::start().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    publish_all(dir.path(), &upstream).await;
    let cache = Distribution::start_pull_through(&upstream).unwrap_or_else(|e| panic!("{e}"));
    let cache_host = cache.host();
    drop(cache);

    // Listed first, but nothing answers there; the upstream is tried next (and, when not
    // listed, last by itself).
    for order in [
        vec![cache_host.as_str(), &upstream.host()],
        vec![cache_host.as_str()],
    ] {
        let client = client(dir.path(), "machine", &mirrored(&upstream.host(), &order));
        let mut lock = LockFile::new();
        let resolved = client
            .resolve_all(&deps(), Some(&mut lock), LockMode::Update)
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(resolved[1].path()).unwrap(),
            component::small("fleet:b@1.1.0")
        );
        client.cache().clean(None).await.unwrap();
    }
}

#[tokio::test]
async fn mirrors_need_no_trust_for_content() {
    let upstream = Distribution::start().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    publish_all(dir.path(), &upstream).await;
    let direct = client(
        dir.path(),
        "direct",
        &format!("[namespace_registries]\nfleet = \"{}\"\n", upstream.host()),
    );
    let dep = [Dependency::new(
        package("fleet:a"),
        "=1.0.0".parse().unwrap(),
    )];
    let mut lock = LockFile::new();
    let pinned = direct
        .resolve_all(&dep, Some(&mut lock), LockMode::Update)
        .await
        .unwrap();
    let right = component::small("fleet:a@1.0.0");

    // A registry someone filled with other bytes under the same tags, listed first: the
    // lock file's digest is not there, so the bytes come from the upstream.
    let hostile = Distribution::start().unwrap_or_else(|e| panic!("{e}"));
    client(
        dir.path(),
        "forger",
        &format!("[namespace_registries]\nfleet = \"{}\"\n", hostile.host()),
    )
    .route(&package("fleet:a"))
    .await
    .unwrap()
    .publish(
        &version("1.0.0"),
        Box::pin(std::io::Cursor::new(component::small("forged"))),
        &PublishOptions::default(),
    )
    .await
    .unwrap();
    let config = mirrored(&upstream.host(), &[&hostile.host()]);
    let through = client(dir.path(), "through-hostile", &config);
    let resolved = through
        .resolve_all(&dep, Some(&mut lock), LockMode::Locked)
        .await
        .unwrap();
    assert_eq!(std::fs::read(resolved[0].path()).unwrap(), right);

    // A bundle whose blob was replaced, listed first, with the upstream up and right: the
    // wrong bytes are reported, naming the mirror, and the upstream is not asked to
    // paper over it; nothing is cached.
    let bundle = dir.path().join("bundle");
    let mut writer = registry_oci::LayoutWriter::open(&bundle).unwrap();
    let content = dir.path().join("a.wasm");
    std::fs::write(&content, &right).unwrap();
    let digest = *pinned[0].digest().unwrap();
    writer
        .add(&package("fleet:a"), &version("1.0.0"), &content, &digest)
        .unwrap();
    writer.finish().unwrap();
    let blob = bundle.join("blobs/sha256").join(digest.hex());
    let mut tampered = right.clone();
    tampered[right.len() - 1] ^= 1;
    std::fs::write(&blob, &tampered).unwrap();
    let config = format!(
        "{}[registry.\"bundle\".oci-layout]\npath = {:?}\n",
        mirrored(&upstream.host(), &["bundle", &upstream.host()]),
        bundle.display().to_string()
    );
    let through = client(dir.path(), "through-bundle", &config);
    let err = through
        .resolve_all(&dep, Some(&mut lock), LockMode::Locked)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    assert!(
        err.to_string().contains("fleet:a@1.0.0 from bundle"),
        "{err}"
    );
    assert!(!through.cache().contains(&digest).await);
}

#[tokio::test]
async fn credentials_are_never_sent_to_another_host() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const USER: &str = "ci-bot";
    const PASSWORD: &str = "s3cr3t-Pa55w0rd";
    let upstream =
        Distribution::start_with_basic_auth(USER, PASSWORD).unwrap_or_else(|e| panic!("{e}"));
    // A mirror that asks for basic auth and refuses everything, recording what it is sent.
    let mirror = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Basic realm=\"mirror\"")
                .set_body_json(serde_json::json!({
                    "errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]
                })),
        )
        .mount(&mirror)
        .await;
    let mirror_host = mirror.address().to_string();
    let dir = tempfile::tempdir().unwrap();
    let auth = format!(
        "[registry.\"{0}\".oci]\nauth = {{ username = \"{USER}\", password = \"{PASSWORD}\" }}\n",
        upstream.host()
    );
    let publisher = client(
        dir.path(),
        "publisher",
        &format!(
            "[namespace_registries]\nfleet = \"{}\"\n{auth}",
            upstream.host()
        ),
    );
    publisher
        .route(&package("fleet:a"))
        .await
        .unwrap()
        .publish(
            &version("1.0.0"),
            Box::pin(std::io::Cursor::new(component::small("private"))),
            &PublishOptions::default(),
        )
        .await
        .unwrap();

    let reader = client(
        dir.path(),
        "reader",
        &format!("{}{auth}", mirrored(&upstream.host(), &[&mirror_host])),
    );
    let dep = [Dependency::new(package("fleet:a"), "^1".parse().unwrap())];
    let resolved = reader
        .resolve_all(&dep, Some(&mut LockFile::new()), LockMode::Update)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(resolved[0].path()).unwrap(),
        component::small("private")
    );
    let seen = mirror.received_requests().await.unwrap();
    assert!(!seen.is_empty(), "the mirror was asked first");
    for request in &seen {
        assert!(
            !request.headers.contains_key("authorization"),
            "{} {} carried credentials to the mirror",
            request.method,
            request.url
        );
    }

    // The control: credentials configured for the mirror itself are sent to it (so the
    // check above could fail).
    mirror.reset().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401).insert_header("www-authenticate", "Basic realm=\"mirror\""),
        )
        .mount(&mirror)
        .await;
    let own = auth.replace(&upstream.host(), &mirror_host);
    let reader = client(
        dir.path(),
        "reader-2",
        &format!("{}{auth}{own}", mirrored(&upstream.host(), &[&mirror_host])),
    );
    reader
        .resolve_all(&dep, Some(&mut LockFile::new()), LockMode::Update)
        .await
        .unwrap();
    let seen = mirror.received_requests().await.unwrap();
    assert!(seen.iter().any(|r| r.headers.contains_key("authorization")));
}

/// A hostile mirror that answers every blob with bytes that never end, under a pinned
/// digest: the fetch is cut off at the pinned size (or, for a pin written without one, at
/// the ceiling), nothing is cached, and the upstream serves the right bytes.
#[tokio::test(flavor = "multi_thread")]
async fn endless_content_from_a_mirror_is_cut_off_at_the_pinned_size() {
    const FOUR_GIB: u64 = 4 << 30;
    let upstream = Distribution::start().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    publish_all(dir.path(), &upstream).await;
    let direct = client(
        dir.path(),
        "direct",
        &format!("[namespace_registries]\nfleet = \"{}\"\n", upstream.host()),
    );
    let dep = [Dependency::new(
        package("fleet:a"),
        "=1.0.0".parse().unwrap(),
    )];
    let mut lock = LockFile::new();
    direct
        .resolve_all(&dep, Some(&mut lock), LockMode::Update)
        .await
        .unwrap();
    let right = component::small("fleet:a@1.0.0");
    let pin = lock.packages[0].versions[0].clone();
    assert_eq!(
        pin.size,
        Some(right.len() as u64),
        "the lock records the size"
    );
    assert!(lock.to_toml().contains(&format!("size = {}", right.len())));

    // The mirror serves manifests and tags from the upstream, and zeros for every blob.
    let hostile = test_support::http::FrontEnd::endless_blobs(upstream.addr(), FOUR_GIB);
    let config = format!(
        "{}[registry.\"{}\".oci]\nprotocol = \"http\"\n",
        mirrored(&upstream.host(), &[&hostile.host()]),
        hostile.host()
    );
    let through = client(dir.path(), "through-endless", &config);
    let resolved = through
        .resolve_all(&dep, Some(&mut lock.clone()), LockMode::Locked)
        .await
        .unwrap();
    assert_eq!(std::fs::read(resolved[0].path()).unwrap(), right);
    let sent = hostile.bytes_sent();
    assert!(sent > 0, "the mirror was asked first");
    // Cut at the pinned size: what went out is what the kernel's buffers took at most.
    assert!(sent < 64 << 20, "{sent} bytes went out before the cut-off");
    assert_eq!(temp_files(&dir.path().join("through-endless")), 0);

    // A pin without a size (as wkg writes them): the ceiling cuts it off instead.
    let mut sizeless = lock.clone();
    sizeless.packages[0].versions[0].size = None;
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &config).unwrap();
    let loaded = registry_config::ConfigLoader::new()
        .user_file(&path)
        .without_project_files()
        .without_env()
        .load()
        .unwrap();
    let capped = registry_client::Client::builder(loaded)
        .cache_dir(dir.path().join("through-capped"))
        .max_content_size(8 << 20)
        .build();
    let before = hostile.bytes_sent();
    let resolved = capped
        .resolve_all(&dep, Some(&mut sizeless), LockMode::Locked)
        .await
        .unwrap();
    assert_eq!(std::fs::read(resolved[0].path()).unwrap(), right);
    let sent = hostile.bytes_sent() - before;
    assert!(sent >= 8 << 20, "the ceiling was reached: {sent}");
    assert!(sent < 72 << 20, "{sent} bytes went out before the cut-off");
    assert_eq!(temp_files(&dir.path().join("through-capped")), 0);
}

/// Partial downloads left anywhere under a cache directory.
fn temp_files(dir: &std::path::Path) -> usize {
    let mut count = 0;
    let mut todo = vec![dir.to_owned()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.to_string_lossy().ends_with(".part") {
                count += 1;
            }
        }
    }
    count
}
