#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `GET /audit` and the records behind it, through the integrations handler on the in-memory
//! store (the store contract holds DynamoDB to the same records; `tests/api/audit.rs` runs them
//! on the emulator).
//!
//! How the trail could be abused, and the test here that shuts each door:
//! - a member reads who changed what: `a_member_may_not_read_the_trail`;
//! - another org reads it, even with this org's cursor: `another_org_sees_an_empty_trail_even_with_this_orgs_cursor`;
//! - a refused request leaves a record that says it happened: `a_refused_change_leaves_no_record`;
//! - a hostile `sub` forges the schedule, breaks the JSON, or bloats the record:
//!   `a_hostile_subject_is_recorded_as_plain_text_and_never_as_the_platform`;
//! - a secret leaks: `a_stores_secret_is_shown_only_as_changed`;
//! - a huge or malformed `limit` or cursor: `a_limit_or_cursor_the_api_did_not_offer_is_a_400_naming_it`.

use serde_json::{json, Value};
use shared::api::testkit::{status_and_json, ApiEvent};
use shared::aws::endpoint_guard::EndpointPolicy;
use shared::aws::secrets::MemorySealer;
use shared::aws::store::MemoryStore;
use std::collections::HashMap;
use std::sync::Arc;

const ROLE: &str = "arn:aws:iam::210987654321:role/platform-read";

