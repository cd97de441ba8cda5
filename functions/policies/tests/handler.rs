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
    let env: HashMap<String, String> = [
        ("TABLE_NAME", "unused-by-the-memory-store"),
        ("PLATFORM_PRINCIPAL_ARN", PRINCIPAL),
        ("APP_ORIGINS", "https://app.example.com"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    policies::State::new(
        Arc::new(MemoryStore::new()),
        shared::api::config::ApiConfig::from_env(&env).unwrap(),
    )
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
