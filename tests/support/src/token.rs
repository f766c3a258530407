//! A token server for the registry's token authentication: it checks HTTP basic
//! credentials and issues short-lived JWTs (ES256, with the signing certificate in `x5c`)
//! that the registry trusts through its `rootcertbundle`.
//!
//! It can also take an identity token (an OAuth2 refresh token, what `docker login` to
//! Azure Container Registry stores): exchanged with a `POST` of `grant_type=refresh_token`
//! (the distribution spec's OAuth2 flow), or, for a realm without that endpoint, answered
//! 404 there and taken as the basic credentials `<token>:<identity token>` of a `GET`
//! ([`IdentityTokens`]).

use std::io::{BufRead, BufReader, Read as _, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use rcgen::{CertificateParams, KeyPair};

/// The `service` the registry and tokens name.
pub const SERVICE: &str = "wreg-test-registry";
/// The `issuer` the registry and tokens name.
pub const ISSUER: &str = "wreg-test-token-server";

/// A running token server on `127.0.0.1`.
#[derive(Debug)]
pub struct TokenServer {
    addr: SocketAddr,
    cert_pem: String,
    issuer: Arc<Issuer>,
    issued: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

/// How a token server takes the identity token it was started with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityTokens {
    /// Exchanged by a `POST` to the realm (form fields `grant_type=refresh_token`,
    /// `refresh_token`, `service`, `scope`, `client_id`), answered
    /// `{"access_token": ..., "expires_in": ...}`; a wrong token gets 400 `invalid_grant`
    /// (with the token it was sent echoed back, as a careless server might). Not taken by `GET`.
    OAuth2,
    /// Every `POST` answered 404, as a realm without the OAuth2 endpoint does; taken as the
    /// basic credentials `<token>:<identity token>` of a `GET`.
    GetOnly,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

struct Issuer {
    key: EcdsaKeyPair,
    cert_der: Vec<u8>,
    username: String,
    password: String,
    identity: Option<(String, IdentityTokens)>,
    /// The form fields of every `POST`, in the order received.
    posted: Mutex<Vec<Vec<(String, String)>>>,
    lifetime: Duration,
    issued: Arc<AtomicUsize>,
}

impl TokenServer {
    /// Starts a server that grants every requested action to `username`/`password` with
    /// tokens valid for `lifetime`, and nothing to anyone else.
    ///
    /// # Panics
    /// If it cannot bind a port or generate its key.
    pub fn start(username: &str, password: &str, lifetime: Duration) -> Self {
        Self::start_with(username, password, None, lifetime)
    }

    /// Starts a server that grants every requested action to whoever holds
    /// `identity_token`, taken as `how` says (and to `username`/`password` as
    /// [`start`](Self::start) does).
    ///
    /// # Panics
    /// As for [`start`](Self::start).
    pub fn start_with_identity_token(
        username: &str,
        password: &str,
        identity_token: &str,
        how: IdentityTokens,
        lifetime: Duration,
    ) -> Self {
        Self::start_with(
            username,
            password,
            Some((identity_token.to_owned(), how)),
            lifetime,
        )
    }

    fn start_with(
        username: &str,
        password: &str,
        identity: Option<(String, IdentityTokens)>,
        lifetime: Duration,
    ) -> Self {
        let key_pair = KeyPair::generate().expect("signing key");
        let mut params = CertificateParams::new(vec!["token-signer".to_owned()]).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "wreg test token signer");
        let cert = params.self_signed(&key_pair).expect("signing certificate");
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key_pair.serialize_der())
                .expect("load the signing key");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the token server");
        let addr = listener.local_addr().expect("local address");
        let issued = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let issuer = Arc::new(Issuer {
            key,
            cert_der: cert.der().to_vec(),
            username: username.to_owned(),
            password: password.to_owned(),
            identity,
            posted: Mutex::new(Vec::new()),
            lifetime,
            issued: issued.clone(),
        });
        let stopping = stop.clone();
        let serving = issuer.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    let issuer = serving.clone();
                    std::thread::spawn(move || {
                        let _ = issuer.serve(stream);
                    });
                }
            }
        });
        Self {
            addr,
            cert_pem: cert.pem(),
            issuer,
            issued,
            stop,
        }
    }

    /// The URL the registry sends clients to.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// The certificate whose key signs the tokens (the registry's `rootcertbundle`).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A token granting `scopes` (`repository:<name>:pull,push`), as a client would be
    /// handed one by some other means (a CI system's secret), without asking the server.
    pub fn mint(&self, scopes: &[&str]) -> String {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        self.issuer.token(&scopes)
    }

    /// The form fields of every `POST` received so far, each as sent (decoded), in order.
    pub fn posted(&self) -> Vec<Vec<(String, String)>> {
        self.issuer.posted.lock().expect("not poisoned").clone()
    }

    /// How many tokens granting access were issued so far.
    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::Relaxed)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