fn state() -> integrations::State {
    let env: HashMap<String, String> = [
        ("TABLE_NAME", "unused-by-the-memory-store"),
        ("PLATFORM_PRINCIPAL_ARN", "arn:aws:iam::123456789012:role/platform"),
        ("APP_ORIGINS", "https://app.example.com"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = shared::api::config::ApiConfig::from_env(&env).unwrap();
    integrations::State::new(
        Arc::new(MemoryStore::new()),
        config,
        Arc::new(MemorySealer::new()),
        EndpointPolicy { allow_loopback_http: true },
    )
}

async fn call(state: &integrations::State, event: ApiEvent) -> (u16, Value) {
    let response = integrations::handle(state, event.request()).await.unwrap();
    status_and_json(&response)
}

/// The event as sent by `sub` (`None`: a token without the claim).
fn by(event: ApiEvent, sub: Option<&str>) -> ApiEvent {
    event.with(|e| {
        let claims = &mut e["requestContext"]["authorizer"]["jwt"]["claims"];
        match sub {
            Some(sub) => claims["sub"] = json!(sub),
            None => {
                claims.as_object_mut().unwrap().remove("sub");
            }
        }
    })
}

fn body(name: &str, bucket: &str) -> Value {
    json!({"name": name, "role_arn": ROLE, "region": "us-east-1", "scope": {"type": "bucket", "bucket": bucket}})
}

async fn create_as(state: &integrations::State, sub: &str, name: &str, bucket: &str) -> Value {
    let (status, created) =
        call(state, by(ApiEvent::post("/integrations", &body(name, bucket)).admin_of("acme"), Some(sub)))
            .await;
    assert_eq!(status, 201, "{created}");
    created
}

async fn trail(state: &integrations::State, org: &str) -> Vec<Value> {
    let (status, page) = call(state, ApiEvent::get("/audit").admin_of(org)).await;
    assert_eq!(status, 200, "{page}");
    page["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_trail_names_the_tokens_subject_for_each_change_newest_first() {
    let state = state();
    let created = create_as(&state, "alice@acme", "Photos", "acme-photos").await;
    let id = created["id"].as_str().unwrap();
    let mut renamed = body("Pictures", "acme-photos");
    renamed["version"] = json!(1);
    let replace = ApiEvent::put(&format!("/integrations/{id}"), &renamed).admin_of("acme");
    assert_eq!(call(&state, by(replace, Some("bob@acme"))).await.0, 200);
    let delete = ApiEvent::delete(&format!("/integrations/{id}")).admin_of("acme");
    assert_eq!(call(&state, by(delete, Some("carol@acme"))).await.0, 204);

    let events = trail(&state, "acme").await;
    let summary: Vec<_> =
        events.iter().map(|e| (e["action"].clone(), e["actor"].clone(), e["version"].clone())).collect();
    assert_eq!(
        summary,
        [
            (json!("integration.deleted"), json!("carol@acme"), json!(2)),
            (json!("integration.replaced"), json!("bob@acme"), json!(2)),
            (json!("integration.created"), json!("alice@acme"), json!(1)),
        ]
    );
    assert_eq!(events[1]["changes"], json!({"name": ["Photos", "Pictures"]}));
    assert!(events.iter().all(|e| e["integration_id"] == id && e["actor_type"] == "user"), "{events:?}");
}

#[tokio::test]
async fn a_member_may_not_read_the_trail() {
    let state = state();
    create_as(&state, "alice@acme", "Photos", "acme-photos").await;
    let (status, refused) = call(&state, ApiEvent::get("/audit").member_of("acme")).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (403, Some("FORBIDDEN")), "{refused}");
    assert!(refused.get("events").is_none());
}

#[tokio::test]
async fn another_org_sees_an_empty_trail_even_with_this_orgs_cursor() {
    let state = state();
    create_as(&state, "alice@acme", "Photos", "acme-photos").await;
    create_as(&state, "alice@acme", "Videos", "acme-videos").await;
    let (_, first) = call(&state, ApiEvent::get("/audit?limit=1").admin_of("acme")).await;
    let next = first["next"].as_str().expect("a next page");
    assert!(trail(&state, "globex").await.is_empty());
    let (status, page) = call(&state, ApiEvent::get(&format!("/audit?next={next}")).admin_of("globex")).await;
    assert_eq!((status, page["events"].as_array().map(Vec::len)), (200, Some(0)), "{page}");
}

#[tokio::test]
async fn a_refused_change_leaves_no_record() {
    let state = state();
    let photos = create_as(&state, "alice@acme", "Photos", "acme-photos").await;
    create_as(&state, "alice@acme", "Videos", "acme-videos").await;
    let id = photos["id"].as_str().unwrap();
    let before = trail(&state, "acme").await;

    let mut stale = body("Lost", "acme-photos");
    stale["version"] = json!(7);
    let (status, _) =
        call(&state, ApiEvent::put(&format!("/integrations/{id}"), &stale).admin_of("acme")).await;
    assert_eq!(status, 412);
    let mut onto_held = body("Photos", "acme-videos");
    onto_held["version"] = json!(1);
    let (status, _) =
        call(&state, ApiEvent::put(&format!("/integrations/{id}"), &onto_held).admin_of("acme")).await;
    assert_eq!(status, 409);
    let (status, _) =
        call(&state, ApiEvent::post("/integrations", &body("Again", "acme-photos")).admin_of("acme")).await;
    assert_eq!(status, 409);
    let (status, _) =
        call(&state, ApiEvent::post("/integrations", &body("By a member", "m")).member_of("acme")).await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &state,
        ApiEvent::delete(&format!("/integrations/{id}")).admin_of("acme").header("if-match", "9"),
    )
    .await;
    assert_eq!(status, 412);
    let (status, _) = call(&state, ApiEvent::delete(&format!("/integrations/{id}")).admin_of("globex")).await;
    assert_eq!(status, 404);

    assert_eq!(trail(&state, "acme").await, before);
    assert!(trail(&state, "globex").await.is_empty());
}

#[tokio::test]
async fn a_hostile_subject_is_recorded_as_plain_text_and_never_as_the_platform() {
    let state = state();
    let huge = "x".repeat(100_000);
    let hostile = [
        "system:schedule",
        r#""},"actor":"admin","x":{""#,
        "<script>alert(1)</script>",
        "line\nbreak\u{0}nul",
        huge.as_str(),
    ];
    for (n, sub) in hostile.iter().enumerate() {
        create_as(&state, sub, &format!("I{n}"), &format!("bucket-{n}")).await;
    }
    let no_sub =
        by(ApiEvent::post("/integrations", &body("Anonymous", "bucket-anon")).admin_of("acme"), None);
    assert_eq!(call(&state, no_sub).await.0, 201);

    let events = trail(&state, "acme").await;
    let (anonymous, by_hostile) = events.split_first().unwrap();
    assert_eq!((&anonymous["actor"], &anonymous["actor_type"]), (&json!("unknown"), &json!("no_subject")));
    let recorded: Vec<&str> = by_hostile.iter().rev().map(|e| e["actor"].as_str().unwrap()).collect();
    assert_eq!(recorded[..4], hostile[..4], "kept exactly, as JSON strings");
    assert!(by_hostile.iter().all(|e| e["actor_type"] == "user"), "nobody's token makes them the platform");
    assert!(recorded[4].len() <= 255 && recorded[4].starts_with("xxxx"), "{}", recorded[4].len());
    assert!(
        by_hostile.iter().all(|e| e.as_object().unwrap().len() == 8),
        "no field was injected: {by_hostile:?}"
    );
}

#[tokio::test]
async fn a_stores_secret_is_shown_only_as_changed() {
    let state = state();
    let secret = "wJalrXUtnFEMI-the-secret-access-key";
    let store = json!({
        "kind": "s3_compatible", "name": "MinIO", "endpoint": "http://127.0.0.1:9000",
        "access_key_id": "platform-reader", "secret_access_key": secret,
        "scope": {"type": "bucket", "bucket": "photos"},
    });
    let (status, created) = call(&state, ApiEvent::post("/integrations", &store).admin_of("acme")).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let mut kept = store.clone();
    kept.as_object_mut().unwrap().remove("secret_access_key");
    kept["name"] = json!("MinIO 2");
    kept["version"] = json!(1);
    assert_eq!(
        call(&state, ApiEvent::put(&format!("/integrations/{id}"), &kept).admin_of("acme")).await.0,
        200
    );
    let mut rotated = store.clone();
    rotated["secret_access_key"] = json!(format!("{secret}-rotated"));
    rotated["version"] = json!(2);
    assert_eq!(
        call(&state, ApiEvent::put(&format!("/integrations/{id}"), &rotated).admin_of("acme")).await.0,
        200
    );

    let events = trail(&state, "acme").await;
    let secret_changes: Vec<_> =
        events.iter().map(|e| e["changes"].get("secret_access_key").cloned()).collect();
    assert_eq!(secret_changes, [Some(json!("changed")), None, Some(json!("changed"))]);
    let text = Value::Array(events).to_string();
    assert!(!text.contains(secret) && !text.contains("wJalr"), "{text}");
}

#[tokio::test]
async fn a_limit_or_cursor_the_api_did_not_offer_is_a_400_naming_it() {
    let state = state();
    for limit in ["0", "101", "-1", "abc", "1.5", "99999999999"] {
        let (status, refused) =
            call(&state, ApiEvent::get(&format!("/audit?limit={limit}")).admin_of("acme")).await;
        assert_eq!(
            (status, refused["error"]["code"].as_str(), refused["error"]["field"].as_str()),
            (400, Some("INVALID_LIMIT"), Some("limit")),
            "{limit}: {refused}"
        );
    }
    for next in ["zz", "494e5423", "41554449542378"] {
        let (status, refused) =
            call(&state, ApiEvent::get(&format!("/audit?next={next}")).admin_of("acme")).await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (400, Some("INVALID_CURSOR")),
            "{next}: {refused}"
        );
    }
}

