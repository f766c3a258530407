//! The provenance policy on a route (feature `provenance`): which signatures a release
//! needs, found through the route's sources and verified before its content is used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use registry_config::{ProvenancePolicy, TrustedRootSource, VerifyWhen};
use registry_core::provenance::Provenance;
use registry_core::{Error, Release};

use super::Route;
use crate::provenance::{Allowed, BundleOutcome, Pattern, Requirement, Trust, inspect};

/// Trusted roots loaded in this process, by source (each is read and parsed once).
#[derive(Default)]
pub(super) struct Trusts(Mutex<HashMap<TrustedRootSource, Arc<Trust>>>);

impl Trusts {
    fn get(&self, source: &TrustedRootSource) -> Result<Arc<Trust>, Error> {
        if let Some(trust) = self.0.lock().expect("trusts lock").get(source) {
            return Ok(trust.clone());
        }
        let trust = Arc::new(Trust::load(source)?);
        self.0
            .lock()
            .expect("trusts lock")
            .insert(source.clone(), trust.clone());
        Ok(trust)
    }
}

/// A package's provenance policy, ready to check with: its trusted root loaded and its
/// patterns compiled.
#[derive(Debug)]
#[non_exhaustive]
pub struct Policy {
    /// When it applies.
    pub verify: VerifyWhen,
    /// The authorities whose signatures count.
    pub trust: Arc<Trust>,
    /// Who may sign.
    pub allowed: Allowed,
    /// The configuration it was made from, with where each value was set.
    pub config: ProvenancePolicy,
}

impl Policy {
    fn from_config(config: ProvenancePolicy, trusts: &Trusts) -> Result<Self, Error> {
        let allowed = match &config.public_key {
            Some(path) => {
                let pem = std::fs::read_to_string(&path.value)
                    .map_err(|err| Error::io(&path.value, err))?;
                Allowed::key_from_pem(&pem, &path.value)
                    .map_err(|err| Error::from(config.invalid("public_key", err.to_string())))?
            }
            None => Allowed::Keyless {
                identity: pattern(&config, "identity")?,
                issuer: pattern(&config, "issuer")?,
            },
        };
        let trust = trusts
            .get(&config.trusted_root.value)
            .map_err(|err| match err {
                Error::InvalidInput { message } => config.invalid("trusted_root", message).into(),
                other => other,
            })?;
        Ok(Self {
            verify: config.verify.value,
            trust,
            allowed,
            config,
        })
    }
}

/// The exact value of `key`, or the pattern of `<key>_regexp`, compiled; a pattern that does
/// not compile is a configuration error at its line.
fn pattern(config: &ProvenancePolicy, key: &str) -> Result<Pattern, Error> {
    let (exact, regexp) = match key {
        "identity" => (&config.identity, &config.identity_regexp),
        _ => (&config.issuer, &config.issuer_regexp),
    };
    if let Some(exact) = exact {
        return Ok(Pattern::Exact(exact.value.clone()));
    }
    let Some(regexp) = regexp else {
        // `Config::provenance` refuses a policy to verify without both.
        return Err(config.invalid(key, format!("no {key} is set")).into());
    };
    regex::Regex::new(&regexp.value)
        .map(Pattern::Regex)
        .map_err(|err| {
            let key = format!("{key}_regexp");
            config
                .invalid(&key, format!("not a regular expression: {err}"))
                .into()
        })
}

/// What `wreg verify` reports: each source asked, and what became of each bundle it had.
#[derive(Debug)]
#[non_exhaustive]
pub struct ProvenanceReport {
    /// The policy the bundles were checked against.
    pub policy: Policy,
    /// The manifest digest the signatures must name (from the first source that answered).
    pub subject: Option<registry_core::ContentDigest>,
    /// Each bundle found, with where: `(source registry, outcome)`.
    pub bundles: Vec<(registry_core::Registry, BundleOutcome)>,
    /// Sources that could not be asked, and why.
    pub failures: Vec<(registry_core::Registry, String)>,
    /// The errors of the sources that failed, in order.
    errors: Vec<Error>,
}

impl ProvenanceReport {
    /// The first accepted bundle's provenance.
    pub fn accepted(&self) -> Option<Provenance> {
        self.bundles.iter().find_map(|(_, outcome)| {
            let verified = outcome.verified.as_ref().filter(|_| outcome.accepted)?;
            Some(Provenance::new(verified.subject, verified.signer.clone()))
        })
    }
}

