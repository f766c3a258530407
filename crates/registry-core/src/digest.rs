//! Content digests and the verifiers that check bytes against them.

use std::fmt;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::{Error, ParseError};

/// The digest of a piece of content: `sha256:` followed by 64 lowercase hex digits.
///
/// This is the form OCI registries, warg and `wkg.lock` all use.
///
/// ```
/// use registry_core::ContentDigest;
///
/// let digest = ContentDigest::sha256(b"hello");
/// assert_eq!(
///     digest.to_string(),
///     "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
/// );
/// assert_eq!(digest.to_string().parse::<ContentDigest>().unwrap(), digest);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentDigest {
    sha256: [u8; 32],
}

const DIGEST_EXAMPLE: &str =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

impl ContentDigest {
    /// The SHA-256 digest of `bytes`.
    pub fn sha256(bytes: &[u8]) -> Self {
        Self {
            sha256: Sha256::digest(bytes).into(),
        }
    }

    /// The SHA-256 digest of everything `reader` yields, read in 64 KiB pieces.
    ///
    /// # Errors
    /// The reader's errors.
    pub fn sha256_reader(mut reader: impl std::io::Read) -> std::io::Result<Self> {
        use sha2::Digest as _;
        let mut hasher = Sha256::new();
        let mut buf = vec![0; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => hasher.update(&buf[..n]),
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(Self {
            sha256: hasher.finalize().into(),
        })
    }

    /// A digest from the raw 32 bytes of a SHA-256 hash.
    pub fn from_sha256_bytes(sha256: [u8; 32]) -> Self {
        Self { sha256 }
    }

    /// The algorithm, always `sha256` today.
    pub fn algorithm(&self) -> &'static str {
        "sha256"
    }

    /// The hex-encoded hash, without the `sha256:` prefix. Safe to use as a file name.
    pub fn hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for byte in self.sha256 {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        out
    }

    /// The raw hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.sha256
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl FromStr for ContentDigest {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| ParseError::new(s, "content digest", reason, DIGEST_EXAMPLE);
        let Some((algorithm, hex)) = s.split_once(':') else {
            return Err(fail(
                "expected `sha256:` followed by 64 hex digits".to_owned(),
            ));
        };
        if algorithm != "sha256" {
            return Err(fail(format!(
                "algorithm `{algorithm}` is not supported; only `sha256` is"
            )));
        }
        if hex.len() != 64 {
            return Err(fail(format!(
                "a sha256 digest has 64 hex digits, this one has {}",
                hex.len()
            )));
        }
        let mut sha256 = [0u8; 32];
        for (i, pair) in hex.as_bytes().chunks_exact(2).enumerate() {
            let nibble = |c: u8| match c {
                b'0'..=b'9' => Ok(c - b'0'),
                b'a'..=b'f' => Ok(c - b'a' + 10),
                b'A'..=b'F' => Err(fail("hex digits must be lowercase".to_owned())),
                _ => Err(fail(format!("{:?} is not a hex digit", char::from(c)))),
            };
            sha256[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Ok(Self { sha256 })
    }
}

impl fmt::Display for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentDigest({self})")
    }
}

impl Serialize for ContentDigest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ContentDigest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Hashes bytes as they pass and checks them against an expected digest and size.
///
/// Feed every chunk to [`update`](Self::update), then call [`finish`](Self::finish): content
/// is good only if `finish` returns `Ok`. `update` fails as soon as the content grows past the
/// expected size, so an endless body is cut off early.
///
/// ```
/// use registry_core::{ContentDigest, DigestVerifier};
///
/// let expected = ContentDigest::sha256(b"hello world");
/// let mut verifier = DigestVerifier::new(expected, Some(11), "greeting");
/// verifier.update(b"hello ").unwrap();
/// verifier.update(b"world").unwrap();
/// verifier.finish().unwrap();
///
/// let mut verifier = DigestVerifier::new(expected, None, "greeting");
/// verifier.update(b"hello there").unwrap();
/// assert!(verifier.finish().unwrap_err().is_integrity());
/// ```
#[derive(Clone)]
pub struct DigestVerifier {
    expected: ContentDigest,
    expected_size: Option<u64>,
    subject: String,
    hasher: Sha256,
    seen: u64,
}

impl DigestVerifier {
    /// A verifier for content that must hash to `expected` and, when given, be
    /// `expected_size` bytes long. `subject` names the content in errors, e.g.
    /// `wasi:http@0.2.0 from wasi.dev`.
    pub fn new(
        expected: ContentDigest,
        expected_size: Option<u64>,
        subject: impl Into<String>,
    ) -> Self {
        Self {
            expected,
            expected_size,
            subject: subject.into(),
            hasher: Sha256::new(),
            seen: 0,
        }
    }