#[tokio::test]
async fn pages_walk_the_trail_newest_first_and_the_last_offers_no_more() {
    let state = state();
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            create_as(&state, "alice@acme", &format!("I{n}"), &format!("bucket-{n}")).await["id"].clone(),
        );
    }
    ids.reverse();
    let (mut seen, mut next) = (Vec::new(), None::<String>);
    loop {
        let path = match &next {
            Some(next) => format!("/audit?limit=2&next={next}"),
            None => "/audit?limit=2".to_owned(),
        };
        let (status, page) = call(&state, ApiEvent::get(&path).admin_of("acme")).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["events"].as_array().unwrap().iter().map(|e| e["integration_id"].clone()));
        match page["next"].as_str() {
            Some(n) => next = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids);
}

#[test]
fn the_retention_defaults_to_365_days_and_a_bad_one_stops_start_up_naming_its_variable() {
    let env = |value: Option<&str>| -> HashMap<String, String> {
        value.map(|v| ("AUDIT_RETENTION_DAYS".to_owned(), v.to_owned())).into_iter().collect()
    };
    assert_eq!(integrations::audit_retention_days(&env(None)).unwrap(), 365);
    assert_eq!(integrations::audit_retention_days(&env(Some("3650"))).unwrap(), 3650);
    for bad in ["0", "3651", "1.5", "forever"] {
        let e = integrations::audit_retention_days(&env(Some(bad))).unwrap_err();
        assert_eq!(e.variable, "AUDIT_RETENTION_DAYS");
        assert!(e.message.contains(bad) && e.message.contains("days from 1 to 3650"), "{e}");
    }
}
