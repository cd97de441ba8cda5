//! External-ID rotation end to end, in the IAM-enforcing emulator: the customer's role is
//! assumed only with what its trust policy names, so each step of the walk is what AWS would do.
//!
//! Abuses each test stands for: completing while a role still needs the old ID (refused, naming
//! it), presign breaking mid-rotation (it falls back to the previous ID), and a role left on the
//! old ID after the overlap (denied, naming the fix).

use crate::helpers::*;
use crate::moto::CUSTOMER_ACCOUNT;
use crate::platform::*;
use serde_json::{json, Value};
use shared::aws::store::IntegrationStore;
use shared::domain::audit::Actor;
use shared::domain::org::OrgId;
use std::time::{Duration, SystemTime};

const ORG: &str = "acme";

/// A platform whose presign caches no denial, so a trust policy changed mid-test is seen at once.
async fn platform() -> Platform {
    Platform::start_with(|options| {
        options.presign_env.push(("ASSUME_FAILURE_CACHE_SECONDS".to_owned(), "0".to_owned()));
    })
    .await
}

async fn presign_works(p: &Platform, locator: &str, bytes: &[u8]) {
    let reply =
        bounded("presign", p.app.post("/presign", &member(ORG), &json!({ "locators": [locator] }))).await;
    let result = &reply.body["results"][0];
    let url = result["url"].as_str().unwrap_or_else(|| panic!("no URL: {result}"));
    let fetched = bounded("GET", reqwest::get(url)).await.unwrap();
    assert_eq!(fetched.status().as_u16(), 200, "{url}");
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), bytes);
}

async fn validate(p: &Platform, id: &str) -> Value {
    let reply =
        bounded("validate", p.app.post(&format!("/integrations/{id}/validate"), &admin(ORG), &json!({})))
            .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

fn check<'r>(report: &'r Value, code: &str) -> &'r Value {
    report["checks"].as_array().unwrap().iter().find(|c| c["code"] == code).unwrap_or(&Value::Null)
}

/// A platform enforcing IAM whose org has one integration, `name`, through the role `role` (which
/// trusts the org's current external ID) over a new bucket holding `key` = `bytes`: the platform,
/// the integration's id and the object's locator.
async fn serving(
    bucket: &str,
    role: &str,
    name: &str,
    key: &str,
    bytes: &[u8],
) -> (Platform, String, String) {
    let p = platform().await;
    let bucket = p.bucket(bucket).await;
    p.put(&bucket, key, bytes).await;
    let scope = bucket_scope(&bucket);
    let access = p.access_policy(&scope, false).await;
    let role = p.moto.create_role(role, &p.trust, &access).await;
    let id = p.save_integration(name, &role, &scope, false, "us-east-1").await;
    p.enforce().await;
    (p, id, format!("s3://{bucket}/{key}"))
}

/// The rendered trust policy naming only `external_id`.
fn trust_naming(p: &Platform, external_id: &str) -> String {
    p.trust.replace(&p.external_id, external_id)
}

