#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Both validate entry points on the in-memory store and STS: the on-demand route (who may ask,
//! the org boundary, what is recorded, one validation per integration at a time, an answer within
//! its budget) and the scheduled walk (every integration of every org once, across pages and
//! across runs cut short by their budget; an STS outage keeps each previous state), without an
//! emulator. Tests of time run on tokio's paused clock: minutes of silence from STS pass in
//! milliseconds, and what they prove does not depend on how busy the machine is. The checks that
//! need S3 run in `tests/api/validation.rs` against the emulators.

use serde_json::{json, Value};
use shared::api::testkit::{status_and_json, ApiEvent};
use shared::aws::credentials::{AssumeFuture, Assumer, MemoryAssumer, RoleTrust};
use shared::aws::store::{IntegrationStore, LeaseOutcome, MemoryStore};
use shared::domain::integration::{HealthState, IntegrationDraft};
use shared::domain::org::OrgId;
use shared::domain::presign::{CustomEndpoint, S3Endpoint};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

const PRINCIPAL: &str = "arn:aws:iam::123456789012:role/platform";

struct Fixture {
    state: validate::State,
    store: Arc<MemoryStore>,
    sts: Arc<MemoryAssumer>,
}

fn config_from(vars: &[(&str, &str)]) -> validate::ValidateConfig {
    let mut env: HashMap<String, String> =
        [("TABLE_NAME".to_owned(), "unused-by-the-memory-store".to_owned())].into_iter().collect();
    env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    validate::ValidateConfig::from_env(&env).unwrap()
}

fn fixture(page_size: i32) -> Fixture {
    let sts = Arc::new(MemoryAssumer::new(Duration::from_secs(3600)));
    fixture_with(page_size, sts.clone(), sts, None)
}

/// The fixture with `assumer` in front of `sts` (which holds the roles), and S3 at `s3` if given.
fn fixture_with(
    page_size: i32,
    sts: Arc<MemoryAssumer>,
    assumer: Arc<dyn Assumer>,
    s3: Option<&str>,
) -> Fixture {
    let mut config = config_from(&[]);
    config.page_size = page_size;
    let store = Arc::new(MemoryStore::new());
    let mut sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"));
    if let Some(url) = s3 {
        sdk = sdk.endpoint_url(url);
    }
    let endpoint = match s3 {
        Some(url) => S3Endpoint::Custom(CustomEndpoint::parse(url, false).unwrap()),
        None => S3Endpoint::Aws,
    };
    let origins = vec![shared::domain::policy::AppOrigin::parse("https://app.example.com").unwrap()];
    let validator =
        shared::aws::validation::Validator::new(sdk.build(), assumer, endpoint, PRINCIPAL.into(), origins);
    Fixture { state: validate::State { store: store.clone(), validator, config }, store, sts }
}

fn role(org: &str, i: usize) -> String {
    format!("arn:aws:iam::210987654321:role/{org}-{i}")
}

impl Fixture {
    async fn integrations(&self, org: &str, count: usize) -> Vec<String> {
        let org_id = OrgId::parse(org).unwrap();
        self.store.external_id(&org_id).await.unwrap();
        let mut ids = Vec::new();
        for i in 0..count {
            let draft = IntegrationDraft::role_from_json(&json!({
                "name": format!("{org} {i}"), "role_arn": role(org, i), "region": "us-east-1",
                "scope": {"type": "bucket", "bucket": format!("{org}-bucket-{i}")}
            }))
            .unwrap();
            ids.push(self.store.create(&org_id, draft).await.unwrap().id);
        }
        ids
    }

    async fn validate(&self, event: ApiEvent) -> (u16, Value) {
        status_and_json(&validate::handle_http(&self.state, event.request()).await)
    }

    /// `POST /integrations/{id}/validate` as the org's admin: status, `Retry-After`, body.
    async fn validate_as_admin(&self, org: &str, id: &str) -> (u16, Option<u64>, Value) {
        let event = ApiEvent::post(&format!("/integrations/{id}/validate"), &json!({})).admin_of(org);
        let response = validate::handle_http(&self.state, event.request()).await;
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().parse::<u64>().expect("Retry-After is whole seconds"));
        let (status, body) = status_and_json(&response);
        (status, retry_after, body)
    }

    async fn history_len(&self, org: &str, id: &str) -> usize {
        self.store.report_history(&OrgId::parse(org).unwrap(), id, 100).await.unwrap().len()
    }

    async fn state_of(&self, org: &str, id: &str) -> HealthState {
        self.store.get(&OrgId::parse(org).unwrap(), id).await.unwrap().status.state
    }
}

