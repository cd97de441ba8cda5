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
//!   retry mode); the role session name carries the org id for the customer's CloudTrail.
//!
//! Why not `aws-config`'s `AssumeRoleProvider` + identity cache: it caches one role per provider
//! (we need thousands of keys, bounded), has no negative caching, and its buffer time is fixed
//! per provider while ours depends on the URL lifetime asked for.

use crate::auth::OrgId;
use crate::policy::ExternalId;
use crate::presign::SigningCredentials;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::fmt;
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

/// Why the role could not be assumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssumeFailure {
    /// STS refused: the trust policy, the external ID or the role is wrong. Not retried.
    Denied(String),
    /// STS did not answer usefully (throttling, 5xx, timeout). Retried with backoff first.
    Unavailable(String),
}

impl AssumeFailure {
    pub fn code(&self) -> &'static str {
        match self {
            AssumeFailure::Denied(_) => "ASSUME_ROLE_DENIED",
            AssumeFailure::Unavailable(_) => "ASSUME_ROLE_FAILED",
        }
    }

    /// What the person reading the presign result should do.
    pub fn message(&self, role_arn: &str) -> String {
        match self {
            AssumeFailure::Denied(_) => format!(
                "The platform could not assume role {role_arn}: check that the role exists, that its trust \
                 policy names the platform principal, and that its sts:ExternalId condition is your \
                 organization's external ID (GET /policies/trust shows both)."
            ),
            AssumeFailure::Unavailable(_) => format!(
                "AWS STS did not answer when assuming role {role_arn}; this is usually temporary. Try again shortly."
            ),
        }
    }

    /// The technical detail, for logs only.
    pub fn detail(&self) -> &str {
        match self {
            AssumeFailure::Denied(d) | AssumeFailure::Unavailable(d) => d,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    org: OrgId,
    role_arn: String,
    external_id: String,
}

#[derive(Debug, Clone)]
struct Slot {
    credentials: Option<TempCredentials>,
    failure: Option<AssumeFailure>,
    /// No STS call for this key before this time (set after a failure).
    quiet_until: SystemTime,
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
            session_duration: Duration::from_secs(3600),
            safety_margin: Duration::from_secs(60),
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
    sts: aws_sdk_sts::Client,
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

/// The role session name: `platform-<org>`, within STS's 2-64 characters of `[\w+=,.@-]`
/// (org ids are already limited to those characters and 48 of them).
pub fn session_name(org: &OrgId) -> String {
    let mut name = format!("platform-{}", org.as_str());
    name.truncate(64);
    name
}

impl CredentialCache {
    pub fn new(sts: aws_sdk_sts::Client, config: CacheConfig) -> Self {
        Self::with_clock(sts, config, Arc::new(SystemTime::now))
    }

    pub fn with_clock(sts: aws_sdk_sts::Client, config: CacheConfig, clock: Clock) -> Self {
        let cache = moka::future::Cache::builder()
            .max_capacity(config.max_entries)
            .time_to_live(config.session_duration + Duration::from_secs(60))
            .build();
        Self { sts, cache, config, stats: Arc::new(CacheStats::default()), clock }
    }

    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Credentials for the role that outlive `url_lifetime` (plus the safety margin) when STS
    /// allows; during an STS outage, still-valid credentials with a shorter `sign_until`.
    pub async fn lease(
        &self,
        org: &OrgId,
        role_arn: &str,
        external_id: &ExternalId,
        url_lifetime: Duration,
    ) -> Result<Lease, AssumeFailure> {
        let key = Key {
            org: org.clone(),
            role_arn: role_arn.to_owned(),
            external_id: external_id.as_str().to_owned(),
        };
        let now = (self.clock)();
        let wanted = now + url_lifetime + self.config.safety_margin;
        let previous = self.cache.get(&key).await;
        let entry = self
            .cache
            .entry(key.clone())
            .or_insert_with_if(self.fetch(key, previous), |slot| {
                let fresh_enough = slot.credentials.as_ref().is_some_and(|c| c.expires_at >= wanted);
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
                if credentials.expires_at > now + self.config.safety_margin + Duration::from_secs(1) =>
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

    async fn fetch(&self, key: Key, previous: Option<Arc<Slot>>) -> Arc<Slot> {
        self.stats.assume_calls.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let result = self.assume(&key.org, &key.role_arn, Some(&key.external_id)).await;
        let now = (self.clock)();
        match result {
            Ok(credentials) => {
                tracing::info!(
                    org = %key.org,
                    role_arn = %key.role_arn,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "assumed customer role"
                );
                Arc::new(Slot { credentials: Some(credentials), failure: None, quiet_until: now })
            }
            Err(failure) => {
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                let ttl = match failure {
                    AssumeFailure::Denied(_) => self.config.denied_ttl,
                    AssumeFailure::Unavailable(_) => self.config.unavailable_ttl,
                };
                tracing::warn!(org = %key.org, role_arn = %key.role_arn, code = failure.code(), detail = failure.detail(), "assume role failed");
                // Keep serving credentials that are still valid: an outage shortens URLs, it does not break them.
                let still_valid = previous.and_then(|p| p.credentials.clone()).filter(|c| c.expires_at > now);
                Arc::new(Slot { credentials: still_valid, failure: Some(failure), quiet_until: now + ttl })
            }
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
        let key = Key {
            org: org.clone(),
            role_arn: role_arn.to_owned(),
            external_id: external_id.as_str().to_owned(),
        };
        let now = (self.clock)();
        self.cache
            .insert(key, Arc::new(Slot { credentials: Some(credentials), failure: None, quiet_until: now }))
            .await;
    }

    /// One `AssumeRole` call, bypassing the cache (validation uses it directly). `external_id`
    /// `None` assumes without one, to prove the trust policy requires it.
    pub async fn assume(
        &self,
        org: &OrgId,
        role_arn: &str,
        external_id: Option<&str>,
    ) -> Result<TempCredentials, AssumeFailure> {
        let duration = i32::try_from(self.config.session_duration.as_secs()).unwrap_or(3600);
        let out = self
            .sts
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(session_name(org))
            .set_external_id(external_id.map(str::to_owned))
            .duration_seconds(duration)
            .send()
            .await
            .map_err(classify)?;
        let credentials = out
            .credentials
            .ok_or_else(|| AssumeFailure::Unavailable("STS answered without credentials".into()))?;
        let expires_at = SystemTime::try_from(credentials.expiration)
            .map_err(|_| AssumeFailure::Unavailable("STS answered with an unreadable expiration".into()))?;
        Ok(TempCredentials {
            signing: SigningCredentials {
                access_key_id: credentials.access_key_id,
                secret_access_key: credentials.secret_access_key,
                session_token: Some(credentials.session_token),
            },
            expires_at,
        })
    }
}

/// Denials are configuration errors, told apart by code and, because some emulators answer
/// with bodies the SDK cannot parse, by HTTP status (real AWS sends the same code with 403).
fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> AssumeFailure {
    let detail = DisplayErrorContext(&err).to_string();
    let status = match &err {
        SdkError::ServiceError(e) => Some(e.raw().status().as_u16()),
        _ => None,
    };
    let code = err.code().map(str::to_owned);
    match (code.as_deref(), status) {
        (
            Some(
                "AccessDenied"
                | "AccessDeniedException"
                | "RegionDisabledException"
                | "MalformedPolicyDocument"
                | "ValidationError",
            ),
            _,
        ) => AssumeFailure::Denied(detail),
        (_, Some(400 | 403)) if code.as_deref() != Some("Throttling") => AssumeFailure::Denied(detail),
        _ => AssumeFailure::Unavailable(detail),
    }
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
