//! The STS credential cache: temporary credentials of customer roles, kept warm across
//! invocations in process state.
//!
//! - Keyed by (org, role ARN, external ID): a changed role or external ID never reuses credentials.
//! - Refreshed ahead of expiry: an entry is used only while it outlives the URL being signed plus a
//!   safety margin, so a URL never outlives the credentials that signed it.
//! - Single flight: concurrent misses (or refreshes) for one key make one `AssumeRole` call
//!   (moka's `or_insert_with_if` coalesces them).
//! - Failures are cached briefly, so a broken integration cannot hammer STS; during an STS outage
//!   credentials still valid keep serving, with URL lifetimes cut to what they can honour.
//! - Bounded in entries; STS calls have timeouts and retries with jittered backoff (SDK standard
//!   retry mode); the role session name carries the org id, and the integration's id when the
//!   lease names one ([`session_name`]), for the customer's CloudTrail.
//! - The trust boundary ([`crate::aws::trust`]): a lease asked `with_probe` is granted only after the
//!   probe (a random external ID) was denied within the same credential lifetime; the probe runs in
//!   the same single flight as the `AssumeRole` it guards, so it costs at most one extra STS call per
//!   credential lifetime per role (`CacheStats::probes`).
//! - A refresh that STS answers with a denial drops the cached credentials at once: revoking trust
//!   stops URLs. Still-valid credentials are kept only while STS is unavailable.
//!
//! Why not `aws-config`'s `AssumeRoleProvider` + identity cache: it caches one role per provider
//! (we need thousands of keys, bounded), has no negative caching, and its buffer time is fixed
//! per provider while ours depends on the URL lifetime asked for.

mod memory;

pub use memory::{MemoryAssumer, RoleTrust};

use crate::domain::external_id::ExternalId;
use crate::domain::org::OrgId;
use crate::domain::presign::SigningCredentials;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Temporary credentials of one customer role.
#[derive(Clone, PartialEq, Eq)]
pub struct TempCredentials {
    pub signing: SigningCredentials,
    pub expires_at: SystemTime,
}

impl fmt::Debug for TempCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TempCredentials")
            .field("signing", &self.signing)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Why the role could not be assumed (or may not be signed through).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssumeFailure {
    /// STS refused: the trust policy, the external ID or the role is wrong: the customer's to fix.
    /// Not retried.
    Denied(String),
    /// The platform's problem, not the customer's: STS did not answer usefully (throttling, 5xx,
    /// timeout), or refused the platform's own credentials or region (`ExpiredToken`,
    /// `InvalidClientTokenId`, `RegionDisabledException`). Retried with backoff first.
    Unavailable(String),
    /// The role also admits a random external ID ([`crate::aws::trust::probe`]): it would serve any org.
    NotEnforced,
}

impl AssumeFailure {
    pub fn code(&self) -> &'static str {
        match self {
            AssumeFailure::Denied(_) => "ASSUME_ROLE_DENIED",
            AssumeFailure::Unavailable(_) => "ASSUME_ROLE_FAILED",
            AssumeFailure::NotEnforced => crate::aws::trust::EXTERNAL_ID_NOT_ENFORCED,
        }
    }

    /// What the person reading the presign result should do; `external_id` is the org's.
    pub fn message(&self, role_arn: &str, external_id: Option<&ExternalId>) -> String {
        match self {
            AssumeFailure::Denied(_) => format!(
                "The platform could not assume role {role_arn}: check that the role exists, that its trust \
                 policy names the platform principal, and that its sts:ExternalId condition is your \
                 organization's external ID (GET /policies/trust shows both)."
            ),
            AssumeFailure::Unavailable(_) => format!(
                "The platform could not reach AWS STS to assume role {role_arn}; this is on the platform's side, \
                 not in your trust policy, and usually temporary. Try again shortly."
            ),
            AssumeFailure::NotEnforced => crate::domain::external_id::not_enforced_message(role_arn, external_id),
        }
    }

    /// The technical detail, for logs only.
    pub fn detail(&self) -> &str {
        match self {
            AssumeFailure::Denied(d) | AssumeFailure::Unavailable(d) => d,
            AssumeFailure::NotEnforced => "the role admitted a random external ID",
        }
    }
}

/// The future an [`Assumer`] returns.
pub type AssumeFuture<'a> = Pin<Box<dyn Future<Output = Result<TempCredentials, AssumeFailure>> + Send + 'a>>;

