//! Every sample event in `events/` (what `sam local invoke -e` and `cargo lambda invoke
//! --data-file` send) parses as an API Gateway v2 request and runs through its handler.

use crate::helpers::*;
use serde_json::{json, Value};
use shared::api::config::ApiConfig;

const SAMPLE_ID: &str = "01JDZ8W6Q4V3S2R1P0N9M8K7J6";

fn event(name: &str, id: &str) -> lambda_http::Request {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    lambda_http::request::from_str(&text.replace(SAMPLE_ID, id))
        .unwrap_or_else(|e| panic!("{name} is not an API Gateway v2 event: {e}"))
}

fn config(app: &TestApp) -> ApiConfig {
    api_config(app.store.table(), PLATFORM_PRINCIPAL)
}

#[tokio::test]
async fn every_integrations_event_runs_through_the_integrations_handler() {
    let app = spawn_app().await;
    let state = integrations_state(app.store.shared(), config(&app));

    let created = integrations::handle(&state, event("integrations-create.json", SAMPLE_ID)).await.unwrap();
    assert_eq!(created.status(), 201, "{}", response_json(&created));
    let id = response_json(&created)["id"].as_str().unwrap().to_owned();

    let listed = integrations::handle(&state, event("integrations-list.json", &id)).await.unwrap();
    assert_eq!(listed.status(), 200);
    assert_eq!(response_json(&listed)["integrations"][0]["id"], id.as_str());

    let fetched = integrations::handle(&state, event("integrations-get.json", &id)).await.unwrap();
    assert_eq!(fetched.status(), 200);

    let replaced = integrations::handle(&state, event("integrations-replace.json", &id)).await.unwrap();
    assert_eq!(replaced.status(), 200, "{}", response_json(&replaced));
    assert_eq!(response_json(&replaced)["version"], 2);

    // The delete event carries If-Match: 1, which is now stale.
    let stale = integrations::handle(&state, event("integrations-delete.json", &id)).await.unwrap();
    assert_eq!(stale.status(), 412);
}

#[tokio::test]
async fn every_policies_event_runs_through_the_policies_handler() {
    let app = spawn_app().await;
    let state = policies::State::new(app.store.shared(), config(&app));
    let integrations_state = integrations_state(app.store.shared(), config(&app));
    let created = integrations::handle(&integrations_state, event("integrations-create.json", SAMPLE_ID))
        .await
        .unwrap();
    let id = response_json(&created)["id"].as_str().unwrap().to_owned();

    let trust = policies::handle(&state, event("policies-trust.json", &id)).await.unwrap();
    assert_eq!(trust.status(), 200);
    let external_id = response_json(&trust)["external_id"].as_str().unwrap().to_owned();

    let access = policies::handle(&state, event("policies-access.json", &id)).await.unwrap();
    assert_eq!(access.status(), 200, "{}", response_json(&access));
    let statement = &response_json(&access)["policy"]["Statement"][0];
    assert_eq!(statement["Resource"], "arn:aws:s3:::bucket-a/images/*");

    let cors = policies::handle(&state, event("policies-cors.json", &id)).await.unwrap();
    assert_eq!(response_json(&cors)["cors"][0]["AllowedOrigins"][0], APP_ORIGIN);

    let all = policies::handle(&state, event("policies-for-integration.json", &id)).await.unwrap();
    assert_eq!(all.status(), 200);
    assert_eq!(response_json(&all)["trust"]["external_id"], external_id.as_str());
}