fn scheduled_event() -> aws_lambda_events::event::eventbridge::EventBridgeEvent {
    let text = include_str!("../../../events/validate-scheduled.json");
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn an_admin_validates_a_role_that_refuses_the_platform_and_the_failing_report_is_recorded() {
    let f = fixture(100);
    let id = f.integrations("acme", 1).await.remove(0);
    f.sts.put_role(&role("acme", 0), RoleTrust::OtherPrincipal);
    let (status, report) = f
        .validate(ApiEvent::post(&format!("/integrations/{id}/validate"), &json!({})).admin_of("acme"))
        .await;
    assert_eq!(
        (status, report["state"].as_str(), report["recorded"].as_bool()),
        (200, Some("failing"), Some(true)),
        "{report}"
    );
    let assume = &report["checks"][0];
    assert_eq!(
        (assume["code"].as_str(), assume["result"].as_str()),
        (Some("ASSUME_ROLE"), Some("fail")),
        "{report}"
    );
    assert!(
        assume["message"].as_str().unwrap().contains(PRINCIPAL),
        "the fix names the principal to trust: {assume}"
    );
    assert_eq!(f.state_of("acme", &id).await, HealthState::Failing);
    let history = f.store.report_history(&OrgId::parse("acme").unwrap(), &id, 10).await.unwrap();
    assert_eq!(history.len(), 1);
}

#[tokio::test]
async fn a_member_may_not_validate_and_another_org_finds_nothing_to_validate() {
    let f = fixture(100);
    let id = f.integrations("acme", 1).await.remove(0);
    let path = format!("/integrations/{id}/validate");
    let (status, body) = f.validate(ApiEvent::post(&path, &json!({})).member_of("acme")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("FORBIDDEN")), "{body}");
    let (status, body) = f.validate(ApiEvent::post(&path, &json!({})).admin_of("globex")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("NOT_FOUND")), "{body}");
    assert_eq!(f.sts.calls(), 0, "nothing was assumed for either");
    assert_eq!(f.state_of("acme", &id).await, HealthState::Unverified);
}

#[tokio::test]
async fn the_schedule_validates_every_integration_of_every_org_once_across_pages() {
    let f = fixture(3);
    let mut all = Vec::new();
    for org in ["acme", "globex", "initech"] {
        for id in f.integrations(org, 4).await {
            all.push((org, id));
        }
    }
    let summary = validate::handle_schedule(&f.state, scheduled_event()).await;
    assert_eq!((summary.validated, summary.failing, summary.errors), (12, 12, 0), "{summary:?}");
    assert!(
        summary.finished && !summary.resumed,
        "one run, well inside its budget, covers it all: {summary:?}"
    );
    assert!(summary.pages >= 5, "pages of 3 items over 12 integrations and their other items: {summary:?}");
    assert_eq!(f.sts.calls(), 12, "one AssumeRole per integration; a denied role is not probed");
    for (org, id) in &all {
        assert_eq!(f.state_of(org, id).await, HealthState::Failing, "{org} {id}");
    }
}

#[tokio::test]
async fn an_sts_outage_during_the_schedule_keeps_every_previous_state() {
    let f = fixture(100);
    let ids = f.integrations("acme", 2).await;
    f.sts.put_role(&role("acme", 0), RoleTrust::OtherPrincipal);
    let first = validate::handle_schedule(&f.state, scheduled_event()).await;
    assert_eq!(first.failing, 2, "{first:?}");
    f.sts.set_unavailable(true);
    let second = validate::handle_schedule(&f.state, scheduled_event()).await;
    assert_eq!((second.validated, second.failing, second.errors), (2, 2, 0), "{second:?}");
    for id in &ids {
        let status = f.store.get(&OrgId::parse("acme").unwrap(), id).await.unwrap().status;
        assert_eq!(status.state, HealthState::Failing, "an outage never changes the state");
        assert_eq!(
            status.checks[0].result,
            shared::domain::integration::CheckResult::Warn,
            "but says it could not check"
        );
    }
}

// ---- one on-demand validation per integration at a time ------------------------------------------

