//! What every backend of the wreg workspace shares to move bytes, written once.
//!
//! - [`TlsTrust`]: how to trust a registry's certificate, read from a backend section of
//!   the configuration ([`TlsTrust::read`], every bad value located at its file, line and
//!   key) and turned into an HTTP client builder ([`TlsTrust::client_builder`]). The OCI
//!   backend, the warg backend and well-known discovery build their clients from it.
//! - [`Spool`]: a publish's content copied to a temporary file while it is hashed, checked
//!   against the declared size and digest, then read back or renamed into place.
#![deny(missing_docs)]

mod spool;
mod tls;

pub use spool::Spool;
pub use tls::{
    CertificateEncoding, InlineCertificate, RootCertificate, TlsKeys, TlsTrust, base64_decode,
};