#[tokio::test]
async fn the_flattened_role_claim_of_the_sample_events_reads_as_admin_and_a_member_is_refused() {
    let app = spawn_app().await;
    let state = policies::State::new(app.store.shared(), config(&app));
    let path = format!("{}/../events/policies-cors.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap().replace("[admin]", "[member viewer]");
    let response = policies::handle(&state, lambda_http::request::from_str(&text).unwrap()).await.unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(response_json(&response)["error"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn the_presign_event_runs_through_the_presign_handler_for_a_member() {
    let app = spawn_app().await;
    let integrations_state = integrations_state(app.store.shared(), config(&app));
    let created = integrations::handle(&integrations_state, event("integrations-create.json", SAMPLE_ID))
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    // The plain emulator enforces no trust policy, so a probe there would succeed and refuse the
    // integration: it carries the proof a validation against AWS records.
    let created = response_json(&created);
    let id = created["id"].as_str().unwrap();
    let role = shared::RoleArn::parse(created["role_arn"].as_str().unwrap()).unwrap();
    let proof = shared::domain::external_id::ExternalIdProof::new(&role, true, std::time::SystemTime::now());
    let org = shared::domain::org::OrgId::parse("acme").unwrap();
    let unverified = shared::domain::integration::Status::unverified();
    assert!(
        app.store
            .record_report(&org, &shared::domain::audit::Actor::direct(), id, 1, &unverified, Some(&proof))
            .await
            .unwrap(),
        "recorded"
    );

    let aws = aws_config().await;
    let cache = shared::aws::credentials::CredentialCache::new(
        shared::aws::credentials::sts_client(&aws),
        shared::aws::credentials::CacheConfig::default(),
    );
    let state =
        presign::State::new(app.store.shared(), cache, memory_sealer(), presign_config(app.store.table()));
    let response = presign::handle(&state, event("presign.json", SAMPLE_ID)).await.unwrap();
    assert_eq!(response.status(), 200, "{}", response_json(&response));
    let results = response_json(&response)["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 4);
    assert!(results[0]["url"].as_str().unwrap().contains("/bucket-a/images/cat%2001.jpg?"), "{}", results[0]);
    // The sample integration has file versioning off, so a version cannot be served.
    assert_eq!(results[1]["error"]["code"], "VERSIONING_DISABLED", "{}", results[1]);
    assert_eq!(results[2]["url"], "https://cdn.example.com/logo.png");
    assert_eq!(results[3]["error"]["code"], "UNSUPPORTED_LOCATOR");

    // The deployed entry point answers the same, in the envelope it writes itself.
    let envelope = presign::handle_event(&state, event("presign.json", SAMPLE_ID)).await;
    let envelope: Value = serde_json::from_str(envelope.as_str()).unwrap();
    assert_eq!(envelope["statusCode"], 200, "{envelope}");
    assert_eq!(envelope["headers"]["content-type"], "application/json");
    assert_eq!((envelope["isBase64Encoded"].clone(), envelope["cookies"].clone()), (json!(false), json!([])));
    let again: Value = serde_json::from_str(envelope["body"].as_str().unwrap()).unwrap();
    let shape = |r: &Value| (r["locator"].clone(), r["error"]["code"].clone(), r["url"].is_string());
    let shapes = |v: &[Value]| v.iter().map(shape).collect::<Vec<_>>();
    assert_eq!(shapes(again["results"].as_array().unwrap()), shapes(&results));
    // Links: made from the sample, followed through the deployed entry point with no claims.
    let envelope = presign::handle_event(&state, event("links-create.json", SAMPLE_ID)).await;
    let envelope: Value = serde_json::from_str(envelope.as_str()).unwrap();
    let made: Value = serde_json::from_str(envelope["body"].as_str().unwrap()).unwrap();
    let link = made["results"][0]["link"].as_str().unwrap_or_else(|| panic!("{made}"));
    let token = link.rsplit('/').next().unwrap();
    let sample = event("links-follow.json", SAMPLE_ID);
    let sample_token = sample.uri().path().rsplit('/').next().unwrap().to_owned();
    let text = std::fs::read_to_string(format!("{}/../events/links-follow.json", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    let followed = lambda_http::request::from_str(&text.replace(&sample_token, token)).unwrap();
    let envelope: Value =
        serde_json::from_str(presign::handle_event(&state, followed).await.as_str()).unwrap();
    assert_eq!(envelope["statusCode"], 307, "{envelope}");
    assert!(
        envelope["headers"]["location"].as_str().unwrap().contains("/bucket-a/images/cat%2001.jpg?"),
        "{envelope}"
    );
    let envelope: Value = serde_json::from_str(presign::handle_event(&state, sample).await.as_str()).unwrap();
    assert_eq!(envelope["statusCode"], 403, "the sample's token is not one this service signed: {envelope}");
    assert!(envelope["body"].as_str().unwrap().contains("LINK_INVALID"), "{envelope}");
    // An error answer, through the same entry point.
    let mut bad = event("presign.json", SAMPLE_ID);
    *bad.body_mut() = lambda_http::Body::Text("not json".into());
    let envelope: Value = serde_json::from_str(presign::handle_event(&state, bad).await.as_str()).unwrap();
    assert_eq!(envelope["statusCode"], 400, "{envelope}");
    assert!(envelope["body"].as_str().unwrap().contains("INVALID_JSON"), "{envelope}");
}