/// One `AssumeRole` call as the platform principal: the seam between the trust rules (probe,
/// cache, validation) and STS. [`StsAssumer`] calls AWS.
pub trait Assumer: Send + Sync + fmt::Debug {
    /// `external_id` `None` assumes without one.
    fn assume<'a>(
        &'a self,
        org: &'a OrgId,
        role_arn: &'a str,
        external_id: Option<&'a str>,
    ) -> AssumeFuture<'a>;

    /// [`Assumer::assume`] on behalf of one integration, which the session name then carries
    /// ([`session_name`]). An assumer with no session name to set (the in-memory one) needs no
    /// more than `assume`.
    fn assume_for<'a>(
        &'a self,
        org: &'a OrgId,
        integration_id: Option<&'a str>,
        role_arn: &'a str,
        external_id: Option<&'a str>,
    ) -> AssumeFuture<'a> {
        let _ = integration_id;
        self.assume(org, role_arn, external_id)
    }
}

/// [`Assumer`] over AWS STS.
#[derive(Debug, Clone)]
pub struct StsAssumer {
    sts: aws_sdk_sts::Client,
    session_duration: Duration,
}

impl StsAssumer {
    pub fn new(sts: aws_sdk_sts::Client, session_duration: Duration) -> Self {
        Self { sts, session_duration }
    }
}

impl Assumer for StsAssumer {
    fn assume<'a>(
        &'a self,
        org: &'a OrgId,
        role_arn: &'a str,
        external_id: Option<&'a str>,
    ) -> AssumeFuture<'a> {
        self.assume_for(org, None, role_arn, external_id)
    }

    fn assume_for<'a>(
        &'a self,
        org: &'a OrgId,
        integration_id: Option<&'a str>,
        role_arn: &'a str,
        external_id: Option<&'a str>,
    ) -> AssumeFuture<'a> {
        Box::pin(async move {
            let duration = i32::try_from(self.session_duration.as_secs()).unwrap_or(3600);
            let out = self
                .sts
                .assume_role()
                .role_arn(role_arn)
                .role_session_name(session_name(org, integration_id))
                .set_external_id(external_id.map(str::to_owned))
                .duration_seconds(duration)
                .send()
                .await
                .map_err(classify)?;
            let credentials = out
                .credentials
                .ok_or_else(|| AssumeFailure::Unavailable("STS answered without credentials".into()))?;
            let expires_at = SystemTime::try_from(credentials.expiration).map_err(|_| {
                AssumeFailure::Unavailable("STS answered with an unreadable expiration".into())
            })?;
            Ok(TempCredentials {
                signing: SigningCredentials {
                    access_key_id: credentials.access_key_id,
                    secret_access_key: credentials.secret_access_key,
                    session_token: Some(credentials.session_token),
                },
                expires_at,
            })
        })
    }
}

/// One cache entry per org, role, external ID and (when the lease names one) integration: the
/// credentials of a session named for one integration never sign for another, so each
/// CloudTrail line maps back to one integration. The price: two integrations on one role make
/// two `AssumeRole` calls per credential lifetime instead of one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    org: OrgId,
    role_arn: String,
    external_id: String,
    integration_id: Option<String>,
}

#[derive(Debug, Clone)]
struct Slot {
    credentials: Option<TempCredentials>,
    failure: Option<AssumeFailure>,
    /// No STS call for this key before this time (set after a failure).
    quiet_until: SystemTime,
    /// The probe was denied while these credentials were fetched: they may serve leases that
    /// need a proof.
    proven: bool,
}

#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Requested `DurationSeconds`; role chaining caps it at 3,600.
    pub session_duration: Duration,
    /// A credential signs only while it outlives the URL by this much (clock skew, request time).
    pub safety_margin: Duration,
    /// How long a denial is remembered.
    pub denied_ttl: Duration,
    /// How long a transient failure is remembered.
    pub unavailable_ttl: Duration,
    pub max_entries: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            session_duration: crate::domain::lifetime::SESSION,
            safety_margin: crate::domain::lifetime::CREDENTIAL_MARGIN,
            denied_ttl: Duration::from_secs(30),
            unavailable_ttl: Duration::from_secs(5),
            max_entries: 10_000,
        }
    }
}

