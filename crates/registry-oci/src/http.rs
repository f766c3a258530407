//! Our own reads from an OCI registry: manifests, tag lists and blobs.
//!
//! `oci-client` buffers a whole answer before its caller sees a byte, so a registry that
//! streams a 1 GiB manifest would take 1 GiB of memory before any limit could refuse it.
//! Here every answer that is parsed (manifests, tag lists, token responses, error bodies) is
//! read with a cap as it streams, refused the moment the cap is passed, and refused before
//! any byte is read when its `Content-Length` is over the cap. Blobs are streamed to the
//! caller, which checks them against their digest.
//!
//! Authentication follows the registry's challenge: a `Bearer` challenge is answered with a
//! token from the realm it names (asked with the configured username and password, if any),
//! kept per repository; a `Basic` challenge with the configured username and password; a
//! configured token is sent as is. An identity token (basic credentials with the username
//! [`IDENTITY_TOKEN_USERNAME`]) is an OAuth2 refresh token: it is exchanged with a `POST` of
//! `grant_type=refresh_token` to the realm, as the distribution spec's OAuth2 flow says, and
//! when the realm answers that `POST` with 404, sent as basic credentials with a `GET` to
//! the realm, as Docker does; a realm that refuses it is [`ReadError::IdentityTokenRefused`].
//! An identity token is never sent to the registry itself: a registry that asks for basic
//! credentials gets none, and the read fails with [`ReadError::IdentityTokenNotBasic`]. `429` and `503` are retried after the `Retry-After` the
//! registry sends (seconds or an HTTP date, at most [`RETRY_AFTER_MAX`]), connection errors
//! and other `5xx` after exponential backoff. `oci-client` is used for publishing only.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use oci_client::errors::{OciDistributionError, OciEnvelope};
use oci_client::secrets::RegistryAuth;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, RETRY_AFTER, WWW_AUTHENTICATE};

use crate::credentials::IDENTITY_TOKEN_USERNAME;
use crate::retry::{RetryPolicy, is_certificate_error};

/// The `client_id` an identity token exchange names.
const CLIENT_ID: &str = "wreg";

/// The largest token response read.
pub(crate) const TOKEN_MAX_BYTES: usize = 64 * 1024;
/// The largest page of a tag list read (a page of 1,000 tags is about 20 KiB).
pub(crate) const TAGS_MAX_BYTES: usize = 4 * 1024 * 1024;
/// The largest error body read (for its message).
const ERROR_MAX_BYTES: usize = 64 * 1024;
/// The longest wait a `Retry-After` gets.
pub(crate) const RETRY_AFTER_MAX: Duration = Duration::from_secs(30);

/// Why a read failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// What the registry (or the connection) said, as `oci-client` would have said it.
    Oci(OciDistributionError),
    /// An answer went past its cap; the message names it and the cap.
    TooLarge(String),
    /// The token service refused the identity token (400, 401 or 403).
    IdentityTokenRefused {
        /// The realm that refused.
        realm: String,
        /// Its status.
        status: StatusCode,
        /// The start of what it said, the token taken out.
        said: String,
    },
    /// The registry asks for basic credentials, and the credentials are an identity token,
    /// which is only ever exchanged at a token service (it was not sent).
    IdentityTokenNotBasic,
}

impl From<OciDistributionError> for ReadError {
    fn from(err: OciDistributionError) -> Self {
        Self::Oci(err)
    }
}

impl From<reqwest::Error> for ReadError {
    fn from(err: reqwest::Error) -> Self {
        Self::Oci(OciDistributionError::RequestError(err))
    }
}

