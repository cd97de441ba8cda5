//! Isolation: no route lets one org read, change or delete another org's data, members cannot use
//! admin routes, and requests without a valid identity are turned away with 401 before any handler.
//! Every probe is followed by proof that the victim's data did not change.

use crate::helpers::*;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

type Items = Vec<HashMap<String, AttributeValue>>;

/// Org A as its admin left it: two integrations (one per scope kind) and its external ID.
#[derive(Debug)]
struct OrgA {
    bucket_id: String,
    default_id: String,
    external_id: String,
}

impl OrgA {
    fn ids(&self) -> [&str; 2] {
        [&self.bucket_id, &self.default_id]
    }
}

/// Everything org A can observe about its own data, through the API and in the table.
#[derive(Debug, PartialEq)]
struct Snapshot {
    integrations: Vec<Value>,
    list: Value,
    trust: Value,
    items: Items,
}

async fn seed_org_a(app: &TestApp) -> OrgA {
    let mut bucket = bucket_body("A bucket images", "a-bucket");
    bucket["scope"]["prefix"] = json!("images/");
    let bucket = app.create("a", &bucket).await;
    let default = app.create("a", &default_body("A default", &["a-bucket", "a-other"])).await;
    let trust = app.get("/policies/trust", &admin("a")).await;
    assert_eq!(trust.status, 200, "{}", trust.body);
    let external_id = trust.body["external_id"].as_str().unwrap().to_owned();
    assert!(!external_id.is_empty());
    assert_eq!(bucket["policies"]["trust"]["external_id"], external_id.as_str());
    OrgA {
        bucket_id: bucket["id"].as_str().unwrap().to_owned(),
        default_id: default["id"].as_str().unwrap().to_owned(),
        external_id,
    }
}

async fn snapshot(app: &TestApp, org: &OrgA) -> Snapshot {
    let mut integrations = Vec::new();
    for id in org.ids() {
        let reply = app.get(&format!("/integrations/{id}"), &admin("a")).await;
        assert_eq!(reply.status, 200, "org A reads its own integration {id}: {}", reply.body);
        integrations.push(reply.body);
    }
    let list = app.get("/integrations", &admin("a")).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let trust = app.get("/policies/trust", &admin("a")).await;
    assert_eq!(trust.status, 200, "{}", trust.body);
    assert_eq!(trust.body["external_id"], org.external_id.as_str());
    Snapshot { integrations, list: list.body, trust: trust.body, items: app.stored_items("a").await }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// An HS256 token with exactly these claims.
fn signed(secret: &str, claims: &Value) -> String {
    signed_with(Algorithm::HS256, secret, claims)
}

fn signed_with(alg: Algorithm, secret: &str, claims: &Value) -> String {
    let key = EncodingKey::from_secret(secret.as_bytes()).unwrap();
    jsonwebtoken::encode(&Header::new(alg), claims, &key).unwrap()
}

/// An unsigned token (`"alg": "none"`) that claims to be org A's admin.
fn unsigned_admin_token() -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = json!({"org_id": "a", "role": "admin", "exp": now() + 3600});
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// Org B's admin token, with its payload rewritten after signing to claim org A.
fn tampered_token() -> String {
    let token = admin("b");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let claims = json!({"org_id": "a", "role": "admin", "exp": now() + 3600});
    format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2])
}

