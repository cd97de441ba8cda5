//! Validation: the checks that tell "it connected" from "it works in the browser", each with a
//! stable code, a result and a message naming the fix (the policy statement, trust condition,
//! region or CORS rule to change).
//!
//! Per integration: assume the role with the org's external ID (must succeed) and, once that
//! worked, with a random external ID (must fail, else the role would serve any org: the
//! confused deputy; the probe and its words are [`crate::aws::trust`]'s, shared with presign). Per
//! permitted bucket: its real region, list access, read access to one object (and one object
//! version when versioning is on), and a CORS preflight for each app origin.
//!
//! An STS outage is the platform's problem: its checks are recorded as `warn` ("not known") and
//! the report keeps the integration's previous state, so an outage never turns a healthy
//! integration `failing`, and the recorded proof stays as it was.
//!
//! Every check runs on a [`Budget`]: at most its own time (`VALIDATION_CHECK_SECONDS`), and none
//! past the validation's end, so one slow STS, bucket or network path can neither hold the HTTP
//! route past API Gateway's 30 s nor hold a slot of the scheduled run for long. A check that runs
//! out of time is `warn`, saying it was not checked in time and what to do; an STS check that
//! does is "not known", like an outage. A scope's buckets are checked side by side
//! ([`BUCKETS_AT_ONCE`]), so a 100-bucket default scope fits the budget when S3 answers.

use crate::aws::credentials::{AssumeFailure, Assumer, TempCredentials};
use crate::aws::endpoint_guard::{admit, EndpointPolicy};
use crate::aws::secrets::SharedSealer;
use crate::aws::trust::ProbeOutcome;
use crate::domain::arn::{KmsKeyArn, RoleArn};
use crate::domain::bucket::BucketName;
use crate::domain::clock::rfc3339;
use crate::domain::external_id::ExternalIdProof;
use crate::domain::external_id::{ExternalId, ExternalIds};
use crate::domain::integration::{
    Access, AwsRole, Check, CheckResult, HealthState, Integration, S3Compatible, Status,
};
use crate::domain::org::OrgId;
use crate::domain::policy::{cors_configuration, to_pretty_json, AppOrigin};
use crate::domain::presign::{encode_into, S3Endpoint};
use crate::domain::region::Region;
use crate::domain::s3_compatible::{AddressingStyle, SecretAccessKey};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use futures::StreamExt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use crate::domain::integration::check_codes as codes;

/// `EXTERNAL_ID_REQUIRED` while the role refuses (or STS does not answer) the org's own external ID.
fn not_known_until_assumed() -> Check {
    check(
        codes::EXTERNAL_ID_REQUIRED,
        "role",
        CheckResult::Warn,
        "Not known yet: whether the trust policy requires your external ID can only be tested once the \
         platform can assume the role with it (fix ASSUME_ROLE above, then validate again).",
    )
}

fn check(code: &str, target: impl Into<String>, result: CheckResult, message: impl Into<String>) -> Check {
    Check { code: code.to_owned(), target: target.into(), result, message: message.into() }
}

/// Overall state: any failure is `failing`, else any warning is `degraded`, else `healthy`.
pub fn overall(checks: &[Check]) -> HealthState {
    if checks.iter().any(|c| c.result == CheckResult::Fail) {
        HealthState::Failing
    } else if checks.iter().any(|c| c.result == CheckResult::Warn) {
        HealthState::Degraded
    } else {
        HealthState::Healthy
    }
}

/// What a CORS preflight answer lets a browser at one origin do with the bucket's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preflight {
    /// GET from the origin, with the `Range` header videos seek with.
    Allows,
    /// GET from the origin, but not with `Range`: images load, videos cannot seek.
    NoRange,
    /// Not GET from the origin at all.
    Refuses,
}

/// Reads the answer to a preflight for `GET` with `Access-Control-Request-Headers: range`.
/// `allow_headers` may echo the requested headers (S3) or be `*`.
pub fn preflight_verdict(
    status: u16,
    allow_origin: Option<&str>,
    allow_methods: Option<&str>,
    allow_headers: Option<&str>,
    origin: &str,
) -> Preflight {
    let origin_ok = allow_origin.map(str::trim).is_some_and(|o| o == "*" || o.eq_ignore_ascii_case(origin));
    let methods_ok =
        allow_methods.is_some_and(|m| m.split(',').any(|v| v.trim().eq_ignore_ascii_case("GET")));
    if !((200..300).contains(&status) && origin_ok && methods_ok) {
        return Preflight::Refuses;
    }
    let range_ok = allow_headers
        .is_some_and(|h| h.split(',').any(|v| v.trim() == "*" || v.trim().eq_ignore_ascii_case("range")));
    if range_ok {
        Preflight::Allows
    } else {
        Preflight::NoRange
    }
}

/// Each check's default time: one STS call or one S3 call (every attempt), or one preflight.
pub const DEFAULT_CHECK_BUDGET: Duration = Duration::from_secs(5);
/// A validation's default time for all of its checks: the HTTP route's 25 s less what recording
/// the report and releasing the lease may take (`validate::ValidateConfig::checks_budget`).
pub const DEFAULT_VALIDATION_BUDGET: Duration = Duration::from_secs(19);
/// How many of a scope's buckets are checked at once (each bucket's checks stay in order).
pub const BUCKETS_AT_ONCE: usize = 8;

/// The time a validation's checks may take: each at most `per_check`, none past `until`.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    per_check: Duration,
    total: Duration,
    until: tokio::time::Instant,
}

impl Budget {
    /// Starts now: each check at most `per_check`, every check done within `total` from now.
    pub fn starting_now(per_check: Duration, total: Duration) -> Self {
        Self { per_check, total, until: tokio::time::Instant::now() + total }
    }

    pub fn per_check(&self) -> Duration {
        self.per_check
    }

    /// Runs one check's call within its share of the budget: its value, or how it ran late.
    async fn run<T>(&self, call: impl Future<Output = T>) -> Result<T, Late> {
        let left = self.until.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Err(Late::BudgetSpent(self.total));
        }
        let limit = self.per_check.min(left);
        match tokio::time::timeout(limit, call).await {
            Ok(value) => Ok(value),
            Err(_) if limit < self.per_check => Err(Late::BudgetSpent(self.total)),
            Err(_) => Err(Late::Waited(self.per_check)),
        }
    }
}

/// Why a check has no answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Late {
    /// The service did not answer within the check's own budget.
    Waited(Duration),
    /// The validation's time ran out (the checks before this one were slow).
    BudgetSpent(Duration),
    /// No connection, or the SDK's own attempt limits gave up first.
    Unreachable,
}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{:.1}", d.as_secs_f64())
    }
}