/// Reads from one OCI registry host.
pub(crate) struct Reader {
    http: reqwest::Client,
    base: String,
    auth: RegistryAuth,
    /// Bearer tokens by repository, with when to stop using them (never logged, never in
    /// `Debug`).
    tokens: Mutex<HashMap<String, (String, Instant)>>,
    /// The registry asked for basic auth.
    basic: AtomicBool,
    /// The last token challenge the registry sent.
    challenge: Mutex<Option<Challenge>>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// A `Bearer` challenge: where to get a token.
#[derive(Clone)]
struct Challenge {
    realm: String,
    service: Option<String>,
}

enum Scheme {
    Bearer(Challenge),
    Basic,
}

/// The scheme and parameters of a `WWW-Authenticate` value.
fn parse_challenge(value: &str) -> Option<Scheme> {
    let (scheme, rest) = value
        .trim()
        .split_once(char::is_whitespace)
        .unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Scheme::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        params.insert(key.trim().to_ascii_lowercase(), value.to_owned());
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Scheme::Bearer(Challenge {
        realm: params.remove("realm")?,
        service: params.remove("service"),
    }))
}

/// The challenge an answer's `WWW-Authenticate` header makes, if any.
fn challenge_of(response: &reqwest::Response) -> Option<Scheme> {
    response
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_challenge)
}

