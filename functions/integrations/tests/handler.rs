#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The integrations handler on the in-memory store: every route, its refusals and the org
//! boundary, in milliseconds and without an emulator. The emulator suites (`tests/api`) run the
//! same handler on DynamoDB; the store contract keeps the two stores alike.

use serde_json::{json, Value};
use shared::api::testkit::{status_and_json, ApiEvent};
use shared::aws::endpoint_guard::EndpointPolicy;
use shared::aws::secrets::MemorySealer;
use shared::aws::store::MemoryStore;
use std::collections::HashMap;
use std::sync::Arc;

const ROLE: &str = "arn:aws:iam::210987654321:role/platform-read";

fn state() -> (integrations::State, Arc<MemoryStore>) {
    let env: HashMap<String, String> = [
        ("TABLE_NAME", "unused-by-the-memory-store"),
        ("PLATFORM_PRINCIPAL_ARN", "arn:aws:iam::123456789012:role/platform"),
        ("APP_ORIGINS", "https://app.example.com"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let store = Arc::new(MemoryStore::new());
    let config = shared::api::config::ApiConfig::from_env(&env).unwrap();
    (
        integrations::State::new(
            store.clone(),
            config,
            Arc::new(MemorySealer::new()),
            EndpointPolicy::default(),
        ),
        store,
    )
}

async fn call(state: &integrations::State, event: ApiEvent) -> (u16, Value) {
    let response = integrations::handle(state, event.request()).await.unwrap();
    status_and_json(&response)
}

fn body(name: &str, bucket: &str) -> Value {
    json!({"name": name, "role_arn": ROLE, "region": "us-east-1", "scope": {"type": "bucket", "bucket": bucket}})
}

async fn create(state: &integrations::State, org: &str, name: &str, bucket: &str) -> Value {
    let (status, created) =
        call(state, ApiEvent::post("/integrations", &body(name, bucket)).admin_of(org)).await;
    assert_eq!(status, 201, "{created}");
    created
}

#[tokio::test]
async fn an_admin_creates_an_integration_and_gets_its_policies_with_the_orgs_external_id() {
    let (state, _) = state();
    let created = create(&state, "acme", "Photos", "acme-photos").await;
    assert_eq!(created["version"], 1);
    assert_eq!(created["status"]["state"], "unverified");
    let trust = created["policies"]["trust"]["text"].as_str().unwrap();
    let external_id = created["policies"]["trust"]["external_id"].as_str().unwrap();
    assert!(trust.contains("sts:ExternalId") && trust.contains(external_id), "{trust}");
    let id = created["id"].as_str().unwrap();
    let (status, read) = call(&state, ApiEvent::get(&format!("/integrations/{id}")).admin_of("acme")).await;
    assert_eq!((status, read["name"].as_str()), (200, Some("Photos")));
    assert_eq!(read["history"], json!([]));
}

#[tokio::test]
async fn a_member_may_not_touch_integrations() {
    let (state, store) = state();
    let (status, body) =
        call(&state, ApiEvent::post("/integrations", &body("P", "acme-photos")).member_of("acme")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("FORBIDDEN")), "{body}");
    assert_eq!(store.item_count(&shared::domain::org::OrgId::parse("acme").unwrap()), 0, "nothing stored");
}

#[tokio::test]
async fn another_org_gets_not_found_for_every_route_on_an_integration() {
    let (state, _) = state();
    let id = create(&state, "acme", "Photos", "acme-photos").await["id"].as_str().unwrap().to_owned();
    let path = format!("/integrations/{id}");
    let mut replaced = body("Mine now", "acme-photos");
    replaced["version"] = json!(1);
    for event in [ApiEvent::get(&path), ApiEvent::put(&path, &replaced), ApiEvent::delete(&path)] {
        let (status, body) = call(&state, event.admin_of("globex")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("NOT_FOUND")), "{body}");
    }
    let (_, list) = call(&state, ApiEvent::get("/integrations").admin_of("globex")).await;
    assert_eq!(list["integrations"], json!([]));
    let (status, _) = call(&state, ApiEvent::get(&path).admin_of("acme")).await;
    assert_eq!(status, 200, "acme's integration is untouched");
}