/// The `warn` of a check that got no answer in time. `service` answers the check; `path` is where
/// the network path leads when it keeps happening.
fn not_in_time(code: &str, target: impl Into<String>, service: &str, path: &str, late: Late) -> Check {
    let why = match late {
        Late::Waited(waited) => format!("{service} did not answer within {} s", seconds(waited)),
        Late::BudgetSpent(total) => format!(
            "this validation used up its {} s before {service} answered (the checks before it were slow)",
            seconds(total)
        ),
        Late::Unreachable => format!("{service} could not be reached"),
    };
    check(
        code,
        target,
        CheckResult::Warn,
        format!(
            "Not checked in time: {why}, so nothing is known to be wrong here. Validate again; if it keeps \
             happening, check the network path from the platform to {path}."
        ),
    )
}

/// An S3 call as the checks read it: S3's answer, S3's refusal, or no answer in time.
enum S3Call<T, E> {
    Answered(T),
    Refused(E),
    Late(Late),
}

/// Makes one S3 call within the check's budget. A timeout or a failed connection is no answer
/// rather than S3's refusal: no permission is known to be missing.
async fn s3_call<T, E, R>(
    budget: &Budget,
    call: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> S3Call<T, SdkError<E, R>> {
    match budget.run(call).await {
        Err(late) => S3Call::Late(late),
        Ok(Ok(answer)) => S3Call::Answered(answer),
        Ok(Err(SdkError::TimeoutError(_))) => S3Call::Late(Late::Waited(budget.per_check)),
        Ok(Err(SdkError::DispatchFailure(_))) => S3Call::Late(Late::Unreachable),
        Ok(Err(refused)) => S3Call::Refused(refused),
    }
}

/// What one validation found: the report, and the probe's conclusion when it reached one.
#[derive(Debug, Clone)]
pub struct Report {
    pub status: Status,
    pub proof: Option<ExternalIdProof>,
}

#[derive(Debug, Clone)]
pub struct Validator {
    sdk: aws_config::SdkConfig,
    assumer: Arc<dyn Assumer>,
    endpoint: S3Endpoint,
    platform_principal: String,
    origins: Vec<AppOrigin>,
    http: reqwest::Client,
    /// What S3-compatible integrations need: their secrets opened, their endpoints guarded.
    stores: Option<(SharedSealer, EndpointPolicy)>,
}

impl Validator {
    /// `sdk` is the base AWS config (its endpoint, if any, is used for S3 calls); `assumer` makes
    /// every `AssumeRole` call uncached: validation must see what STS says now.
    pub fn new(
        sdk: aws_config::SdkConfig,
        assumer: Arc<dyn Assumer>,
        endpoint: S3Endpoint,
        platform_principal: String,
        origins: Vec<AppOrigin>,
    ) -> Self {
        // No overall timeout here: each preflight's time is its check's budget.
        let http = reqwest::Client::builder()
            .connect_timeout(crate::aws::limits::CONNECT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { sdk, assumer, endpoint, platform_principal, origins, http, stores: None }
    }

    /// Validates `s3_compatible` integrations too: `secrets` opens their secret access keys, and
    /// only endpoints `endpoints` admits are called ([`crate::aws::endpoint_guard`]).
    pub fn with_stores(mut self, secrets: SharedSealer, endpoints: EndpointPolicy) -> Self {
        self.stores = Some((secrets, endpoints));
        self
    }

    /// [`Validator::validate_within`] the default budgets, starting now.
    pub async fn validate(
        &self,
        org: &OrgId,
        external_id: Option<&ExternalId>,
        integration: &Integration,
    ) -> Report {
        let budget = Budget::starting_now(DEFAULT_CHECK_BUDGET, DEFAULT_VALIDATION_BUDGET);
        self.validate_within(org, external_id, integration, budget).await
    }

    /// Every check of the integration, each within its share of `budget`.
    pub async fn validate_within(
        &self,
        org: &OrgId,
        external_id: Option<&ExternalId>,
        integration: &Integration,
        budget: Budget,
    ) -> Report {
        let ids = external_id.cloned().map(ExternalIds::single);
        self.validate_with_ids(org, ids.as_ref(), integration, budget).await
    }

    /// [`Validator::validate_within`] with the org's external IDs: during a rotation the role is
    /// tried with the current ID first, then the previous one, and `EXTERNAL_ID_ROTATION` says
    /// which it accepts.
    pub async fn validate_with_ids(
        &self,
        org: &OrgId,
        external_ids: Option<&ExternalIds>,
        integration: &Integration,
        budget: Budget,
    ) -> Report {
        match &integration.access {
            Access::AwsRole(role) => self.validate_role(org, external_ids, integration, role, budget).await,
            Access::S3Compatible(store) => self.validate_store(org, integration, store, budget).await,
        }
    }

    /// An `aws_role` integration: the role, its trust policy, then each bucket with its credentials.
    async fn validate_role(
        &self,
        org: &OrgId,
        external_ids: Option<&ExternalIds>,
        integration: &Integration,
        role: &AwsRole,
        budget: Budget,
    ) -> Report {
        let external_id = external_ids.map(|ids| &ids.current);
        let (mut assume, mut assumed) =
            self.check_assume(org, &integration.id, external_id, &role.role_arn, &budget).await;
        let mut rotation_check = None;
        if let Some((rotation, previous)) =
            external_ids.and_then(|ids| ids.overlap_at(SystemTime::now()).map(|r| (r, &r.previous)))
        {
            let until = rfc3339(rotation.until);
            let role_arn = role.role_arn.as_str();
            if assumed.is_some() {
                rotation_check = Some(check(
                    codes::EXTERNAL_ID_ROTATION,
                    "role",
                    CheckResult::Pass,
                    format!(
                        "The role accepts the new external ID. The previous one is honoured until {until}; once \
                         every role accepts the new one, remove the previous ID from the trust policies and \
                         complete the rotation (POST /policies/trust/rotate/complete)."
                    ),
                ));
            } else if assume.result == CheckResult::Fail {
                let (old_assume, old_assumed) =
                    self.check_assume(org, &integration.id, Some(previous), &role.role_arn, &budget).await;
                if old_assumed.is_some() {
                    assume = check(
                        codes::ASSUME_ROLE,
                        "role",
                        CheckResult::Pass,
                        format!("The platform assumed {role_arn} with your previous external ID."),
                    );
                    assumed = old_assumed;
                    rotation_check = Some(check(
                        codes::EXTERNAL_ID_ROTATION,
                        "role",
                        CheckResult::Warn,
                        format!(
                            "The role accepts only your previous external ID, which is honoured until {until}; after \
                             that the platform cannot assume it. Paste the trust policy from GET /policies/trust \
                             (it names both IDs) into the role, then validate again."
                        ),
                    ));
                } else if old_assume.result == CheckResult::Fail {
                    rotation_check = Some(check(
                        codes::EXTERNAL_ID_ROTATION,
                        "role",
                        CheckResult::Fail,
                        "The role accepts neither your current nor your previous external ID: paste the trust \
                         policy from GET /policies/trust into the role, then validate again.",
                    ));
                }
            }
        }
        let assume_unknown = assume.result == CheckResult::Warn;
        let mut checks = vec![assume];
        checks.extend(rotation_check);
        // The probe runs only once the role admitted the org's own external ID: a denial proves
        // the condition only then, and each probe is an AccessDenied line in the customer's CloudTrail.
        let (external_id_check, proof, probe_unknown) = match assumed {
            None => (not_known_until_assumed(), None, false),
            Some(_) => self.check_external_id(org, external_id, &role.role_arn, &budget).await,
        };
        checks.push(external_id_check);
        if let Some(credentials) = assumed {
            // The futures are made up front (they start when polled): a stream's `map` closure over
            // borrowed buckets would not be `Send` for every lifetime, which the Lambda runtime needs.
            let buckets: Vec<_> = integration
                .scope
                .buckets()
                .iter()
                .map(|bucket| self.check_bucket(integration, role, bucket, &credentials, &budget))
                .collect();
            let per_bucket: Vec<Vec<Check>> =
                futures::stream::iter(buckets).buffered(BUCKETS_AT_ONCE).collect().await;
            checks.extend(per_bucket.into_iter().flatten());
        }
        // What could not be checked is not known to be wrong: the previous state stands (an
        // integration never validated stays unverified).
        let sts_unavailable = assume_unknown || probe_unknown;
        let state = if sts_unavailable { integration.status.state } else { overall(&checks) };
        Report {
            status: Status { state, checked_at: Some(rfc3339(SystemTime::now())), checks }.bounded(),
            proof,
        }
    }

    /// An `s3_compatible` integration: the endpoint may be called and answers
    /// (`ENDPOINT_REACHABLE`), then each bucket with the store's keys. The endpoint is the
    /// customer's, so it is admitted by the SSRF guard before anything is sent to it, and the
    /// preflights go to the addresses the guard resolved.
    async fn validate_store(
        &self,
        org: &OrgId,
        integration: &Integration,
        store: &S3Compatible,
        budget: Budget,
    ) -> Report {
        let target = format!("endpoint:{}", store.endpoint);
        let unknown = |message: String| Report {
            status: Status {
                state: integration.status.state,
                checked_at: Some(rfc3339(SystemTime::now())),
                checks: vec![check(codes::ENDPOINT_REACHABLE, &target, CheckResult::Warn, message)],
            }
            .bounded(),
            proof: None,
        };
        let Some((secrets, policy)) = &self.stores else {
            return unknown("Not known: this deployment cannot validate S3-compatible stores (no secret key is configured). This is on the platform's side.".into());
        };
        let failing = |message: String| Report {
            status: Status {
                state: HealthState::Failing,
                checked_at: Some(rfc3339(SystemTime::now())),
                checks: vec![check(codes::ENDPOINT_REACHABLE, &target, CheckResult::Fail, message)],
            }
            .bounded(),
            proof: None,
        };
        let endpoint = &store.endpoint;
        let addresses =
            match budget.run(admit(endpoint.host(), endpoint.port(), endpoint.is_https(), *policy)).await {
                Ok(Ok(addresses)) => addresses,
                Ok(Err(refused)) => return failing(refused.message),
                Err(late) => {
                    return unknown(format!(
                        "Not known: the endpoint's name did not resolve in time ({late:?}); validate again."
                    ))
                }
            };
        let secret = match budget.run(secrets.open(org, &store.secret)).await {
            Ok(Ok(secret)) => secret,
            Ok(Err(e)) => {
                tracing::warn!(org = %org, integration = %integration.id, error = %e, "could not open an S3-compatible secret");
                return unknown(
                    "Not known: the platform could not open the stored secret access key just now (KMS). This is on \
                     the platform's side; validate again shortly."
                        .into(),
                );
            }
            Err(_) => {
                return unknown(
                    "Not known: opening the stored secret did not finish in time; validate again.".into(),
                )
            }
        };
        let s3 = self.store_s3(store, &secret, &addresses, &budget);
        let http = pinned_http(store, integration.scope.buckets(), &addresses);
        let Some(first) = integration.scope.buckets().first() else {
            return failing("The scope names no bucket.".into());
        };
        // Any HTTP answer, even a refusal, shows the endpoint is reachable and speaks HTTP.
        let reach = s3_call(&budget, s3.head_bucket().bucket(first.as_str()).send()).await;
        let reachable = match reach {
            S3Call::Answered(_) | S3Call::Refused(_) => check(
                codes::ENDPOINT_REACHABLE,
                &target,
                CheckResult::Pass,
                format!("The store at {endpoint} answered the platform."),
            ),
            S3Call::Late(Late::Unreachable) => {
                return failing(format!(
                    "The platform could not connect to {endpoint}: the connection was refused or its TLS certificate was \
                     not accepted. Check the endpoint's host and port, that it is reachable from the internet, and that \
                     it serves a certificate from a public authority for that name."
                ))
            }
            S3Call::Late(late) => not_in_time(codes::ENDPOINT_REACHABLE, &target, "the store", endpoint.as_str(), late),
        };
        let mut checks = vec![reachable];
        let buckets: Vec<_> = integration
            .scope
            .buckets()
            .iter()
            .map(|bucket| self.check_store_bucket(integration, store, bucket, &s3, &http, &budget))
            .collect();
        let per_bucket: Vec<Vec<Check>> =
            futures::stream::iter(buckets).buffered(BUCKETS_AT_ONCE).collect().await;
        checks.extend(per_bucket.into_iter().flatten());
        Report {
            status: Status { state: overall(&checks), checked_at: Some(rfc3339(SystemTime::now())), checks }
                .bounded(),
            proof: None,
        }
    }

    /// An S3 client for a store: its endpoint, addressing style, region and keys (no session
    /// token), with the checks' time bounds. Checksums only where an operation requires them:
    /// not every S3-compatible store knows the newer checksum headers.
    fn store_s3(
        &self,
        store: &S3Compatible,
        secret: &SecretAccessKey,
        addresses: &[std::net::SocketAddr],
        budget: &Budget,
    ) -> aws_sdk_s3::Client {
        use aws_sdk_s3::config::{Credentials, RequestChecksumCalculation, ResponseChecksumValidation};
        let credentials = Credentials::new(
            store.access_key_id.as_str(),
            secret.expose(),
            None,
            None,
            "s3-compatible store",
        );
        // Every name the client looks up (the endpoint's host, or `bucket.host`) resolves to the
        // addresses the guard admitted: a DNS answer that changes after the guard (rebinding)
        // cannot point these calls elsewhere.
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_with_resolver(PinnedDns(Arc::new(addresses.iter().map(|a| a.ip()).collect())));
        let config = aws_sdk_s3::config::Builder::from(&self.sdk)
            .http_client(http)
            .endpoint_url(store.endpoint.as_str())
            .credentials_provider(credentials)
            .region(aws_sdk_s3::config::Region::new(store.region.as_str().to_owned()))
            .force_path_style(store.addressing_style == AddressingStyle::Path)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        within_budget(config, budget)
    }

    /// One bucket of a store: list, read, version read, and the CORS preflight per app origin.
    async fn check_store_bucket(
        &self,
        integration: &Integration,
        store: &S3Compatible,
        bucket: &BucketName,
        s3: &aws_sdk_s3::Client,
        http: &reqwest::Client,
        budget: &Budget,
    ) -> Vec<Check> {
        let mut checks = Vec::new();
        let prefix = integration.scope.prefix().map_or("", |p| p.as_str());
        let endpoint = store.endpoint.as_str();
        let at = BucketAt {
            target: format!("bucket:{bucket}"),
            object_arn: format!("{bucket}/{prefix}*"),
            bucket,
            partition: "",
            prefix,
            budget,
            reader: Reader::StoreKey { access_key_id: store.access_key_id.as_str(), endpoint },
        };
        let path = format!("bucket {bucket} at {endpoint}");
        let Some(key) = check_list_and_sample(s3, &at, &path, &mut checks).await else {
            return checks;
        };
        let read = check_read(s3, &at, &path, &key, None, None, &mut checks).await;
        if integration.versioning {
            checks.push(check_version_read(s3, &at, &path, &key, read).await);
        }
        let url = store_object_url(store, bucket, &key);
        for origin in &self.origins {
            checks.push(self.check_cors(&at, http, &url, &path, origin).await);
        }
        checks
    }

    /// `ASSUME_ROLE` with the org's external ID, and the credentials when it worked. A `warn`
    /// means STS did not answer in time (the platform's side).
    async fn check_assume(
        &self,
        org: &OrgId,
        integration_id: &str,
        external_id: Option<&ExternalId>,
        role_arn: &RoleArn,
        budget: &Budget,
    ) -> (Check, Option<TempCredentials>) {
        let role = role_arn.as_str();
        let Some(external_id) = external_id else {
            let check = check(
                codes::ASSUME_ROLE,
                "role",
                CheckResult::Fail,
                "Your organization has no external ID yet: open GET /policies/trust, paste that trust \
                 policy into the role, then validate again.",
            );
            return (check, None);
        };
        // The session is named for the integration, as presign's are: the customer's CloudTrail
        // maps validation's calls back to it too.
        let call = self.assumer.assume_for(org, Some(integration_id), role, Some(external_id.as_str()));
        let assumed = match budget.run(call).await {
            Ok(assumed) => assumed,
            Err(late) => {
                tracing::warn!(role, ?late, "STS did not answer in time during validation");
                return (not_in_time(codes::ASSUME_ROLE, "role", "AWS STS", "AWS STS", late), None);
            }
        };
        match assumed {
            Ok(credentials) => (
                check(
                    codes::ASSUME_ROLE,
                    "role",
                    CheckResult::Pass,
                    format!("The platform assumed {role} with your external ID."),
                ),
                Some(credentials),
            ),
            Err(AssumeFailure::Denied(_) | AssumeFailure::NotEnforced) => (
                check(
                    codes::ASSUME_ROLE,
                    "role",
                    CheckResult::Fail,
                    format!(
                        "The platform cannot assume {role}. Check the role ARN, then in IAM open the role's \
                         Trust relationships and paste the trust policy from GET /policies/trust: principal \
                         {} with the condition StringEquals sts:ExternalId = \"{}\".",
                        self.platform_principal,
                        external_id.as_str()
                    ),
                ),
                None,
            ),
            Err(AssumeFailure::Unavailable(detail)) => {
                tracing::warn!(role, detail, "STS unavailable during validation");
                let check = check(
                    codes::ASSUME_ROLE,
                    "role",
                    CheckResult::Warn,
                    "Not known: AWS STS did not answer the platform, so nothing is known to be wrong with the \
                     role. This is on the platform's side; validate again shortly.",
                );
                (check, None)
            }
        }
    }

    /// `EXTERNAL_ID_REQUIRED` by [`crate::aws::trust::probe`], the proof to record when the probe
    /// concluded, and whether STS left it unknown.
    async fn check_external_id(
        &self,
        org: &OrgId,
        external_id: Option<&ExternalId>,
        role_arn: &RoleArn,
        budget: &Budget,
    ) -> (Check, Option<ExternalIdProof>, bool) {
        let role = role_arn.as_str();
        let proof = |enforced| Some(ExternalIdProof::new(role_arn, enforced, SystemTime::now()));
        let outcome = match budget.run(crate::aws::trust::probe(self.assumer.as_ref(), org, role)).await {
            Ok(outcome) => outcome,
            Err(late) => {
                tracing::warn!(role, ?late, "STS did not answer the external-ID probe in time");
                let check = not_in_time(codes::EXTERNAL_ID_REQUIRED, "role", "AWS STS", "AWS STS", late);
                return (check, None, true);
            }
        };
        match outcome {
            ProbeOutcome::Enforced => (
                check(
                    codes::EXTERNAL_ID_REQUIRED,
                    "role",
                    CheckResult::Pass,
                    "The trust policy requires your external ID: a random one was refused.",
                ),
                proof(true),
                false,
            ),
            ProbeOutcome::NotEnforced => (
                check(
                    codes::EXTERNAL_ID_REQUIRED,
                    "role",
                    CheckResult::Fail,
                    crate::domain::external_id::not_enforced_message(role, external_id),
                ),
                proof(false),
                false,
            ),
            ProbeOutcome::Inconclusive(detail) => {
                tracing::warn!(role, detail, "STS unavailable during the external-ID probe");
                let check = check(
                    codes::EXTERNAL_ID_REQUIRED,
                    "role",
                    CheckResult::Warn,
                    "Not known: AWS STS did not answer the platform's probe, so whether the trust policy \
                     requires your external ID is unknown. This is on the platform's side; validate again shortly.",
                );
                (check, None, true)
            }
        }
    }

    /// An S3 client for the assumed role in `region`, [`within_budget`].
    fn s3(&self, credentials: &TempCredentials, region: Region, budget: &Budget) -> aws_sdk_s3::Client {
        let provider = aws_sdk_s3::config::Credentials::new(
            credentials.signing.access_key_id.clone(),
            credentials.signing.secret_access_key.clone(),
            credentials.signing.session_token.clone(),
            Some(credentials.expires_at),
            "validation",
        );
        let config = aws_sdk_s3::config::Builder::from(&self.sdk)
            .credentials_provider(provider)
            .region(aws_sdk_s3::config::Region::new(region.as_str()))
            .force_path_style(self.sdk.endpoint_url().is_some());
        within_budget(config, budget)
    }

    /// One permitted bucket's checks: its region, then (where it exists) list, read, version
    /// read, and the CORS preflight per app origin. Each step says why a later one was not tested.
    async fn check_bucket(
        &self,
        integration: &Integration,
        role: &AwsRole,
        bucket: &BucketName,
        credentials: &TempCredentials,
        budget: &Budget,
    ) -> Vec<Check> {
        let mut checks = Vec::new();
        let prefix = integration.scope.prefix().map_or("", |p| p.as_str());
        let partition = role.region.partition().as_str();
        let at = BucketAt {
            target: format!("bucket:{bucket}"),
            object_arn: format!("arn:{partition}:s3:::{bucket}/{prefix}*"),
            bucket,
            partition,
            prefix,
            budget,
            reader: Reader::Role,
        };
        let Some(region) = self.check_region(&at, role.region, credentials, &mut checks).await else {
            return checks;
        };
        let s3 = self.s3(credentials, region, budget);
        let Some(key) = check_list_and_sample(&s3, &at, &at.path(region), &mut checks).await else {
            return checks;
        };
        let via = format!("s3.{region}.{}", region.partition().dns_suffix());
        let read =
            check_read(&s3, &at, &at.path(region), &key, Some(&role.kms_key_arns), Some(&via), &mut checks)
                .await;
        if integration.versioning {
            checks.push(check_version_read(&s3, &at, &at.path(region), &key, read).await);
        }
        let url = self.object_url(bucket, region, &key);
        for origin in &self.origins {
            checks.push(self.check_cors(&at, &self.http, &url, &at.path(region), origin).await);
        }
        checks
    }

    /// The bucket's real region (S3 tells it in x-amz-bucket-region, even when it refuses): the
    /// region the later checks use, or `None` when the bucket does not exist. When S3 does not
    /// answer in time the saved region stands for the later checks, which have budgets of their own.
    async fn check_region(
        &self,
        at: &BucketAt<'_>,
        saved: Region,
        credentials: &TempCredentials,
        checks: &mut Vec<Check>,
    ) -> Option<Region> {
        let (bucket, target) = (at.bucket, &at.target);
        let head = s3_call(
            at.budget,
            self.s3(credentials, saved, at.budget).head_bucket().bucket(bucket.as_str()).send(),
        )
        .await;
        let (actual, missing) = match &head {
            S3Call::Late(late) => {
                checks.push(not_in_time(codes::BUCKET_REGION, target, "S3", &at.path(saved), *late));
                return Some(saved);
            }
            S3Call::Answered(out) => (out.bucket_region().map(str::to_owned), false),
            S3Call::Refused(e) => {
                let raw = e.raw_response();
                let header = raw.and_then(|r| r.headers().get("x-amz-bucket-region")).map(str::to_owned);
                (header, raw.is_some_and(|r| r.status().as_u16() == 404))
            }
        };
        if missing {
            checks.push(check(
                codes::BUCKET_REGION,
                target,
                CheckResult::Fail,
                format!(
                    "Bucket {bucket} does not exist in {}. Check the bucket name in the integration's scope.",
                    at.partition
                ),
            ));
            return None;
        }
        let (result, message, region) = match actual.as_deref().map(Region::parse) {
            Some(Ok(real)) if real != saved => (
                CheckResult::Fail,
                format!("Bucket {bucket} is in {real}, but the integration says {saved}. Change the integration's region to \"{real}\"."),
                real,
            ),
            Some(Ok(_)) => (CheckResult::Pass, format!("Bucket {bucket} is in {saved}."), saved),
            _ => (
                CheckResult::Warn,
                format!("S3 did not say which region bucket {bucket} is in; the checks below use {saved}."),
                saved,
            ),
        };
        checks.push(check(codes::BUCKET_REGION, target, result, message));
        Some(region)
    }

    /// The URL a browser would fetch the object from (no signature needed for a preflight).
    pub fn object_url(&self, bucket: &BucketName, region: Region, key: &str) -> String {
        let mut url = match &self.endpoint {
            S3Endpoint::Aws if !bucket.needs_path_style() => {
                format!("https://{bucket}.s3.{region}.{}/", region.partition().dns_suffix())
            }
            S3Endpoint::Aws => format!("https://s3.{region}.{}/{bucket}/", region.partition().dns_suffix()),
            S3Endpoint::Custom(custom) => format!("{}/{bucket}/", custom.base_url()),
        };
        encode_into(&mut url, key.as_bytes(), true);
        url
    }

    /// `CORS` for one app origin: the preflight a browser sends before it loads `url`, sent by `http`.
    async fn check_cors(
        &self,
        at: &BucketAt<'_>,
        http: &reqwest::Client,
        url: &str,
        path: &str,
        origin: &AppOrigin,
    ) -> Check {
        let bucket = at.bucket;
        let target = format!("bucket:{bucket} origin:{}", origin.as_str());
        let preflight = http
            .request(reqwest::Method::OPTIONS, url)
            .header("Origin", origin.as_str())
            .header("Access-Control-Request-Method", "GET")
            // A video seeks with Range requests, which browsers preflight for.
            .header("Access-Control-Request-Headers", "range")
            .send();
        let answer = match at.budget.run(preflight).await {
            Ok(answer) => answer,
            Err(late) => return not_in_time(codes::CORS, target, "S3", path, late),
        };
        let rule = to_pretty_json(&cors_configuration(std::slice::from_ref(origin)));
        match answer {
            Ok(response) => {
                let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                let allow_origin = header("access-control-allow-origin");
                let allow_methods = header("access-control-allow-methods");
                let allow_headers = header("access-control-allow-headers");
                let where_to_paste = match at.reader {
                    Reader::Role => "In the S3 console open the bucket's Permissions, CORS".to_owned(),
                    Reader::StoreKey { endpoint, .. } => format!(
                        "Set the bucket's CORS configuration at the store {endpoint} (its console, or \
                         PutBucketCors with any S3 client)"
                    ),
                };
                let verdict = preflight_verdict(
                    response.status().as_u16(),
                    allow_origin.as_deref(),
                    allow_methods.as_deref(),
                    allow_headers.as_deref(),
                    origin.as_str(),
                );
                match verdict {
                Preflight::Allows => check(codes::CORS, target, CheckResult::Pass, format!("Bucket {bucket} allows GET from {}, with Range for video seeking.", origin.as_str())),
                Preflight::NoRange => check(
                    codes::CORS,
                    target,
                    CheckResult::Fail,
                    format!(
                        "Browsers at {} can load images from bucket {bucket}, but videos cannot seek: its CORS configuration \
                         does not allow the Range request header. {where_to_paste}, and paste (it allows every header and \
                         exposes Content-Range and Accept-Ranges):\n{rule}",
                        origin.as_str()
                    ),
                ),
                Preflight::Refuses => check(
                        codes::CORS,
                        target,
                        CheckResult::Fail,
                        format!(
                            "Browsers at {} cannot load files from bucket {bucket}: its CORS configuration does not allow \
                             GET from that origin. {where_to_paste}, and paste:\n{rule}",
                            origin.as_str(),
                        ),
                    ),
                }
            }
            Err(e) => check(
                codes::CORS,
                target,
                CheckResult::Warn,
                format!("The CORS preflight to bucket {bucket} did not get an answer ({e}); validate again shortly."),
            ),
        }
    }
}

/// An S3 client whose every call, all attempts included, takes at most the check's budget; one
/// attempt at most [`crate::aws::limits::S3_ATTEMPT`] of it, so a lost connection is retried
/// inside the budget.
fn within_budget(config: aws_sdk_s3::config::Builder, budget: &Budget) -> aws_sdk_s3::Client {
    use crate::aws::limits;
    use aws_sdk_s3::config::{retry::RetryConfig, timeout::TimeoutConfig};
    let config = config
        .retry_config(RetryConfig::standard().with_max_attempts(limits::S3_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(limits::CONNECT)
                .operation_attempt_timeout(limits::S3_ATTEMPT.min(budget.per_check))
                .operation_timeout(budget.per_check)
                .build(),
        )
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A DNS resolver that answers every name with the addresses the SSRF guard admitted.
#[derive(Debug, Clone)]
struct PinnedDns(Arc<Vec<std::net::IpAddr>>);

impl aws_smithy_runtime_api::client::dns::ResolveDns for PinnedDns {
    fn resolve_dns<'a>(&'a self, _name: &'a str) -> aws_smithy_runtime_api::client::dns::DnsFuture<'a> {
        aws_smithy_runtime_api::client::dns::DnsFuture::ready(Ok(self.0.to_vec()))
    }
}

/// The URL a browser would load an object of a store from (the presigned URL without its query).
fn store_object_url(store: &S3Compatible, bucket: &BucketName, key: &str) -> String {
    let endpoint = &store.endpoint;
    let mut url = match store.addressing_style {
        AddressingStyle::Path => format!("{endpoint}/{bucket}/"),
        AddressingStyle::Virtual => {
            let scheme = if endpoint.is_https() { "https" } else { "http" };
            let rest = endpoint.as_str().split_once("://").map_or("", |(_, rest)| rest);
            format!("{scheme}://{bucket}.{rest}/")
        }
    };
    encode_into(&mut url, key.as_bytes(), true);
    url
}

/// An HTTP client for a store's preflights that connects only to the addresses the guard
/// admitted: a second DNS answer (rebinding) cannot point it elsewhere, nor can a virtual-hosted
/// bucket's name (`bucket.host`). No redirects.
fn pinned_http(
    store: &S3Compatible,
    buckets: &[BucketName],
    addresses: &[std::net::SocketAddr],
) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(crate::aws::limits::CONNECT)
        .redirect(reqwest::redirect::Policy::none());
    if let url::Host::Domain(domain) = store.endpoint.host() {
        builder = builder.resolve_to_addrs(domain, addresses);
        if store.addressing_style == AddressingStyle::Virtual {
            for bucket in buckets {
                builder = builder.resolve_to_addrs(&format!("{bucket}.{domain}"), addresses);
            }
        }
    }
    builder.build().unwrap_or_default()
}

/// One bucket under check: the names its messages use, and the validation's budget.
struct BucketAt<'a> {
    target: String,
    /// What the objects are called in a fix: `arn:aws:s3:::bucket/prefix*`, or `bucket/prefix*` at a store.
    object_arn: String,
    bucket: &'a BucketName,
    partition: &'a str,
    prefix: &'a str,
    budget: &'a Budget,
    /// Who reads, and so how each fix is worded.
    reader: Reader<'a>,
}

/// Who reads a bucket: an IAM role (fixes are policy statements) or a store's access key (fixes
/// are the key's permissions in the store's console).
#[derive(Clone, Copy)]
enum Reader<'a> {
    Role,
    StoreKey { access_key_id: &'a str, endpoint: &'a str },
}

impl BucketAt<'_> {
    /// Where a network path to the bucket leads, for a check that got no answer in time.
    fn path(&self, region: Region) -> String {
        format!("bucket {} in {region}", self.bucket)
    }

    fn who(&self) -> String {
        match self.reader {
            Reader::Role => "The role".to_owned(),
            Reader::StoreKey { access_key_id, .. } => format!("The access key {access_key_id}"),
        }
    }

    /// The fix for a permission `action` (an IAM action) that is missing on `resource`.
    fn grant(&self, action: &str, resource: &str, statement: &str) -> String {
        match self.reader {
            Reader::Role => {
                format!("Add {action} on {resource} to the role's access policy (statement {statement}).")
            }
            Reader::StoreKey { endpoint, .. } => format!(
                "In the console of the store at {endpoint}, give the access key the {action} permission on {resource} \
                 (its policy or role), or issue a key that has it."
            ),
        }
    }
}