/// How long a `Retry-After` asks to wait: seconds, or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The body of `response`, at most `cap` bytes; `what` names it in the error.
pub(crate) async fn read_capped(
    response: reqwest::Response,
    cap: usize,
    what: &str,
) -> Result<Bytes, ReadError> {
    let too_large = |seen: String| {
        ReadError::TooLarge(format!(
            "{what} is {seen} bytes, over the {cap}-byte limit; it was not read"
        ))
    };
    if let Some(length) = response.content_length()
        && length > cap as u64
    {
        return Err(too_large(length.to_string()));
    }
    let mut body = BytesMut::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > cap {
            return Err(too_large(format!("more than {cap}")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

impl Reader {
    pub(crate) fn new(
        http: reqwest::Client,
        scheme: &str,
        host: &str,
        auth: RegistryAuth,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            http,
            base: format!("{scheme}://{host}"),
            auth,
            tokens: Mutex::new(HashMap::new()),
            basic: AtomicBool::new(false),
            challenge: Mutex::new(None),
            retry,
        }
    }

    pub(crate) fn set_retry(&mut self, retry: RetryPolicy) {
        self.retry = retry;
    }

    /// `GET <path>` in `repository`, its body read up to `cap` bytes; with the headers.
    pub(crate) async fn get(
        &self,
        path: &str,
        repository: &str,
        accept: &[&str],
        cap: usize,
        what: &str,
    ) -> Result<(HeaderMap, Bytes), ReadError> {
        let response = self.send(path, repository, accept, &[]).await?;
        let headers = response.headers().clone();
        Ok((headers, read_capped(response, cap, what).await?))
    }

    /// As [`get`](Self::get), but an answer whose status is in `pass` is returned rather
    /// than made an error (its body read with the same cap); with its status.
    pub(crate) async fn get_answer(
        &self,
        path: &str,
        repository: &str,
        accept: &[&str],
        (cap, what): (usize, &str),
        pass: &[StatusCode],
    ) -> Result<(StatusCode, HeaderMap, Bytes), ReadError> {
        let response = self.send(path, repository, accept, pass).await?;
        let (status, headers) = (response.status(), response.headers().clone());
        Ok((status, headers, read_capped(response, cap, what).await?))
    }

    /// `PUT <path>` of `body` with `headers`, authorized by `auth` as it is (the push token
    /// or the credentials a publish uses; an identity token never), retried as reads are
    /// (connection failures, `429`, `5xx`); the answer's headers. An answer whose status is
    /// in `pass` is returned too.
    pub(crate) async fn put(
        &self,
        path: &str,
        auth: &RegistryAuth,
        headers: HeaderMap,
        body: Bytes,
        pass: &[StatusCode],
    ) -> Result<(StatusCode, HeaderMap), ReadError> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 0;
        loop {
            let mut request = self
                .http
                .put(&url)
                .headers(headers.clone())
                .body(body.clone());
            request = match auth {
                RegistryAuth::Bearer(token) => request.bearer_auth(token),
                RegistryAuth::Basic(user, password) if user != IDENTITY_TOKEN_USERNAME => {
                    request.basic_auth(user, Some(password))
                }
                _ => request,
            };
            let sent = request.send().await;
            let wait = match sent {
                Ok(response)
                    if response.status().is_success() || pass.contains(&response.status()) =>
                {
                    tracing::debug!(%url, status = %response.status(), "PUT");
                    return Ok((response.status(), response.headers().clone()));
                }
                Ok(response) => {
                    tracing::debug!(%url, status = %response.status(), "PUT");
                    match self.wait_before_retry(&response, attempt) {
                        Some(wait) => wait,
                        None => return Err(error_of(response, &url).await),
                    }
                }
                Err(err) => {
                    tracing::debug!(%url, "PUT failed: {err}");
                    match self.wait_after_failure(&err, attempt) {
                        Some(wait) => wait,
                        None => return Err(err.into()),
                    }
                }
            };
            tracing::debug!(%url, attempt, ?wait, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// How long to wait before sending again after an unsuccessful answer, if it may
    /// succeed when sent again (`429`, `5xx`, within the retries): the `Retry-After` of a
    /// `429` or `503`, else exponential backoff.
    fn wait_before_retry(&self, response: &reqwest::Response, attempt: u32) -> Option<Duration> {
        let status = response.status();
        let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
        if !retryable || attempt >= self.retry.retries {
            return None;
        }
        let asked = (status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::SERVICE_UNAVAILABLE)
            .then(|| retry_after(response.headers(), SystemTime::now()))
            .flatten();
        Some(match asked {
            Some(wait) => wait.min(RETRY_AFTER_MAX),
            None => self.backoff(attempt),
        })
    }

    /// How long to wait before sending again after a failed request, if it may succeed
    /// when sent again (a connection failure or timeout, not a certificate, within the
    /// retries).
    fn wait_after_failure(&self, err: &reqwest::Error, attempt: u32) -> Option<Duration> {
        let transient = (err.is_connect() || err.is_timeout() || err.is_request())
            && !is_certificate_error(err);
        (transient && attempt < self.retry.retries).then(|| self.backoff(attempt))
    }

    /// `GET <path>` in `repository`, the successful response for its body to be streamed.
    pub(crate) async fn get_stream(
        &self,
        path: &str,
        repository: &str,
    ) -> Result<reqwest::Response, ReadError> {
        self.send(path, repository, &[], &[]).await
    }

    /// Sends the request, authenticating and retrying; a success (or an answer whose status
    /// is in `pass`), or the error.
    async fn send(
        &self,
        path: &str,
        repository: &str,
        accept: &[&str],
        pass: &[StatusCode],
    ) -> Result<reqwest::Response, ReadError> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 0;
        let mut challenged = false;
        loop {
            let mut request = self.http.get(&url);
            if !accept.is_empty() {
                request = request.header(ACCEPT, accept.join(", "));
            }
            request = self.authorize(request, repository);
            let sent = request.send().await;
            match &sent {
                Ok(response) => {
                    tracing::debug!(%url, status = %response.status(), length = ?response.content_length(), "GET");
                }
                Err(err) => tracing::debug!(%url, "GET failed: {err}"),
            }
            let wait = match sent {
                Err(err) => match self.wait_after_failure(&err, attempt) {
                    Some(wait) => wait,
                    None => return Err(err.into()),
                },
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) if pass.contains(&response.status()) => return Ok(response),
                Ok(response) if response.status() == StatusCode::UNAUTHORIZED && !challenged => {
                    challenged = true;
                    match challenge_of(&response) {
                        Some(Scheme::Bearer(challenge))
                            if !matches!(self.auth, RegistryAuth::Bearer(_)) =>
                        {
                            tracing::debug!(realm = %challenge.realm, %repository, "asking for a token");
                            *self.challenge.lock().expect("not poisoned") = Some(challenge.clone());
                            let scope = format!("repository:{repository}:pull");
                            let (token, until) = self.request_token(&challenge, &scope).await?;
                            self.tokens
                                .lock()
                                .expect("not poisoned")
                                .insert(repository.to_owned(), (token, until));
                            continue;
                        }
                        Some(Scheme::Basic) if self.identity_token().is_some() => {
                            tracing::debug!(%url, "the registry asks for basic auth; an identity token is not sent to it");
                            return Err(ReadError::IdentityTokenNotBasic);
                        }
                        Some(Scheme::Basic) if matches!(self.auth, RegistryAuth::Basic(..)) => {
                            tracing::debug!(%url, "the registry asks for basic auth");
                            self.basic.store(true, Ordering::Relaxed);
                            continue;
                        }
                        _ => return Err(error_of(response, &url).await),
                    }
                }
                Ok(response) => match self.wait_before_retry(&response, attempt) {
                    Some(wait) => wait,
                    None => return Err(error_of(response, &url).await),
                },
            };
            tracing::debug!(%url, attempt, ?wait, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.retry
            .base
            .saturating_mul(1 << attempt.min(16))
            .min(Duration::from_secs(10))
    }

    fn authorize(
        &self,
        request: reqwest::RequestBuilder,
        repository: &str,
    ) -> reqwest::RequestBuilder {
        match &self.auth {
            RegistryAuth::Bearer(token) => return request.bearer_auth(token),
            RegistryAuth::Basic(user, password)
                if self.basic.load(Ordering::Relaxed) && user != IDENTITY_TOKEN_USERNAME =>
            {
                return request.basic_auth(user, Some(password));
            }
            _ => {}
        }
        match self.tokens.lock().expect("not poisoned").get(repository) {
            Some((token, until)) if Instant::now() < *until => {
                request.header(AUTHORIZATION, format!("Bearer {token}"))
            }
            _ => request,
        }
    }

    /// The identity token the credentials are, if they are one.
    fn identity_token(&self) -> Option<&String> {
        match &self.auth {
            RegistryAuth::Basic(user, token) if user == IDENTITY_TOKEN_USERNAME => Some(token),
            _ => None,
        }
    }

    /// A token to push to `repository`, when the registry hands out tokens (it is asked
    /// with `GET /v2/` first when no request has met its challenge yet); `None` when it
    /// takes basic credentials or none, or a token is configured. With an identity token,
    /// a registry that asks for basic credentials is [`ReadError::IdentityTokenNotBasic`].
    pub(crate) async fn push_token(&self, repository: &str) -> Result<Option<String>, ReadError> {
        if matches!(self.auth, RegistryAuth::Bearer(_)) {
            return Ok(None);
        }
        let known = self.challenge.lock().expect("not poisoned").clone();
        let challenge = match known {
            Some(challenge) => challenge,
            None => {
                let url = format!("{}/v2/", self.base);
                let response = self.http.get(&url).send().await?;
                match challenge_of(&response) {
                    Some(Scheme::Bearer(challenge)) => challenge,
                    Some(Scheme::Basic) if self.identity_token().is_some() => {
                        tracing::debug!(%url, "the registry asks for basic auth; an identity token is not sent to it");
                        return Err(ReadError::IdentityTokenNotBasic);
                    }
                    _ => return Ok(None),
                }
            }
        };
        let scope = format!("repository:{repository}:pull,push");
        Ok(Some(self.request_token(&challenge, &scope).await?.0))
    }

    /// Asks the challenge's realm for a token for `scope`: the token and when to stop
    /// using it. An identity token is exchanged with a `POST` first.
    async fn request_token(
        &self,
        challenge: &Challenge,
        scope: &str,
    ) -> Result<(String, Instant), ReadError> {
        let identity = self.identity_token();
        let mut exchanged = None;
        if let Some(token) = identity {
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("scope", scope),
                ("refresh_token", token.as_str()),
            ];
            if let Some(service) = &challenge.service {
                form.push(("service", service));
            }
            let response = self.http.post(&challenge.realm).form(&form).send().await?;
            tracing::debug!(realm = %challenge.realm, status = %response.status(), "token service answered the identity token exchange");
            if response.status() == StatusCode::NOT_FOUND {
                tracing::debug!(realm = %challenge.realm, "no OAuth2 token endpoint; sending the identity token with GET");
            } else {
                exchanged = Some(response);
            }
        }
        let response = match exchanged {
            Some(response) => response,
            None => {
                let mut query = vec![("scope", scope)];
                if let Some(service) = &challenge.service {
                    query.push(("service", service));
                }
                let mut request = self.http.get(&challenge.realm).query(&query);
                // To the realm, never the registry: an identity token goes here too, as
                // Docker sends it.
                if let RegistryAuth::Basic(user, password) = &self.auth {
                    request = request.basic_auth(user, Some(password));
                }
                request.send().await?
            }
        };
        let status = response.status();
        tracing::debug!(realm = %challenge.realm, %status, "token service answered");
        let body = read_capped(response, TOKEN_MAX_BYTES, "the token response").await?;
        if !status.is_success() {
            // What it said, without a credential it may have echoed (taken out before the
            // answer is cut short, so no part of one is left at the cut).
            let mut said = String::from_utf8_lossy(&body).into_owned();
            if let RegistryAuth::Basic(_, secret) = &self.auth
                && !secret.is_empty()
            {
                said = said.replace(secret.as_str(), "<redacted>");
            }
            let said: String = said.chars().take(300).collect();
            if identity.is_some() && matches!(status.as_u16(), 400 | 401 | 403) {
                return Err(ReadError::IdentityTokenRefused {
                    realm: challenge.realm.clone(),
                    status,
                    said,
                });
            }
            return Err(ReadError::Oci(OciDistributionError::AuthenticationFailure(
                format!(
                    "the token service {} answered {status}: {said}",
                    challenge.realm
                ),
            )));
        }
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let token: Token = serde_json::from_slice(&body).map_err(|err| {
            ReadError::Oci(OciDistributionError::AuthenticationFailure(format!(
                "the token service {} answered something that is not a token: {err}",
                challenge.realm
            )))
        })?;
        // A token is good for `expires_in` seconds (60 when not said); it is renewed a little
        // before that.
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(60).max(1));
        let until = Instant::now() + lifetime.mul_f64(0.9);
        let token = token.token.or(token.access_token).ok_or_else(|| {
            ReadError::Oci(OciDistributionError::AuthenticationFailure(format!(
                "the token service {} answered without a token",
                challenge.realm
            )))
        })?;
        tracing::debug!(%scope, ?lifetime, "got a token");
        Ok((token, until))
    }
}

/// An unsuccessful answer as `oci-client` reports it: the registry's error envelope when
/// the body is one, else the status and the start of the body.
async fn error_of(response: reqwest::Response, url: &str) -> ReadError {
    let code = response.status().as_u16();
    let body = match read_capped(response, ERROR_MAX_BYTES, "an error answer").await {
        Ok(body) => body,
        Err(ReadError::TooLarge(_)) => Bytes::new(),
        Err(err) => return err,
    };
    if let Ok(envelope) = serde_json::from_slice::<OciEnvelope>(&body)
        && !envelope.errors.is_empty()
        && code != 401
        && code != 403
    {
        return ReadError::Oci(OciDistributionError::RegistryError {
            envelope,
            url: url.to_owned(),
        });
    }
    ReadError::Oci(OciDistributionError::ServerError {
        code,
        url: url.to_owned(),
        message: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let Some(Scheme::Bearer(c)) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        ) else {
            panic!("a bearer challenge");
        };
        assert_eq!(c.realm, "https://auth.example/token");
        assert_eq!(c.service.as_deref(), Some("registry.example"));
        assert!(matches!(
            parse_challenge(r#"Basic realm="r""#),
            Some(Scheme::Basic)
        ));
        assert!(parse_challenge("Negotiate").is_none());
        assert!(
            parse_challenge("Bearer service=\"x\"").is_none(),
            "no realm"
        );
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            "Sun, 06 Nov 1994 08:50:07 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        headers.insert(
            RETRY_AFTER,
            "Sun, 06 Nov 1994 08:00:00 GMT".parse().unwrap(),
        );
        assert_eq!(
            retry_after(&headers, now),
            Some(Duration::ZERO),
            "a date passed"
        );
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers, now), None);
    }
}
