//! A fleet's fetch: 100 packages from a registry 20 ms away, which asks for tokens from a
//! token service 20 ms away too, directly and through a pull-through cache next to the
//! machine (a second `docker-registry` with `proxy: remoteurl:`), first when the cache is
//! empty (it fetches from the registry as it serves), then when it is warm (a second
//! machine: an empty local cache).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use test_support::Distribution;
use test_support::token::TokenServer;

use super::many::{api_app, check_api_packages, publish_api_packages};
use super::{RUNS, Row, Sample, measure, push_medians, wkg_in_app, wreg_in_app, write_config};
use crate::delay::{DelayLine, Rewrite};
use crate::peers::{self, Peer};

const COUNT: usize = 100;
/// The fleet's account at the far registry (the cache has its own copy).
const USER: &str = "ci-bot";
const PASSWORD: &str = "s3cr3t-Pa55w0rd";
/// Half the round trip to the far registry and to its token service.
const ONE_WAY: Duration = Duration::from_millis(10);

/// The far registry: a `docker-registry` that asks for tokens, as ghcr.io and Docker Hub do,
/// its token service, and a delay line in front of each. The registry's challenge names the
/// token service by the address it was started with; the line in front of the registry
/// changes that to the token service's line, so that a client (or a pull-through cache)
/// that follows the challenge pays the round trip for its token too.
struct Far {
    tokens: TokenServer,
    token_line: DelayLine,
    registry: Distribution,
    line: DelayLine,
    rewrite: Arc<Rewrite>,
}

impl Far {
    fn start() -> Result<Self> {
        let tokens = TokenServer::start(USER, PASSWORD, Duration::from_secs(300));
        let token_addr: SocketAddr = tokens
            .realm()
            .strip_prefix("http://")
            .and_then(|r| r.strip_suffix("/token"))
            .and_then(|a| a.parse().ok())
            .with_context(|| format!("the token service's realm {}", tokens.realm()))?;
        let token_line = DelayLine::start(token_addr, ONE_WAY)?;
        let registry = Distribution::start_with_token_auth(&tokens).map_err(anyhow::Error::msg)?;
        let rewrite = Rewrite::new(
            &format!("realm=\"{}\"", tokens.realm()),
            &format!("realm=\"{}\"", Self::realm_of(&token_line)),
        );
        let line = DelayLine::start_rewriting(registry.addr(), ONE_WAY, Some(rewrite.clone()))?;
        Ok(Self {
            tokens,
            token_line,
            registry,
            line,
            rewrite,
        })
    }

    fn realm_of(token_line: &DelayLine) -> String {
        format!("http://{}/token", token_line.addr)
    }

    /// Fails unless the registry, asked through its line, sends a client to the token
    /// service's line.
    fn check_realm(&self) -> Result<()> {
        let (_, head, _) = http(self.line.addr, "GET /v2/", &[], b"")?;
        let challenge = header(&head, "www-authenticate")
            .with_context(|| format!("the far registry sent no challenge:\n{head}"))?;
        let realm = format!("realm=\"{}\"", Self::realm_of(&self.token_line));
        if !challenge.contains(&realm) {
            bail!("the far registry's challenge `{challenge}` does not name {realm}");
        }
        Ok(())
    }

    /// The tokens issued and the connections through the token service's line so far.
    fn token_counts(&self) -> (usize, usize) {
        (self.tokens.issued(), self.token_line.connections())
    }

    /// Fails unless every token issued since `before` ([`token_counts`](Self::token_counts))
    /// was asked for through the token service's line, and every challenge since the line
    /// started named it.
    fn check_tokens_delayed(&self, before: (usize, usize)) -> Result<()> {
        let (issued, through) = self.token_counts();
        let (issued, through) = (issued - before.0, through - before.1);
        if self.rewrite.missed() > 0 {
            bail!(
                "{} of the far registry's challenges reached a client split between two reads, \
                 naming the token service without its delay; run again",
                self.rewrite.missed()
            );
        }
        if issued == 0 || through < issued || self.rewrite.done() == 0 {
            bail!(
                "{issued} tokens issued, {through} connections through the token service's \
                 line, {} challenges rewritten: some token round trips skipped the delay",
                self.rewrite.done()
            );
        }
        Ok(())
    }
}

/// One HTTP/1.1 exchange on a new connection to `addr`: `request` (`GET /v2/`) with
/// `headers` and `body`; the answer's status, head and body.
fn http(
    addr: SocketAddr,
    request: &str,
    headers: &[&str],
    body: &[u8],
) -> Result<(u16, String, Vec<u8>)> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr)?;
    let mut head = format!(
        "{request} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for line in headers {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .with_context(|| format!("{request} at {addr}: no HTTP answer"))?;
    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{request} at {addr}: no status in {head:?}"))?;
    Ok((status, head, answer[end + 4..].to_vec()))
}