/// An STS that holds every `AssumeRole` for `held_role` until the test opens the gate (the other
/// roles are answered at once), counting the calls waiting at it.
#[derive(Debug)]
struct Gate {
    sts: Arc<MemoryAssumer>,
    held_role: String,
    open: tokio::sync::watch::Sender<bool>,
    waiting: AtomicUsize,
}

impl Gate {
    fn new(sts: Arc<MemoryAssumer>, held_role: String) -> Arc<Self> {
        Arc::new(Self {
            sts,
            held_role,
            open: tokio::sync::watch::channel(false).0,
            waiting: AtomicUsize::new(0),
        })
    }

    async fn until_one_is_waiting(&self) {
        tokio::time::timeout(Duration::from_secs(30), async {
            while self.waiting.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await
        .expect("the first validation reaches STS");
    }
}

impl Assumer for Gate {
    fn assume<'a>(
        &'a self,
        org: &'a OrgId,
        role_arn: &'a str,
        external_id: Option<&'a str>,
    ) -> AssumeFuture<'a> {
        Box::pin(async move {
            if role_arn == self.held_role {
                self.waiting.fetch_add(1, Ordering::SeqCst);
                let mut open = self.open.subscribe();
                let _ = open.wait_for(|open| *open).await;
            }
            self.sts.assume(org, role_arn, external_id).await
        })
    }
}

#[tokio::test]
async fn a_second_validation_of_an_integration_while_one_runs_is_429_saying_when_to_retry() {
    let sts = Arc::new(MemoryAssumer::new(Duration::from_secs(3600)));
    let gate = Gate::new(sts.clone(), role("acme", 0));
    let f = fixture_with(100, sts, gate.clone(), None);
    let ids = f.integrations("acme", 2).await;
    let lease_ttl = f.state.config.lease_ttl().as_secs();

    let first = f.validate_as_admin("acme", &ids[0]);
    let meanwhile = async {
        gate.until_one_is_waiting().await;
        let second = f.validate_as_admin("acme", &ids[0]).await;
        let other_integration = f.validate_as_admin("acme", &ids[1]).await;
        gate.open.send_replace(true);
        (second, other_integration)
    };
    let ((status, _, report), (second, other_integration)) = tokio::join!(first, meanwhile);

    let (second_status, retry_after, body) = second;
    assert_eq!((second_status, body["error"]["code"].as_str()), (429, Some("TOO_MANY_REQUESTS")), "{body}");
    let retry_after = retry_after.expect("a 429 says when to retry");
    assert!((1..=lease_ttl).contains(&retry_after), "at most the lease's {lease_ttl} s: {retry_after}");
    let message = body["error"]["message"].as_str().unwrap();
    for words in [ids[0].as_str(), "already running", &format!("Retry after {retry_after} s")] {
        assert!(message.contains(words), "{words:?} in {message}");
    }
    assert_eq!(other_integration.0, 200, "another integration is not held up: {}", other_integration.2);
    assert_eq!((status, report["recorded"].as_bool()), (200, Some(true)), "{report}");
    assert_eq!(f.history_len("acme", &ids[0]).await, 1, "the refused request ran no checks");
    assert_eq!(gate.waiting.load(Ordering::SeqCst), 1, "nor reached STS");

    // Finished means released: the next request runs at once, without waiting for the lease to end.
    let (again, _, body) = f.validate_as_admin("acme", &ids[0]).await;
    assert_eq!(again, 200, "{body}");
    assert_eq!(f.history_len("acme", &ids[0]).await, 2);
}

#[tokio::test]
async fn a_lease_held_by_another_instance_refuses_the_route_until_it_ends_and_another_org_is_never_held_up() {
    let f = fixture(100);
    let id = f.integrations("acme", 1).await.remove(0);
    let (acme, ttl) = (OrgId::parse("acme").unwrap(), f.state.config.lease_ttl());
    // Another Lambda instance's validation: the table is the only thing instances share.
    let held = f.store.acquire_validation_lease(&acme, &id, SystemTime::now(), ttl).await.unwrap();
    assert!(matches!(held, LeaseOutcome::Acquired(_)), "{held:?}");
    let (status, retry_after, body) = f.validate_as_admin("acme", &id).await;
    assert_eq!(status, 429, "{body}");
    let retry_after = retry_after.unwrap();
    assert!(retry_after >= ttl.as_secs() - 5 && retry_after <= ttl.as_secs(), "{retry_after}");
    // The same id in another org is not this integration: 404, as ever, and no lease in between.
    let (status, _, body) = f.validate_as_admin("globex", &id).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("NOT_FOUND")), "{body}");
    assert_eq!(f.sts.calls(), 0, "nothing was validated");

    // An instance that died mid-run leaves its lease to end: then the route runs again.
    let id = f.integrations("initech", 1).await.remove(0);
    let initech = OrgId::parse("initech").unwrap();
    let long_ago = SystemTime::now() - ttl - Duration::from_secs(1);
    f.store.acquire_validation_lease(&initech, &id, long_ago, ttl).await.unwrap();
    let (status, _, body) = f.validate_as_admin("initech", &id).await;
    assert_eq!(status, 200, "an ended lease holds nothing: {body}");
}