    /// Hashes one more chunk.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] when the content is now longer than the expected size.
    pub fn update(&mut self, chunk: &[u8]) -> Result<(), Error> {
        self.seen += chunk.len() as u64;
        if let Some(expected) = self.expected_size
            && self.seen > expected
        {
            return Err(Error::SizeMismatch {
                subject: self.subject.clone(),
                expected,
                actual: self.seen,
            });
        }
        self.hasher.update(chunk);
        Ok(())
    }

    /// The number of bytes hashed so far.
    pub fn bytes_seen(&self) -> u64 {
        self.seen
    }

    /// Checks the whole content.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] when the content is shorter than the expected size,
    /// [`Error::DigestMismatch`] when it hashes to another digest.
    pub fn finish(self) -> Result<ContentDigest, Error> {
        if let Some(expected) = self.expected_size
            && self.seen != expected
        {
            return Err(Error::SizeMismatch {
                subject: self.subject,
                expected,
                actual: self.seen,
            });
        }
        let actual = ContentDigest::from_sha256_bytes(self.hasher.finalize().into());
        if actual != self.expected {
            return Err(Error::DigestMismatch {
                subject: self.subject,
                expected: self.expected,
                actual,
            });
        }
        Ok(actual)
    }
}

impl fmt::Debug for DigestVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestVerifier")
            .field("expected", &self.expected)
            .field("expected_size", &self.expected_size)
            .field("subject", &self.subject)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

/// A stream of content chunks that verifies them as they pass.
///
/// It yields the inner stream's chunks unchanged. When the inner stream ends, it checks the
/// digest and size and, on a mismatch, yields one final `Err` instead of ending cleanly. A
/// chunk that takes the content past the expected size is replaced by an `Err` at once. After
/// an error the stream ends. So a consumer that writes chunks to a temporary file and commits
/// it only once the stream has ended without an error never commits bad bytes.
///
/// ```
/// # futures::executor::block_on(async {
/// use bytes::Bytes;
/// use futures::{StreamExt, stream};
/// use registry_core::{ContentDigest, VerifyingStream};
///
/// let chunks = stream::iter([Ok(Bytes::from_static(b"hello"))]);
/// let digest = ContentDigest::sha256(b"hello");
/// let mut verified = VerifyingStream::new(chunks, digest, Some(5), "greeting");
/// assert_eq!(verified.next().await.unwrap().unwrap(), "hello");
/// assert!(verified.next().await.is_none());
/// # });
/// ```
pub struct VerifyingStream<S> {
    inner: S,
    /// `None` once the stream has finished, successfully or not.
    verifier: Option<DigestVerifier>,
}

impl<S> VerifyingStream<S> {
    /// Wraps `inner`; see [`DigestVerifier::new`] for the arguments.
    pub fn new(
        inner: S,
        expected: ContentDigest,
        expected_size: Option<u64>,
        subject: impl Into<String>,
    ) -> Self {
        Self {
            inner,
            verifier: Some(DigestVerifier::new(expected, expected_size, subject)),
        }
    }
}

impl<S> Stream for VerifyingStream<S>
where
    S: Stream<Item = Result<Bytes, Error>> + Unpin,
{
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(verifier) = this.verifier.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => match verifier.update(&chunk) {
                Ok(()) => Poll::Ready(Some(Ok(chunk))),
                Err(err) => {
                    this.verifier = None;
                    Poll::Ready(Some(Err(err)))
                }
            },
            Poll::Ready(Some(Err(err))) => {
                this.verifier = None;
                Poll::Ready(Some(Err(err)))
            }
            Poll::Ready(None) => {
                let verifier = this.verifier.take().expect("checked above");
                match verifier.finish() {
                    Ok(_) => Poll::Ready(None),
                    Err(err) => Poll::Ready(Some(Err(err))),
                }
            }
        }
    }
}

