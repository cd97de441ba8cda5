//! The `validate` function: re-validates every integration on an EventBridge schedule, and one
//! integration on demand (`POST /integrations/{id}/validate`, admin). It writes the table with its
//! own role and assumes customer roles from a session of the platform role
//! ([`assumer_as_platform`]), because the checks must assume them as the principal their trust
//! policies name.
//!
//! Neither entry point lets one org starve the others:
//! - on demand, an integration is validated by one request at a time: a lease item in the table
//!   (not a lock in the process: API Gateway spreads requests over many Lambda instances, each
//!   of which serves one request at a time). A second request meanwhile is `429` with
//!   `Retry-After` set to when the running one's lease ends. The answer comes within
//!   `VALIDATION_ANSWER_SECONDS` (API Gateway gives up at 30 s), each check within
//!   `VALIDATION_CHECK_SECONDS`;
//! - the schedule takes no new integration after `SCHEDULE_BUDGET_SECONDS`, lets the ones in
//!   flight finish, and records where it stopped; the next run resumes there, so successive runs
//!   cover every integration once before any is checked twice, however many one org holds.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use futures::StreamExt;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::api;
use shared::api::auth::{Caller, ClaimNames};
use shared::api::config::{ConfigError, Env};
use shared::api::error::ApiError;
use shared::api::metrics::{Emf, Unit};
use shared::aws::store::{DynamoStore, LeaseOutcome, ScanCursor, SharedStore};
use shared::aws::validation::{Budget, Validator};
use shared::domain::audit::Actor;
use shared::domain::external_id::ExternalIds;
use shared::domain::integration::{HealthState, Integration};
use shared::domain::org::OrgId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// What the route keeps of its answer budget after the checks: recording the report (one
/// transaction) and releasing the lease (one update), each at most one DynamoDB call's limit.
pub const RECORD_RESERVE: Duration =
    Duration::from_secs(2 * shared::aws::limits::DYNAMODB_OPERATION.as_secs());
/// How long a lease outlasts the answer it guards: a holder that dies (the instance is frozen or
/// killed) frees the integration this long after its answer was due.
pub const LEASE_MARGIN: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct ValidateConfig {
    pub table_name: String,
    pub concurrency: usize,
    pub page_size: i32,
    pub claims: ClaimNames,
    /// Each check's time: one STS or S3 call, or one preflight (`VALIDATION_CHECK_SECONDS`).
    pub check_budget: Duration,
    /// The on-demand route answers within this (`VALIDATION_ANSWER_SECONDS`).
    pub answer_budget: Duration,
    /// The scheduled run takes no new integration after this (`SCHEDULE_BUDGET_SECONDS`).
    pub schedule_budget: Duration,
    /// How long the audit records of health-state changes are kept (`AUDIT_RETENTION_DAYS`).
    pub audit_retention_days: u32,
}

pub use shared::api::config::audit_retention_days;

impl ValidateConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        use shared::api::config::{number, required};
        Ok(Self {
            table_name: required(env, "TABLE_NAME", "the DynamoDB table of integrations")?,
            concurrency: number(
                env,
                "VALIDATION_CONCURRENCY",
                16usize,
                |v| (1..=128).contains(v),
                "a number from 1 to 128",
            )?,
            page_size: number(
                env,
                "VALIDATION_PAGE_SIZE",
                100i32,
                |v| (1..=1000).contains(v),
                "a number from 1 to 1000",
            )?,
            claims: shared::api::config::claim_names(env),
            check_budget: Duration::from_secs(number(
                env,
                "VALIDATION_CHECK_SECONDS",
                5u64,
                |v| (1..=15).contains(v),
                "a number of seconds from 1 to 15 (one STS or S3 call, every attempt included)",
            )?),
            answer_budget: Duration::from_secs(number(
                env,
                "VALIDATION_ANSWER_SECONDS",
                25u64,
                |v| (10..=29).contains(v),
                "a number of seconds from 10 to 29 (API Gateway gives up at 30 s, and recording the report \
                 keeps 6 s of it)",
            )?),
            schedule_budget: Duration::from_secs(number(
                env,
                "SCHEDULE_BUDGET_SECONDS",
                780u64,
                |v| (1..=840).contains(v),
                "a number of seconds from 1 to 840 (the validations still in flight and the resume cursor's \
                 write must end inside the schedule function's 900 s timeout)",
            )?),
            audit_retention_days: audit_retention_days(env)?,
        })
    }

    /// The time every check of one validation shares: the answer's budget less what recording
    /// the report keeps.
    pub fn checks_budget(&self) -> Duration {
        self.answer_budget.saturating_sub(RECORD_RESERVE)
    }

    /// One validation's budget, starting now.
    pub fn budget(&self) -> Budget {
        Budget::starting_now(self.check_budget, self.checks_budget())
    }

    /// How long an on-demand validation's lease lasts: its answer, and then some.
    pub fn lease_ttl(&self) -> Duration {
        self.answer_budget + LEASE_MARGIN
    }
}

