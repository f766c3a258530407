//! `[registry."<name>".provenance]`: which value applies (layers, then package over
//! namespace over registry, key by key), where each came from, relative paths, what a bad
//! table says, listing and editing the keys, and that `wkg` still reads the file.

use expect_test::{Expect, expect};
use registry_config::{Config, ProvenancePolicy, Target, ToolLayer, TrustedRootSource, VerifyWhen};
use registry_core::{PackageRef, Registry};

use crate::support::Scratch;

fn ghcr() -> Registry {
    "ghcr.io".parse().unwrap()
}

fn package(name: &str) -> PackageRef {
    name.parse().unwrap()
}

/// `key = value  # origin` for every value of the policy, under the key path it was read
/// at, with the scratch directory redacted.
fn show(policy: &ProvenancePolicy, scratch: &Scratch) -> String {
    let mut out = format!("table {}\n", policy.table());
    let mut line = |key: &str, value: String, origin: &registry_config::Origin| {
        out.push_str(&format!("{} = {value}  # {origin}\n", policy.key_path(key)));
    };
    let verify = &policy.verify;
    line("verify", verify.value.to_string(), &verify.origin);
    let root = &policy.trusted_root;
    line("trusted_root", root.value.to_string(), &root.origin);
    let strings = [
        ("identity", &policy.identity),
        ("identity_regexp", &policy.identity_regexp),
        ("issuer", &policy.issuer),
        ("issuer_regexp", &policy.issuer_regexp),
        ("fulcio_url", &policy.fulcio_url),
        ("rekor_url", &policy.rekor_url),
    ];
    for (key, setting) in strings {
        if let Some(setting) = setting {
            line(key, setting.value.clone(), &setting.origin);
        }
    }
    if let Some(key) = &policy.public_key {
        line("public_key", key.value.display().to_string(), &key.origin);
    }
    scratch.redact(&out)
}

fn check_policy(config: &Config, name: &str, scratch: &Scratch, expected: Expect) {
    let policy = config.provenance(&ghcr(), &package(name)).unwrap().unwrap();
    expected.assert_eq(&show(&policy, scratch));
}

