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
