#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The policies handler on the in-memory store: the trust policy carries the org's own external
//! ID (created once), drafts render before saving, and another org cannot read a saved
//! integration's policies. No emulator; `tests/api` runs the same handler on DynamoDB.

use serde_json::{json, Value};
use shared::api::testkit::{status_and_json, ApiEvent};
use shared::aws::store::MemoryStore;
use std::collections::HashMap;
use std::sync::Arc;

const PRINCIPAL: &str = "arn:aws:iam::123456789012:role/platform";

fn state() -> policies::State {
    state_on(Arc::new(MemoryStore::new()))
}

async fn call(state: &policies::State, event: ApiEvent) -> (u16, Value) {
    status_and_json(&policies::handle(state, event.request()).await.unwrap())
}

#[tokio::test]
async fn each_org_gets_its_own_external_id_and_keeps_it() {
    let state = state();
    let (status, acme) = call(&state, ApiEvent::get("/policies/trust").admin_of("acme")).await;
    assert_eq!(status, 200, "{acme}");
    let (_, again) = call(&state, ApiEvent::get("/policies/trust").admin_of("acme")).await;
    let (_, globex) = call(&state, ApiEvent::get("/policies/trust").admin_of("globex")).await;
    assert_eq!(acme["external_id"], again["external_id"]);
    assert_ne!(acme["external_id"], globex["external_id"]);
    assert_eq!(acme["principal"], PRINCIPAL);
    let condition = &acme["policy"]["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"];
    assert_eq!(condition, &acme["external_id"], "{acme}");
}

#[tokio::test]
async fn a_drafts_access_policy_grants_only_its_prefix() {
    let state = state();
    let draft = json!({"scope": {"type": "bucket", "bucket": "acme-photos", "prefix": "cats/"}});
    let (status, body) = call(&state, ApiEvent::post("/policies/access", &draft).admin_of("acme")).await;
    assert_eq!(status, 200, "{body}");
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("arn:aws:s3:::acme-photos/cats/*"), "{text}");
    assert!(!text.contains("arn:aws:s3:::acme-photos/*"), "nothing wider than the prefix: {text}");
}

#[tokio::test]
async fn a_member_may_not_read_policies_and_an_unknown_integration_is_not_found() {
    let state = state();
    let (status, body) = call(&state, ApiEvent::get("/policies/trust").member_of("acme")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("FORBIDDEN")), "{body}");
    let (status, body) =
        call(&state, ApiEvent::get("/integrations/01JD8Q4V6W5X2Y3Z4A5B6C7D8E/policies").admin_of("acme"))
            .await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("NOT_FOUND")), "{body}");
}

// ---- external-ID rotation -------------------------------------------------------------------------