impl Issuer {
    fn serve(&self, mut stream: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        let mut authorization = None;
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("authorization") {
                    authorization = Some(value.trim().to_owned());
                } else if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let (status, body) = if request_line.starts_with("POST ") {
            let mut body = vec![0; length.min(64 * 1024)];
            reader.read_exact(&mut body)?;
            self.exchange(&String::from_utf8_lossy(&body))
        } else {
            let target = request_line.split_whitespace().nth(1).unwrap_or("/");
            let query = target.split_once('?').map_or("", |(_, q)| q);
            let scopes: Vec<String> = query
                .split('&')
                .filter_map(|pair| pair.strip_prefix("scope="))
                .map(percent_decode)
                .collect();
            let basic = |user: &str, password: &str| {
                format!(
                    "Basic {}",
                    base64(format!("{user}:{password}").as_bytes(), false)
                )
            };
            let mut accepted = vec![basic(&self.username, &self.password)];
            if let Some((token, IdentityTokens::GetOnly)) = &self.identity {
                accepted.push(basic("<token>", token));
            }
            if authorization.as_ref().is_some_and(|a| accepted.contains(a)) {
                self.issued.fetch_add(1, Ordering::Relaxed);
                let token = self.token(&scopes);
                let secs = self.lifetime.as_secs();
                (
                    "200 OK",
                    format!(
                        r#"{{"token":"{token}","access_token":"{token}","expires_in":{secs}}}"#
                    ),
                )
            } else {
                (
                    "401 Unauthorized",
                    r#"{"details":"incorrect username or password"}"#.to_owned(),
                )
            }
        };
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    /// The answer to a `POST` of `form` (`application/x-www-form-urlencoded`).
    fn exchange(&self, form: &str) -> (&'static str, String) {
        let fields: Vec<(String, String)> = form
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (percent_decode(k), percent_decode(v)))
            .collect();
        self.posted
            .lock()
            .expect("not poisoned")
            .push(fields.clone());
        let Some((token, IdentityTokens::OAuth2)) = &self.identity else {
            return ("404 Not Found", r#"{"details":"not found"}"#.to_owned());
        };
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if field("grant_type") != Some("refresh_token") || field("refresh_token") != Some(token) {
            let sent = field("refresh_token").unwrap_or("");
            return (
                "400 Bad Request",
                format!(
                    r#"{{"error":"invalid_grant","error_description":"unknown refresh token {sent}"}}"#
                ),
            );
        }
        let scopes: Vec<String> = field("scope")
            .unwrap_or("")
            .split(' ')
            .map(str::to_owned)
            .collect();
        self.issued.fetch_add(1, Ordering::Relaxed);
        let token = self.token(&scopes);
        let secs = self.lifetime.as_secs();
        (
            "200 OK",
            format!(r#"{{"access_token":"{token}","expires_in":{secs}}}"#),
        )
    }

    fn token(&self, scopes: &[String]) -> String {
        let access: Vec<String> = scopes
            .iter()
            .filter_map(|scope| {
                let mut parts = scope.splitn(3, ':');
                let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
                let actions: Vec<String> = actions.split(',').map(|a| format!("\"{a}\"")).collect();
                Some(format!(
                    r#"{{"type":"{kind}","name":"{name}","actions":[{}]}}"#,
                    actions.join(",")
                ))
            })
            .collect();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let header = format!(
            r#"{{"typ":"JWT","alg":"ES256","x5c":["{}"]}}"#,
            base64(&self.cert_der, false)
        );
        let claims = format!(
            r#"{{"iss":"{ISSUER}","sub":"{}","aud":"{SERVICE}","exp":{},"nbf":{},"iat":{now},"jti":"{now}-{}","access":[{}]}}"#,
            self.username,
            now + self.lifetime.as_secs(),
            now.saturating_sub(5),
            self.issued.load(Ordering::Relaxed),
            access.join(",")
        );
        let signing_input = format!(
            "{}.{}",
            base64(header.as_bytes(), true),
            base64(claims.as_bytes(), true)
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .expect("sign the token");
        format!("{signing_input}.{}", base64(signature.as_ref(), true))
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Base64, standard (padded) or URL-safe without padding.
pub fn base64(bytes: &[u8], url: bool) -> String {
    let alphabet: &[u8; 64] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[(n >> (18 - 6 * i) & 63) as usize]));
        }
        if !url {
            for _ in chunk.len()..3 {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_forms() {
        assert_eq!(base64(b"ping:pong", false), "cGluZzpwb25n");
        assert_eq!(base64(b"a", false), "YQ==");
        assert_eq!(base64(b"ab", true), "YWI");
        assert_eq!(base64(&[0xfb, 0xff], true), "-_8");
        assert_eq!(
            percent_decode("repository%3Aa%2Fb%3Apull%2Cpush"),
            "repository:a/b:pull,push"
        );
    }
}