#[derive(Debug, Clone)]
pub struct State {
    pub store: SharedStore,
    pub validator: Validator,
    pub config: ValidateConfig,
}

/// What one scheduled run did, for the summary log line and the invocation result.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunSummary {
    pub validated: usize,
    pub healthy: usize,
    pub degraded: usize,
    pub failing: usize,
    /// Never validated, and still not known (STS did not answer).
    pub unverified: usize,
    /// Reports not recorded because the integration changed or was deleted meanwhile.
    pub dropped: usize,
    pub errors: usize,
    pub pages: usize,
    /// The run reached the end of the table (and cleared the resume cursor); `false` when it ran
    /// out of budget, or the scan failed, and recorded where the next run resumes.
    pub finished: bool,
    /// The run started where an earlier, unfinished run stopped rather than at the beginning.
    pub resumed: bool,
}

/// The run's counters while validations are in flight; [`Counters::summary`] reads them out.
#[derive(Debug, Default)]
struct Counters {
    validated: AtomicUsize,
    healthy: AtomicUsize,
    degraded: AtomicUsize,
    failing: AtomicUsize,
    unverified: AtomicUsize,
    dropped: AtomicUsize,
    errors: AtomicUsize,
}

impl Counters {
    fn count(&self, health: HealthState, recorded: bool) {
        self.validated.fetch_add(1, Ordering::Relaxed);
        let by_state = match health {
            HealthState::Healthy => &self.healthy,
            HealthState::Degraded => &self.degraded,
            HealthState::Failing => &self.failing,
            HealthState::Unverified => &self.unverified,
        };
        by_state.fetch_add(1, Ordering::Relaxed);
        if !recorded {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn summary(&self, pages: usize, finished: bool, resumed: bool) -> RunSummary {
        let get = |counter: &AtomicUsize| counter.load(Ordering::Relaxed);
        RunSummary {
            validated: get(&self.validated),
            healthy: get(&self.healthy),
            degraded: get(&self.degraded),
            failing: get(&self.failing),
            unverified: get(&self.unverified),
            dropped: get(&self.dropped),
            errors: get(&self.errors),
            pages,
            finished,
            resumed,
        }
    }
}

/// The scheduled trigger's entry point (the `validate-schedule` binary): an EventBridge
/// scheduled event in, the run's summary out. The event carries nothing the run needs; its
/// type is what keeps an HTTP request from ever reaching this handler.
pub async fn handle_schedule(state: &State, event: EventBridgeEvent) -> RunSummary {
    tracing::info!(source = %event.source, detail_type = %event.detail_type, "scheduled validation starting");
    run_scheduled(state).await
}

/// `POST /integrations/{id}/validate`: runs the checks now, records and returns the report,
/// within `VALIDATION_ANSWER_SECONDS` whatever AWS does.
pub async fn handle_http(state: &State, req: Request) -> Response<Body> {
    // The checks' budget already ends the work in time; this is the backstop for the DynamoDB
    // calls around them, so API Gateway never cuts the answer off with a bare 504.
    let answer_budget = state.config.answer_budget;
    let answered = tokio::time::timeout(answer_budget, validate_now(state, &req)).await;
    api::respond(answered.unwrap_or_else(|_| {
        Err(ApiError::unavailable(
            format!(
                "The validation did not finish within {} s: the integrations store was slow. Validate again in a \
                 moment.",
                answer_budget.as_secs()
            ),
            "the on-demand validation outran its answer budget",
        ))
    }))
}

async fn validate_now(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    // From the request's start: time the lookups below take comes out of the checks' share.
    let budget = state.config.budget();
    let caller = api::caller(req, &state.config.claims)?;
    let (route, params) = api::route(req)?;
    if route != shared::api::routes::Route::ValidateIntegration {
        return Err(api::not_found_route(req));
    }
    caller.require_admin()?;
    let id = params.get("id").map(String::as_str).unwrap_or_default();
    // Read first: an id the org does not hold is a 404 and leaves no lease item behind.
    let integration = state.store.get(&caller.org, id).await?;
    let now = SystemTime::now();
    let lease =
        match state.store.acquire_validation_lease(&caller.org, id, now, state.config.lease_ttl()).await? {
            LeaseOutcome::Acquired(lease) => lease,
            LeaseOutcome::Held { until } => return Err(already_running(id, until, now)),
        };
    let answer = check_and_record(state, &caller, &integration, budget).await;
    // Released however the run ended; a release that fails leaves the lease to expire.
    if let Err(e) = state.store.release_validation_lease(&caller.org, &lease).await {
        tracing::warn!(org = %caller.org, id, cause = %e.cause_chain(), "validation lease not released; it expires");
    }
    answer
}

async fn check_and_record(
    state: &State,
    caller: &Caller,
    integration: &Integration,
    budget: Budget,
) -> Result<Response<Body>, ApiError> {
    let (org, id) = (&caller.org, integration.id.as_str());
    let external_ids = state.store.read_external_ids(org).await?;
    let report = state.validator.validate_with_ids(org, external_ids.as_ref(), integration, budget).await;
    let recorded = state
        .store
        .record_report(org, &caller.actor(), id, integration.version, &report.status, report.proof.as_ref())
        .await?;
    tracing::info!(org = %org, id, state = ?report.status.state, recorded, "validated on demand");
    validation_metrics(report.status.state);
    let mut body = serde_json::to_value(&report.status).map_err(ApiError::internal)?;
    body["recorded"] = Value::Bool(recorded);
    Ok(api::json_response(200, &body))
}

/// The 429 of a second request while a validation of the same integration runs: when to retry
/// is when the running one's lease ends (at the latest; its report is recorded by then).
fn already_running(id: &str, until: SystemTime, now: SystemTime) -> ApiError {
    let wait = until.duration_since(now).unwrap_or_default();
    let retry_after = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    ApiError::Busy {
        message: format!(
            "A validation of integration {id} is already running; its report is recorded when it finishes. Retry \
             after {retry_after} s, or read the integration (GET /integrations/{id}) for its latest report."
        ),
        retry_after,
    }
}

/// How far a run got: the integrations it took, in scan order.
#[derive(Debug, Default)]
struct Progress {
    taken: usize,
    /// The key just past the last integration taken: where the next run resumes.
    last: Option<ScanCursor>,
    out_of_budget: bool,
}

/// Validates every integration of every org, resuming where the last unfinished run stopped:
/// pages through the table until DynamoDB says there is no more (no silent truncation), with at
/// most `concurrency` validations at once across page boundaries (pages are read as the
/// validations drain them, so pages thinned out by other items do not serialize the run). One
/// broken integration is counted and logged; it never stops the run.
///
/// After `schedule_budget` the run takes no new integration (it always takes one, so every run
/// makes progress), waits for the ones in flight, and records the key of the last one it took;
/// since integrations are taken in scan order and every one taken is finished, the next run
/// resumes just past it and successive runs cover every integration once before any twice. A
/// run that reaches the end clears the cursor, so the next starts at the beginning.
pub async fn run_scheduled(state: &State) -> RunSummary {
    let started = Instant::now();
    let external_ids: Mutex<HashMap<OrgId, Option<ExternalIds>>> = Mutex::new(HashMap::new());
    let counters = Counters::default();
    let resume_at = resume_cursor(state, &counters).await;
    let resumed = resume_at.is_some();
    let progress = std::sync::Mutex::new(Progress::default());
    let pages = Arc::new(AtomicUsize::new(0));
    let scan_failed = Arc::new(AtomicUsize::new(0));
    let scan = scan_stream(
        state.store.clone(),
        state.config.page_size,
        resume_at,
        pages.clone(),
        scan_failed.clone(),
    );
    let budget = state.config.schedule_budget;
    let within_budget = scan.take_while(|scanned| {
        let mut progress = progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let take = progress.taken == 0 || started.elapsed() < budget;
        if take {
            progress.taken += 1;
            progress.last = Some(ScanCursor::after(scanned));
        } else {
            progress.out_of_budget = true;
        }
        futures::future::ready(take)
    });
    let validate = |scanned: shared::aws::store::Scanned| {
        let (counters, external_ids) = (&counters, &external_ids);
        async move {
            match validate_one(state, external_ids, &scanned.org, &scanned.integration).await {
                Ok((health, recorded)) => counters.count(health, recorded),
                Err(e) => {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    let (org, id) = (&scanned.org, &scanned.integration.id);
                    tracing::error!(%org, %id, cause = %e.cause_chain(), "validation failed");
                }
            }
        }
    };
    within_budget.for_each_concurrent(state.config.concurrency, validate).await;

    let scan_failed = scan_failed.load(Ordering::Relaxed);
    counters.errors.fetch_add(scan_failed, Ordering::Relaxed);
    let progress = progress.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
    let finished = !progress.out_of_budget && scan_failed == 0;
    record_progress(state, &counters, finished, progress.last).await;
    let summary = counters.summary(pages.load(Ordering::Relaxed), finished, resumed);
    log_run(state, &summary, started);
    summary
}

/// Where this run starts: past the last integration the previous run took, or at the beginning.
async fn resume_cursor(state: &State, counters: &Counters) -> Option<ScanCursor> {
    match state.store.read_schedule_cursor().await {
        Ok(cursor) => cursor,
        Err(e) => {
            // Unreadable (or not an integration's key): covering the table again from the start
            // costs one extra pass; stopping would cost every pass until someone fixes the item.
            counters.errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(cause = %e.cause_chain(), "the resume cursor could not be read; this run starts at the beginning");
            None
        }
    }
}

/// Finished: the cursor is cleared. Stopped after taking some: the next run resumes past the last
/// one. Stopped before taking any (the first page failed): the recorded cursor stays as it was.
async fn record_progress(state: &State, counters: &Counters, finished: bool, last: Option<ScanCursor>) {
    let cursor = if finished { Some(None) } else { last.map(Some) };
    if let Some(cursor) = cursor {
        if let Err(e) = state.store.write_schedule_cursor(cursor.as_ref()).await {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(cause = %e.cause_chain(), finished, "the resume cursor could not be written; the next run repeats this one's part");
        }
    }
}

fn log_run(state: &State, summary: &RunSummary, started: Instant) {
    let elapsed = started.elapsed();
    tracing::info!(
        validated = summary.validated,
        healthy = summary.healthy,
        degraded = summary.degraded,
        failing = summary.failing,
        unverified = summary.unverified,
        dropped = summary.dropped,
        errors = summary.errors,
        pages = summary.pages,
        finished = summary.finished,
        resumed = summary.resumed,
        budget_s = state.config.schedule_budget.as_secs(),
        concurrency = state.config.concurrency,
        duration_ms = elapsed.as_millis() as u64,
        "scheduled validation finished"
    );
    run_metrics(summary, elapsed, state.config.schedule_budget);
}

/// The scheduled run's metrics (README "Metrics and alarms"), one document under `[Function]`.
/// `CycleCompleted` is 1 only for a run that reached the end of the table: its absence over the
/// schedule's period is what the `ValidationCycleAlarm` watches.
fn run_metrics(summary: &RunSummary, elapsed: Duration, budget: Duration) {
    let count = |n: usize| n as f64;
    Emf::new("validate-schedule")
        .metrics(&[
            ("IntegrationsChecked", Unit::Count, count(summary.validated)),
            ("IntegrationsHealthy", Unit::Count, count(summary.healthy)),
            ("IntegrationsDegraded", Unit::Count, count(summary.degraded)),
            ("IntegrationsFailing", Unit::Count, count(summary.failing)),
            ("IntegrationsUnverified", Unit::Count, count(summary.unverified)),
            ("ReportsDropped", Unit::Count, count(summary.dropped)),
            ("ValidationErrors", Unit::Count, count(summary.errors)),
            ("RunDuration", Unit::Seconds, elapsed.as_secs_f64()),
            ("BudgetLeft", Unit::Seconds, budget.saturating_sub(elapsed).as_secs_f64()),
            ("CycleCompleted", Unit::Count, if summary.finished { 1.0 } else { 0.0 }),
        ])
        .emit();
}

/// An on-demand validation's document: one validation under `[Function, Route]`, its state under
/// `[Function, Route, State]`.
fn validation_metrics(health: HealthState) {
    Emf::new("validate")
        .dimension("Route", shared::api::routes::Route::ValidateIntegration.key())
        .metrics(&[("Validations", Unit::Count, 1.0)])
        .dimension("State", health.as_str())
        .metrics(&[("ValidationResults", Unit::Count, 1.0)])
        .emit();
}

/// The scan as a stream of integrations, reading the next page only as the consumer drains
/// the previous one.
fn scan_stream(
    store: SharedStore,
    page_size: i32,
    start: Option<ScanCursor>,
    pages: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
) -> impl futures::Stream<Item = shared::aws::store::Scanned> + Send {
    enum Cursor {
        Start,
        At(ScanCursor),
        Done,
    }
    let first = start.map_or(Cursor::Start, Cursor::At);
    futures::stream::unfold(first, move |cursor| {
        let (store, pages, failed) = (store.clone(), pages.clone(), failed.clone());
        async move {
            let start = match cursor {
                Cursor::Done => return None,
                Cursor::Start => None,
                Cursor::At(key) => Some(key),
            };
            let page = match store.scan_integrations(page_size, start.clone()).await {
                Ok(page) => Ok(page),
                Err(e) => {
                    // A page that cannot be read is retried once; the run ends early only if it fails again.
                    tracing::warn!(cause = %e.cause_chain(), "scan page failed; retrying");
                    store.scan_integrations(page_size, start).await
                }
            };
            match page {
                Ok(shared::aws::store::ScanPage { found, next }) => {
                    pages.fetch_add(1, Ordering::Relaxed);
                    Some((futures::stream::iter(found), next.map_or(Cursor::Done, Cursor::At)))
                }
                Err(e) => {
                    tracing::error!(cause = %e.cause_chain(), "scan failed twice; the run ends early");
                    failed.fetch_add(1, Ordering::Relaxed);
                    None
                }
            }
        }
    })
    .flatten()
}

async fn validate_one(
    state: &State,
    external_ids: &Mutex<HashMap<OrgId, Option<ExternalIds>>>,
    org: &OrgId,
    integration: &Integration,
) -> Result<(HealthState, bool), ApiError> {
    let cached = external_ids.lock().await.get(org).cloned();
    let external_id = match cached {
        Some(known) => known,
        None => {
            let read = state.store.read_external_ids(org).await?;
            external_ids.lock().await.insert(org.clone(), read.clone());
            read
        }
    };
    let report = state
        .validator
        .validate_with_ids(org, external_id.as_ref(), integration, state.config.budget())
        .await;
    let recorded = state
        .store
        .record_report(
            org,
            &Actor::schedule(),
            &integration.id,
            integration.version,
            &report.status,
            report.proof.as_ref(),
        )
        .await?;
    Ok((report.status.state, recorded))
}

/// The `AssumeRole` caller validation uses: STS signed with a session of `platform_role` (role
/// chaining), so customer roles see the same principal as presign, and one trust policy serves
/// both functions. The session is refreshed by the SDK's provider before it expires.
pub async fn assumer_as_platform(
    aws: &aws_config::SdkConfig,
    platform_role: &str,
) -> Arc<dyn shared::aws::credentials::Assumer> {
    let platform = aws_config::sts::AssumeRoleProvider::builder(platform_role)
        .session_name("validate")
        .configure(aws)
        .build()
        .await;
    let as_platform = aws
        .to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(platform))
        .build();
    shared::aws::credentials::CredentialCache::new(
        shared::aws::credentials::sts_client(&as_platform),
        Default::default(),
    )
    .assumer()
}

/// The state both entry points build once per instance: the table with this function's own role,
/// and a validator that assumes customer roles as the platform role, the one principal every
/// customer's trust policy names (`template.yaml` and `docs/trust-boundary.md` say why).
pub async fn state_from_process_env() -> Result<State, ConfigError> {
    use shared::api::config::{ApiConfig, ProcessEnv};
    let config = ValidateConfig::from_env(&ProcessEnv)?;
    let api = ApiConfig::from_env(&ProcessEnv)?;
    let endpoint =
        shared::domain::presign::S3Endpoint::from_override(std::env::var("S3_ENDPOINT_URL").ok().as_deref())
            .map_err(|message| ConfigError { variable: "S3_ENDPOINT_URL", message })?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store: SharedStore = Arc::new(
        DynamoStore::new(shared::aws::limits::dynamodb_client(&aws), config.table_name.clone())
            .with_audit_retention_days(config.audit_retention_days),
    );
    let assumer = assumer_as_platform(&aws, &api.platform_principal).await;
    let secrets = shared::aws::secrets::KmsSealer::new(
        shared::aws::secrets::KmsSealer::client(&aws),
        shared::api::config::secrets_key_id(&ProcessEnv)?,
    );
    let endpoints = shared::aws::endpoint_guard::EndpointPolicy {
        allow_loopback_http: shared::api::config::allow_loopback_endpoints(&ProcessEnv)?,
    };
    let validator = Validator::new(aws.clone(), assumer, endpoint, api.platform_principal, api.app_origins)
        .with_stores(Arc::new(secrets), endpoints);
    Ok(State { store, validator, config })
}