// ---- the on-demand answer within its budget -----------------------------------------------------

/// An STS that never answers: every `AssumeRole` waits forever.
#[derive(Debug)]
struct SilentSts;

impl Assumer for SilentSts {
    fn assume<'a>(&'a self, _: &'a OrgId, _: &'a str, _: Option<&'a str>) -> AssumeFuture<'a> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(start_paused = true)]
async fn when_sts_never_answers_the_route_answers_within_its_budget_saying_the_role_was_not_checked_in_time()
{
    let sts = Arc::new(MemoryAssumer::new(Duration::from_secs(3600)));
    let f = fixture_with(100, sts, Arc::new(SilentSts), None);
    let id = f.integrations("acme", 1).await.remove(0);
    let started = tokio::time::Instant::now();
    let (status, _, report) = f.validate_as_admin("acme", &id).await;
    let took = started.elapsed();

    assert_eq!(status, 200, "{report}");
    assert!(took <= f.state.config.answer_budget, "answered after {took:?}");
    assert!(took >= f.state.config.check_budget, "it did wait the check's budget: {took:?}");
    let assume = &report["checks"][0];
    assert_eq!((assume["code"].as_str(), assume["result"].as_str()), (Some("ASSUME_ROLE"), Some("warn")));
    let message = assume["message"].as_str().unwrap();
    for words in ["Not checked in time", "did not answer within 5 s", "Validate again", "network path"] {
        assert!(message.contains(words), "{words:?} in {message}");
    }
    assert_eq!(report["state"], "unverified", "like an outage, a silent STS proves nothing: {report}");
    assert_eq!(report["recorded"], true);
    let (again, _, _) = f.validate_as_admin("acme", &id).await;
    assert_eq!(again, 200, "the lease was released when the late run ended");
}

/// A loopback "S3" that accepts every connection and never answers. Returns its URL.
async fn silent_s3() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

#[tokio::test]
async fn a_hundred_buckets_behind_a_silent_s3_still_answer_in_time_each_check_saying_it_was_not_checked_in_time(
) {
    let sts = Arc::new(MemoryAssumer::new(Duration::from_secs(3600)));
    let s3 = silent_s3().await;
    let mut f = fixture_with(100, sts.clone(), sts, Some(&s3));
    // The smallest budgets allowed: each check 1 s, the answer 10 s (the checks 4 s of it).
    f.state.config = config_from(&[("VALIDATION_CHECK_SECONDS", "1"), ("VALIDATION_ANSWER_SECONDS", "10")]);
    let acme = OrgId::parse("acme").unwrap();
    let external_id = f.store.external_id(&acme).await.unwrap();
    let role_arn = role("acme", 0);
    f.sts.put_role(&role_arn, RoleTrust::ExternalId(external_id.as_str().to_owned()));
    let buckets: Vec<String> = (0..100).map(|i| format!("acme-bucket-{i:03}")).collect();
    let draft = IntegrationDraft::role_from_json(&json!({
        "name": "Everything", "role_arn": role_arn, "region": "us-east-1",
        "scope": {"type": "default", "buckets": buckets}
    }))
    .unwrap();
    let id = f.store.create(&acme, draft).await.unwrap().id;

    // Only a generous ceiling: the route's own backstop answers 503 at 10 s, so a 200 is the proof.
    let answered = tokio::time::timeout(Duration::from_secs(120), f.validate_as_admin("acme", &id)).await;
    let (status, _, report) = answered.expect("the route answers");
    assert_eq!(status, 200, "answered inside its budget, with the report: {report}");
    assert_eq!(report["recorded"], true);
    assert_eq!(
        report["state"], "degraded",
        "nothing is known to be wrong, and nothing was shown right: {report}"
    );
    let checks = report["checks"].as_array().unwrap();
    let (role_checks, bucket_checks) = checks.split_at(2);
    assert!(role_checks.iter().all(|c| c["result"] == "pass"), "{role_checks:?}");
    let targets: BTreeSet<&str> = bucket_checks.iter().map(|c| c["target"].as_str().unwrap()).collect();
    assert_eq!(targets.len(), 100, "every bucket is reported, in order: {targets:?}");
    assert_eq!(bucket_checks[0]["target"], "bucket:acme-bucket-000");
    let mut waited = 0;
    let mut spent = 0;
    for check in bucket_checks {
        assert_eq!(check["result"], "warn", "{check}");
        let message = check["message"].as_str().unwrap();
        if check["code"] == "READ_ACCESS" {
            assert!(message.contains("listing did not answer in time"), "{message}");
            continue;
        }
        assert!(message.starts_with("Not checked in time: "), "{message}");
        assert!(message.contains("Validate again") && message.contains("network path"), "{message}");
        waited += usize::from(message.contains("did not answer within 1 s"));
        spent += usize::from(message.contains("used up its 4 s"));
    }
    assert!(waited > 0, "the first buckets waited their own budget per check");
    assert!(spent > 0, "the last ones found the validation's budget spent");
    let lease = f.store.acquire_validation_lease(&acme, &id, SystemTime::now(), Duration::from_secs(1)).await;
    assert!(matches!(lease, Ok(LeaseOutcome::Acquired(_))), "the late run released its lease: {lease:?}");
}