/// Counters for the log line that tells how warm the cache is.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub refreshes: AtomicU64,
    pub failures: AtomicU64,
    pub assume_calls: AtomicU64,
    /// Probes with a random external ID (each is one more `AssumeRole`, counted here only).
    pub probes: AtomicU64,
    /// Leases refused because the role admitted the random external ID.
    pub not_enforced: AtomicU64,
}

pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// What a caller may sign with.
#[derive(Debug, Clone)]
pub struct Lease {
    pub credentials: TempCredentials,
    /// The latest a URL signed with these credentials may expire.
    pub sign_until: SystemTime,
}

#[derive(Clone)]
pub struct CredentialCache {
    assumer: Arc<dyn Assumer>,
    cache: moka::future::Cache<Key, Arc<Slot>>,
    config: CacheConfig,
    stats: Arc<CacheStats>,
    clock: Clock,
}

impl fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialCache").field("config", &self.config).field("stats", &self.stats).finish()
    }
}

/// STS's bounds on a role session name: 2 to 64 characters of `[\w+=,.@-]`.
pub const SESSION_NAME_MAX: usize = 64;
/// How much of a long org id a session name for an integration keeps, before `+` and the digest.
const ORG_KEPT: usize = 28;

/// The role session name, which the customer's CloudTrail shows on every call made with the
/// session (`assumed-role/<role>/<session name>`), within STS's 2-64 characters of `[\w+=,.@-]`
/// whatever the org id (at most 48 characters of `[A-Za-z0-9_.@=,+-]`):
///
/// - for an integration (a 26-character ULID): `<org>.<integration id>` when the org id has at
///   most 37 characters; a longer one keeps its first 28, then `+` and the first 8 hex digits of
///   the SHA-256 of the whole org id (`<org[..28]>+<digest>.<integration id>`, 64 characters), so
///   two long org ids sharing a beginning still read apart. The last 26 characters are always the
///   integration id, whole: it alone names one integration;
/// - without one (validation, the external-ID probe): `platform-<org>`, cut at 64.
pub fn session_name(org: &OrgId, integration_id: Option<&str>) -> String {
    let org = org.as_str();
    match integration_id.filter(|id| crate::aws::store::valid_id(id)) {
        Some(id) if org.len() + 1 + id.len() <= SESSION_NAME_MAX => format!("{org}.{id}"),
        Some(id) => {
            use sha2::Digest;
            let digest: String =
                sha2::Sha256::digest(org.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect();
            // Org ids are ASCII, so any byte offset is a character boundary.
            let kept = org.get(..ORG_KEPT).unwrap_or(org);
            format!("{kept}+{digest}.{id}")
        }
        None => {
            let mut name = format!("platform-{org}");
            name.truncate(SESSION_NAME_MAX);
            name
        }
    }
}

impl CredentialCache {
    pub fn new(sts: aws_sdk_sts::Client, config: CacheConfig) -> Self {
        Self::with_clock(sts, config, Arc::new(SystemTime::now))
    }

    pub fn with_clock(sts: aws_sdk_sts::Client, config: CacheConfig, clock: Clock) -> Self {
        let assumer = Arc::new(StsAssumer::new(sts, config.session_duration));
        Self::with_assumer(assumer, config, clock)
    }

    pub fn with_assumer(assumer: Arc<dyn Assumer>, config: CacheConfig, clock: Clock) -> Self {
        let cache = moka::future::Cache::builder()
            .max_capacity(config.max_entries)
            .time_to_live(config.session_duration + Duration::from_secs(60))
            .build();
        Self { assumer, cache, config, stats: Arc::new(CacheStats::default()), clock }
    }

    /// The assumer the cache calls (validation calls it directly: it must see what STS says now).
    pub fn assumer(&self) -> Arc<dyn Assumer> {
        self.assumer.clone()
    }

    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Credentials for the role that outlive `url_lifetime` (plus the safety margin) when STS
    /// allows; during an STS outage, still-valid credentials with a shorter `sign_until`.
    /// `with_probe`: only credentials whose fetch included a denied probe ([`crate::aws::trust::probe`]).
    pub async fn lease(
        &self,
        org: &OrgId,
        role_arn: &str,
        external_id: &ExternalId,
        url_lifetime: Duration,
        with_probe: bool,
    ) -> Result<Lease, AssumeFailure> {
        self.lease_keyed(Self::key(org, None, role_arn, external_id), url_lifetime, with_probe).await
    }

    /// [`CredentialCache::lease`] for one integration: its own credentials, from a session named
    /// for it ([`session_name`]), never shared with another integration on the same role.
    pub async fn lease_for_integration(
        &self,
        org: &OrgId,
        integration_id: &str,
        role_arn: &str,
        external_id: &ExternalId,
        url_lifetime: Duration,
        with_probe: bool,
    ) -> Result<Lease, AssumeFailure> {
        let key = Self::key(org, Some(integration_id), role_arn, external_id);
        self.lease_keyed(key, url_lifetime, with_probe).await
    }

    fn key(org: &OrgId, integration_id: Option<&str>, role_arn: &str, external_id: &ExternalId) -> Key {
        Key {
            org: org.clone(),
            role_arn: role_arn.to_owned(),
            external_id: external_id.as_str().to_owned(),
            integration_id: integration_id.map(str::to_owned),
        }
    }

    async fn lease_keyed(
        &self,
        key: Key,
        url_lifetime: Duration,
        with_probe: bool,
    ) -> Result<Lease, AssumeFailure> {
        let now = (self.clock)();
        let wanted = now + url_lifetime + self.config.safety_margin;
        let previous = self.cache.get(&key).await;
        let entry = self
            .cache
            .entry(key.clone())
            .or_insert_with_if(self.fetch(key, previous, with_probe), |slot| {
                let fresh_enough = slot.credentials.as_ref().is_some_and(|c| c.expires_at >= wanted)
                    && (slot.proven || !with_probe);
                !fresh_enough && (self.clock)() >= slot.quiet_until
            })
            .await;
        let counter = match (entry.is_fresh(), entry.is_old_value_replaced()) {
            (false, _) => &self.stats.hits,
            (true, true) => &self.stats.refreshes,
            (true, false) => &self.stats.misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);

        let slot = entry.into_value();
        let now = (self.clock)();
        match &slot.credentials {
            Some(credentials)
                if credentials.expires_at > now + self.config.safety_margin + Duration::from_secs(1)
                    && (slot.proven || !with_probe) =>
            {
                Ok(Lease {
                    credentials: credentials.clone(),
                    sign_until: credentials.expires_at - self.config.safety_margin,
                })
            }
            _ => Err(slot
                .failure
                .clone()
                .unwrap_or_else(|| AssumeFailure::Unavailable("credentials expired".into()))),
        }
    }

    async fn fetch(&self, key: Key, previous: Option<Arc<Slot>>, with_probe: bool) -> Arc<Slot> {
        self.stats.assume_calls.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let result = self
            .assumer
            .assume_for(&key.org, key.integration_id.as_deref(), &key.role_arn, Some(&key.external_id))
            .await;
        let result = match result {
            Ok(credentials) if with_probe => self.prove(&key, credentials, previous.as_deref()).await,
            Ok(credentials) => Ok((credentials, false)),
            Err(failure) => Err(failure),
        };
        let now = (self.clock)();
        match result {
            Ok((credentials, proven)) => {
                tracing::info!(
                    org = %key.org,
                    role_arn = %key.role_arn,
                    proven,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "assumed customer role"
                );
                Arc::new(Slot { credentials: Some(credentials), failure: None, quiet_until: now, proven })
            }
            Err(failure) => {
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(org = %key.org, role_arn = %key.role_arn, code = failure.code(), detail = failure.detail(), "assume role failed");
                let (ttl, kept) = match failure {
                    // Trust revoked or never granted: nothing signs through this key any more.
                    AssumeFailure::Denied(_) | AssumeFailure::NotEnforced => (self.config.denied_ttl, None),
                    // An outage shortens URLs, it does not break them: keep what is still valid.
                    AssumeFailure::Unavailable(_) => (
                        self.config.unavailable_ttl,
                        previous.filter(|p| p.credentials.as_ref().is_some_and(|c| c.expires_at > now)),
                    ),
                };
                Arc::new(Slot {
                    credentials: kept.as_ref().and_then(|p| p.credentials.clone()),
                    proven: kept.is_some_and(|p| p.proven),
                    failure: Some(failure),
                    quiet_until: now + ttl,
                })
            }
        }
    }

    /// The probe that must be denied before `credentials` may sign. An inconclusive probe proves
    /// nothing: the credentials stand only if an earlier probe in this process proved the role.
    async fn prove(
        &self,
        key: &Key,
        credentials: TempCredentials,
        previous: Option<&Slot>,
    ) -> Result<(TempCredentials, bool), AssumeFailure> {
        self.stats.probes.fetch_add(1, Ordering::Relaxed);
        match crate::aws::trust::probe(self.assumer.as_ref(), &key.org, &key.role_arn).await {
            crate::aws::trust::ProbeOutcome::Enforced => Ok((credentials, true)),
            crate::aws::trust::ProbeOutcome::NotEnforced => {
                self.stats.not_enforced.fetch_add(1, Ordering::Relaxed);
                Err(AssumeFailure::NotEnforced)
            }
            crate::aws::trust::ProbeOutcome::Inconclusive(_) if previous.is_some_and(|p| p.proven) => {
                Ok((credentials, true))
            }
            crate::aws::trust::ProbeOutcome::Inconclusive(detail) => Err(AssumeFailure::Unavailable(detail)),
        }
    }

    /// Puts credentials in the cache as if STS had just returned them (benchmarks, and tests of
    /// expiry handling).
    pub async fn prime(
        &self,
        org: &OrgId,
        role_arn: &str,
        external_id: &ExternalId,
        credentials: TempCredentials,
    ) {
        self.prime_keyed(Self::key(org, None, role_arn, external_id), credentials).await;
    }

    /// [`CredentialCache::prime`] for one integration's lease ([`CredentialCache::lease_for_integration`]).
    pub async fn prime_for_integration(
        &self,
        org: &OrgId,
        integration_id: &str,
        role_arn: &str,
        external_id: &ExternalId,
        credentials: TempCredentials,
    ) {
        self.prime_keyed(Self::key(org, Some(integration_id), role_arn, external_id), credentials).await;
    }

    async fn prime_keyed(&self, key: Key, credentials: TempCredentials) {
        let now = (self.clock)();
        let slot = Slot { credentials: Some(credentials), failure: None, quiet_until: now, proven: true };
        self.cache.insert(key, Arc::new(slot)).await;
    }

    /// One `AssumeRole` call, bypassing the cache. `external_id` `None` assumes without one.
    pub async fn assume(
        &self,
        org: &OrgId,
        role_arn: &str,
        external_id: Option<&str>,
    ) -> Result<TempCredentials, AssumeFailure> {
        self.assumer.assume(org, role_arn, external_id).await
    }
}

/// STS error codes that are the platform's problem, whatever their HTTP status: its own
/// credentials (expired, unknown), its STS region, or STS itself. Never "fix your trust policy".
const PLATFORM_SIDE_CODES: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "RegionDisabledException",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "InternalFailure",
    "IDPCommunicationError",
];