/// `LIST_ACCESS`, and one listed key to test reading with (`None`: reading cannot be tested, and
/// `READ_ACCESS` says why).
async fn check_list_and_sample(
    s3: &aws_sdk_s3::Client,
    at: &BucketAt<'_>,
    path: &str,
    checks: &mut Vec<Check>,
) -> Option<String> {
    let (bucket, target, object_arn) = (at.bucket, &at.target, &at.object_arn);
    let list = s3.list_objects_v2().bucket(bucket.as_str()).prefix(at.prefix).max_keys(1).send();
    match s3_call(at.budget, list).await {
        S3Call::Answered(out) => {
            checks.push(check(
                codes::LIST_ACCESS,
                target,
                CheckResult::Pass,
                format!("{} can list {bucket}, so a missing object reads as 404.", at.who()),
            ));
            let key = out.contents().first().and_then(|o| o.key()).map(str::to_owned);
            if key.is_none() {
                checks.push(check(
                    codes::READ_ACCESS,
                    target,
                    CheckResult::Warn,
                    format!("No object under s3://{bucket}/{} could be listed, so read access to {object_arn} was not tested. Upload a file and validate again.", at.prefix),
                ));
            }
            key
        }
        S3Call::Late(late) => {
            checks.push(not_in_time(codes::LIST_ACCESS, target, "S3", path, late));
            checks.push(check(
                codes::READ_ACCESS,
                target,
                CheckResult::Warn,
                format!(
                    "Read access to {object_arn} was not tested because listing did not answer in time; validate again."
                ),
            ));
            None
        }
        S3Call::Refused(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let code = e.code().unwrap_or("denied");
            let message = match at.reader {
                Reader::StoreKey { endpoint, .. } if code == "NoSuchBucket" || status == Some(404) => format!(
                    "Bucket {bucket} does not exist at {endpoint}. Check the bucket name in the integration's scope \
                     (bucket names are per store)."
                ),
                Reader::StoreKey { endpoint, access_key_id } if is_bad_key(code) => format!(
                    "The store at {endpoint} refused the access key {access_key_id} ({code}): the key ID or its secret is \
                     wrong, or the key was revoked. Replace the integration with a current key ID and secret access key."
                ),
                Reader::Role => format!(
                    "The role cannot list bucket {bucket} ({code}). Add s3:ListBucket on arn:{}:s3:::{bucket} to the \
                     role's access policy (statement ListBucketSoMissingObjectsReturn404), or missing files will show as \
                     access denied.",
                    at.partition
                ),
                Reader::StoreKey { .. } => format!(
                    "{} cannot list bucket {bucket} ({code}). {} Without it missing files show as access denied.",
                    at.who(),
                    at.grant("s3:ListBucket", bucket.as_str(), "ListBucketSoMissingObjectsReturn404")
                ),
            };
            checks.push(check(codes::LIST_ACCESS, target, CheckResult::Fail, message));
            let untested = match at.reader {
                Reader::Role => format!(
                    "Read access was not tested because listing is denied. The access policy must also grant \
                     s3:GetObject on {object_arn} (statement ReadObjects); paste the whole access policy again."
                ),
                Reader::StoreKey { .. } => format!(
                    "Read access to {object_arn} was not tested because listing failed; fix LIST_ACCESS and validate again."
                ),
            };
            checks.push(check(codes::READ_ACCESS, target, CheckResult::Warn, untested));
            None
        }
    }
}

