//! How to trust a registry's TLS certificate, read once from its configuration section and
//! turned into HTTP clients.

use std::path::Path;

use registry_config::RegistrySettings;
use registry_core::Error;
use serde::{Deserialize, Serialize};

/// One entry of `extra_root_certificates`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InlineCertificate {
    /// How `data` is encoded.
    pub encoding: CertificateEncoding,
    /// The certificate: PEM text, or DER as base64.
    pub data: String,
}

/// The encoding of an inline certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CertificateEncoding {
    /// PEM text (`-----BEGIN CERTIFICATE-----`).
    Pem,
    /// DER, written as base64.
    Der,
}

/// A root certificate to trust, checked to be readable. (Exhaustive: a backend maps each
/// encoding to its HTTP library's.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootCertificate {
    /// PEM text holding one or more certificates.
    Pem(Vec<u8>),
    /// One DER certificate.
    Der(Vec<u8>),
}

/// The TLS keys of a backend section, as each backend deserialized them (a backend keeps
/// its own section type; this is the view of it that trust is read from).
#[derive(Clone, Copy, Debug, Default)]
pub struct TlsKeys<'a> {
    /// `ca_file`: a PEM file of extra roots.
    pub ca_file: Option<&'a Path>,
    /// `ca_pem`: PEM text of extra roots.
    pub ca_pem: Option<&'a str>,
    /// `extra_root_certificates`: inline roots, PEM or base64 DER.
    pub extra_root_certificates: &'a [InlineCertificate],
    /// `insecure_skip_tls_verify` (or an older spelling of it).
    pub insecure: bool,
}

/// How to trust a registry's certificate: the extra roots (checked to parse) and whether
/// any certificate is accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsTrust {
    /// Extra root certificates: `ca_pem`, `extra_root_certificates`, then the contents of
    /// `ca_file`.
    pub extra_roots: Vec<RootCertificate>,
    /// Accept any certificate.
    pub insecure: bool,
}

impl TlsTrust {
    /// Reads `keys` of the `[registry."<name>".<backend>]` section of `section`, reading
    /// `ca_file` and parsing every certificate as a trust anchor (a TLS client would).
    ///
    /// # Errors
    /// [`Error::Config`] naming the file, line and key of a value that cannot be used (a
    /// `ca_file` that cannot be read or holds no certificate, PEM that is not PEM, DER
    /// that is not DER).
    pub fn read(
        section: &RegistrySettings<'_>,
        backend: &str,
        keys: TlsKeys<'_>,
    ) -> Result<Self, Error> {
        let bad = |key: &str, why: String| Error::from(section.invalid(backend, key, why));
        let mut extra_roots = Vec::new();
        if let Some(pem) = keys.ca_pem {
            check_pem(pem.as_bytes()).map_err(|why| bad("ca_pem", why))?;
            extra_roots.push(RootCertificate::Pem(pem.as_bytes().to_vec()));
        }
        for (i, cert) in keys.extra_root_certificates.iter().enumerate() {
            let root = match cert.encoding {
                CertificateEncoding::Pem => {
                    check_pem(cert.data.as_bytes()).map_err(|why| {
                        bad("extra_root_certificates", format!("entry {i} {why}"))
                    })?;
                    RootCertificate::Pem(cert.data.as_bytes().to_vec())
                }
                CertificateEncoding::Der => {
                    // Base64, as a TOML string holds text; raw bytes as wkg passes them on,
                    // when that is what the string holds.
                    let der = base64_decode(&cert.data.split_whitespace().collect::<String>())
                        .filter(|d| d.first() == Some(&0x30))
                        .unwrap_or_else(|| cert.data.as_bytes().to_vec());
                    if der.first() != Some(&0x30) || check_der(&der).is_err() {
                        return Err(bad(
                            "extra_root_certificates",
                            format!(
                                "entry {i} is not a DER certificate (write it as base64, or \
                                 use encoding = \"pem\")"
                            ),
                        ));
                    }
                    RootCertificate::Der(der)
                }
            };
            extra_roots.push(root);
        }
        if let Some(path) = keys.ca_file {
            let pem = std::fs::read(path).map_err(|err| {
                bad(
                    "ca_file",
                    format!("`{}` cannot be read: {err}", path.display()),
                )
            })?;
            check_pem(&pem).map_err(|why| bad("ca_file", format!("`{}` {why}", path.display())))?;
            extra_roots.push(RootCertificate::Pem(pem));
        }
        Ok(Self {
            extra_roots,
            insecure: keys.insecure,
        })
    }