/// Whose problem an STS error is. Denials (the customer's) are told apart by code and, because
/// some emulators answer with bodies the SDK cannot parse, by HTTP 403 without a code (real AWS
/// sends `AccessDenied` with 403). Everything else (timeouts, 5xx, platform-side codes) is
/// transient.
pub fn classify_sts(code: Option<&str>, status: Option<u16>, detail: String) -> AssumeFailure {
    match (code, status) {
        (Some(code), _) if PLATFORM_SIDE_CODES.contains(&code) => AssumeFailure::Unavailable(detail),
        (
            Some("AccessDenied" | "AccessDeniedException" | "MalformedPolicyDocument" | "ValidationError"),
            _,
        ) => AssumeFailure::Denied(detail),
        (None, Some(403)) => AssumeFailure::Denied(detail),
        _ => AssumeFailure::Unavailable(detail),
    }
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> AssumeFailure {
    let detail = DisplayErrorContext(&err).to_string();
    let status = match &err {
        SdkError::ServiceError(e) => Some(e.raw().status().as_u16()),
        _ => None,
    };
    classify_sts(err.code(), status, detail)
}

/// The STS client the cache uses: bounded attempts with jittered exponential backoff and
/// timeouts that finish well inside the Lambda timeout.
pub fn sts_client(config: &aws_config::SdkConfig) -> aws_sdk_sts::Client {
    let sts = aws_sdk_sts::config::Builder::from(config)
        .retry_config(
            aws_sdk_sts::config::retry::RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(100)),
        )
        .timeout_config(
            aws_sdk_sts::config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(5))
                .build(),
        )
        .build();
    aws_sdk_sts::Client::from_conf(sts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Mutex;

    const ID: &str = "01JD8Q4V6W5X2Y3Z4A5B6C7D8E";

    fn org(id: &str) -> OrgId {
        OrgId::parse(id).unwrap()
    }

    fn fits_sts(name: &str) -> bool {
        (2..=SESSION_NAME_MAX).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
    }

    #[test]
    fn a_short_org_and_the_integration_read_whole_in_the_session_name() {
        assert_eq!(session_name(&org("acme"), Some(ID)), format!("acme.{ID}"));
        assert_eq!(session_name(&org("acme"), None), "platform-acme");
        let longest_whole = "o".repeat(37);
        assert_eq!(session_name(&org(&longest_whole), Some(ID)), format!("{longest_whole}.{ID}"));
    }

    #[test]
    fn a_long_org_keeps_its_start_and_a_digest_so_two_long_orgs_never_share_a_name() {
        let (a, b) = (format!("{}-a", "x".repeat(40)), format!("{}-b", "x".repeat(40)));
        let (name_a, name_b) = (session_name(&org(&a), Some(ID)), session_name(&org(&b), Some(ID)));
        assert_eq!(name_a.len(), SESSION_NAME_MAX);
        assert!(name_a.starts_with(&"x".repeat(28)) && name_a.ends_with(&format!(".{ID}")), "{name_a}");
        assert_ne!(name_a, name_b);
    }

    #[test]
    fn an_id_that_is_not_an_integrations_is_left_out_rather_than_breaking_the_name() {
        assert_eq!(session_name(&org("acme"), Some("not/an id")), "platform-acme");
    }

    proptest! {
        #[test]
        fn every_org_and_integration_make_a_name_sts_accepts_ending_in_the_integration_id(
            org_id in "[A-Za-z0-9_.@=,+-]{1,48}",
        ) {
            let Ok(org_id) = OrgId::parse(&org_id) else { return Ok(()) };
            let name = session_name(&org_id, Some(ID));
            prop_assert!(fits_sts(&name), "{name}");
            prop_assert!(name.ends_with(&format!(".{ID}")), "{name}");
            prop_assert!(fits_sts(&session_name(&org_id, None)));
        }
    }

    /// Records which integration each `AssumeRole` was made for.
    #[derive(Debug, Default)]
    struct Recording {
        sessions: Mutex<Vec<Option<String>>>,
    }

    impl Assumer for Recording {
        fn assume<'a>(&'a self, _: &'a OrgId, _: &'a str, _: Option<&'a str>) -> AssumeFuture<'a> {
            Box::pin(async { Err(AssumeFailure::Unavailable("use assume_for".into())) })
        }

        fn assume_for<'a>(
            &'a self,
            org: &'a OrgId,
            integration_id: Option<&'a str>,
            _: &'a str,
            _: Option<&'a str>,
        ) -> AssumeFuture<'a> {
            self.sessions.lock().unwrap().push(Some(session_name(org, integration_id)));
            Box::pin(async {
                Ok(TempCredentials {
                    signing: SigningCredentials {
                        access_key_id: "ASIA".into(),
                        secret_access_key: "secret".into(),
                        session_token: None,
                    },
                    expires_at: SystemTime::now() + Duration::from_secs(3600),
                })
            })
        }
    }

    #[tokio::test]
    async fn two_integrations_on_one_role_each_lease_from_a_session_named_for_them() {
        let recording = Arc::new(Recording::default());
        let cache = CredentialCache::with_assumer(
            recording.clone(),
            CacheConfig::default(),
            Arc::new(SystemTime::now),
        );
        let (acme, external_id) = (org("acme"), ExternalId::parse("a".repeat(32).as_str()).unwrap());
        let other = "01JD8Q4V6W5X2Y3Z4A5B6C7D8F";
        let role = "arn:aws:iam::210987654321:role/shared";
        for id in [ID, other, ID] {
            cache
                .lease_for_integration(&acme, id, role, &external_id, Duration::from_secs(60), false)
                .await
                .unwrap();
        }
        cache.lease(&acme, role, &external_id, Duration::from_secs(60), false).await.unwrap();
        let sessions = recording.sessions.lock().unwrap().clone();
        assert_eq!(
            sessions,
            [Some(format!("acme.{ID}")), Some(format!("acme.{other}")), Some("platform-acme".to_owned())],
            "one session per integration, the third lease warm"
        );
    }
}