/// The store's words for a key it does not accept.
fn is_bad_key(code: &str) -> bool {
    matches!(
        code,
        "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "NotSignedUp"
            | "InvalidToken"
            | "ExpiredToken"
            | "AuthorizationHeaderMalformed"
    )
}

/// What reading the sample object found.
enum Read {
    /// Read, with its version ID if S3 gave one.
    Done(Option<String>),
    Failed,
    Late,
}

/// The sample object's SSE-KMS key, when S3 encrypts it with one.
fn kms_key_of(head: &aws_sdk_s3::operation::head_object::HeadObjectOutput) -> Option<String> {
    use aws_sdk_s3::types::ServerSideEncryption;
    match head.server_side_encryption() {
        Some(ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse) => {
            Some(head.ssekms_key_id().unwrap_or("(the bucket's AWS managed key aws/s3)").to_owned())
        }
        _ => None,
    }
}

/// `READ_ACCESS` on the sample key: its metadata (HeadObject), then its first byte (GetObject), as
/// a browser would: only a read decrypts an SSE-KMS object, so only a read finds a missing
/// `kms:Decrypt`. With `kms_keys` (an `aws_role` integration's list), an SSE-KMS sample also gets
/// `KMS_DECRYPT`: its key must be one the integration lists, and the role must be able to use it.
async fn check_read(
    s3: &aws_sdk_s3::Client,
    at: &BucketAt<'_>,
    path: &str,
    key: &str,
    kms_keys: Option<&[KmsKeyArn]>,
    kms_via: Option<&str>,
    checks: &mut Vec<Check>,
) -> Read {
    let bucket = at.bucket;
    let read_denied = || {
        format!(
            "{} cannot read objects in {bucket}. {}",
            at.who(),
            at.grant("s3:GetObject", &at.object_arn, "ReadObjects")
        )
    };
    let head = match s3_call(at.budget, s3.head_object().bucket(bucket.as_str()).key(key).send()).await {
        S3Call::Answered(head) => head,
        S3Call::Late(late) => {
            checks.push(not_in_time(codes::READ_ACCESS, &at.target, "S3", path, late));
            return Read::Late;
        }
        S3Call::Refused(e) => {
            let message = if e.raw_response().map(|r| r.status().as_u16()) == Some(404) {
                format!(
                    "s3://{bucket}/{key} was listed but reading it says it does not exist; validate again."
                )
            } else {
                read_denied()
            };
            checks.push(check(codes::READ_ACCESS, &at.target, CheckResult::Fail, message));
            return Read::Failed;
        }
    };
    let kms_key = kms_key_of(&head);
    let get = s3.get_object().bucket(bucket.as_str()).key(key).range("bytes=0-0").send();
    let read = match s3_call(at.budget, get).await {
        S3Call::Answered(_) => Get::Read,
        S3Call::Late(late) => {
            checks.push(not_in_time(codes::READ_ACCESS, &at.target, "S3", path, late));
            return Read::Late;
        }
        // Only a refusal is about permissions (a missing kms:Decrypt among them); another error
        // that outlived the retries says nothing about them.
        S3Call::Refused(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(403) => Get::Denied,
        S3Call::Refused(e) => Get::Failed(e.code().unwrap_or("an error").to_owned()),
    };
    let listed = |arn: &str| kms_keys.is_some_and(|keys| keys.iter().any(|k| k.as_str() == arn));
    let decrypt_statement = |arn: &str| {
        format!(
            "statement DecryptObjectsWithKms: kms:Decrypt on {arn} with the condition kms:ViaService = \"{}\"",
            kms_via.unwrap_or("s3.<the bucket's region>.amazonaws.com")
        )
    };
    match (&read, &kms_key) {
        (Get::Read, _) => checks.push(check(
            codes::READ_ACCESS,
            &at.target,
            CheckResult::Pass,
            format!("{} read s3://{bucket}/{key}.", at.who()),
        )),
        (Get::Failed(code), _) => checks.push(check(
            codes::READ_ACCESS,
            &at.target,
            CheckResult::Warn,
            format!(
                "Not known: reading the first byte of s3://{bucket}/{key} failed with {code}, which says nothing \
                 about permissions. Validate again."
            ),
        )),
        (Get::Denied, Some(arn)) if kms_keys.is_some() => checks.push(check(
            codes::READ_ACCESS,
            &at.target,
            CheckResult::Fail,
            format!(
                "The role can see s3://{bucket}/{key} but cannot read it: it is encrypted with the KMS key {arn}, and the \
                 role may not decrypt with it. {}",
                if listed(arn) {
                    format!("Paste the access policy again: it has the {}.", decrypt_statement(arn))
                } else {
                    format!("Add {arn} to the integration's KMS keys, then paste the access policy again (it gains the {}).", decrypt_statement(arn))
                }
            ),
        )),
        (Get::Denied, _) => checks.push(check(codes::READ_ACCESS, &at.target, CheckResult::Fail, read_denied())),
    }
    if let (Some(keys), Some(arn)) = (kms_keys, &kms_key) {
        let (result, message) = match (listed(arn), &read) {
            (false, _) => (
                CheckResult::Fail,
                format!(
                    "Objects in {bucket} are encrypted with the KMS key {arn}, which the integration does not list{}. Add \
                     \"{arn}\" to the integration's KMS keys and paste the updated access policy: browsers get 403 for \
                     these files without kms:Decrypt on it.",
                    if keys.is_empty() { " (it lists none)" } else { "" }
                ),
            ),
            (true, Get::Read) => (
                CheckResult::Pass,
                format!("Objects in {bucket} are encrypted with the KMS key {arn}, and the role decrypted one."),
            ),
            (true, Get::Failed(code)) => (
                CheckResult::Warn,
                format!(
                    "Objects in {bucket} are encrypted with the listed KMS key {arn}; whether the role may decrypt \
                     with it is not known, because reading failed with {code}. Validate again."
                ),
            ),
            (true, Get::Denied) => (
                CheckResult::Fail,
                format!(
                    "Objects in {bucket} are encrypted with the listed KMS key {arn}, but the role may not decrypt with \
                     it. The role's access policy lacks the {} (paste the access policy again), or the key's own key \
                     policy does not let your account's IAM policies use it.",
                    decrypt_statement(arn)
                ),
            ),
        };
        checks.push(check(codes::KMS_DECRYPT, &at.target, result, message));
    }
    match read {
        Get::Read => Read::Done(head.version_id().map(str::to_owned)),
        Get::Denied | Get::Failed(_) => Read::Failed,
    }
}

/// What reading the sample object's first byte found.
enum Get {
    Read,
    Denied,
    /// Another error, by its code.
    Failed(String),
}

/// `VERSION_READ`: one version of the sample key, when reading its latest version worked.
async fn check_version_read(
    s3: &aws_sdk_s3::Client,
    at: &BucketAt<'_>,
    path: &str,
    key: &str,
    read: Read,
) -> Check {
    let (bucket, target, object_arn) = (at.bucket, &at.target, &at.object_arn);
    let version_id = match read {
        Read::Done(version_id) => version_id,
        Read::Failed => return check(
            codes::VERSION_READ,
            target,
            CheckResult::Warn,
            format!("Reading object versions was not tested because reading the latest version failed; fix READ_ACCESS first (reading versions also needs s3:GetObjectVersion on {object_arn})."),
        ),
        Read::Late => return check(
            codes::VERSION_READ,
            target,
            CheckResult::Warn,
            format!("Reading object versions of {bucket} was not tested because reading the latest version did not answer in time; validate again."),
        ),
    };
    let Some(version) = version_id.filter(|v| v != "null") else {
        return check(
            codes::VERSION_READ,
            target,
            CheckResult::Warn,
            format!("File versioning is on for this integration but s3://{bucket}/{key} has no version ID. Enable versioning on the bucket, or turn versioning off in the integration."),
        );
    };
    let head = s3.head_object().bucket(bucket.as_str()).key(key).version_id(version).send();
    match s3_call(at.budget, head).await {
        S3Call::Late(late) => not_in_time(codes::VERSION_READ, target, "S3", path, late),
        S3Call::Answered(_) => check(
            codes::VERSION_READ,
            target,
            CheckResult::Pass,
            format!("{} read a version of s3://{bucket}/{key}.", at.who()),
        ),
        S3Call::Refused(_) => check(
            codes::VERSION_READ,
            target,
            CheckResult::Fail,
            format!(
                "{} cannot read object versions in {bucket}. {} Or turn versioning off.",
                at.who(),
                at.grant("s3:GetObjectVersion", object_arn, "ReadObjects")
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preflight_allowing_the_origin_and_get_passes() {
        let origin = "https://app.example.com";
        assert_eq!(
            preflight_verdict(200, Some(origin), Some("GET, HEAD"), Some("range"), origin),
            Preflight::Allows
        );
        assert_eq!(preflight_verdict(200, Some("*"), Some("GET"), Some("*"), origin), Preflight::Allows);
        assert_eq!(
            preflight_verdict(200, Some(origin), Some("GET"), Some("Content-Type, Range"), origin),
            Preflight::Allows
        );
    }

    #[test]
    fn a_preflight_refused_or_for_another_origin_or_method_fails() {
        let origin = "https://app.example.com";
        assert_eq!(preflight_verdict(403, None, None, None, origin), Preflight::Refuses);
        assert_eq!(
            preflight_verdict(200, Some("https://other.example.com"), Some("GET"), Some("*"), origin),
            Preflight::Refuses
        );
        assert_eq!(preflight_verdict(200, Some(origin), Some("PUT"), Some("*"), origin), Preflight::Refuses);
        assert_eq!(preflight_verdict(200, Some(origin), None, Some("*"), origin), Preflight::Refuses);
    }

    #[test]
    fn a_preflight_allowing_get_but_not_the_range_header_breaks_video_seeking() {
        let origin = "https://app.example.com";
        assert_eq!(preflight_verdict(200, Some(origin), Some("GET"), None, origin), Preflight::NoRange);
        assert_eq!(
            preflight_verdict(200, Some(origin), Some("GET"), Some("Content-Type"), origin),
            Preflight::NoRange
        );
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_that_answers_within_its_budget_gives_its_answer() {
        let budget = Budget::starting_now(secs(5), secs(19));
        let answer = budget.run(async {
            tokio::time::sleep(secs(4)).await;
            "answered"
        });
        assert_eq!(answer.await, Ok("answered"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_that_outlasts_its_own_budget_is_late_after_exactly_that_long() {
        let budget = Budget::starting_now(secs(5), secs(19));
        let started = tokio::time::Instant::now();
        assert_eq!(budget.run(std::future::pending::<()>()).await, Err(Late::Waited(secs(5))));
        assert_eq!(started.elapsed(), secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn once_the_validations_budget_is_spent_no_check_waits_at_all() {
        let budget = Budget::starting_now(secs(5), secs(7));
        let started = tokio::time::Instant::now();
        assert_eq!(budget.run(std::future::pending::<()>()).await, Err(Late::Waited(secs(5))));
        // Two seconds left: the next check gets those, and is late because the budget is spent.
        assert_eq!(budget.run(std::future::pending::<()>()).await, Err(Late::BudgetSpent(secs(7))));
        assert_eq!(started.elapsed(), secs(7));
        let mut ran = false;
        let after = budget.run(async { ran = true });
        assert_eq!(after.await, Err(Late::BudgetSpent(secs(7))));
        assert!(!ran, "a check past the budget does not start");
        assert_eq!(started.elapsed(), secs(7));
    }

    #[test]
    fn a_check_not_checked_in_time_is_a_warning_that_says_why_and_what_to_do() {
        let path = "bucket photos in eu-west-1";
        for (late, why) in [
            (Late::Waited(secs(5)), "S3 did not answer within 5 s"),
            (Late::Waited(Duration::from_millis(1500)), "S3 did not answer within 1.5 s"),
            (Late::BudgetSpent(secs(19)), "this validation used up its 19 s before S3 answered"),
            (Late::Unreachable, "S3 could not be reached"),
        ] {
            let c = not_in_time(codes::LIST_ACCESS, "bucket:photos", "S3", path, late);
            assert_eq!(c.result, CheckResult::Warn);
            assert!(c.message.starts_with("Not checked in time: "), "{}", c.message);
            assert!(c.message.contains(why), "{why:?} in {}", c.message);
            assert!(c.message.contains("Validate again"), "{}", c.message);
            assert!(
                c.message.contains(&format!("check the network path from the platform to {path}")),
                "{}",
                c.message
            );
        }
    }

    #[test]
    fn the_overall_state_is_the_worst_check() {
        let pass = check("A", "role", CheckResult::Pass, "");
        let warn = check("B", "role", CheckResult::Warn, "");
        let fail = check("C", "role", CheckResult::Fail, "");
        assert_eq!(overall(std::slice::from_ref(&pass)), HealthState::Healthy);
        assert_eq!(overall(&[pass.clone(), warn.clone()]), HealthState::Degraded);
        assert_eq!(overall(&[pass, warn, fail]), HealthState::Failing);
    }
}
