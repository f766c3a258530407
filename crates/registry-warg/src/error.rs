//! warg-client's errors, mapped onto registry-core's.

use registry_core::{ContentDigest, Error, PackageRef, Registry, chain_text};
use warg_api::v1::fetch::FetchError;
use warg_api::v1::package::PackageError;
use warg_client::ClientError;
use warg_client::api::ClientError as ApiError;

use crate::settings::SectionOrigins;

/// `package` is not in the registry and publishing may not create it: the section's
/// `auto_init = false` is what stops it.
pub(crate) fn must_initialize(
    origins: &SectionOrigins,
    registry: &Registry,
    package: &PackageRef,
) -> Error {
    origins.invalid(
        "auto_init",
        format!(
            "package `{package}` does not exist in warg registry `{registry}`, and creating it \
             on publish is off; set `auto_init = true` to create it"
        ),
    )
}

/// The record being submitted, if any.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Submitting {
    /// None: the registry is only being read.
    Nothing,
    /// A release of this content.
    Release(ContentDigest),
    /// A yank.
    Yank,
}

/// What was being done when an error happened, for its message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Context<'a> {
    pub(crate) registry: &'a Registry,
    pub(crate) package: &'a PackageRef,
    /// The exact version asked for, if any.
    pub(crate) version: Option<&'a semver::Version>,
    /// The record signed with our key that was being submitted, if any.
    pub(crate) submitting: Submitting,
    /// Where the section's keys were set.
    pub(crate) origins: &'a SectionOrigins,
}