// ---- the schedule within its budget, resuming where it stopped ----------------------------------

/// An STS that takes `delay` (on tokio's clock) over every call, and notes which role each was for.
#[derive(Debug)]
struct SlowSts {
    sts: Arc<MemoryAssumer>,
    delay: Duration,
    roles: Mutex<Vec<String>>,
}

impl SlowSts {
    fn take_roles(&self) -> Vec<String> {
        std::mem::take(&mut *self.roles.lock().unwrap())
    }
}

impl Assumer for SlowSts {
    fn assume<'a>(
        &'a self,
        org: &'a OrgId,
        role_arn: &'a str,
        external_id: Option<&'a str>,
    ) -> AssumeFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            self.roles.lock().unwrap().push(role_arn.to_owned());
            self.sts.assume(org, role_arn, external_id).await
        })
    }
}

#[tokio::test(start_paused = true)]
async fn successive_runs_on_a_tiny_budget_cover_every_integration_of_every_org_once_before_any_repeats() {
    let sts = Arc::new(MemoryAssumer::new(Duration::from_secs(3600)));
    let slow =
        Arc::new(SlowSts { sts: sts.clone(), delay: Duration::from_secs(1), roles: Mutex::new(Vec::new()) });
    let mut f = fixture_with(7, sts, slow.clone(), None);
    // 4 at once, 1 s per validation (a denied role: one AssumeRole each), 5 s per run: about 24
    // integrations a run, so one org's 60 take several runs and the others still get their turn.
    f.state.config.concurrency = 4;
    f.state.config.schedule_budget = Duration::from_secs(5);
    let mut all = BTreeSet::new();
    for (org, count) in
        [("big-org", 60), ("acme", 9), ("globex", 13), ("initech", 5), ("umbrella", 11), ("hooli", 2)]
    {
        for i in 0..count {
            all.insert(role(org, i));
        }
        f.integrations(org, count).await;
    }

    let mut covered: Vec<String> = Vec::new();
    let mut first_run = BTreeSet::new();
    let mut runs = Vec::new();
    loop {
        let summary = validate::run_scheduled(&f.state).await;
        let validated = slow.take_roles();
        assert_eq!(summary.validated, validated.len(), "{summary:?}");
        assert!(summary.validated >= 1, "every run makes progress: {summary:?}");
        assert_eq!(summary.errors, 0, "{summary:?}");
        assert_eq!(
            summary.resumed,
            !runs.is_empty(),
            "only the first run starts at the beginning: {summary:?}"
        );
        for role in &validated {
            assert!(!covered.contains(role), "{role} validated twice before every integration was once");
        }
        if runs.is_empty() {
            first_run = validated.iter().cloned().collect();
        }
        covered.extend(validated);
        runs.push(summary.clone());
        if summary.finished {
            break;
        }
        assert!(runs.len() < 50, "the runs never reach the end: {runs:?}");
    }
    assert_eq!(covered.iter().cloned().collect::<BTreeSet<_>>(), all, "every integration of every org, once");
    assert_eq!(covered.len(), all.len());
    assert!(runs.len() >= 3, "the budget cut the walk into runs: {runs:?}");
    assert!(runs.iter().rev().skip(1).all(|r| !r.finished), "{runs:?}");

    // Every integration a run took was finished before it stopped: each has exactly one report.
    for org in ["big-org", "acme", "globex", "initech", "umbrella", "hooli"] {
        for integration in f.store.list_all(&OrgId::parse(org).unwrap()).await.unwrap() {
            assert_eq!(f.history_len(org, &integration.id).await, 1, "{org} {}", integration.id);
        }
    }

    // The pass ended and cleared the cursor: the next run starts over, at the beginning.
    let next = validate::run_scheduled(&f.state).await;
    assert!(!next.resumed, "{next:?}");
    let again: BTreeSet<String> = slow.take_roles().into_iter().collect();
    assert_eq!(again, first_run, "the new pass starts where the first did");
}