impl Route {
    /// The provenance policy for this route's package, ready to check with; `None` when no
    /// configuration layer sets one for it.
    ///
    /// # Errors
    /// [`Error::Config`] for a policy that names no signer, a pattern that does not
    /// compile or a trusted root that does not load (at the key's file and line);
    /// [`Error::Io`] for a key or root file that cannot be read.
    pub fn provenance_policy(&self) -> Result<Option<Policy>, Error> {
        let config = self
            .client
            .config()
            .provenance(&self.registry, &self.package)?;
        self.ready(config)
    }

    /// `config` made ready to check with (`None` for no policy or `verify = "never"`).
    fn ready(&self, config: Option<ProvenancePolicy>) -> Result<Option<Policy>, Error> {
        let Some(config) = config else {
            return Ok(None);
        };
        if config.verify.value == VerifyWhen::Never {
            return Ok(None);
        }
        config.check_signer(&self.package)?;
        Policy::from_config(config, &self.client.inner.trusts).map(Some)
    }

    /// Checks `release` against the package's policy when the policy says to on every
    /// fetch (`verify = "always"`), trying each source in order (a mirror need not carry
    /// the signatures: any source's bundles are verified the same way). `Ok(None)` when no
    /// policy applies now, with nothing asked.
    ///
    /// `pinned` is what the lock file recorded: its signer is then the only one accepted;
    /// offline, it is accepted as recorded (it was verified when it was pinned).
    ///
    /// # Errors
    /// [`Error::ProvenanceRejected`] when no bundle satisfies the policy; the policy's own
    /// errors ([`provenance_policy`](Self::provenance_policy)).
    pub async fn enforce_provenance(
        &self,
        release: &Release,
        pinned: Option<&Provenance>,
    ) -> Result<Option<Provenance>, Error> {
        // Only a policy to check now is read further: a table that only says where to sign
        // (`fulcio_url`, `rekor_url`), or one verified on demand, costs nothing here.
        let config = self
            .client
            .config()
            .provenance(&self.registry, &self.package)?
            .filter(|config| config.verify.value == VerifyWhen::Always);
        let Some(policy) = self.ready(config)? else {
            return Ok(None);
        };
        // Offline, nothing can be asked: a pin whose signer the lock file recorded (it was
        // verified online when pinned, and its bytes are checked against the pinned digest
        // all the same) stands if the policy allows that signer; anything else is not
        // cached. Offline, the lock file is trusted for who signed, as it is for digests.
        if self.offline()
            && let Some(pinned) = pinned
        {
            if policy.allowed.allows(&pinned.signer) {
                tracing::debug!(package = %self.package, version = %release.version, signer = %pinned.signer, "offline: the signer the lock file pinned stands");
                return Ok(Some(pinned.clone()));
            }
            let report = ProvenanceReport {
                policy,
                subject: Some(pinned.manifest),
                bundles: Vec::new(),
                failures: vec![(
                    self.registry.clone(),
                    format!(
                        "offline, and the lock file pins a signer the policy does not allow: \
                         {}",
                        pinned.signer
                    ),
                )],
                errors: Vec::new(),
            };
            return Err(self.rejected(release, &report, None));
        }
        let mut report = self.check_provenance(release, policy, pinned).await?;
        match report.accepted() {
            Some(provenance) => Ok(Some(provenance)),
            // No source answered at all (down, refusing, rate limiting): that failure, with
            // its own exit code, rather than "not verified".
            None if report.bundles.is_empty()
                && report.subject.is_none()
                && !report.errors.is_empty() =>
            {
                Err(report.errors.remove(0))
            }
            None => Err(self.rejected(release, &report, pinned)),
        }
    }

    /// Finds `release`'s signatures through every source and checks each bundle against
    /// `policy` (whatever its `verify` says): what `wreg verify` shows.
    ///
    /// # Errors
    /// Only when offline (nothing can be asked); failures of single sources are in the
    /// report.
    pub async fn check_provenance(
        &self,
        release: &Release,
        policy: Policy,
        pinned: Option<&Provenance>,
    ) -> Result<ProvenanceReport, Error> {
        if self.offline() {
            return Err(self.client.offline_error(
                &self.package,
                &format!("the signatures of {}", release.version),
            ));
        }
        let mut report = ProvenanceReport {
            policy,
            subject: None,
            bundles: Vec::new(),
            failures: Vec::new(),
            errors: Vec::new(),
        };
        for source in self.sources.iter() {
            let found = match source.backend.attestations(&self.package, release).await {
                Ok(Some(found)) => found,
                Ok(None) => {
                    report.failures.push((
                        source.registry.clone(),
                        "this registry does not store signatures".into(),
                    ));
                    continue;
                }
                Err(err) => {
                    report
                        .failures
                        .push((source.registry.clone(), registry_core::chain_text(&err)));
                    report.errors.push(err);
                    continue;
                }
            };
            report.subject.get_or_insert(found.subject);
            let requirement = Requirement {
                trust: &report.policy.trust,
                allowed: &report.policy.allowed,
                pinned: pinned.map(|p| &p.signer),
            };
            let outcomes = inspect(&found, &requirement);
            let accepted = outcomes.iter().any(|o| o.accepted);
            report
                .bundles
                .extend(outcomes.into_iter().map(|o| (source.registry.clone(), o)));
            if accepted {
                break;
            }
        }
        Ok(report)
    }

