#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Both validate entry points on the in-memory store and STS: the on-demand route (who may ask,
//! the org boundary, what is recorded) and the scheduled walk (every integration of every org
//! once, across pages; an STS outage keeps each previous state), in milliseconds and without an
//! emulator. The checks that need S3 run in `tests/api/validation.rs` against the emulators.

use serde_json::{json, Value};
use shared::api::testkit::{status_and_json, ApiEvent};
use shared::aws::credentials::{MemoryAssumer, RoleTrust};
use shared::aws::store::{IntegrationStore, MemoryStore};
use shared::domain::integration::{HealthState, IntegrationDraft};
use shared::domain::org::OrgId;
use shared::domain::presign::S3Endpoint;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const PRINCIPAL: &str = "arn:aws:iam::123456789012:role/platform";

struct Fixture {
    state: validate::State,
    store: Arc<MemoryStore>,
    sts: Arc<MemoryAssumer>,
}

fn fixture(page_size: i32) -> Fixture {
    let env: HashMap<String, String> =
        [("TABLE_NAME".to_owned(), "unused-by-the-memory-store".to_owned())].into_iter().collect();
    let mut config = validate::ValidateConfig::from_env(&env).unwrap();
    config.page_size = page_size;
    let store = Arc::new(MemoryStore::new());
    let sts = Arc::new(MemoryAssumer::new(Duration::from_secs(3600)));
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build();
    let origins = vec![shared::domain::policy::AppOrigin::parse("https://app.example.com").unwrap()];
    let validator =
        shared::aws::validation::Validator::new(sdk, sts.clone(), S3Endpoint::Aws, PRINCIPAL.into(), origins);
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
            let draft = IntegrationDraft::from_json(&json!({
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