#[test]
fn the_budgets_default_to_5_s_a_check_25_s_an_answer_and_780_s_a_run_and_a_bad_one_names_its_variable() {
    let config = config_from(&[]);
    assert_eq!(
        (config.check_budget, config.answer_budget, config.schedule_budget),
        (Duration::from_secs(5), Duration::from_secs(25), Duration::from_secs(780))
    );
    assert_eq!(config.checks_budget(), Duration::from_secs(19), "6 s kept for the report and the lease");
    assert_eq!(config.lease_ttl(), Duration::from_secs(30));
    for (variable, value) in [
        ("VALIDATION_CHECK_SECONDS", "0"),
        ("VALIDATION_ANSWER_SECONDS", "30"),
        ("SCHEDULE_BUDGET_SECONDS", "900"),
        ("SCHEDULE_BUDGET_SECONDS", "soon"),
    ] {
        let env: HashMap<String, String> = [("TABLE_NAME", "t"), (variable, value)]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let e = validate::ValidateConfig::from_env(&env).unwrap_err();
        assert_eq!(e.variable, variable);
        assert!(e.message.contains(value) && e.message.contains("seconds from"), "{e}");
    }
}

#[tokio::test]
async fn a_validation_that_changes_the_health_state_is_audited_as_its_admin_or_the_schedule_and_one_that_keeps_it_is_not(
) {
    use shared::domain::audit::Action;
    let f = fixture(100);
    let ids = f.integrations("acme", 2).await;
    let by_alice = |id: &str| {
        ApiEvent::post(&format!("/integrations/{id}/validate"), &json!({}))
            .admin_of("acme")
            .with(|e| e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!("alice@acme"))
    };
    assert_eq!(f.validate(by_alice(&ids[0])).await.0, 200);
    assert_eq!(f.validate(by_alice(&ids[0])).await.0, 200, "failing again: no change to record");
    validate::handle_schedule(&f.state, scheduled_event()).await;

    let acme = OrgId::parse("acme").unwrap();
    let events = f.store.audit_log(&acme, None, 100).await.unwrap().events;
    let validations: Vec<(&str, &str, Value)> = events
        .iter()
        .filter(|e| e.action == Action::ValidationStateChanged)
        .map(|e| (e.integration_id.as_str(), e.actor.as_str(), serde_json::to_value(&e.changes).unwrap()))
        .collect();
    assert_eq!(
        validations,
        [
            (ids[1].as_str(), "system:schedule", json!({"state": ["unverified", "failing"]})),
            (ids[0].as_str(), "alice@acme", json!({"state": ["unverified", "failing"]})),
        ]
    );
}

#[test]
fn the_audit_retention_defaults_to_365_days_and_a_bad_one_names_its_variable() {
    assert_eq!(config_from(&[]).audit_retention_days, 365);
    assert_eq!(config_from(&[("AUDIT_RETENTION_DAYS", "30")]).audit_retention_days, 30);
    for value in ["0", "3651", "a year", "-1"] {
        let env: HashMap<String, String> = [("TABLE_NAME", "t"), ("AUDIT_RETENTION_DAYS", value)]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let e = validate::ValidateConfig::from_env(&env).unwrap_err();
        assert_eq!(e.variable, "AUDIT_RETENTION_DAYS");
        assert!(e.message.contains(value) && e.message.contains("days from 1 to 3650"), "{e}");
    }
}