    /// The [`Error::ProvenanceRejected`] a report without an accepted bundle stands for:
    /// what the policy expected, and why each bundle (or source) failed it.
    pub fn rejected(
        &self,
        release: &Release,
        report: &ProvenanceReport,
        pinned: Option<&Provenance>,
    ) -> Error {
        let requirement = Requirement {
            trust: &report.policy.trust,
            allowed: &report.policy.allowed,
            pinned: pinned.map(|p| &p.signer),
        };
        let mut reasons: Vec<String> = report
            .bundles
            .iter()
            .map(|(registry, outcome)| {
                let why = outcome.reason.as_deref().unwrap_or("not accepted");
                format!("bundle {} from {registry}: {why}", outcome.source)
            })
            .collect();
        for (registry, why) in &report.failures {
            reasons.push(format!("{registry}: {why}"));
        }
        if report.bundles.is_empty() {
            let on = report
                .subject
                .map(|s| format!(" to its manifest {s}"))
                .unwrap_or_default();
            reasons.insert(0, format!("no Sigstore bundle is attached{on}"));
        }
        Error::ProvenanceRejected {
            package: self.package.clone(),
            version: release.version.clone(),
            registry: self.registry.clone(),
            expected: format!(
                "{requirement} (policy `{}` in {})",
                report.policy.config.table(),
                report.policy.config.origin_of("verify")
            ),
            reasons,
        }
    }
}

/// A release signed by [`Route::sign_release`]: who the signature proves, and where the
/// bundle was attached.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedRelease {
    /// The manifest signed, and the signer.
    pub provenance: Provenance,
    /// Where the bundle was stored (the referrer manifest's digest).
    pub referrer: String,
}

/// Where a keyless signature is made: the policy's `fulcio_url` and `rekor_url`, else
/// Sigstore's public-good instance.
pub fn signing_services(policy: Option<&registry_config::ProvenancePolicy>) -> (String, String) {
    use crate::provenance::{PUBLIC_GOOD_FULCIO, PUBLIC_GOOD_REKOR};
    let url = |setting: Option<&registry_config::Setting<String>>, default: &str| {
        setting.map_or_else(|| default.to_owned(), |s| s.value.clone())
    };
    (
        url(
            policy.and_then(|p| p.fulcio_url.as_ref()),
            PUBLIC_GOOD_FULCIO,
        ),
        url(policy.and_then(|p| p.rekor_url.as_ref()), PUBLIC_GOOD_REKOR),
    )
}

impl Route {
    /// Signs the manifest `release` was published in (an in-toto statement as `cosign
    /// sign` writes it, subject the manifest digest) and attaches the bundle to it as an
    /// OCI referrer, so that a policy naming this signer accepts the release.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the registry cannot store signatures (warg, a local
    /// directory) or offline; the signer's errors (Fulcio or Rekor refusing, naming the
    /// service, never the token); the registry's when attaching.
    pub async fn sign_release(
        &self,
        release: &Release,
        key: &crate::provenance::SigningKey,
    ) -> Result<SignedRelease, Error> {
        if self.offline() {
            return Err(self.client.offline_error(&self.package, "signing"));
        }
        let Some(found) = self.backend.attestations(&self.package, release).await? else {
            return Err(Error::Unsupported {
                registry: Some(self.registry.clone()),
                package: self.package.clone(),
                what: format!(
                    "cannot store signatures (signing {}); sign releases on an OCI registry",
                    release.version
                ),
            });
        };
        let statement = crate::provenance::Statement::cosign_sign(
            format!(
                "{}/{}",
                self.registry,
                self.package.as_str().replace(':', "/")
            ),
            found.subject,
        );
        let http = registry_transport::TlsTrust::default()
            .client_builder()?
            .timeout(std::time::Duration::from_secs(60))
            // The request to Fulcio carries the OIDC token: it goes where it was sent and
            // nowhere else (a redirect would replay it to another host).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| Error::InvalidInput {
                message: format!("cannot make an HTTP client for signing: {err}"),
            })?;
        let signed = crate::provenance::sign(&http, &statement, key).await?;
        let referrer = self
            .backend
            .attach(&self.package, release, signed.json.clone())
            .await?;
        Ok(SignedRelease {
            provenance: Provenance::new(found.subject, signed.signer),
            referrer,
        })
    }
}