#[test]
fn each_key_comes_from_its_own_layer_with_its_origin() {
    let scratch = Scratch::new();
    scratch.write(
        "user/config.toml",
        "[registry.\"ghcr.io\".provenance]\n\
         issuer = \"https://token.actions.githubusercontent.com\"\n\
         identity_regexp = '^https://github\\.com/me/'\n",
    );
    scratch.write(
        "project/.wasm-pkg/config.toml",
        "# the project's release workflow\n\
         [registry.\"ghcr.io\".provenance.package.\"acme:widget\"]\n\
         identity_regexp = '^https://github\\.com/acme/widget/'\n\
         verify = \"always\"\n",
    );
    let config = scratch.loader("project").load().unwrap();
    check_policy(
        &config,
        "acme:widget",
        &scratch,
        expect![[r#"
            table registry."ghcr.io".provenance.package."acme:widget"
            registry."ghcr.io".provenance.package."acme:widget".verify = always  # $DIR/project/.wasm-pkg/config.toml:4:1
            registry."ghcr.io".provenance.package."acme:widget".trusted_root = public-good  # built-in default
            registry."ghcr.io".provenance.package."acme:widget".identity_regexp = ^https://github\.com/acme/widget/  # $DIR/project/.wasm-pkg/config.toml:3:1
            registry."ghcr.io".provenance.issuer = https://token.actions.githubusercontent.com  # $DIR/user/config.toml:2:1
        "#]],
    );
    // Another package of the namespace gets the registry's policy, from the user file.
    check_policy(
        &config,
        "acme:other",
        &scratch,
        expect![[r#"
            table registry."ghcr.io".provenance
            registry."ghcr.io".provenance.verify = command  # built-in default
            registry."ghcr.io".provenance.trusted_root = public-good  # built-in default
            registry."ghcr.io".provenance.identity_regexp = ^https://github\.com/me/  # $DIR/user/config.toml:3:1
            registry."ghcr.io".provenance.issuer = https://token.actions.githubusercontent.com  # $DIR/user/config.toml:2:1
        "#]],
    );
    // Defaults are built in; nothing for a registry with no table.
    let policy = config
        .provenance(&ghcr(), &package("acme:other"))
        .unwrap()
        .unwrap();
    assert_eq!(policy.verify.value, VerifyWhen::Command);
    assert_eq!(policy.verify.origin, registry_config::Origin::Builtin);
    assert_eq!(policy.trusted_root.value, TrustedRootSource::PublicGood);
    assert_eq!(
        config
            .provenance(&"other.io".parse().unwrap(), &package("acme:widget"))
            .unwrap(),
        None
    );
}

#[test]
fn within_one_table_the_higher_layer_wins() {
    let scratch = Scratch::new();
    scratch.write(
        "user/config.toml",
        "[registry.\"ghcr.io\".provenance]\nissuer = \"https://user.example\"\n\
         identity = \"user@example.com\"\nrekor_url = \"https://rekor.user.example\"\n",
    );
    scratch.write(
        "project/.wasm-pkg/config.toml",
        "[registry.\"ghcr.io\".provenance]\nissuer = \"https://project.example\"\n\
         identity_regexp = \"@project\\\\.example$\"\n",
    );
    let config = scratch
        .loader("project")
        .tool_layer(
            ToolLayer::from_toml_str(
                "ci",
                "[registry.\"ghcr.io\".provenance]\ntrusted_root = \"staging\"\n",
            )
            .unwrap(),
        )
        .load()
        .unwrap();
    // The project's pattern replaces the user's exact identity (one choice, two spellings).
    check_policy(
        &config,
        "acme:widget",
        &scratch,
        expect![[r#"
            table registry."ghcr.io".provenance
            registry."ghcr.io".provenance.verify = command  # built-in default
            registry."ghcr.io".provenance.trusted_root = staging  # settings from `ci`
            registry."ghcr.io".provenance.identity_regexp = @project\.example$  # $DIR/project/.wasm-pkg/config.toml:3:1
            registry."ghcr.io".provenance.issuer = https://project.example  # $DIR/project/.wasm-pkg/config.toml:2:1
            registry."ghcr.io".provenance.rekor_url = https://rekor.user.example  # $DIR/user/config.toml:4:1
        "#]],
    );
}

/// Every provenance table and every key, with overrides of some keys per namespace and
/// per package.
const SCOPED: &str = r#"[registry."ghcr.io".provenance]
verify = "always"
identity = "registry@example.com"
issuer = "https://registry.example"
fulcio_url = "https://fulcio.registry.example"
rekor_url = "https://rekor.sigstore.dev"
trusted_root = "public-good"

[registry."ghcr.io".provenance.namespace.wasi]
identity_regexp = '^https://github\.com/WebAssembly/WASI/\.github/workflows/publish-proposal\.yml@refs/tags/v'
fulcio_url = "https://fulcio.wasi.example"
trusted_root = "roots/trusted_root.json"

[registry."ghcr.io".provenance.package."wasi:http"]
issuer_regexp = "^https://http\\.example"
verify = "command"

[registry."ghcr.io".provenance.package."wasi:keys"]
public_key = "/keys/wasi.pub"

[registry."ghcr.io".provenance.namespace.keyed]
public_key = "/keys/keyed.pub"

[registry."ghcr.io".provenance.package."keyed:other"]
identity = "other@example.com"
"#;

#[test]
fn package_beats_namespace_beats_registry_key_by_key() {
    let config = Config::from_toml_str("/c.toml", SCOPED).unwrap();
    let scratch = Scratch::new();
    let check = |name: &str, expected: Expect| check_policy(&config, name, &scratch, expected);
    check(
        "wasi:http",
        expect![[r#"
            table registry."ghcr.io".provenance.package."wasi:http"
            registry."ghcr.io".provenance.package."wasi:http".verify = command  # /c.toml:16:1
            registry."ghcr.io".provenance.namespace.wasi.trusted_root = /roots/trusted_root.json  # /c.toml:12:1
            registry."ghcr.io".provenance.namespace.wasi.identity_regexp = ^https://github\.com/WebAssembly/WASI/\.github/workflows/publish-proposal\.yml@refs/tags/v  # /c.toml:10:1
            registry."ghcr.io".provenance.package."wasi:http".issuer_regexp = ^https://http\.example  # /c.toml:15:1
            registry."ghcr.io".provenance.namespace.wasi.fulcio_url = https://fulcio.wasi.example  # /c.toml:11:1
            registry."ghcr.io".provenance.rekor_url = https://rekor.sigstore.dev  # /c.toml:6:1
        "#]],
    );
    check(
        "wasi:cli",
        expect![[r#"
            table registry."ghcr.io".provenance.namespace.wasi
            registry."ghcr.io".provenance.verify = always  # /c.toml:2:1
            registry."ghcr.io".provenance.namespace.wasi.trusted_root = /roots/trusted_root.json  # /c.toml:12:1
            registry."ghcr.io".provenance.namespace.wasi.identity_regexp = ^https://github\.com/WebAssembly/WASI/\.github/workflows/publish-proposal\.yml@refs/tags/v  # /c.toml:10:1
            registry."ghcr.io".provenance.issuer = https://registry.example  # /c.toml:4:1
            registry."ghcr.io".provenance.namespace.wasi.fulcio_url = https://fulcio.wasi.example  # /c.toml:11:1
            registry."ghcr.io".provenance.rekor_url = https://rekor.sigstore.dev  # /c.toml:6:1
        "#]],
    );
    // A managed key hides the keyless signer of the tables below it.
    check(
        "wasi:keys",
        expect![[r#"
            table registry."ghcr.io".provenance.package."wasi:keys"
            registry."ghcr.io".provenance.verify = always  # /c.toml:2:1
            registry."ghcr.io".provenance.namespace.wasi.trusted_root = /roots/trusted_root.json  # /c.toml:12:1
            registry."ghcr.io".provenance.namespace.wasi.fulcio_url = https://fulcio.wasi.example  # /c.toml:11:1
            registry."ghcr.io".provenance.rekor_url = https://rekor.sigstore.dev  # /c.toml:6:1
            registry."ghcr.io".provenance.package."wasi:keys".public_key = /keys/wasi.pub  # /c.toml:19:1
        "#]],
    );
    check(
        "acme:widget",
        expect![[r#"
            table registry."ghcr.io".provenance
            registry."ghcr.io".provenance.verify = always  # /c.toml:2:1
            registry."ghcr.io".provenance.trusted_root = public-good  # /c.toml:7:1
            registry."ghcr.io".provenance.identity = registry@example.com  # /c.toml:3:1
            registry."ghcr.io".provenance.issuer = https://registry.example  # /c.toml:4:1
            registry."ghcr.io".provenance.fulcio_url = https://fulcio.registry.example  # /c.toml:5:1
            registry."ghcr.io".provenance.rekor_url = https://rekor.sigstore.dev  # /c.toml:6:1
        "#]],
    );
    // A keyless signer above a managed key hides the key, and the issuer below the key:
    // this one names an identity and no issuer.
    let err = config
        .provenance(&ghcr(), &package("keyed:other"))
        .unwrap()
        .unwrap()
        .check_signer(&package("keyed:other"))
        .unwrap_err();
    expect![[r#"/c.toml:24:40: invalid `registry."ghcr.io".provenance.package."keyed:other"`: the provenance policy for `keyed:other` names no issuer: `registry."ghcr.io".provenance.package."keyed:other".identity` is set (at /c.toml:25:1) but neither `issuer` nor `issuer_regexp`; a policy that is verified (`verify = "always"`) needs `identity` or `identity_regexp` with `issuer` or `issuer_regexp`, or `public_key`, or else `verify = "never"`"#]]
        .assert_eq(&err.to_string());
}

#[test]
fn verify_never_in_a_higher_layer_turns_a_policy_off() {
    let scratch = Scratch::new();
    scratch.write(
        "user/config.toml",
        "[registry.\"ghcr.io\".provenance]\nverify = \"always\"\n\
         identity = \"me@example.com\"\nissuer = \"https://accounts.example\"\n",
    );
    let config = scratch.loader("project").load().unwrap();
    let on = config.provenance(&ghcr(), &package("acme:x")).unwrap();
    assert_eq!(on.unwrap().verify.value, VerifyWhen::Always);

    scratch.write(
        "project/.wasm-pkg/config.toml",
        "[registry.\"ghcr.io\".provenance]\nverify = \"never\"\n",
    );
    let config = scratch.loader("project").load().unwrap();
    let off = config
        .provenance(&ghcr(), &package("acme:x"))
        .unwrap()
        .unwrap();
    assert_eq!(off.verify.value, VerifyWhen::Never);
    assert_eq!(
        scratch.redact(&off.verify.origin.to_string()),
        "$DIR/project/.wasm-pkg/config.toml:2:1"
    );

    // `never` needs no signer; without it, a policy with none is an error at its table.
    let never = Config::from_toml_str(
        "/c.toml",
        "[registry.\"ghcr.io\".provenance.package.\"acme:x\"]\nverify = \"never\"\n",
    )
    .unwrap();
    let policy = never.provenance(&ghcr(), &package("acme:x")).unwrap();
    assert_eq!(policy.unwrap().verify.value, VerifyWhen::Never);
    let none = Config::from_toml_str(
        "/c.toml",
        "[registry.\"ghcr.io\".provenance.namespace.acme]\ntrusted_root = \"github\"\n",
    )
    .unwrap();
    let err = none
        .provenance(&ghcr(), &package("acme:x"))
        .unwrap()
        .unwrap()
        .check_signer(&package("acme:x"))
        .unwrap_err();
    expect![[r#"/c.toml:1:42: invalid `registry."ghcr.io".provenance.namespace.acme`: the provenance policy for `acme:x` names no signer; a policy that is verified (`verify = "command"`) needs `identity` or `identity_regexp` with `issuer` or `issuer_regexp`, or `public_key`, or else `verify = "never"`"#]]
        .assert_eq(&err.to_string());
    let issuer_only = Config::from_toml_str(
        "/c.toml",
        "[registry.\"ghcr.io\".provenance]\nissuer_regexp = \"^https://\"\n",
    )
    .unwrap();
    let err = issuer_only
        .provenance(&ghcr(), &package("acme:x"))
        .unwrap()
        .unwrap()
        .check_signer(&package("acme:x"))
        .unwrap_err();
    expect![[r#"/c.toml:1:21: invalid `registry."ghcr.io".provenance`: the provenance policy for `acme:x` names no identity: `registry."ghcr.io".provenance.issuer_regexp` is set (at /c.toml:2:1) but neither `identity` nor `identity_regexp`; a policy that is verified (`verify = "command"`) needs `identity` or `identity_regexp` with `issuer` or `issuer_regexp`, or `public_key`, or else `verify = "never"`"#]]
        .assert_eq(&err.to_string());
    // A table that only holds override tables says nothing for other packages.
    assert_eq!(none.provenance(&ghcr(), &package("other:x")).unwrap(), None);
}

#[test]
fn relative_paths_are_taken_from_the_file_that_says_them() {
    let scratch = Scratch::new();
    scratch.write(
        "user/config.toml",
        "[registry.\"ghcr.io\".provenance]\npublic_key = \"keys/ci.pub\"\n\
         trusted_root = \"../roots/trusted_root.json\"\n",
    );
    scratch.write(
        "project/.wasm-pkg/config.toml",
        "[registry.\"ghcr.io\".provenance.namespace.acme]\npublic_key = \"acme.pub\"\n\
         trusted_root = \"/etc/sigstore/root.json\"\n",
    );
    let config = scratch.loader("project").load().unwrap();
    let user = config
        .provenance(&ghcr(), &package("wasi:http"))
        .unwrap()
        .unwrap();
    assert_eq!(
        user.public_key.unwrap().value,
        scratch.path("user/keys/ci.pub")
    );
    assert_eq!(
        user.trusted_root.value,
        TrustedRootSource::File(scratch.path("user/../roots/trusted_root.json"))
    );
    let project = config
        .provenance(&ghcr(), &package("acme:x"))
        .unwrap()
        .unwrap();
    assert_eq!(
        project.public_key.unwrap().value,
        scratch.path("project/.wasm-pkg/acme.pub")
    );
    assert_eq!(
        project.trusted_root.value,
        TrustedRootSource::File("/etc/sigstore/root.json".into())
    );

    // Set outside a file: from the working directory.
    let tool = ToolLayer::from_toml_str(
        "ci",
        "[registry.\"ghcr.io\".provenance]\npublic_key = \"ci.pub\"\n",
    )
    .unwrap();
    let config = scratch.loader(".").tool_layer(tool).load().unwrap();
    let policy = config
        .provenance(&ghcr(), &package("acme:x"))
        .unwrap()
        .unwrap();
    assert_eq!(
        policy.public_key.unwrap().value,
        std::env::current_dir().unwrap().join("ci.pub")
    );
}

#[cfg(unix)]
#[test]
fn relative_paths_follow_a_linked_config_to_its_directory() {
    // A dotfiles repository holds the config and the key beside it; the config is linked
    // into place (the file itself, or the whole directory).
    let scratch = Scratch::new();
    let text = "[registry.\"ghcr.io\".provenance]\npublic_key = \"keys/ci.pub\"\n";
    scratch.write("dotfiles/wasm-pkg/config.toml", text);
    let key = scratch.write(
        "dotfiles/wasm-pkg/keys/ci.pub",
        "-----BEGIN PUBLIC KEY-----\n",
    );
    let key = key.canonicalize().unwrap();
    let resolved = |user: &std::path::Path| {
        let config = registry_config::ConfigLoader::new()
            .user_file(user)
            .without_project_files()
            .without_env()
            .load()
            .unwrap();
        let policy = config.provenance(&ghcr(), &package("acme:x")).unwrap();
        policy.unwrap().public_key.unwrap().value
    };

    std::fs::create_dir_all(scratch.path("home")).unwrap();
    let file_link = scratch.path("home/config.toml");
    std::os::unix::fs::symlink("../dotfiles/wasm-pkg/config.toml", &file_link).unwrap();
    let by_file = resolved(&file_link);
    assert_eq!(
        by_file.canonicalize().unwrap(),
        key,
        "{}",
        by_file.display()
    );

    let dir_link = scratch.path("home/wasm-pkg");
    std::os::unix::fs::symlink("../dotfiles/wasm-pkg", &dir_link).unwrap();
    let by_dir = resolved(&dir_link.join("config.toml"));
    assert_eq!(by_dir, dir_link.join("keys/ci.pub"));
    assert_eq!(by_dir.canonicalize().unwrap(), key);
}

fn load_error(text: &str) -> String {
    match Config::from_toml_str("/c.toml", text) {
        Ok(_) => format!("loaded: {text}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn bad_provenance_tables_name_the_file_line_and_key() {
    let cases = [
        "[registry.\"ghcr.io\".provenance]\nidentty = \"me@example.com\"\n",
        "[registry.\"ghcr.io\".provenance.namespace.wasi]\nnamespace = {}\n",
        "[registry.\"ghcr.io\"]\nprovenance = \"always\"\n",
        "[registry.\"ghcr.io\".provenance]\nverify = \"alway\"\n",
        "[registry.\"ghcr.io\".provenance]\nverify = \"sometimes\"\n",
        "[registry.\"ghcr.io\".provenance]\nverify = true\n",
        "[registry.\"ghcr.io\".provenance]\nissuer = \"\"\n",
        "[registry.\"ghcr.io\".provenance]\ntrusted_root = \"public_good\"\n",
        "[registry.\"ghcr.io\".provenance]\nrekor_url = \"rekor.sigstore.dev\"\n",
        "[registry.\"ghcr.io\".provenance]\nidentity = \"a\"\nissuer = \"b\"\npublic_key = \"k.pub\"\n",
        "[registry.\"ghcr.io\".provenance]\nidentity = \"a\"\nidentity_regexp = \"a\"\n",
        "[registry.\"ghcr.io\".provenance.package.\"acme:w\"]\nissuer = \"a\"\nissuer_regexp = \"a\"\n",
        "[registry.\"ghcr.io\".provenance.namespace.Acme]\nverify = \"never\"\n",
        "[registry.\"ghcr.io\".provenance.package.widget]\nverify = \"never\"\n",
        "[registry.\"ghcr.io\".provenance]\nnamespace = \"wasi\"\n",
        "[registry.\"ghcr.io\".provenance.package]\n\"acme:w\" = \"always\"\n",
    ];
    let messages: Vec<String> = cases.iter().map(|text| load_error(text)).collect();
    expect![[r#"
        /c.toml:2:1: unknown key `registry."ghcr.io".provenance.identty`; did you mean `identity`?
        /c.toml:2:1: unknown key `registry."ghcr.io".provenance.namespace.wasi.namespace`; the keys allowed here are `verify`, `trusted_root`, `identity`, `identity_regexp`, `issuer`, `issuer_regexp`, `public_key`, `fulcio_url`, `rekor_url`
        /c.toml:2:1: invalid `registry."ghcr.io".provenance`: expected a table, e.g. [registry."ghcr.io".provenance] with `verify = "always"`
        /c.toml:2:1: invalid `registry."ghcr.io".provenance.verify`: `alway` is not a choice (did you mean `always`?); expected "always" (every resolve and fetch checks), "command" (only `wreg verify` checks) or "never"
        /c.toml:2:1: invalid `registry."ghcr.io".provenance.verify`: `sometimes` is not a choice; expected "always" (every resolve and fetch checks), "command" (only `wreg verify` checks) or "never"
        /c.toml:2:1: invalid `registry."ghcr.io".provenance.verify`: expected a non-empty string, e.g. `verify = "always"`
        /c.toml:2:1: invalid `registry."ghcr.io".provenance.issuer`: expected a non-empty string, e.g. `issuer = "https://token.actions.githubusercontent.com"`
        /c.toml:2:1: invalid `registry."ghcr.io".provenance.trusted_root`: `public_good` names no trust root (did you mean `public-good`?); expected "public-good", "github", "staging" or the path of a trusted_root.json (`./public_good` for a file of that name beside this one)
        /c.toml:2:1: invalid `registry."ghcr.io".provenance.rekor_url`: `rekor.sigstore.dev` is not an http(s) URL, e.g. `rekor_url = "https://rekor.sigstore.dev"`
        /c.toml:4:1: invalid `registry."ghcr.io".provenance.public_key`: `public_key` and `identity` (at /c.toml:2:1) are both set; a table names a managed key (`public_key`) or a keyless signer (an identity and an issuer), not both: keep one
        /c.toml:3:1: invalid `registry."ghcr.io".provenance.identity_regexp`: `identity_regexp` and `identity` (at /c.toml:2:1) are both set; an identity is matched exactly or by a pattern: keep one
        /c.toml:3:1: invalid `registry."ghcr.io".provenance.package."acme:w".issuer_regexp`: `issuer_regexp` and `issuer` (at /c.toml:2:1) are both set; an issuer is matched exactly or by a pattern: keep one
        /c.toml:1:42: invalid `registry."ghcr.io".provenance.namespace.Acme`: `Acme` is not a valid namespace: namespace must be lowercase, e.g. "wasi"
        /c.toml:1:40: invalid `registry."ghcr.io".provenance.package.widget`: "widget" is not a valid package name: expected `namespace:name`, with a `:` between the two, e.g. "wasi:http"
        /c.toml:2:1: invalid `registry."ghcr.io".provenance.namespace`: expected a table, e.g. [registry."ghcr.io".provenance.namespace.wasi]
        /c.toml:2:1: invalid `registry."ghcr.io".provenance.package."acme:w"`: expected a table, e.g. [registry."ghcr.io".provenance.package."acme:w"] with `verify = "always"`
    "#]]
    .assert_eq(&(messages.join("\n") + "\n"));
}

#[test]
fn invalid_locates_a_value_the_reader_finds_bad() {
    let config = Config::from_toml_str("/c.toml", SCOPED).unwrap();
    let policy = config
        .provenance(&ghcr(), &package("wasi:cli"))
        .unwrap()
        .unwrap();
    expect![[r#"/c.toml:10:1: invalid `registry."ghcr.io".provenance.namespace.wasi.identity_regexp`: unclosed group"#]]
        .assert_eq(&policy.invalid("identity_regexp", "unclosed group").to_string());
    // A key set in a less specific table is located there; one not set, at the most
    // specific table.
    expect![[r#"/c.toml:6:1: invalid `registry."ghcr.io".provenance.rekor_url`: unreachable"#]]
        .assert_eq(&policy.invalid("rekor_url", "unreachable").to_string());
    let unset = policy.invalid("public_key", "needed to sign");
    expect![[r#"/c.toml:9:42: invalid `registry."ghcr.io".provenance.namespace.wasi.public_key`: needed to sign"#]]
        .assert_eq(&unset.to_string());
}

#[test]
fn provenance_keys_are_listed_with_origins_and_are_no_backend() {
    let text = "[registry.\"ghcr.io\".provenance]\nverify = \"always\"\n\
                public_key = \"keys/ci.pub\"\n\
                [registry.\"ghcr.io\".oci]\nprotocol = \"https\"\n";
    let config = Config::from_toml_str("/c.toml", text).unwrap();
    let listed: Vec<String> = config
        .get("registry.\"ghcr.io\".provenance")
        .unwrap()
        .iter()
        .map(|entry| format!("{entry:?}"))
        .collect();
    assert_eq!(
        listed,
        [
            "registry.\"ghcr.io\".provenance.public_key = \"keys/ci.pub\"  # /c.toml:3:1",
            "registry.\"ghcr.io\".provenance.verify = \"always\"  # /c.toml:2:1",
        ]
    );
    assert_eq!(config.entries().len(), 3);
    let settings = config.registry_settings(&ghcr());
    assert_eq!(settings.backends(), ["oci"]);
    assert_eq!(settings.default_backend().unwrap().value, "oci");

    let only = Config::from_toml_str("/c.toml", "[registry.\"ghcr.io\".provenance]\n").unwrap();
    assert!(only.registry_settings(&ghcr()).backends().is_empty());
    assert_eq!(only.registry_settings(&ghcr()).default_backend(), None);
}

#[test]
fn provenance_keys_are_set_and_unset_like_any_other() {
    let scratch = Scratch::new();
    scratch.write(
        "user/config.toml",
        "# mine\n[registry.\"ghcr.io\".oci]\nprotocol = \"https\" # keep\n",
    );
    let mut config = scratch.loader(".").load().unwrap();
    let issuer = "registry.\"ghcr.io\".provenance.issuer";
    config
        .set(Target::User, issuer, "https://accounts.example")
        .unwrap();
    config
        .set(
            Target::User,
            "registry.\"ghcr.io\".provenance.package.\"acme:w\".identity",
            "me@example.com",
        )
        .unwrap();
    // A bad value is refused and changes nothing.
    let err = config
        .set(
            Target::User,
            "registry.\"ghcr.io\".provenance.verify",
            "sometimes",
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("`sometimes` is not a choice"),
        "{err}"
    );
    config.save().unwrap();
    expect![[r#"
        # mine
        [registry."ghcr.io".oci]
        protocol = "https" # keep

        [registry."ghcr.io".provenance]
        issuer = "https://accounts.example"

        [registry."ghcr.io".provenance.package."acme:w"]
        identity = "me@example.com"
    "#]]
    .assert_eq(&scratch.read("user/config.toml"));
    let reloaded = scratch.loader(".").load().unwrap();
    let policy = reloaded
        .provenance(&ghcr(), &package("acme:w"))
        .unwrap()
        .unwrap();
    assert_eq!(policy.issuer.unwrap().value, "https://accounts.example");

    assert!(config.unset(Target::User, issuer).unwrap());
    assert!(!config.unset(Target::User, issuer).unwrap());
    config.save().unwrap();
    assert!(!scratch.read("user/config.toml").contains("issuer"));
}

#[test]
fn wkg_reads_a_file_with_every_provenance_table() {
    let text = format!(
        "default_registry = \"ghcr.io\"\n[registry.\"ghcr.io\"]\ndefault = \"oci\"\n\
         [registry.\"ghcr.io\".oci]\nnamespace_prefix = \"webassembly/\"\n{SCOPED}"
    );
    let wkg = wasm_pkg_common::config::Config::from_toml(&text).expect("wkg reads it");
    let theirs: wasm_pkg_common::package::PackageRef = "wasi:http".parse().unwrap();
    assert_eq!(
        wkg.resolve_registry(&theirs).unwrap().to_string(),
        "ghcr.io"
    );
    let registry = wkg.registry_config(&"ghcr.io".parse().unwrap()).unwrap();
    assert_eq!(registry.default_backend(), Some("oci"));

    let ours = Config::from_toml_str("/home/me/config.toml", &text).unwrap();
    let wasi = ours
        .provenance(&ghcr(), &package("wasi:cli"))
        .unwrap()
        .unwrap();
    assert_eq!(
        wasi.trusted_root.value,
        TrustedRootSource::File("/home/me/roots/trusted_root.json".into())
    );
    assert_eq!(ours.registry_settings(&ghcr()).backends(), ["oci"]);
}
