//! `GET /audit` over HTTP, on DynamoDB in the emulator: every change an admin makes is recorded
//! with the token's `sub` and the fields it changed, in the change's own transaction; a refused
//! change leaves nothing in the table; members and other orgs read nothing; records carry their
//! TTL. (The store contract proves the same records on both stores; the integrations handler
//! tests, the hostile inputs.)

use crate::helpers::*;
use serde_json::{json, Value};

const ORG: &str = "acme";

fn body(name: &str, bucket: &str) -> Value {
    json!({
        "name": name, "role_arn": "arn:aws:iam::210987654321:role/platform-read", "region": "us-east-1",
        "scope": {"type": "bucket", "bucket": bucket},
    })
}

/// An admin token of `org` whose `sub` is `sub`.
fn admin_named(org: &str, sub: &str) -> String {
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600;
    let claims = json!({"org_id": org, "role": "admin", "exp": exp, "sub": sub});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

async fn trail(app: &TestApp, org: &str) -> Vec<Value> {
    let reply = app.get("/audit", &admin(org)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["events"].as_array().unwrap().clone()
}

/// The org's audit items, straight from the table.
async fn audit_items(
    app: &TestApp,
    org: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    app.stored_items(org)
        .await
        .into_iter()
        .filter(|item| {
            item.get("sk").and_then(|sk| sk.as_s().ok()).is_some_and(|sk| sk.starts_with("AUDIT#"))
        })
        .collect()
}

#[tokio::test]
async fn create_replace_and_delete_are_recorded_with_the_tokens_subject_and_the_fields_they_changed() {
    let app = spawn_app().await;
    let created =
        app.post("/integrations", &admin_named(ORG, "alice@acme"), &body("Photos", "acme-photos")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let mut moved = body("Photos", "acme-videos");
    moved["version"] = json!(1);
    let replaced = app.put(&format!("/integrations/{id}"), &admin_named(ORG, "bob@acme"), &moved).await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(app.delete(&format!("/integrations/{id}"), &admin(ORG)).await.status, 204);

    let events = trail(&app, ORG).await;
    let who: Vec<(&str, &str)> =
        events.iter().map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap())).collect();
    assert_eq!(
        who,
        [
            ("integration.deleted", "dev-admin@acme"),
            ("integration.replaced", "bob@acme"),
            ("integration.created", "alice@acme"),
        ]
    );
    assert_eq!(
        events[1]["changes"],
        json!({"scope": [{"type": "bucket", "bucket": "acme-photos"}, {"type": "bucket", "bucket": "acme-videos"}]})
    );
    assert_eq!(events[2]["changes"]["name"], json!([null, "Photos"]));
    assert_eq!(
        events[0]["changes"]["role_arn"],
        json!(["arn:aws:iam::210987654321:role/platform-read", null])
    );
    assert!(events.iter().all(|e| e["integration_id"] == id.as_str()));
}

#[tokio::test]
async fn a_stale_version_or_a_held_scope_writes_no_record_to_the_table() {
    let app = spawn_app().await;
    let photos = app.create(ORG, &body("Photos", "acme-photos")).await;
    app.create(ORG, &body("Videos", "acme-videos")).await;
    let id = photos["id"].as_str().unwrap();
    let before = audit_items(&app, ORG).await.len();
    assert_eq!(before, 2);

    let mut stale = body("Lost", "acme-photos");
    stale["version"] = json!(5);
    assert_eq!(app.put(&format!("/integrations/{id}"), &admin(ORG), &stale).await.status, 412);
    let mut onto_held = body("Photos", "acme-videos");
    onto_held["version"] = json!(1);
    assert_eq!(app.put(&format!("/integrations/{id}"), &admin(ORG), &onto_held).await.status, 409);
    assert_eq!(app.post("/integrations", &admin(ORG), &body("Again", "acme-photos")).await.status, 409);
    let stale_delete = app
        .call_with("DELETE", &format!("/integrations/{id}"), Some(&admin(ORG)), None, &[("if-match", "3")])
        .await;
    assert_eq!(stale_delete.status, 412);

    assert_eq!(audit_items(&app, ORG).await.len(), before, "no refused change left a record");
    assert_eq!(app.get(&format!("/integrations/{id}"), &admin(ORG)).await.body["name"], "Photos");
}

#[tokio::test]
async fn a_member_is_refused_and_another_org_reads_an_empty_trail() {
    let app = spawn_app().await;
    app.create(ORG, &body("Photos", "acme-photos")).await;
    app.create(ORG, &body("Videos", "acme-videos")).await;
    let member = app.get("/audit", &member(ORG)).await;
    assert_eq!(
        (member.status, member.body["error"]["code"].as_str()),
        (403, Some("FORBIDDEN")),
        "{}",
        member.body
    );
    let page = app.get("/audit?limit=1", &admin(ORG)).await;
    let next = page.body["next"].as_str().expect("a next page").to_owned();
    assert!(trail(&app, "globex").await.is_empty());
    let with_cursor = app.get(&format!("/audit?next={next}"), &admin("globex")).await;
    assert_eq!((with_cursor.status, with_cursor.body["events"].as_array().map(Vec::len)), (200, Some(0)));
}

#[tokio::test]
async fn pages_come_newest_first_and_a_bad_limit_is_a_400() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(app.create(ORG, &body(&format!("I{n}"), &format!("bucket-{n}"))).await["id"].clone());
    }
    ids.reverse();
    let (mut seen, mut next) = (Vec::new(), None::<String>);
    loop {
        let path = next.as_ref().map_or("/audit?limit=2".to_owned(), |n| format!("/audit?limit=2&next={n}"));
        let page = app.get(&path, &admin(ORG)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(page.body["events"].as_array().unwrap().iter().map(|e| e["integration_id"].clone()));
        match page.body["next"].as_str() {
            Some(n) => next = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    for limit in ["0", "101", "many"] {
        let refused = app.get(&format!("/audit?limit={limit}"), &admin(ORG)).await;
        assert_eq!((refused.status, refused.body["error"]["code"].as_str()), (400, Some("INVALID_LIMIT")));
    }
}

#[tokio::test]
async fn a_record_is_stored_with_its_retention_as_the_tables_ttl() {
    let app = spawn_app().await;
    app.create(ORG, &body("Photos", "acme-photos")).await;
    let items = audit_items(&app, ORG).await;
    assert_eq!(items.len(), 1);
    let expires: u64 = items[0]["expires_at"].as_n().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let year = 365 * 24 * 3600;
    assert!((now + year - 60..=now + year + 60).contains(&expires), "{expires} vs {now}");
    assert_eq!(items[0]["kind"].as_s().unwrap(), "audit");
}

#[tokio::test]
async fn the_sample_audit_event_runs_through_the_integrations_handler() {
    let app = spawn_app().await;
    app.create(ORG, &body("Photos", "acme-photos")).await;
    let state = integrations_state(app.store.shared(), api_config(app.store.table(), PLATFORM_PRINCIPAL));
    let path = format!("{}/../events/audit.json", env!("CARGO_MANIFEST_DIR"));
    let event = lambda_http::request::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let answered = integrations::handle(&state, event).await.unwrap();
    assert_eq!(answered.status(), 200);
    let events = response_json(&answered)["events"].clone();
    assert_eq!(events[0]["action"], "integration.created", "{events}");
}

// ---------------------------------------------------------------------------------------------
// On the wire: the record rides in the change's own TransactWriteItems, so DynamoDB applies both
// or neither, whatever fails.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use shared::aws::store::{DynamoStore, IntegrationStore, StoreError};
use shared::domain::audit::Actor;
use shared::domain::integration::{HealthState, IntegrationDraft, Status};
use shared::domain::org::OrgId;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Sees every DynamoDB request (its `X-Amz-Target` and body) and, when asked, breaks the audit
/// record inside a transaction (its sort key sent as a number), so DynamoDB refuses the whole
/// transaction as it would for any other fault.
#[derive(Debug, Default)]
struct Wire {
    requests: Mutex<Vec<(String, String)>>,
    break_records: AtomicBool,
}

#[derive(Debug)]
struct WireTap(Arc<Wire>);

impl Intercept for WireTap {
    fn name(&self) -> &'static str {
        "audit-wire-tap"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let request = context.request_mut();
        let target = request.headers().get("x-amz-target").unwrap_or_default().to_owned();
        let body =
            request.body().bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        if self.0.break_records.load(Ordering::SeqCst) && body.contains(r#"{"S":"AUDIT#"#) {
            // The same length, so the signed Content-Length still holds.
            *request.body_mut() = body.replace(r#"{"S":"AUDIT#"#, r#"{"N":"AUDIT#"#).into();
        }
        self.0.requests.lock().unwrap().push((target, body));
        Ok(())
    }
}

/// A store on a fresh table whose every request goes through the wire tap.
async fn tapped_store() -> (DynamoStore, Arc<Wire>) {
    let aws = aws_config().await;
    let wire = Arc::new(Wire::default());
    let config = aws_sdk_dynamodb::config::Builder::from(&aws).interceptor(WireTap(wire.clone())).build();
    let table = format!("audit-{}", ulid::Ulid::new().to_string().to_lowercase());
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), table);
    store.ensure_table().await.unwrap();
    (store, wire)
}