impl<S> fmt::Debug for VerifyingStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingStream")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use futures::executor::block_on;
    use futures::{StreamExt, stream};

    use super::*;

    const HELLO: &str = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, Error>> + Unpin {
        stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    fn collect(s: impl Stream<Item = Result<Bytes, Error>> + Unpin) -> Vec<Result<Bytes, Error>> {
        block_on(s.collect::<Vec<_>>())
    }

    #[test]
    fn parse_and_display() {
        let digest: ContentDigest = HELLO.parse().unwrap();
        assert_eq!(digest, ContentDigest::sha256(b"hello"));
        assert_eq!(digest.to_string(), HELLO);
        assert_eq!(digest.hex(), &HELLO[7..]);
        assert_eq!(
            serde_json::to_string(&digest).unwrap(),
            format!("\"{HELLO}\"")
        );
        let back: ContentDigest = serde_json::from_str(&format!("\"{HELLO}\"")).unwrap();
        assert_eq!(back, digest);
    }

    #[test]
    fn parse_errors() {
        let err = |s: &str| s.parse::<ContentDigest>().unwrap_err().to_string();
        expect![[r#""sha512:abcd" is not a valid content digest: algorithm `sha512` is not supported; only `sha256` is, e.g. "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855""#]]
            .assert_eq(&err("sha512:abcd"));
        expect![[r#""sha256:abc" is not a valid content digest: a sha256 digest has 64 hex digits, this one has 3, e.g. "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855""#]]
            .assert_eq(&err("sha256:abc"));
        assert!(err(&HELLO.to_uppercase().replace("SHA256", "sha256")).contains("lowercase"));
        assert!(err(&format!("{}z", &HELLO[..70])).contains("'z' is not a hex digit"));
        assert!(err("2cf24dba").contains("expected `sha256:`"));
    }

    #[test]
    fn stream_passes_good_content() {
        let digest = ContentDigest::sha256(b"hello world");
        let out = collect(VerifyingStream::new(
            chunks(&[b"hello", b" ", b"world"]),
            digest,
            Some(11),
            "test",
        ));
        let bytes: Vec<u8> = out.into_iter().flat_map(|c| c.unwrap().to_vec()).collect();
        assert_eq!(bytes, b"hello world");
    }

    #[test]
    fn stream_without_size_still_checks_digest() {
        let digest = ContentDigest::sha256(b"hello world");
        let out = collect(VerifyingStream::new(
            chunks(&[b"hello world"]),
            digest,
            None,
            "t",
        ));
        assert!(out.iter().all(Result::is_ok));
    }

    #[test]
    fn stream_fails_on_wrong_digest_as_last_item() {
        let digest = ContentDigest::sha256(b"hello world");
        let out = collect(VerifyingStream::new(
            chunks(&[b"hello", b" ", b"WORLD"]),
            digest,
            Some(11),
            "acme:widget@1.0.0 from example.com",
        ));
        assert_eq!(out.len(), 4);
        assert!(out[..3].iter().all(Result::is_ok));
        let err = out[3].as_ref().unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }));
        expect!["acme:widget@1.0.0 from example.com: content digest mismatch: expected sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9, got sha256:a53bd0a9374bb36bfd24ded103d78d4fd50564c459fa21d29087bd389c8f8910; the bytes were not used, fetch again or report it to the registry's operator"]
            .assert_eq(&err.to_string());
    }

    #[test]
    fn stream_fails_on_truncation() {
        let digest = ContentDigest::sha256(b"hello world");
        let out = collect(VerifyingStream::new(
            chunks(&[b"hello"]),
            digest,
            Some(11),
            "t",
        ));
        let err = out.last().unwrap().as_ref().unwrap_err();
        expect![[r#"t: content size mismatch: expected 11 bytes, got 5 bytes; the bytes were not used, fetch again or report it to the registry's operator"#]]
            .assert_eq(&err.to_string());
    }

    #[test]
    fn stream_cuts_off_a_body_longer_than_declared() {
        let digest = ContentDigest::sha256(b"hello");
        let out = collect(VerifyingStream::new(
            chunks(&[b"hel", b"lo", b"!!!", b"never read"]),
            digest,
            Some(5),
            "t",
        ));
        // Two good chunks, then the error in place of the third; the fourth is never read.
        assert_eq!(out.len(), 3);
        let err = out[2].as_ref().unwrap_err();
        assert!(matches!(
            err,
            Error::SizeMismatch {
                expected: 5,
                actual: 8,
                ..
            }
        ));
        assert!(err.to_string().contains("got at least 8 bytes"), "{err}");
    }

    #[test]
    fn stream_ends_after_an_inner_error() {
        let digest = ContentDigest::sha256(b"hello");
        let inner = stream::iter(vec![
            Ok(Bytes::from_static(b"he")),
            Err(Error::InvalidInput {
                message: "connection reset".into(),
            }),
            Ok(Bytes::from_static(b"llo")),
        ]);
        let out = collect(VerifyingStream::new(inner, digest, Some(5), "t"));
        assert_eq!(out.len(), 2);
        assert!(out[1].is_err());
    }
}