    /// An HTTP client builder that trusts what this says, with wreg's user agent; the
    /// caller adds its timeouts and redirect policy.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when a root certificate does not parse (one built by
    /// [`read`](Self::read) always does).
    pub fn client_builder(&self) -> Result<reqwest::ClientBuilder, Error> {
        let mut builder = reqwest::Client::builder()
            .danger_accept_invalid_certs(self.insecure)
            .user_agent(concat!("wreg/", env!("CARGO_PKG_VERSION")));
        for root in &self.extra_roots {
            let certificates = match root {
                RootCertificate::Pem(pem) => reqwest::Certificate::from_pem_bundle(pem),
                RootCertificate::Der(der) => reqwest::Certificate::from_der(der).map(|c| vec![c]),
            }
            .map_err(|err| Error::InvalidInput {
                message: format!("a root certificate cannot be used: {err}"),
            })?;
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        Ok(builder)
    }
}

/// Whether `pem` holds at least one certificate that parses: a file that is not PEM is
/// refused before any client is built.
fn check_pem(pem: &[u8]) -> Result<(), String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = std::str::from_utf8(pem).map_err(|_| "is not PEM text".to_owned())?;
    let mut found = 0;
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let end = after
            .find(END)
            .ok_or_else(|| "has a certificate without its END line".to_owned())?;
        let body: String = after[..end].split_whitespace().collect();
        if body.is_empty() || base64_decode(&body).is_none() {
            return Err("has a certificate whose body is not base64".to_owned());
        }
        found += 1;
        rest = &after[end + END.len()..];
    }
    if found == 0 {
        return Err(format!("holds no PEM certificate (no `{BEGIN}` line)"));
    }
    use rustls_pki_types::pem::PemObject as _;
    for (i, cert) in rustls_pki_types::CertificateDer::pem_slice_iter(pem).enumerate() {
        let cert = cert.map_err(|err| format!("has a certificate that is not PEM ({err})"))?;
        check_der(&cert)
            .map_err(|why| format!("has a certificate (number {}) that {why}", i + 1))?;
    }
    Ok(())
}

/// Whether `der` is a certificate a TLS client can trust as a root (parsed as webpki parses
/// trust anchors).
fn check_der(der: &[u8]) -> Result<(), String> {
    let cert = rustls_pki_types::CertificateDer::from(der);
    webpki::anchor_from_trusted_cert(&cert)
        .map(|_| ())
        .map_err(|err| format!("is not a usable X.509 certificate ({err:?})"))
}

/// Standard-alphabet base64, padding optional; `None` for any other character.
pub fn base64_decode(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in input.trim_end_matches('=').bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry_config::Config;

    fn read(section: &str) -> Result<TlsTrust, String> {
        let text = format!("[registry.\"example.com\".oci]\n{section}\n");
        let config = Config::from_toml_str("config.toml", &text).unwrap();
        let settings = config.registry_settings(&"example.com".parse().unwrap());
        let pem = section.contains("ca_pem").then_some("not pem");
        let file = section
            .contains("ca_file")
            .then_some(Path::new("/no/such/ca.pem"));
        TlsTrust::read(
            &settings,
            "oci",
            TlsKeys {
                ca_pem: pem,
                ca_file: file,
                ..TlsKeys::default()
            },
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn bad_tls_values_are_located_at_their_key() {
        let err = read("ca_pem = \"not pem\"").unwrap_err();
        assert_eq!(
            err,
            "config.toml:2:1: invalid `registry.\"example.com\".oci.ca_pem`: holds no PEM \
             certificate (no `-----BEGIN CERTIFICATE-----` line)"
        );
        let err = read("protocol = \"https\"\nca_file = \"/no/such/ca.pem\"").unwrap_err();
        assert!(
            err.starts_with(
                "config.toml:3:1: invalid `registry.\"example.com\".oci.ca_file`: \
                 `/no/such/ca.pem` cannot be read"
            ),
            "{err}"
        );
        assert_eq!(read("").unwrap(), TlsTrust::default());
    }

    #[test]
    fn roots_are_parsed_as_certificates() {
        let ca = test_support::tls::TestCa::new();
        check_pem(ca.ca_pem.as_bytes()).unwrap();
        // Base64 inside the PEM lines, but no certificate: refused before any client.
        let fake = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let err = check_pem(fake.as_bytes()).unwrap_err();
        assert!(err.contains("is not a usable X.509 certificate"), "{err}");
        assert!(check_der(&[0x30, 0]).is_err());
        let der = base64_decode(
            &ca.ca_pem
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
        check_der(&der).unwrap();
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(base64_decode("aGk").unwrap(), b"hi");
        assert!(base64_decode("a*b").is_none());
    }
}