#[tokio::test]
async fn a_replace_needs_the_current_version_and_a_stale_one_is_refused() {
    let (state, _) = state();
    let id = create(&state, "acme", "Photos", "acme-photos").await["id"].as_str().unwrap().to_owned();
    let path = format!("/integrations/{id}");
    let (status, refused) =
        call(&state, ApiEvent::put(&path, &body("Renamed", "acme-photos")).admin_of("acme")).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (412, Some("VERSION_REQUIRED")), "{refused}");
    let replace =
        ApiEvent::put(&path, &body("Renamed", "acme-photos")).header("if-match", "1").admin_of("acme");
    let (status, replaced) = call(&state, replace.clone()).await;
    assert_eq!((status, replaced["version"].as_u64()), (200, Some(2)), "{replaced}");
    let (status, stale) = call(&state, replace).await;
    assert_eq!((status, stale["error"]["code"].as_str()), (412, Some("VERSION_MISMATCH")), "{stale}");
}

#[tokio::test]
async fn a_second_integration_for_a_held_scope_is_a_conflict_naming_the_holder() {
    let (state, _) = state();
    create(&state, "acme", "Photos", "acme-photos").await;
    let (status, conflict) =
        call(&state, ApiEvent::post("/integrations", &body("Again", "acme-photos")).admin_of("acme")).await;
    assert_eq!((status, conflict["error"]["code"].as_str()), (409, Some("SCOPE_CONFLICT")), "{conflict}");
    assert!(conflict["error"]["message"].as_str().unwrap().contains("\"Photos\""), "{conflict}");
}

#[tokio::test]
async fn the_list_pages_with_an_opaque_cursor_and_refuses_one_it_did_not_issue() {
    let (state, _) = state();
    for i in 0..5 {
        create(&state, "acme", &format!("B{i}"), &format!("acme-bucket-{i}")).await;
    }
    let (status, first) = call(&state, ApiEvent::get("/integrations?limit=2").admin_of("acme")).await;
    assert_eq!((status, first["integrations"].as_array().map(Vec::len)), (200, Some(2)));
    let next = first["next"].as_str().unwrap();
    let (_, second) =
        call(&state, ApiEvent::get(&format!("/integrations?limit=2&next={next}")).admin_of("acme")).await;
    assert_eq!(second["integrations"].as_array().map(Vec::len), Some(2));
    assert_ne!(first["integrations"][0]["id"], second["integrations"][0]["id"]);
    for cursor in ["a%C3%A9b", "zz", "%FF%FE", "494e5423"] {
        let (status, body) =
            call(&state, ApiEvent::get(&format!("/integrations?next={cursor}")).admin_of("acme")).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("INVALID_CURSOR")),
            "{cursor}: {body}"
        );
    }
}

#[tokio::test]
async fn a_delete_frees_the_scope_and_answers_no_content() {
    let (state, _) = state();
    let id = create(&state, "acme", "Photos", "acme-photos").await["id"].as_str().unwrap().to_owned();
    let (status, _) = call(&state, ApiEvent::delete(&format!("/integrations/{id}")).admin_of("acme")).await;
    assert_eq!(status, 204);
    create(&state, "acme", "Photos again", "acme-photos").await;
}

#[tokio::test]
async fn a_role_in_the_platforms_own_account_is_refused_before_anything_is_stored() {
    let (state, store) = state();
    let mut own = body("Own", "acme-photos");
    own["role_arn"] = json!("arn:aws:iam::123456789012:role/anything");
    let (status, refused) = call(&state, ApiEvent::post("/integrations", &own).admin_of("acme")).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (400, Some("ROLE_IN_PLATFORM_ACCOUNT")),
        "{refused}"
    );
    assert_eq!(store.item_count(&shared::domain::org::OrgId::parse("acme").unwrap()), 0);
}

#[tokio::test]
async fn a_call_without_claims_is_unauthorized() {
    let (state, _) = state();
    let (status, body) = call(&state, ApiEvent::get("/integrations").without_claims()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("UNAUTHORIZED")), "{body}");
}

