//! What goes wrong talking to an OCI registry, in our words: `oci-client`'s errors and our
//! reads' failures become [`Error`]s that say what "not found" means, whether credentials
//! were refused, and what to do next.

use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use registry_core::{Error, PackageRef, Registry, Version};

use crate::OciBackend;
use crate::http::ReadError;
use crate::retry::is_certificate_error;
use crate::settings::Protocol;

/// Whether a failed request may succeed if sent again.
pub(super) fn is_transient(err: &OciDistributionError) -> bool {
    match err {
        OciDistributionError::RequestError(err) => {
            (err.is_connect() || err.is_timeout() || err.is_request()) && !is_certificate_error(err)
        }
        OciDistributionError::ServerError { code, .. } => *code == 429 || *code >= 500,
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| e.code == OciErrorCode::Toomanyrequests),
        _ => false,
    }
}

/// A failure mid-download: `oci-client` verifies digests too, and its verdict becomes our
/// [`Error::DigestMismatch`]; anything else is a broken transfer.
pub(super) fn download_error(registry: &Registry, subject: &str, err: std::io::Error) -> Error {
    use oci_client::errors::DigestError;
    if let Some(DigestError::VerificationError { expected, actual }) =
        err.get_ref().and_then(|e| e.downcast_ref::<DigestError>())
        && let (Ok(expected), Ok(actual)) = (expected.parse(), actual.parse())
    {
        return Error::DigestMismatch {
            subject: subject.to_owned(),
            expected,
            actual,
        };
    }
    Error::registry_with_source(
        registry,
        format!("downloading {subject} failed: the connection broke or the body was cut short"),
        err,
    )
}

impl OciBackend {
    /// Turns a failed read into our error.
    pub(crate) fn map_read(
        &self,
        err: ReadError,
        package: &PackageRef,
        version: Option<&Version>,
    ) -> Error {
        match err {
            ReadError::Oci(err) => self.map_error(err, package, version),
            ReadError::TooLarge(message) => Error::registry(&self.registry, message),
            ReadError::IdentityTokenRefused {
                realm,
                status,
                said,
            } => Error::Unauthorized {
                registry: self.registry.clone(),
                message: format!(
                    "the token service {realm} refused the identity token from {} ({status}: \
                     {said}); it may have expired or been revoked: log in to {} again \
                     (`docker login`, `az acr login`), or give other credentials",
                    self.credential_origin,
                    self.settings.oci_registry(&self.registry)
                ),
            },
            ReadError::IdentityTokenNotBasic => Error::Unauthorized {
                registry: self.registry.clone(),
                message: format!(
                    "an identity token (from {}) can only be exchanged at a token service, and \
                     {} asks for basic credentials instead; the token was not sent. Give a \
                     username and password for it (`docker login` with them, or `auth` under \
                     [registry.\"{}\".oci])",
                    self.credential_origin,
                    self.settings.oci_registry(&self.registry),
                    self.registry
                ),
            },
        }
    }

    /// Turns an `oci-client` error into ours, deciding what "not found" means.
    pub(crate) fn map_error(
        &self,
        err: OciDistributionError,
        package: &PackageRef,
        version: Option<&Version>,
    ) -> Error {
        let not_found = || match version {
            Some(version) => Error::VersionNotFound {
                registry: self.registry.clone(),
                package: package.clone(),
                requirement: version.to_string(),
                newest: None,
            },
            None => Error::PackageNotFound {
                registry: self.registry.clone(),
                package: package.clone(),
            },
        };
        let refused = |what: &str| Error::Unauthorized {
            registry: self.registry.clone(),
            message: format!(
                "{what} for `{}`: the package is not there, or these credentials may not read \
                 it; {}",
                self.repository(package),
                match self.auth {
                    RegistryAuth::Anonymous => format!(
                        "if it exists, set credentials under [registry.\"{}\".oci] `auth`",
                        self.registry
                    ),
                    _ => "check the credentials configured for this registry".to_owned(),
                }
            ),
        };
        match err {
            OciDistributionError::RegistryError { envelope, .. } => {
                let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
                if codes.iter().any(|c| **c == OciErrorCode::NameUnknown) {
                    Error::PackageNotFound {
                        registry: self.registry.clone(),
                        package: package.clone(),
                    }
                } else if codes
                    .iter()
                    .any(|c| matches!(c, OciErrorCode::ManifestUnknown | OciErrorCode::NotFound))
                {
                    not_found()
                } else if codes
                    .iter()
                    .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
                {
                    refused("not found or not authorized")
                } else {
                    let messages: Vec<String> = envelope
                        .errors
                        .iter()
                        .map(|e| format!("{:?}: {}", e.code, e.message))
                        .collect();
                    Error::registry(&self.registry, messages.join("; "))
                }
            }
            OciDistributionError::ImageManifestNotFoundError(_) => not_found(),
            OciDistributionError::ServerError { code: 404, .. } => not_found(),
            OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::ServerError {
                code: 401 | 403, ..
            } => refused("not found or not authorized"),
            // `oci-client`'s `blob_exists` reports a refusal as the status of its request.
            OciDistributionError::RequestError(err)
                if matches!(err.status().map(|s| s.as_u16()), Some(401 | 403)) =>
            {
                refused("not found or not authorized")
            }
            OciDistributionError::AuthenticationFailure(message) => Error::Unauthorized {
                registry: self.registry.clone(),
                message: format!("authentication failed: {message}"),
            },
            OciDistributionError::RequestError(err) if is_certificate_error(&err) => {
                Error::registry_with_source(
                    &self.registry,
                    format!(
                        "the TLS certificate of {} is not trusted; if the registry uses a \
                         private CA, set `ca_file` under [registry.\"{}\".oci]",
                        self.settings.oci_registry(&self.registry),
                        self.registry
                    ),
                    err,
                )
            }
            OciDistributionError::RequestError(err) if err.is_connect() => {
                Error::registry_with_source(
                    &self.registry,
                    format!(
                        "cannot connect to {} over {}; check that it is running and that \
                         `protocol` under [registry.\"{}\".oci] is right",
                        self.settings.oci_registry(&self.registry),
                        match self.settings.effective_protocol(&self.registry) {
                            Protocol::Http => "http",
                            Protocol::Https => "https",
                        },
                        self.registry
                    ),
                    err,
                )
            }
            OciDistributionError::DigestError(
                oci_client::errors::DigestError::VerificationError { expected, actual },
            ) if expected.parse::<registry_core::ContentDigest>().is_ok()
                && actual.parse::<registry_core::ContentDigest>().is_ok() =>
            {
                Error::DigestMismatch {
                    subject: match version {
                        Some(v) => format!("the manifest of {package}@{v} from {}", self.registry),
                        None => format!("a manifest of {package} from {}", self.registry),
                    },
                    expected: expected.parse().expect("checked"),
                    actual: actual.parse().expect("checked"),
                }
            }
            other => Error::registry_with_source(
                &self.registry,
                format!("request for `{package}` failed"),
                other,
            ),
        }
    }
}
