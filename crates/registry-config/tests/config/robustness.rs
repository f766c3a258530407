//! Mangled input never panics: every mutation of a valid file loads or fails with an error
//! that says where. (Deterministic, so a failure reproduces; `cargo xtask fuzz` will go
//! further.)

use registry_config::{Config, ConfigError};

const VALID: &str = r#"# a config with every key
default_registry = "ghcr.io"

[namespace_registries]
acme = "registry.acme.example:5000"
wasi = { registry = "wasi.dev", metadata = { preferredProtocol = "oci" } }

[package_registry_overrides]
"acme:widget" = "localhost:5000"

[registry."ghcr.io"]
default = "oci"
[registry."ghcr.io".oci]
auth = { username = "me", password = "hunter2" }
protocol = "https"
"#;

/// xorshift64: a fixed sequence, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ALPHABET: &[u8] = b"\"'=[]{}.,:#\n \\@/-_azAZ09\x00\xff";

#[test]
fn mutated_files_load_or_fail_with_a_location() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut loaded, mut refused) = (0, 0);
    for _ in 0..3000 {
        let mut bytes = VALID.as_bytes().to_vec();
        for _ in 0..=rng.below(4) {
            let at = rng.below(bytes.len());
            match rng.below(3) {
                0 => bytes[at] = ALPHABET[rng.below(ALPHABET.len())],
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
            }
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        match Config::from_toml_str("mutated.toml", &text) {
            Ok(config) => {
                loaded += 1;
                // Reading every value back must not panic either.
                let _ = config.entries();
                let _ = config.resolve_registry(&"acme:widget".parse().unwrap());
            }
            Err(err) => {
                refused += 1;
                let message = err.to_string();
                assert!(
                    !message.contains("hunter2"),
                    "a credential leaked: {message}"
                );
                match &err {
                    ConfigError::Parse { line, .. } => assert!(*line >= 1),
                    ConfigError::Invalid { origin, .. }
                    | ConfigError::UnknownKey { origin, .. } => {
                        assert!(origin.line().is_some(), "no line in: {message}")
                    }
                    other => panic!("unexpected error kind: {other}"),
                }
            }
        }
    }
    assert!(
        loaded > 100 && refused > 100,
        "both outcomes exercised: {loaded} loaded, {refused} refused"
    );
}