impl Context<'_> {
    /// Maps `err` to the variant a caller can act on.
    pub(crate) fn map(&self, err: ClientError) -> Error {
        let registry = self.registry.clone();
        let package = self.package.clone();
        match err {
            ClientError::PackageDoesNotExist { .. }
            | ClientError::PackageDoesNotExistWithHintHeader { .. } => {
                Error::PackageNotFound { registry, package }
            }
            ClientError::PackageVersionDoesNotExist { version, .. } => Error::VersionNotFound {
                registry,
                package,
                requirement: format!("={version}"),
                newest: None,
            },
            ClientError::PackageVersionRequirementDoesNotExist { version, .. } => {
                Error::VersionNotFound {
                    registry,
                    package,
                    requirement: version.to_string(),
                    newest: None,
                }
            }
            ClientError::Unauthorized(reason) => self.unauthorized(&reason),
            ClientError::PublishRejected { reason, .. } => self.rejected(&reason),
            ClientError::MustInitializePackage { .. } => {
                must_initialize(self.origins, self.registry, &package)
            }
            // The records submitted here never create a package (warg-client adds the
            // creation itself when the package is missing), so this is a race with
            // another publisher that created it meanwhile.
            ClientError::CannotInitializePackage { .. } => Error::registry(
                self.registry,
                format!(
                    "package `{package}` was created by another publisher while this publish \
                     ran; publish again to add to it"
                ),
            ),
            ClientError::InvalidCheckpointSignature
            | ClientError::InvalidCheckpointKeyId { .. }
            | ClientError::NoOperatorRecords
            | ClientError::OperatorValidationFailed { .. }
            | ClientError::PackageValidationFailed { .. }
            | ClientError::PackageLogEmpty { .. }
            | ClientError::CheckpointLogLengthRewind { .. }
            | ClientError::CheckpointChangedLogRootOrMapRoot { .. }
            | ClientError::IncorrectContent { .. } => Error::Untrusted {
                registry,
                message: format!("{err} (while reading `{package}`)"),
            },
            ClientError::Api(api) => self.map_api(api),
            ClientError::IoError(source) => Error::Io { path: None, source },
            other => Error::registry(
                self.registry,
                format!(
                    "warg request for `{package}` failed: {}",
                    crate::relay::redact(&chain_text(&other))
                ),
            ),
        }
    }

    fn map_api(&self, err: ApiError) -> Error {
        let registry = self.registry.clone();
        let package = self.package.clone();
        match err {
            ApiError::Fetch(FetchError::LogNotFound(_))
            | ApiError::Package(PackageError::LogNotFound(_)) => {
                Error::PackageNotFound { registry, package }
            }
            // The registry answered that it holds no package of this namespace (it is not
            // defined there, or is another registry's): the package is not in it.
            ApiError::Package(
                PackageError::NamespaceNotDefined(namespace)
                | PackageError::NamespaceImported(namespace),
            ) => {
                tracing::debug!(
                    %registry, %package, %namespace,
                    "the registry holds no package of this namespace"
                );
                Error::PackageNotFound { registry, package }
            }
            ApiError::Package(PackageError::Unauthorized(reason)) => self.unauthorized(&reason),
            ApiError::Package(PackageError::Rejection(reason)) => self.rejected(&reason),
            ApiError::Proof(_)
            | ApiError::IncorrectConsistencyProof { .. }
            | ApiError::ConsistencyProof(_)
            | ApiError::InclusionProof(_)
            | ApiError::Hash(_) => Error::Untrusted {
                registry,
                message: format!("{err} (while reading `{package}`)"),
            },
            ApiError::UnexpectedResponse { status, .. }
                if status.as_u16() == 401 || status.as_u16() == 403 =>
            {
                Error::Unauthorized {
                    registry,
                    message: format!(
                        "{}; check `auth_token` under [registry.\"{}\".warg]",
                        crate::relay::redact(&err.to_string()),
                        self.registry
                    ),
                }
            }
            other => Error::registry(
                self.registry,
                format!(
                    "warg request for `{package}` failed: {}",
                    crate::relay::redact(&chain_text(&other))
                ),
            ),
        }
    }

    /// A refusal: of our signing key when publishing, else of our token.
    fn unauthorized(&self, reason: &str) -> Error {
        if !matches!(self.submitting, Submitting::Nothing) {
            return self.rejected(&format!("not authorized: {reason}"));
        }
        Error::Unauthorized {
            registry: self.registry.clone(),
            message: format!(
                "{reason}; check `auth_token` under [registry.\"{}\".warg]",
                self.registry
            ),
        }
    }

    /// A record the registry refused: a key without permission is an authorization
    /// problem, a release of a version the log has already [`Error::AlreadyPublished`], a
    /// yank of a version that is not there (or yanked) [`Error::VersionNotFound`].
    fn rejected(&self, reason: &str) -> Error {
        let registry = self.registry.clone();
        let package = self.package;
        let subject = match self.version {
            Some(version) => format!("{package}@{version}"),
            None => package.to_string(),
        };
        let lower = reason.to_ascii_lowercase();
        if lower.contains("not authorized")
            || lower.contains("permission")
            || lower.contains("unauthorized")
        {
            return Error::Unauthorized {
                registry,
                message: format!(
                    "it rejected the record for `{subject}`: {reason}. The signing key has no \
                     permission on this package: sign with the key that created it, or ask \
                     its owner to grant yours"
                ),
            };
        }
        match (self.submitting, self.version) {
            // warg-protocol: "... attempted to release version X which is already released".
            (Submitting::Release(attempted), Some(version)) if lower.contains("already") => {
                Error::AlreadyPublished {
                    registry,
                    package: package.clone(),
                    version: version.clone(),
                    existing: None,
                    attempted: Some(attempted),
                }
            }
            // "... which is already yanked" / "... which had not yet been released".
            (Submitting::Yank, Some(version))
                if lower.contains("already yanked") || lower.contains("not yet been released") =>
            {
                Error::VersionNotFound {
                    registry,
                    package: package.clone(),
                    requirement: format!("={version}"),
                    newest: None,
                }
            }
            _ => Error::registry(
                &registry,
                format!("it rejected the record for `{subject}`: {reason}"),
            ),
        }
    }
}
