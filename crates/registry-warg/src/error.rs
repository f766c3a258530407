//! warg-client's errors, mapped onto registry-core's.

use registry_core::{Error, PackageRef, Registry};
use warg_api::v1::fetch::FetchError;

/// An error and its causes, one sentence.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}
use warg_api::v1::package::PackageError;
use warg_client::ClientError;
use warg_client::api::ClientError as ApiError;

/// `package` is not in the registry and publishing may not create it.
pub(crate) fn must_initialize(registry: &Registry, package: &PackageRef) -> Error {
    Error::InvalidInput {
        message: format!(
            "package `{package}` does not exist in warg registry `{registry}`, and creating it \
             on publish is off; set `auto_init = true` under [registry.\"{registry}\".warg] to \
             create it"
        ),
    }
}

/// What was being done when an error happened, for its message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Context<'a> {
    pub(crate) registry: &'a Registry,
    pub(crate) package: &'a PackageRef,
    /// The exact version asked for, if any.
    pub(crate) version: Option<&'a semver::Version>,
    /// Whether a record signed with our key was being submitted.
    pub(crate) publishing: bool,
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
            ClientError::MustInitializePackage { .. } => must_initialize(self.registry, &package),
            ClientError::CannotInitializePackage { .. } => Error::InvalidInput {
                message: format!(
                    "package `{package}` already exists in warg registry `{registry}`; \
                     publish a release to it instead of creating it"
                ),
            },
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
                format!("warg request for `{package}` failed: {}", chain(&other)),
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
            ApiError::Package(PackageError::NamespaceNotDefined(namespace))
            | ApiError::Package(PackageError::NamespaceImported(namespace)) => {
                Error::InvalidInput {
                    message: format!(
                        "warg registry `{registry}` does not define namespace `{namespace}` (asked \
                     for `{package}`); map `{namespace}` to the registry that holds it under \
                     [namespace_registries], or ask this registry's operator to define it"
                    ),
                }
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
                        "{err}; check `auth_token` under [registry.\"{}\".warg]",
                        self.registry
                    ),
                }
            }
            other => Error::registry(
                self.registry,
                format!("warg request for `{package}` failed: {}", chain(&other)),
            ),
        }
    }

    /// A refusal: of our signing key when publishing, else of our token.
    fn unauthorized(&self, reason: &str) -> Error {
        if self.publishing {
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

    /// A record the registry refused: a key without permission is an authorization problem,
    /// an existing version an input problem.
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
            Error::Unauthorized {
                registry,
                message: format!(
                    "it rejected the record for `{subject}`: {reason}. The signing key has no \
                     permission on this package: sign with the key that created it, or ask \
                     its owner to grant yours"
                ),
            }
        } else if lower.contains("already") {
            Error::InvalidInput {
                message: format!(
                    "warg registry `{registry}` rejected `{subject}`: {reason}. warg logs are \
                     append-only: publish a new version"
                ),
            }
        } else {
            Error::registry(
                &registry,
                format!("it rejected the record for `{subject}`: {reason}"),
            )
        }
    }
}