#[tokio::test]
async fn a_full_rotation_keeps_presign_working_from_rotate_through_both_ids_to_the_new_one_and_complete() {
    let (p, id, locator) = serving("rotating", "rotating-role", "Rotating", "a.txt", b"rotating bytes").await;
    presign_works(&p, &locator, b"rotating bytes").await;
    let old = p.external_id.clone();

    // 1. Rotate: the trust policy names both IDs, the new one first.
    let rotated = bounded("rotate", p.app.post("/policies/trust/rotate", &admin(ORG), &json!({}))).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new = rotated.body["external_id"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(rotated.body["rotation"]["previous_external_id"], old.as_str());
    let both = rotated.body["text"].as_str().unwrap().to_owned();
    assert!(both.contains(&new) && both.contains(&old), "{both}");

    // 2. The role still trusts only the old ID: presign falls back to it; validation says so, and
    //    completing is refused naming the integration.
    presign_works(&p, &locator, b"rotating bytes").await;
    let report = validate(&p, &id).await;
    assert_eq!(check(&report, "ASSUME_ROLE")["result"], "pass", "{report}");
    assert_eq!(check(&report, "EXTERNAL_ID_ROTATION")["result"], "warn", "{report}");
    let refused =
        bounded("complete", p.app.post("/policies/trust/rotate/complete", &admin(ORG), &json!({}))).await;
    assert_eq!((refused.status, refused.body["error"]["code"].as_str()), (409, Some("ROTATION_NOT_READY")));
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("\"Rotating\""), "{}", refused.body);

    // 3. The customer pastes the two-ID trust policy, then the new-ID-only one: presign never stops.
    p.moto.update_trust(CUSTOMER_ACCOUNT, "rotating-role", &both).await;
    presign_works(&p, &locator, b"rotating bytes").await;
    let report = validate(&p, &id).await;
    assert_eq!(check(&report, "EXTERNAL_ID_ROTATION")["result"], "pass", "{report}");
    p.moto.update_trust(CUSTOMER_ACCOUNT, "rotating-role", &trust_naming(&p, &new)).await;
    presign_works(&p, &locator, b"rotating bytes").await;
    let report = validate(&p, &id).await;
    assert_eq!(check(&report, "ASSUME_ROLE")["result"], "pass", "{report}");
    assert_eq!(check(&report, "EXTERNAL_ID_ROTATION")["result"], "pass", "{report}");
    assert_eq!(check(&report, "EXTERNAL_ID_REQUIRED")["result"], "pass", "the probe still holds: {report}");

    // 4. Complete: one ID again, and presign still works through it.
    let done =
        bounded("complete", p.app.post("/policies/trust/rotate/complete", &admin(ORG), &json!({}))).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.get("rotation").is_none());
    assert!(!done.body["text"].as_str().unwrap().contains(&old));
    presign_works(&p, &locator, b"rotating bytes").await;

    // Both steps are in the audit trail, as the admin who took them.
    let audit = bounded("audit", p.app.get("/audit", &admin(ORG))).await;
    let actions: Vec<&str> =
        audit.body["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    let position =
        |action: &str| actions.iter().position(|a| *a == action).unwrap_or_else(|| panic!("{actions:?}"));
    assert!(
        position("external_id.rotation_completed") < position("external_id.rotation_started"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_role_left_on_the_old_id_works_during_the_overlap_and_is_denied_naming_the_fix_after_it() {
    let (p, id, locator) = serving("left", "left-behind", "Left behind", "b.txt", b"left bytes").await;
    // The rotation as the API starts it, with an overlap of seconds instead of days.
    let org = OrgId::parse(ORG).unwrap();
    let now = SystemTime::now();
    p.app.store.rotate_external_id(&org, &Actor::direct(), now, now + Duration::from_secs(4)).await.unwrap();
    presign_works(&p, &locator, b"left bytes").await;

    tokio::time::sleep(Duration::from_secs(5)).await;
    let reply =
        bounded("presign", p.app.post("/presign", &member(ORG), &json!({ "locators": [locator] }))).await;
    let error = &reply.body["results"][0]["error"];
    assert_eq!(error["code"], "ASSUME_ROLE_DENIED", "{}", reply.body);
    assert!(error["message"].as_str().unwrap().contains("GET /policies/trust"), "{error}");
    let report = validate(&p, &id).await;
    let assume = check(&report, "ASSUME_ROLE");
    assert_eq!(assume["result"], "fail", "{report}");
    assert!(assume["message"].as_str().unwrap().contains("sts:ExternalId"), "{assume}");
    let trust = bounded("trust", p.app.get("/policies/trust", &admin(ORG))).await;
    assert!(trust.body.get("rotation").is_none(), "the overlap ended by itself: {}", trust.body);
}