fn state_on(store: Arc<MemoryStore>) -> policies::State {
    let env: HashMap<String, String> = [
        ("TABLE_NAME", "unused-by-the-memory-store"),
        ("PLATFORM_PRINCIPAL_ARN", PRINCIPAL),
        ("APP_ORIGINS", "https://app.example.com"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    policies::State::new(store, shared::api::config::ApiConfig::from_env(&env).unwrap())
}

fn ids_in(trust: &Value) -> Vec<String> {
    match &trust["policy"]["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_rotation_renders_both_ids_new_first_says_which_is_which_and_a_second_rotation_waits() {
    let state = state();
    let (_, before) = call(&state, ApiEvent::get("/policies/trust").admin_of("acme")).await;
    let old = before["external_id"].as_str().unwrap().to_owned();
    let (status, rotated) =
        call(&state, ApiEvent::post("/policies/trust/rotate", &json!({})).admin_of("acme")).await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["external_id"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(ids_in(&rotated), [new.clone(), old.clone()]);
    assert_eq!(rotated["rotation"]["previous_external_id"], old.as_str());
    assert_eq!(rotated["rotation"]["current_external_id"], new.as_str());
    let until = time::OffsetDateTime::parse(
        rotated["rotation"]["previous_honoured_until"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (until - time::OffsetDateTime::now_utc()).whole_days();
    assert!((29..=30).contains(&days), "EXTERNAL_ID_OVERLAP_DAYS defaults to 30: {days}");
    let (_, trust) = call(&state, ApiEvent::get("/policies/trust").admin_of("acme")).await;
    assert_eq!(ids_in(&trust), [new, old], "GET /policies/trust says the same");
    let (status, again) =
        call(&state, ApiEvent::post("/policies/trust/rotate", &json!({})).admin_of("acme")).await;
    assert_eq!((status, again["error"]["code"].as_str()), (409, Some("ROTATION_IN_PROGRESS")), "{again}");
    let (_, globex) = call(&state, ApiEvent::get("/policies/trust").admin_of("globex")).await;
    assert!(globex.get("rotation").is_none(), "another org is not rotating");
}

#[tokio::test]
async fn completing_is_refused_for_an_unvalidated_or_old_only_role_and_otherwise_leaves_only_the_new_id() {
    use shared::aws::store::IntegrationStore;
    use shared::domain::integration::{
        check_codes, Check, CheckResult, HealthState, IntegrationDraft, Status,
    };
    let store = Arc::new(MemoryStore::new());
    let state = state_on(store.clone());
    let org = shared::domain::org::OrgId::parse("acme").unwrap();
    let draft = IntegrationDraft::role_from_json(&json!({
        "name": "Photos", "role_arn": "arn:aws:iam::210987654321:role/read", "region": "us-east-1",
        "scope": {"type": "bucket", "bucket": "acme-photos"}
    }))
    .unwrap();
    let integration = store.create(&org, draft).await.unwrap();
    let (_, none) =
        call(&state, ApiEvent::post("/policies/trust/rotate/complete", &json!({})).admin_of("acme")).await;
    assert_eq!(none["error"]["code"], "NO_ROTATION");
    call(&state, ApiEvent::post("/policies/trust/rotate", &json!({})).admin_of("acme")).await;
    let complete =
        || call(&state, ApiEvent::post("/policies/trust/rotate/complete", &json!({})).admin_of("acme"));
    let (status, body) = complete().await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("ROTATION_NOT_READY")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("has not been validated"), "{body}");
    let report = |result| Status {
        state: HealthState::Degraded,
        checked_at: Some(shared::domain::clock::now_rfc3339()),
        checks: vec![Check {
            code: check_codes::EXTERNAL_ID_ROTATION.to_owned(),
            target: "role".to_owned(),
            result,
            message: String::new(),
        }],
    };
    let actor = shared::domain::audit::Actor::schedule();
    store.record_report(&org, &actor, &integration.id, 1, &report(CheckResult::Warn), None).await.unwrap();
    let (_, body) = complete().await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("accepts only the previous external ID"),
        "{body}"
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("\"Photos\""), "{body}");
    store.record_report(&org, &actor, &integration.id, 1, &report(CheckResult::Pass), None).await.unwrap();
    let (status, done) = complete().await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(ids_in(&done).len(), 1);
    assert!(done.get("rotation").is_none());
    let (_, audit) = (0, store.audit_log(&org, None, 10).await.unwrap());
    let actions: Vec<String> = audit
        .events
        .iter()
        .map(|e| serde_json::to_value(e.action).unwrap().as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions[0], "external_id.rotation_completed");
    assert!(actions.contains(&"external_id.rotation_started".to_owned()), "{actions:?}");
}

#[tokio::test]
async fn a_member_may_neither_rotate_nor_complete() {
    let state = state();
    for path in ["/policies/trust/rotate", "/policies/trust/rotate/complete"] {
        let (status, _) = call(&state, ApiEvent::post(path, &json!({})).member_of("acme")).await;
        assert_eq!(status, 403, "{path}");
    }
}
