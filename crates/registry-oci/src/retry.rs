//! When a request is sent again, and which failures are the client's TLS trust rather than
//! the network: shared by the backend and the reader (`http.rs`), which depend on this and
//! not on each other.

use std::time::Duration;

/// How idempotent requests are retried on connection errors, 429 and 5xx: this many
/// retries, waiting `base * 2^n` (capped at 10 s) before retry `n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first wait.
    pub base: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 3,
            base: Duration::from_millis(250),
        }
    }
}

/// Whether an error (or one of its causes) is a TLS certificate that was not trusted.
pub(crate) fn is_certificate_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let text = registry_core::chain_text(err).to_ascii_lowercase();
    text.contains("certificate") || text.contains("unknownissuer")
}