fn draft(name: &str, bucket: &str) -> IntegrationDraft {
    IntegrationDraft::role_from_json(&body(name, bucket)).unwrap()
}

fn failing_report() -> Status {
    Status {
        state: HealthState::Failing,
        checked_at: Some("2026-12-06T10:00:00Z".into()),
        checks: Vec::new(),
    }
}

#[tokio::test]
async fn every_write_of_an_integration_carries_its_record_in_the_same_transaction() {
    let (store, wire) = tapped_store().await;
    let (acme, alice) = (OrgId::parse(ORG).unwrap(), Actor::user(Some("alice@acme")));
    let created = store.create(&acme, draft("Photos", "acme-photos")).await.unwrap();
    store.replace(&acme, &alice, &created.id, draft("Pictures", "acme-videos"), 1).await.unwrap();
    assert!(store
        .record_report(&acme, &Actor::schedule(), &created.id, 2, &failing_report(), None)
        .await
        .unwrap());
    store.delete(&acme, &alice, &created.id, None).await.unwrap();

    let requests = wire.requests.lock().unwrap().clone();
    let writes: Vec<&(String, String)> = requests
        .iter()
        .filter(|(target, body)| {
            ["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"]
                .iter()
                .any(|op| target.ends_with(op))
                && body.contains("INT#")
        })
        .collect();
    assert_eq!(writes.len(), 4, "{writes:#?}");
    for (target, body) in &writes {
        assert!(target.ends_with(".TransactWriteItems"), "a change outside a transaction: {target} {body}");
        assert_eq!(
            body.matches(r#""S":"AUDIT#"#).count(),
            1,
            "one record in the change's transaction: {body}"
        );
    }
    assert_eq!(store.audit_log(&acme, None, 100).await.unwrap().events.len(), 4);
}

#[tokio::test]
async fn a_transaction_whose_record_cannot_be_written_changes_nothing() {
    let (store, wire) = tapped_store().await;
    let (acme, alice) = (OrgId::parse(ORG).unwrap(), Actor::user(Some("alice@acme")));
    let created = store.create(&acme, draft("Photos", "acme-photos")).await.unwrap();
    wire.break_records.store(true, Ordering::SeqCst);

    let refused = |result: Result<(), StoreError>, what: &str| {
        assert!(
            matches!(result, Err(StoreError::Unavailable(_) | StoreError::Internal(_))),
            "{what}: {result:?}"
        )
    };
    refused(store.create(&acme, draft("Videos", "acme-videos")).await.map(|_| ()), "create");
    refused(
        store.replace(&acme, &alice, &created.id, draft("Renamed", "acme-photos"), 1).await.map(|_| ()),
        "replace",
    );
    refused(
        store.record_report(&acme, &alice, &created.id, 1, &failing_report(), None).await.map(|_| ()),
        "a report that changes the state",
    );
    refused(store.delete(&acme, &alice, &created.id, None).await, "delete");

    wire.break_records.store(false, Ordering::SeqCst);
    let stored = store.get(&acme, &created.id).await.unwrap();
    assert_eq!(stored, created, "no change without its record");
    assert_eq!(store.list_all(&acme).await.unwrap().len(), 1, "the refused create stored nothing");
    let events = store.audit_log(&acme, None, 100).await.unwrap().events;
    assert_eq!(events.len(), 1, "only the create made before the fault: {events:?}");
    // The scope the refused create asked for is still free, and the counter still counts one.
    store.create(&acme, draft("Videos", "acme-videos")).await.unwrap();
}