/// The value of header `name` in an answer's `head`.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// A config at `path` naming `host` as the default registry, with the fleet's credentials
/// for `authed` (for wkg too: it reads `auth` the same way).
fn config_with_auth(path: &Path, host: &str, authed: &str, extra: &str) -> Result<String> {
    std::fs::write(
        path,
        format!(
            "default_registry = \"{host}\"\n{extra}\
             [registry.\"{authed}\".oci]\nprotocol = \"http\"\n\
             auth = {{ username = \"{USER}\", password = \"{PASSWORD}\" }}\n"
        ),
    )?;
    Ok(path.display().to_string())
}

pub(super) fn pull_through(rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Result<()> {
    let wkg = peers::install(peers::WKG, Peer::Measured)?
        .display()
        .to_string();
    // The registry asks for credentials, as ghcr.io and Docker Hub do (a token service).
    // docker-registry's pull-through cache remembers such a challenge; against a registry
    // that asks for none, it pings it before every request it forwards, one at a time.
    let far = Far::start()?;
    let work = tempfile::tempdir()?;
    let dir = work.path();
    let home = dir.join("home");
    std::fs::create_dir_all(&home)?;
    // Published straight to the registry (its challenge names the token service itself).
    let host = far.registry.host();
    let direct = config_with_auth(&dir.join("publish.toml"), &host, &host, "")?;
    let digests = publish_api_packages(COUNT, &home, &direct, dir)?;
    // The registry as the fleet sees it: 20 ms away, and its token service too.
    far.check_realm()?;
    let tokens_before = far.token_counts();
    let far_host = far.line.addr.to_string();
    let far_config = config_with_auth(&dir.join("far.toml"), &far_host, &far_host, "")?;

    notes.push(format!(
        "Fleet: {COUNT} WIT packages on a `docker-registry` that asks for credentials (a token \
         service, as ghcr.io does) behind a 20 ms round trip, its token service behind a 20 ms \
         round trip of its own (the delay line in front of the registry changes the realm in \
         its challenge to the token service's line, checked before the runs; after them, \
         every token issued must have been asked for through that line), fetched \
         (`wreg fetch --wit`, `wkg wit fetch -t wasm`, every file checked against its digest) \
         directly, and through a pull-through cache on loopback (a second `docker-registry`, \
         `proxy: remoteurl:` the far registry): `cache cold` starts a new, empty cache for \
         each run, `cache warm` uses the one the cold run filled, with an empty local cache \
         (another machine), `lock file` the same with the lock file the warm run wrote (so \
         blobs are asked for by digest and a pull-through cache answers them itself; without \
         it, each tag list and manifest is checked with the far registry). Ours lists the cache as the far registry's mirror \
         (`[registry.\"<far>\".mirrors] order = [\"<cache>\", \"<far>\"]`); wkg, which has no \
         mirrors, is pointed at the cache as its registry"
    ));

    let mut app_number = 0;
    let mut new_app = || -> Result<std::path::PathBuf> {
        app_number += 1;
        api_app(&dir.join(format!("app-{app_number}")), COUNT)
    };
    // `locked`: with the lock file already in the app directory (wkg reads its own there).
    let run = |contestant: &str, config: &str, app: &Path, locked: bool| -> Result<Sample> {
        let cmd = if contestant == "ours" {
            let (wit, deps) = (app.join("wit"), app.join("deps"));
            let (wit, deps) = (wit.display().to_string(), deps.display().to_string());
            wreg_in_app(
                &home,
                config,
                app,
                &["fetch", "--wit", &wit, "-o", &deps],
                locked,
            )
        } else {
            wkg_in_app(&wkg, &home, config, app, "wit fetch wit -t wasm")
        };
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let sample = measure(&cmd)?;
        check_api_packages(&digests, contestant, app, COUNT)?;
        Ok(sample)
    };
    let contestants = ["ours", "wkg wit fetch"];
    let empty = || -> Vec<(String, Vec<Sample>)> {
        contestants
            .iter()
            .map(|c| ((*c).to_owned(), Vec::new()))
            .collect()
    };

    let mut direct_samples = empty();
    let (mut cold, mut warm, mut locked) = (empty(), empty(), empty());
    for round in 0..RUNS {
        for (contestant, runs) in &mut direct_samples {
            runs.push(run(contestant, &far_config, &new_app()?, false)?);
        }
        for i in 0..contestants.len() {
            let contestant = contestants[i];
            // A new, empty pull-through cache of the far registry.
            let cache = Distribution::start_pull_through_of(far.line.addr, Some((USER, PASSWORD)))
                .map_err(anyhow::Error::msg)?;
            let config = if contestant == "ours" {
                config_with_auth(
                    &dir.join(format!("mirrored-{round}.toml")),
                    &far_host,
                    &far_host,
                    &format!(
                        "[registry.\"{far_host}\".mirrors]\norder = [\"{}\", \"{far_host}\"]\n",
                        cache.host()
                    ),
                )?
            } else {
                write_config(&dir.join(format!("cache-{round}.toml")), &cache.host())?
            };
            cold[i]
                .1
                .push(run(contestant, &config, &new_app()?, false)?);
            let warm_app = new_app()?;
            warm[i].1.push(run(contestant, &config, &warm_app, false)?);
            // Another machine with the lock file the warm run wrote: digests are known, so
            // blobs are asked for by digest and the cache serves them itself.
            let locked_app = new_app()?;
            std::fs::copy(warm_app.join("wkg.lock"), locked_app.join("wkg.lock"))?;
            locked[i]
                .1
                .push(run(contestant, &config, &locked_app, true)?);
        }
    }
    far.check_tokens_delayed(tokens_before)?;
    push_medians(
        rows,
        format!("fleet: {COUNT} packages, direct, 20 ms RTT"),
        direct_samples,
    );
    push_medians(
        rows,
        format!("fleet: {COUNT} packages via pull-through cache, cache cold"),
        cold,
    );
    push_medians(
        rows,
        format!("fleet: {COUNT} packages via pull-through cache, cache warm"),
        warm,
    );
    push_medians(
        rows,
        format!("fleet: {COUNT} packages via pull-through cache, cache warm, lock file"),
        locked,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_far_registry_sends_clients_to_its_token_service_through_a_line() {
        let far = Far::start().unwrap();
        far.check_realm().unwrap();
        let before = far.token_counts();
        // Nothing asked yet: no token went through the line.
        assert!(far.check_tokens_delayed(before).is_err());

        // A client does what the challenge says: a token from the realm it names...
        let basic = test_support::token::base64(format!("{USER}:{PASSWORD}").as_bytes(), false);
        let (status, _, answer) = http(
            far.token_line.addr,
            &format!("GET /token?service={}", test_support::token::SERVICE),
            &[&format!("Authorization: Basic {basic}")],
            b"",
        )
        .unwrap();
        assert_eq!(status, 200);
        let answer: serde_json::Value = serde_json::from_slice(&answer).expect("a token answer");
        let token = answer["token"].as_str().expect("a token");
        // ...which opens the registry through its line.
        let bearer = format!("Authorization: Bearer {token}");
        let (status, _, _) = http(far.line.addr, "GET /v2/", &[&bearer], b"").unwrap();
        assert_eq!(status, 200);
        far.check_tokens_delayed(before).unwrap();
        assert_eq!(far.token_counts().0 - before.0, 1);
    }

    #[test]
    fn a_pull_through_cache_of_the_far_registry_takes_its_tokens_through_the_line() {
        let far = Far::start().unwrap();
        // A blob in the registry, pushed straight to it with a token minted for the purpose.
        let token = far.tokens.mint(&["repository:t/x:pull,push"]);
        let bearer = format!("Authorization: Bearer {token}");
        let bytes = b"a blob the cache fetches";
        let digest = registry_core::ContentDigest::sha256(bytes).to_string();
        let registry = far.registry.addr();
        let (status, head, _) =
            http(registry, "POST /v2/t/x/blobs/uploads/", &[&bearer], b"").unwrap();
        assert_eq!(status, 202, "{head}");
        let location = header(&head, "location").expect("an upload location");
        let location = location
            .strip_prefix(&format!("http://{registry}"))
            .unwrap_or(location);
        let separator = if location.contains('?') { '&' } else { '?' };
        let (status, head, _) = http(
            registry,
            &format!("PUT {location}{separator}digest={digest}"),
            &[&bearer, "Content-Type: application/octet-stream"],
            bytes,
        )
        .unwrap();
        assert_eq!(status, 201, "{head}");

        let before = far.token_counts();
        let cache = Distribution::start_pull_through_of(far.line.addr, Some((USER, PASSWORD)))
            .expect("a pull-through cache");
        let (status, head, fetched) = http(
            cache.addr(),
            &format!("GET /v2/t/x/blobs/{digest}"),
            &[],
            b"",
        )
        .unwrap();
        assert_eq!((status, fetched.as_slice()), (200, &bytes[..]), "{head}");
        far.check_tokens_delayed(before).unwrap();
    }
}
