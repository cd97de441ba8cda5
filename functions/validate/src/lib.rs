//! The `validate` function: re-validates every integration on an EventBridge schedule, and one
//! integration on demand (`POST /integrations/{id}/validate`, admin). It writes the table with its
//! own role and assumes customer roles from a session of the platform role
//! ([`assumer_as_platform`]), because the checks must assume them as the principal their trust
//! policies name.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use futures::StreamExt;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::api;
use shared::api::auth::ClaimNames;
use shared::api::config::{ConfigError, Env};
use shared::api::error::ApiError;
use shared::aws::store::{DynamoStore, ScanCursor, SharedStore};
use shared::aws::validation::Validator;
use shared::domain::external_id::ExternalId;
use shared::domain::integration::{HealthState, Integration};
use shared::domain::org::OrgId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Mutex;

#[derive(Debug, Clone)]
pub struct ValidateConfig {
    pub table_name: String,
    pub concurrency: usize,
    pub page_size: i32,
    pub claims: ClaimNames,
}

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
        })
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

    fn summary(&self, pages: usize) -> RunSummary {
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

/// `POST /integrations/{id}/validate`: runs the checks now, records and returns the report.
pub async fn handle_http(state: &State, req: Request) -> Response<Body> {
    api::respond(validate_now(state, &req).await)
}

async fn validate_now(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = api::caller(req, &state.config.claims)?;
    let (route, params) = api::route(req)?;
    if route != shared::api::routes::Route::ValidateIntegration {
        return Err(api::not_found_route(req));
    }
    caller.require_admin()?;
    let id = params.get("id").map(String::as_str).unwrap_or_default();
    let integration = state.store.get(&caller.org, id).await?;
    let external_id = state.store.read_external_id(&caller.org).await?;
    let report = state.validator.validate(&caller.org, external_id.as_ref(), &integration).await;
    let recorded = state
        .store
        .record_report(&caller.org, id, integration.version, &report.status, report.proof.as_ref())
        .await?;
    tracing::info!(org = %caller.org, id, state = ?report.status.state, recorded, "validated on demand");
    let mut body = serde_json::to_value(&report.status).map_err(ApiError::internal)?;
    body["recorded"] = Value::Bool(recorded);
    Ok(api::json_response(200, &body))
}

/// Validates every integration of every org: pages through the table until DynamoDB says there
/// is no more (no silent truncation), with at most `concurrency` validations at once across page
/// boundaries (pages are read as the validations drain them, so pages thinned out by other items
/// do not serialize the run). One broken integration is counted and logged; it never stops the run.
pub async fn run_scheduled(state: &State) -> RunSummary {
    let started = Instant::now();
    let external_ids: Mutex<HashMap<OrgId, Option<ExternalId>>> = Mutex::new(HashMap::new());
    let counters = Counters::default();
    let pages = Arc::new(AtomicUsize::new(0));
    let scan_failed = Arc::new(AtomicUsize::new(0));
    let scan = scan_stream(state.store.clone(), state.config.page_size, pages.clone(), scan_failed.clone());
    scan.for_each_concurrent(state.config.concurrency, |scanned| {
        let (counters, external_ids) = (&counters, &external_ids);
        async move {
            match validate_one(state, external_ids, &scanned.org, &scanned.integration).await {
                Ok((health, recorded)) => counters.count(health, recorded),
                Err(e) => {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(org = %scanned.org, id = %scanned.integration.id, cause = %e.cause_chain(), "validation failed");
                }
            }
        }
    })
    .await;

    counters.errors.fetch_add(scan_failed.load(Ordering::Relaxed), Ordering::Relaxed);
    let summary = counters.summary(pages.load(Ordering::Relaxed));
    tracing::info!(
        validated = summary.validated,
        healthy = summary.healthy,
        degraded = summary.degraded,
        failing = summary.failing,
        unverified = summary.unverified,
        dropped = summary.dropped,
        errors = summary.errors,
        pages = summary.pages,
        concurrency = state.config.concurrency,
        duration_ms = started.elapsed().as_millis() as u64,
        "scheduled validation finished"
    );
    summary
}

/// The scan as a stream of integrations, reading the next page only as the consumer drains
/// the previous one.
fn scan_stream(
    store: SharedStore,
    page_size: i32,
    pages: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
) -> impl futures::Stream<Item = shared::aws::store::Scanned> + Send {
    enum Cursor {
        Start,
        At(ScanCursor),
        Done,
    }
    futures::stream::unfold(Cursor::Start, move |cursor| {
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
    external_ids: &Mutex<HashMap<OrgId, Option<ExternalId>>>,
    org: &OrgId,
    integration: &Integration,
) -> Result<(HealthState, bool), ApiError> {
    let cached = external_ids.lock().await.get(org).cloned();
    let external_id = match cached {
        Some(known) => known,
        None => {
            let read = state.store.read_external_id(org).await?;
            external_ids.lock().await.insert(org.clone(), read.clone());
            read
        }
    };
    let report = state.validator.validate(org, external_id.as_ref(), integration).await;
    let recorded = state
        .store
        .record_report(org, &integration.id, integration.version, &report.status, report.proof.as_ref())
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
    let store: SharedStore =
        Arc::new(DynamoStore::new(shared::aws::limits::dynamodb_client(&aws), config.table_name.clone()));
    let assumer = assumer_as_platform(&aws, &api.platform_principal).await;
    let validator = Validator::new(aws.clone(), assumer, endpoint, api.platform_principal, api.app_origins);
    Ok(State { store, validator, config })
}