fn ids_in(list: &Value) -> Vec<String> {
    list["integrations"]
        .as_array()
        .unwrap_or_else(|| panic!("a list reply: {list}"))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn another_orgs_admin_cannot_list_read_replace_delete_or_render_policies_for_an_integration() {
    let app = spawn_app().await;
    let a = seed_org_a(&app).await;
    let before = snapshot(&app, &a).await;
    assert_eq!(before.integrations.len(), 2);
    assert_eq!(ids_in(&before.list).len(), 2);
    let b = admin("b");

    let listed = app.get("/integrations", &b).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(ids_in(&listed.body), Vec::<String>::new(), "org B must see none of A's integrations");

    for (id, current) in a.ids().into_iter().zip(&before.integrations) {
        let path = format!("/integrations/{id}");
        let version = current["version"].as_u64().unwrap();
        let mut replacement = bucket_body("Hijacked by B", "b-bucket");
        replacement["version"] = json!(version);
        let mut full_copy = current.clone();
        full_copy["name"] = json!("Hijacked by B (full copy)");
        let version_header = version.to_string();
        let attempts: Vec<(&str, Reply)> = vec![
            ("GET", app.get(&path, &b).await),
            ("PUT with the right body version", app.put(&path, &b, &replacement).await),
            ("PUT of A's own JSON, edited", app.put(&path, &b, &full_copy).await),
            (
                "PUT with the right If-Match",
                app.call_with(
                    "PUT",
                    &path,
                    Some(&b),
                    Some(bucket_body("Hijacked by B", "b-bucket").to_string()),
                    &[("if-match", &version_header)],
                )
                .await,
            ),
            (
                "DELETE with the right If-Match",
                app.call_with("DELETE", &path, Some(&b), None, &[("if-match", &version_header)]).await,
            ),
            ("DELETE without If-Match", app.delete(&path, &b).await),
            ("GET policies", app.get(&format!("{path}/policies"), &b).await),
        ];
        for (what, reply) in attempts {
            assert_eq!(
                reply.status, 404,
                "org B's {what} on A's integration {id} must be 404, got {}: {}",
                reply.status, reply.body
            );
            assert_eq!(reply.code(), "NOT_FOUND", "{what}: {}", reply.body);
            assert!(!reply.message().is_empty(), "{what}: a 404 explains itself");
            for secret in ["A bucket images", "A default", "a-bucket", &a.external_id] {
                assert!(
                    !reply.body.to_string().contains(secret),
                    "{what}: the 404 must not leak A's data ({secret:?}): {}",
                    reply.body
                );
            }
        }
    }

    let b_items = app.stored_items("b").await;
    for id in a.ids() {
        assert!(
            !format!("{b_items:?}").contains(id),
            "B's failed attempts must not store anything about A's integration {id}: {b_items:?}"
        );
    }
    assert_eq!(snapshot(&app, &a).await, before, "org A's data must be unchanged after B's attempts");
}

#[tokio::test]
async fn another_org_gets_its_own_external_id_and_can_hold_the_same_scopes() {
    let app = spawn_app().await;
    let a = seed_org_a(&app).await;
    let before = snapshot(&app, &a).await;
    let b = admin("b");

    let trust = app.get("/policies/trust", &b).await;
    assert_eq!(trust.status, 200, "{}", trust.body);
    let b_external_id = trust.body["external_id"].as_str().unwrap();
    assert_ne!(b_external_id, a.external_id, "each org needs its own external ID");
    assert!(!trust.body.to_string().contains(&a.external_id), "{}", trust.body);
    let again = app.get("/policies/trust", &b).await;
    assert_eq!(again.body["external_id"], b_external_id, "B's external ID is stable");

    // Scopes are per org: B may claim exactly the scopes A holds.
    let mut same_bucket = bucket_body("B bucket images", "a-bucket");
    same_bucket["scope"]["prefix"] = json!("images/");
    let b_bucket = app.post("/integrations", &b, &same_bucket).await;
    assert_eq!(b_bucket.status, 201, "B may hold the same bucket scope as A: {}", b_bucket.body);
    assert_eq!(b_bucket.body["policies"]["trust"]["external_id"], b_external_id);
    let b_default = app.post("/integrations", &b, &default_body("B default", &["a-bucket", "a-other"])).await;
    assert_eq!(b_default.status, 201, "B may have its own default scope: {}", b_default.body);
    for created in [&b_bucket.body, &b_default.body] {
        let id = created["id"].as_str().unwrap();
        assert!(!a.ids().contains(&id), "B's integrations get their own ids");
        let from_a = app.get(&format!("/integrations/{id}"), &admin("a")).await;
        assert_eq!(from_a.status, 404, "A cannot see B's integration either: {}", from_a.body);
    }
    let b_policies =
        app.get(&format!("/integrations/{}/policies", b_bucket.body["id"].as_str().unwrap()), &b).await;
    assert_eq!(b_policies.status, 200, "{}", b_policies.body);
    assert_eq!(b_policies.body["trust"]["external_id"], b_external_id);

    let mut b_ids = ids_in(&app.get("/integrations", &b).await.body);
    b_ids.sort();
    let mut expected = vec![
        b_bucket.body["id"].as_str().unwrap().to_owned(),
        b_default.body["id"].as_str().unwrap().to_owned(),
    ];
    expected.sort();
    assert_eq!(b_ids, expected, "B lists exactly its own integrations");

    // Still unique within one org.
    let clash = app.post("/integrations", &b, &same_bucket).await;
    assert_eq!((clash.status, clash.code()), (409, "SCOPE_CONFLICT"), "{}", clash.body);
    assert!(
        !clash.message().contains("A bucket images"),
        "a conflict in B must not name A's integration: {}",
        clash.message()
    );

    assert_eq!(snapshot(&app, &a).await, before, "org A's data must be unchanged after B's writes");
}

#[tokio::test]
async fn a_member_gets_403_on_every_admin_route_and_changes_nothing() {
    let app = spawn_app().await;
    let a = seed_org_a(&app).await;
    let before = snapshot(&app, &a).await;
    let member = member("a");
    let id = &a.bucket_id;
    let replacement = {
        let mut body = bucket_body("Changed by a member", "a-bucket");
        body["version"] = json!(1);
        body
    };
    let access = json!({"scope": {"type": "bucket", "bucket": "a-bucket"}});
    let missing_id = ulid::Ulid::new().to_string();
    let requests: Vec<(String, String, Option<String>)> = vec![
        ("POST".into(), "/integrations".into(), Some(bucket_body("By a member", "m-bucket").to_string())),
        ("POST".into(), "/integrations".into(), Some("{not json".into())),
        ("GET".into(), "/integrations".into(), None),
        ("GET".into(), format!("/integrations/{id}"), None),
        ("GET".into(), format!("/integrations/{missing_id}"), None),
        ("PUT".into(), format!("/integrations/{id}"), Some(replacement.to_string())),
        ("DELETE".into(), format!("/integrations/{id}"), None),
        ("DELETE".into(), format!("/integrations/{}", a.default_id), None),
        ("GET".into(), format!("/integrations/{id}/policies"), None),
        ("GET".into(), "/policies/trust".into(), None),
        ("POST".into(), "/policies/access".into(), Some(access.to_string())),
        ("GET".into(), "/policies/cors".into(), None),
    ];
    for (method, path, body) in &requests {
        let reply = app.call_with(method, path, Some(&member), body.clone(), &[]).await;
        assert_eq!(
            reply.status, 403,
            "member {method} {path} must be 403, got {}: {}",
            reply.status, reply.body
        );
        assert_eq!(reply.code(), "FORBIDDEN", "member {method} {path}: {}", reply.body);
        assert!(reply.message().contains("admin"), "member {method} {path}: {}", reply.message());
        assert!(
            !reply.body.to_string().contains(&a.external_id),
            "member {method} {path} must not see the external ID: {}",
            reply.body
        );
    }
    assert_eq!(snapshot(&app, &a).await, before, "a member's attempts must change nothing");

    // A member of an org without an external ID does not create one by asking for the trust policy.
    let fresh = app.get("/policies/trust", &crate::helpers::member("fresh")).await;
    assert_eq!(fresh.status, 403, "{}", fresh.body);
    assert!(app.stored_items("fresh").await.is_empty(), "a forbidden request must store nothing");
}

#[tokio::test]
async fn requests_without_a_valid_token_get_401_with_a_message_on_every_route() {
    let app = spawn_app().await;
    let a = seed_org_a(&app).await;
    let before = snapshot(&app, &a).await;
    let id = &a.bucket_id;
    let future = now() + 3600;

    let expired =
        signed(JWT_SECRET, &json!({"org_id": "a", "role": "admin", "exp": now() - 120, "iat": now() - 3720}));
    let tokens: Vec<(&str, Option<String>, &str)> = vec![
        ("no Authorization header", None, "Authorization"),
        (
            "a token signed with another secret",
            Some(devserver::mint_token("another-secret-0123456789abcdef", "a", "admin", 3600)),
            "invalid",
        ),
        ("an expired token", Some(expired), "expired"),
        ("a garbage bearer", Some("not-a-jwt".into()), "invalid"),
        ("an empty bearer", Some(String::new()), "token"),
        (
            "a token with no org_id claim",
            Some(signed(JWT_SECRET, &json!({"role": "admin", "exp": future}))),
            "org_id",
        ),
        (
            "a token with an empty org_id",
            Some(signed(JWT_SECRET, &json!({"org_id": "", "role": "admin", "exp": future}))),
            "org_id",
        ),
        (
            "a token with no exp claim",
            Some(signed(JWT_SECRET, &json!({"org_id": "a", "role": "admin"}))),
            "token",
        ),
        ("an unsigned alg=none token", Some(unsigned_admin_token()), "invalid"),
        (
            "an HS512 token (wrong algorithm)",
            Some(signed_with(
                Algorithm::HS512,
                JWT_SECRET,
                &json!({"org_id": "a", "role": "admin", "exp": future}),
            )),
            "invalid",
        ),
        ("a token whose payload was edited after signing", Some(tampered_token()), "invalid"),
    ];
    let put_body = {
        let mut body = bucket_body("Changed without identity", "a-bucket");
        body["version"] = json!(1);
        body.to_string()
    };
    let routes: Vec<(&str, String, Option<String>)> = vec![
        ("GET", "/integrations".into(), None),
        ("POST", "/integrations".into(), Some(bucket_body("No identity", "x-bucket").to_string())),
        ("GET", format!("/integrations/{id}"), None),
        ("PUT", format!("/integrations/{id}"), Some(put_body)),
        ("DELETE", format!("/integrations/{id}"), None),
        ("GET", format!("/integrations/{id}/policies"), None),
        ("GET", "/policies/trust".into(), None),
        (
            "POST",
            "/policies/access".into(),
            Some(json!({"scope": {"type": "default", "buckets": ["x"]}}).to_string()),
        ),
        ("GET", "/policies/cors".into(), None),
        ("POST", "/presign".into(), Some(json!({"locators": ["s3://a-bucket/images/1.jpg"]}).to_string())),
    ];
    for (what, token, mentions) in &tokens {
        for (method, path, body) in &routes {
            let reply = app.call_with(method, path, token.as_deref(), body.clone(), &[]).await;
            let case = format!("{what}: {method} {path}");
            assert_eq!(reply.status, 401, "{case} must be 401, got {}: {}", reply.status, reply.body);
            assert_eq!(reply.code(), "UNAUTHORIZED", "{case}: {}", reply.body);
            assert!(
                reply.message().contains(mentions),
                "{case}: message should mention {mentions:?}: {}",
                reply.message()
            );
            assert!(!reply.body.to_string().contains(&a.external_id), "{case}: {}", reply.body);
        }
    }

    // A non-bearer scheme is refused too.
    let basic =
        app.call_with("GET", "/integrations", None, None, &[("authorization", "Basic YTphZG1pbg==")]).await;
    assert_eq!((basic.status, basic.code()), (401, "UNAUTHORIZED"), "Basic auth: {}", basic.body);
    assert!(basic.message().contains("Bearer"), "{}", basic.message());

    assert_eq!(snapshot(&app, &a).await, before, "unauthenticated requests must change nothing");
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404_and_a_wrong_method_on_a_known_path_is_a_405() {
    let app = spawn_app().await;
    let token = admin("a");
    let id = ulid::Ulid::new().to_string();
    for path in ["/nope", "/integration", "/integrations/{id}/extra", "/policies", "/policies/unknown", "/"] {
        let path = path.replace("{id}", &id);
        let reply = app.get(&path, &token).await;
        assert_eq!(reply.status, 404, "GET {path}: {}", reply.body);
        assert_eq!(reply.code(), "NOT_FOUND", "GET {path}: {}", reply.body);
        assert!(
            reply.message().contains(&path),
            "GET {path}: the message names the path: {}",
            reply.message()
        );
        assert!(
            reply
                .headers
                .get("content-type")
                .is_some_and(|v| v.to_str().unwrap().starts_with("application/json")),
            "GET {path}: a JSON error"
        );
    }
    let wrong_methods = [
        ("DELETE", "/integrations".to_owned(), &["GET", "POST"][..]),
        ("PATCH", format!("/integrations/{id}"), &["GET", "PUT", "DELETE"][..]),
        ("POST", format!("/integrations/{id}"), &["GET", "PUT", "DELETE"][..]),
        ("POST", "/policies/trust".to_owned(), &["GET"][..]),
        ("GET", "/policies/access".to_owned(), &["POST"][..]),
        ("DELETE", "/policies/cors".to_owned(), &["GET"][..]),
        ("PUT", format!("/integrations/{id}/policies"), &["GET"][..]),
        ("GET", "/presign".to_owned(), &["POST"][..]),
    ];
    for (method, path, allowed) in wrong_methods {
        let reply = app.call_with(method, &path, Some(&token), None, &[]).await;
        assert_eq!(reply.status, 405, "{method} {path}: {}", reply.body);
        assert_eq!(reply.code(), "METHOD_NOT_ALLOWED", "{method} {path}: {}", reply.body);
        for m in allowed {
            assert!(
                reply.message().contains(m),
                "{method} {path}: the message names {m}: {}",
                reply.message()
            );
        }
    }
    assert!(app.stored_items("a").await.is_empty(), "unroutable requests store nothing");
}