fn state_with_limit(max: &str) -> integrations::State {
    let env: HashMap<String, String> = [
        ("TABLE_NAME", "unused-by-the-memory-store"),
        ("PLATFORM_PRINCIPAL_ARN", "arn:aws:iam::123456789012:role/platform"),
        ("APP_ORIGINS", "https://app.example.com"),
        ("INTEGRATIONS_PER_ORG", max),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = shared::api::config::ApiConfig::from_env(&env).unwrap();
    integrations::State::new(
        Arc::new(MemoryStore::new()),
        config,
        Arc::new(MemorySealer::new()),
        EndpointPolicy::default(),
    )
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_can_be_retried_with_its_idempotency_key() {
    let (state, store) = state();
    let post = || ApiEvent::post("/integrations", &body("Photos", "acme-photos")).admin_of("acme");
    let key = "0b0e8a1c-5f3a-4d7e-9b1e-6c2f4a8d9e10";
    let (status, first) = call(&state, post().header("Idempotency-Key", key)).await;
    assert_eq!(status, 201, "{first}");
    let response =
        integrations::handle(&state, post().header("Idempotency-Key", key).request()).await.unwrap();
    let replayed = response.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap().to_owned());
    let (status, again) = status_and_json(&response);
    assert_eq!(status, 201, "a retry is not a conflict: {again}");
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!((&again["id"], &again["version"]), (&first["id"], &first["version"]));
    assert_eq!(again["policies"], first["policies"], "the same external ID in the same policies");
    assert_eq!(
        store.item_count(&shared::domain::org::OrgId::parse("acme").unwrap()),
        5,
        "integration, scope lock, key, external ID, and one audit record: the replay recorded nothing"
    );

    let (status, refused) = call(&state, post()).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("SCOPE_CONFLICT")),
        "without the key it is a second create"
    );
}

#[tokio::test]
async fn an_idempotency_key_reused_for_another_integration_or_malformed_is_refused_saying_why() {
    let (state, _) = state();
    let key = "key-1";
    let (status, _) = call(
        &state,
        ApiEvent::post("/integrations", &body("Photos", "acme-photos"))
            .admin_of("acme")
            .header("Idempotency-Key", key),
    )
    .await;
    assert_eq!(status, 201);
    let (status, refused) = call(
        &state,
        ApiEvent::post("/integrations", &body("Video", "acme-video"))
            .admin_of("acme")
            .header("Idempotency-Key", key),
    )
    .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("IDEMPOTENCY_KEY_REUSED")),
        "{refused}"
    );
    assert!(refused["error"]["message"].as_str().unwrap().contains("new key"), "{refused}");
    for bad in ["", "has space", "ü", &"k".repeat(129)] {
        let (status, refused) = call(
            &state,
            ApiEvent::post("/integrations", &body("Video", "acme-video"))
                .admin_of("acme")
                .header("Idempotency-Key", bad),
        )
        .await;
        assert_eq!(
            (status, refused["error"]["field"].as_str()),
            (400, Some("Idempotency-Key")),
            "{bad:?}: {refused}"
        );
    }
}

#[tokio::test]
async fn an_org_at_its_integration_limit_gets_a_409_saying_what_to_do() {
    let state = state_with_limit("2");
    for bucket in ["bucket-a", "bucket-b"] {
        let (status, created) =
            call(&state, ApiEvent::post("/integrations", &body(bucket, bucket)).admin_of("acme")).await;
        assert_eq!(status, 201, "{created}");
    }
    let (status, refused) =
        call(&state, ApiEvent::post("/integrations", &body("c", "bucket-c")).admin_of("acme")).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("INTEGRATION_LIMIT_REACHED")),
        "{refused}"
    );
    assert!(refused["error"]["message"].as_str().unwrap().contains("2 integrations"), "{refused}");
    let (status, _) =
        call(&state, ApiEvent::post("/integrations", &body("c", "bucket-c")).admin_of("globex")).await;
    assert_eq!(status, 201, "another org has its own limit");
}
