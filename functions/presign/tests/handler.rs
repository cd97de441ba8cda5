#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The presign handler on the in-memory store and STS: signing through a role proven to demand
//! the org's external ID, refusing roles that would serve any org, per-locator errors, outages
//! and the org boundary, in milliseconds and without an emulator. `tests/api/presign.rs` runs the
//! same handler against the emulators and proves the URLs against a real S3 server.

mod common;

use serde_json::{json, Value};
use shared::api::testkit::{status_and_json, ApiEvent};
use shared::aws::credentials::{CacheConfig, CredentialCache, MemoryAssumer, RoleTrust};
use shared::aws::secrets::{MemorySealer, SecretSealer};
use shared::aws::store::{IntegrationStore, MemoryStore};
use shared::domain::integration::{Access, IntegrationDraft};
use shared::domain::org::OrgId;
use shared::domain::s3_compatible::SecretInput;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const ROLE: &str = "arn:aws:iam::210987654321:role/platform-read";

struct Fixture {
    state: presign::State,
    sealer: Arc<MemorySealer>,
    store: Arc<MemoryStore>,
    sts: Arc<MemoryAssumer>,
}

fn fixture() -> Fixture {
    fixture_with(&[])
}

/// The fixture with `LINK_*`, cache or other presign settings of the test's own.
fn fixture_with(settings: &[(&str, &str)]) -> Fixture {
    let config = common::config(settings);
    let store = Arc::new(MemoryStore::new());
    let sts = Arc::new(MemoryAssumer::new(Duration::from_secs(3600)));
    let credentials =
        CredentialCache::with_assumer(sts.clone(), CacheConfig::default(), Arc::new(SystemTime::now));
    let sealer = Arc::new(MemorySealer::new());
    Fixture {
        state: presign::State::new(store.clone(), credentials, sealer.clone(), config),
        sealer,
        store,
        sts,
    }
}

impl Fixture {
    /// An integration of `org` for `bucket` through `role`, with the org's external ID created.
    async fn integration(&self, org: &str, bucket: &str, role: &str) -> String {
        let org = OrgId::parse(org).unwrap();
        let draft = IntegrationDraft::role_from_json(&json!({
            "name": bucket, "role_arn": role, "region": "us-east-1",
            "scope": {"type": "bucket", "bucket": bucket}
        }))
        .unwrap();
        self.store.create(&org, draft).await.unwrap();
        self.store.external_id(&org).await.unwrap().as_str().to_owned()
    }

    /// An S3-compatible integration of `org` for `bucket`, its secret sealed as the integrations
    /// function seals it.
    async fn store_integration(&self, org: &str, bucket: &str, endpoint: &str, style: &str) -> String {
        let org = OrgId::parse(org).unwrap();
        let draft = IntegrationDraft::from_json(&json!({
            "kind": "s3_compatible", "name": bucket, "endpoint": endpoint, "addressing_style": style,
            "region": "auto", "access_key_id": "store-key", "secret_access_key": "store/secret/key/0123456789",
            "scope": {"type": "bucket", "bucket": bucket}
        }))
        .unwrap();
        let secret = match &draft.access {
            Access::S3Compatible(store) => match &store.secret {
                SecretInput::New(secret) => self.sealer.seal(&org, secret).await.unwrap(),
                SecretInput::Keep => unreachable!(),
            },
            Access::AwsRole(_) => unreachable!(),
        };
        let draft = draft.map_secret(|_| Ok::<_, ()>(secret)).unwrap();
        self.store.create(&org, draft).await.unwrap().id
    }

    async fn presign(&self, org: &str, locators: &[&str]) -> Vec<Value> {
        let event = ApiEvent::post("/presign", &json!({ "locators": locators })).member_of(org);
        let (status, body) = status_and_json(&presign::handle(&self.state, event.request()).await.unwrap());
        assert_eq!(status, 200, "{body}");
        body["results"].as_array().cloned().unwrap()
    }
}

fn code(result: &Value) -> &str {
    result["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_member_gets_a_url_signed_with_the_roles_temporary_credentials() {
    let f = fixture();
    let external_id = f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    let results = f.presign("acme", &["s3://acme-photos/cats/01.jpg"]).await;
    let url = results[0]["url"].as_str().unwrap_or_else(|| panic!("{results:?}"));
    assert!(url.starts_with("https://acme-photos.s3.us-east-1.amazonaws.com/cats/01.jpg?"), "{url}");
    assert!(
        url.contains("X-Amz-Credential=ASIAMEMORY")
            && url.contains("X-Amz-Security-Token=memory-session-token"),
        "{url}"
    );
    assert_eq!(f.sts.calls(), 2, "the assume and the probe that proves the external ID is required");
    f.presign("acme", &["s3://acme-photos/cats/02.jpg"]).await;
    assert_eq!(f.sts.calls(), 2, "warm credentials: no STS call for the next batch");
}

#[tokio::test]
async fn a_role_that_admits_any_external_id_is_never_signed_through() {
    let f = fixture();
    f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::AnyExternalId);
    let results = f.presign("acme", &["s3://acme-photos/cats/01.jpg"]).await;
    assert_eq!(code(&results[0]), "EXTERNAL_ID_NOT_ENFORCED", "{results:?}");
    assert!(results[0].get("url").is_none());
}

#[tokio::test]
async fn each_locator_gets_its_own_answer_in_order() {
    let f = fixture();
    let external_id = f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    let results = f
        .presign(
            "acme",
            &["s3://elsewhere/x.jpg", "https://cdn.example.com/a.png", "s3://acme-photos/a.jpg", "gs://b/k"],
        )
        .await;
    assert_eq!(code(&results[0]), "NO_INTEGRATION");
    assert_eq!(results[1]["url"], "https://cdn.example.com/a.png", "https URLs pass through");
    assert!(results[2]["url"].is_string(), "{:?}", results[2]);
    assert_eq!(code(&results[3]), "UNSUPPORTED_LOCATOR");
}

#[tokio::test]
async fn another_org_cannot_sign_through_acmes_integration() {
    let f = fixture();
    let external_id = f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    let results = f.presign("globex", &["s3://acme-photos/cats/01.jpg"]).await;
    assert_eq!(code(&results[0]), "NO_INTEGRATION", "{results:?}");
    assert_eq!(f.sts.calls(), 0);
}

#[tokio::test]
async fn an_sts_outage_is_a_per_locator_error_on_the_platforms_side() {
    let f = fixture();
    let external_id = f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    f.sts.set_unavailable(true);
    let results = f.presign("acme", &["s3://acme-photos/a.jpg", "s3://acme-photos/b.jpg"]).await;
    assert!(results.iter().all(|r| code(r) == "ASSUME_ROLE_FAILED"), "{results:?}");
    assert!(results[0]["error"]["message"].as_str().unwrap().contains("platform's side"));
}

#[tokio::test]
async fn revoked_trust_is_a_denial_once_the_cached_failure_expires() {
    let f = fixture();
    f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::OtherPrincipal);
    let results = f.presign("acme", &["s3://acme-photos/a.jpg"]).await;
    assert_eq!(code(&results[0]), "ASSUME_ROLE_DENIED", "{results:?}");
}

#[tokio::test]
async fn a_body_that_is_not_a_presign_request_is_a_400_naming_the_problem() {
    let f = fixture();
    for (body, expected) in [
        ("[]", "INVALID_BODY"),
        ("{\"locators\": 3}", "INVALID_TYPE"),
        ("{", "INVALID_JSON"),
        ("{\"urls\": []}", "UNKNOWN_FIELD"),
    ] {
        let event = ApiEvent::new("POST", "/presign").body(body).member_of("acme");
        let (status, answer) = status_and_json(&presign::handle(&f.state, event.request()).await.unwrap());
        assert_eq!((status, answer["error"]["code"].as_str()), (400, Some(expected)), "{body}: {answer}");
    }
}

#[tokio::test]
async fn the_deployed_envelope_carries_exactly_the_answer_the_handler_gives() {
    let f = fixture();
    let external_id = f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    let locators = json!([
        "s3://acme-photos/a \"quoted\" \\ back/slash.png",
        "s3://acme-photos/ünï 李/tab\there.jpg?versionId=v1",
        "s3://acme-photos/line\nfeed.png",
        "s3://other-bucket/x.png",
        "https://example.com/\"as-is\"",
        7,
    ]);
    let body = json!({ "locators": locators });
    let event = || ApiEvent::post("/presign", &body).member_of("acme").request();
    let (status, direct) = status_and_json(&presign::handle(&f.state, event()).await.unwrap());
    assert_eq!(status, 200, "{direct}");
    let envelope: Value =
        serde_json::from_str(presign::handle_event(&f.state, event()).await.as_str()).unwrap();
    assert_eq!(envelope["statusCode"], 200);
    let enveloped: Value = serde_json::from_str(envelope["body"].as_str().unwrap()).unwrap();
    let without_times = |mut v: Value| {
        // The two calls sign a second apart at most: compare the URLs without their dates.
        for r in v["results"].as_array_mut().unwrap() {
            if let Some(url) = r["url"].as_str() {
                r["url"] = json!(url.split("X-Amz-Date").next().unwrap());
                r["expires_at"] = Value::Null;
            }
        }
        v
    };
    assert_eq!(without_times(enveloped), without_times(direct.clone()));
    let results = direct["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    for (result, sent) in results.iter().zip(locators.as_array().unwrap()) {
        assert_eq!(&result["locator"], sent, "every locator comes back exactly as sent");
    }
    assert!(
        results[0]["url"].as_str().unwrap().contains("a%20%22quoted%22%20%5C%20back/slash.png"),
        "{}",
        results[0]
    );
}

/// 1,000 locators of 1,024-byte keys that encode to three bytes a byte (`é` is `%C3%A9`), all
/// served by one integration whose credentials carry a session token of `token_chars` characters.
async fn longest_batch(token_chars: usize) -> (Fixture, Vec<String>) {
    let f = fixture();
    let external_id = f.integration("acme", "acme-photos", ROLE).await;
    let org = OrgId::parse("acme").unwrap();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let token: String = (0..token_chars).map(|i| char::from(alphabet[i % alphabet.len()])).collect();
    let credentials = shared::aws::credentials::TempCredentials {
        signing: shared::domain::presign::SigningCredentials {
            access_key_id: "ASIALONGTOKEN0000000".into(),
            secret_access_key: "secret".into(),
            session_token: Some(token),
        },
        expires_at: SystemTime::now() + Duration::from_secs(3600),
    };
    let id = shared::domain::external_id::ExternalId::parse(&external_id).unwrap();
    let integration_id = f.store.list_all(&org).await.unwrap()[0].id.clone();
    f.state.credentials().prime_for_integration(&org, &integration_id, ROLE, &id, credentials).await;
    f.sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    let locators = (0..1000).map(|i| format!("s3://acme-photos/{i:04}{}", "é".repeat(510))).collect();
    (f, locators)
}

async fn answer(f: &Fixture, locators: &[String]) -> (Value, usize) {
    let event = ApiEvent::post("/presign", &json!({ "locators": locators })).member_of("acme");
    let text = presign::handle_event(&f.state, event.request()).await;
    (serde_json::from_str(text.as_str()).unwrap(), text.as_str().len())
}

#[tokio::test]
async fn the_longest_batch_with_a_1100_character_session_token_fits_in_a_lambda_response() {
    let (f, locators) = longest_batch(1100).await;
    assert_eq!(locators[0].len(), "s3://acme-photos/".len() + 1024);
    let (envelope, bytes) = answer(&f, &locators).await;
    assert_eq!(envelope["statusCode"], 200, "{}", &envelope["body"].as_str().unwrap()[..300]);
    let body: Value = serde_json::from_str(envelope["body"].as_str().unwrap()).unwrap();
    let results = body["results"].as_array().unwrap();
    assert!(results.iter().all(|r| r["url"].is_string()), "every locator signed");
    eprintln!(
        "worst case: 1,000 locators of 1,024-byte keys (each byte %-encoded), a 1,100-character token: \
         {bytes} bytes of {} allowed; one URL is {} bytes",
        presign::MAX_RESPONSE_BYTES,
        results[0]["url"].as_str().unwrap().len()
    );
    assert!(bytes <= presign::MAX_RESPONSE_BYTES, "{bytes}");
}

#[tokio::test]
async fn an_answer_too_large_for_lambda_is_a_413_naming_how_many_locators_fit() {
    let (f, locators) = longest_batch(2400).await;
    let (envelope, bytes) = answer(&f, &locators).await;
    assert!(bytes < 2000, "no URL is sent: {bytes} bytes");
    assert_eq!(envelope["statusCode"], 413, "{envelope}");
    let body: Value = serde_json::from_str(envelope["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "PAYLOAD_TOO_LARGE", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    let fit: usize = message
        .split("The first ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the message names how many fit: {message}"));
    assert!((1..1000).contains(&fit), "{message}");
    // That many do fit, and one more would not have.
    let (envelope, bytes) = answer(&f, &locators[..fit]).await;
    assert_eq!(envelope["statusCode"], 200);
    assert!(bytes <= presign::MAX_RESPONSE_BYTES);
    let (envelope, _) = answer(&f, &locators[..fit + 1]).await;
    assert_eq!(envelope["statusCode"], 413, "the count is exact");
}

#[tokio::test]
async fn a_store_locator_is_signed_with_the_stores_own_keys_at_its_endpoint_without_a_session_token() {
    let f = fixture();
    f.store_integration("acme", "minio-photos", "https://minio.example.com:9000", "path").await;
    f.store_integration("acme", "r2-photos", "https://r2.example.com", "virtual").await;
    let results = f.presign("acme", &["s3://minio-photos/cats/01.jpg", "s3://r2-photos/a b.png"]).await;
    let path = results[0]["url"].as_str().unwrap_or_else(|| panic!("{results:?}"));
    assert!(path.starts_with("https://minio.example.com:9000/minio-photos/cats/01.jpg?"), "{path}");
    assert!(
        path.contains("X-Amz-Credential=store-key%2F") && path.contains("%2Fauto%2Fs3%2Faws4_request"),
        "{path}"
    );
    assert!(!path.contains("X-Amz-Security-Token"), "store keys carry no session token: {path}");
    let virtual_hosted = results[1]["url"].as_str().unwrap();
    assert!(virtual_hosted.starts_with("https://r2-photos.r2.example.com/a%20b.png?"), "{virtual_hosted}");
    assert_eq!(f.sts.calls(), 0, "no role is assumed for a store");
}

#[tokio::test]
async fn a_stores_secret_is_opened_once_per_warm_instance_and_a_kms_outage_fails_only_its_locators() {
    let f = fixture();
    f.store_integration("acme", "minio-photos", "https://minio.example.com", "path").await;
    f.store_integration("acme", "minio-videos", "https://minio.example.com", "path").await;
    let first = f.presign("acme", &["s3://minio-photos/a.jpg"]).await;
    assert!(first[0]["url"].is_string(), "{first:?}");
    f.sealer.unavailable.store(true, std::sync::atomic::Ordering::Relaxed);
    let results = f.presign("acme", &["s3://minio-photos/b.jpg", "s3://minio-videos/c.mp4"]).await;
    assert!(results[0]["url"].is_string(), "the opened secret stays warm: {results:?}");
    assert_eq!(code(&results[1]), "STORE_KEYS_UNAVAILABLE", "{results:?}");
    assert!(!results[1].to_string().contains("store/secret"), "{results:?}");
}

async fn presign_body(f: &Fixture, org: &str, body: Value) -> (u16, Value) {
    let event = ApiEvent::post("/presign", &body).member_of(org);
    status_and_json(&presign::handle(&f.state, event.request()).await.unwrap())
}

#[tokio::test]
async fn a_locator_object_asks_for_a_download_name_and_a_media_type_signed_into_its_url() {
    let f = fixture();
    let external_id = f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    let (status, body) = presign_body(
        &f,
        "acme",
        json!({"locators": [
            {"locator": "s3://acme-photos/v/clip.webm", "download_as": "Clïp \"1\"; final.webm", "content_type": "video/webm"},
            "s3://acme-photos/cats/01.jpg",
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["locator"], "s3://acme-photos/v/clip.webm", "the locator as text");
    let url = results[0]["url"].as_str().unwrap();
    assert!(
        url.contains(
            "&response-content-disposition=attachment%3B%20filename%3D%22Cl_p%20_1_%3B%20final.webm%22"
        ) && url.contains("filename%2A%3DUTF-8%27%27Cl%25C3%25AFp%2520%25221%2522%253B%2520final.webm")
            && url.contains("&response-content-type=video%2Fwebm&X-Amz-Signature="),
        "{url}"
    );
    let plain = results[1]["url"].as_str().unwrap();
    assert!(!plain.contains("response-"), "{plain}");
}

#[tokio::test]
async fn a_bad_option_fails_its_own_locator_naming_the_field_and_the_rest_are_signed() {
    let f = fixture();
    let external_id = f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    let (status, body) = presign_body(
        &f,
        "acme",
        json!({"locators": [
            {"locator": "s3://acme-photos/a.jpg", "download_as": "a\r\nSet-Cookie: x=1"},
            {"locator": "s3://acme-photos/b.jpg", "content_type": "text/html\r\nX-Evil: 1"},
            {"locator": "s3://acme-photos/c.jpg", "content_type": "*/*"},
            {"locator": "s3://acme-photos/d.jpg", "download_as": 7},
            {"locator": "s3://acme-photos/e.jpg", "downlaod_as": "e.jpg"},
            {"download_as": "f.jpg"},
            {"locator": "https://cdn.example.com/g.jpg", "download_as": "g.jpg"},
            "s3://acme-photos/ok.jpg",
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    let errors: Vec<(&str, Option<&str>)> = results[..7]
        .iter()
        .map(|r| (r["error"]["code"].as_str().unwrap_or(""), r["error"]["field"].as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            ("INVALID_DOWNLOAD_AS", Some("download_as")),
            ("INVALID_CONTENT_TYPE", Some("content_type")),
            ("INVALID_CONTENT_TYPE", Some("content_type")),
            ("INVALID_TYPE", Some("download_as")),
            ("UNKNOWN_FIELD", None),
            ("INVALID_LOCATOR", Some("locator")),
            ("OPTIONS_NOT_APPLICABLE", None),
        ],
        "{body}"
    );
    assert!(results[7]["url"].is_string(), "{body}");
    assert!(results[..7].iter().all(|r| r.get("url").is_none()), "no URL for a refused option: {body}");
}

#[tokio::test]
async fn urls_may_be_presigned_for_head_and_an_unknown_method_is_refused() {
    let f = fixture();
    let external_id = f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    let (status, body) =
        presign_body(&f, "acme", json!({"locators": ["s3://acme-photos/a.jpg"], "method": "HEAD"})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["results"][0]["url"].is_string(), "{body}");
    for method in [json!("PUT"), json!("get"), json!(1)] {
        let (status, body) =
            presign_body(&f, "acme", json!({"locators": ["s3://acme-photos/a.jpg"], "method": method})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("INVALID_METHOD")), "{body}");
        assert_eq!(body["error"]["field"], "method");
    }
}

// ---- stable links ---------------------------------------------------------------------------------

impl Fixture {
    async fn links(&self, org: &str, body: Value) -> (u16, Value) {
        let event = ApiEvent::post("/links", &body).member_of(org);
        status_and_json(&presign::handle(&self.state, event.request()).await.unwrap())
    }

    async fn link(&self, org: &str, locator: Value) -> String {
        let (status, body) = self.links(org, json!({ "locators": [locator] })).await;
        assert_eq!(status, 200, "{body}");
        body["results"][0]["link"].as_str().unwrap_or_else(|| panic!("{body}")).to_owned()
    }

    /// Follows a link as a browser does: no Authorization header, no claims.
    async fn follow(&self, link: &str) -> lambda_http::Response<lambda_http::Body> {
        let path = link.split_once("amazonaws.com").map_or(link, |(_, path)| path);
        let event = ApiEvent::get(path).without_claims();
        presign::handle(&self.state, event.request()).await.unwrap()
    }
}

fn header<'r>(response: &'r lambda_http::Response<lambda_http::Body>, name: &str) -> &'r str {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn max_age(response: &lambda_http::Response<lambda_http::Body>) -> u64 {
    let cache = header(response, "cache-control");
    assert!(cache.starts_with("private, max-age="), "{cache}");
    cache["private, max-age=".len()..].parse().unwrap()
}

#[tokio::test]
async fn a_member_gets_one_link_per_locator_in_order_and_only_served_locators_get_one() {
    let f = fixture();
    f.integration("acme", "acme-photos", ROLE).await;
    let (status, body) = f
        .links(
            "acme",
            json!({"locators": ["s3://acme-photos/cats/01.jpg", "s3://elsewhere/x.jpg", "https://cdn.example.com/a.png", "gs://b/k"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    let link = results[0]["link"].as_str().unwrap();
    assert!(link.starts_with("https://abc123.execute-api.us-east-1.amazonaws.com/l/t1."), "{link}");
    assert_eq!(results[0]["locator"], "s3://acme-photos/cats/01.jpg");
    let expires_at = time::OffsetDateTime::parse(
        results[0]["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let left = (expires_at - time::OffsetDateTime::now_utc()).whole_seconds();
    assert!((86_390..=86_400).contains(&left), "a link lasts a day by default: {left}");
    assert_eq!(code(&results[1]), "NO_INTEGRATION");
    assert_eq!(results[2]["link"], "https://cdn.example.com/a.png", "an https URL is its own link");
    assert_eq!(code(&results[3]), "UNSUPPORTED_LOCATOR");
    assert_eq!(f.sts.calls(), 0, "making a link assumes nothing: each use does");
}

#[tokio::test]
async fn following_a_link_without_any_token_redirects_to_a_url_signed_now_through_the_orgs_role() {
    let f = fixture();
    let external_id = f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    let link = f.link("acme", json!("s3://acme-photos/cats/01.jpg")).await;
    let response = f.follow(&link).await;
    assert_eq!(response.status(), 307, "{:?}", response.body());
    let location = header(&response, "location");
    assert!(
        location.starts_with("https://acme-photos.s3.us-east-1.amazonaws.com/cats/01.jpg?"),
        "{location}"
    );
    assert!(location.contains("X-Amz-Expires=900&"), "the URL lives LINK_URL_SECONDS: {location}");
    assert!(max_age(&response) < 900, "the redirect is reused for less than the URL's life");
    assert_eq!(header(&response, "referrer-policy"), "no-referrer");
}

#[tokio::test]
async fn a_link_with_a_download_name_redirects_to_a_url_that_downloads_under_that_name() {
    let f = fixture();
    let external_id = f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    let link = f
        .link(
            "acme",
            json!({"locator": "s3://acme-photos/clips/a.webm", "download_as": "clip \"1\".webm", "content_type": "video/webm"}),
        )
        .await;
    let location = header(&f.follow(&link).await, "location").to_owned();
    assert!(
        location.contains("response-content-disposition=attachment%3B%20filename%3D%22clip%20_1_.webm%22"),
        "{location}"
    );
    assert!(location.contains("response-content-type=video%2Fwebm"), "{location}");
}

#[tokio::test]
async fn a_tampered_or_truncated_link_is_refused_as_invalid_and_signs_nothing() {
    let f = fixture();
    let external_id = f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    let link = f.link("acme", json!("s3://acme-photos/cats/01.jpg")).await;
    let last = link.chars().last().unwrap();
    let flipped = format!("{}{}", &link[..link.len() - 1], if last == 'A' { 'B' } else { 'A' });
    let cut = link[..link.len() - 5].to_owned();
    let other_key = link.replacen("/l/t1.", "/l/t2.", 1);
    for bad in [flipped, cut, other_key, format!("{link}.extra")] {
        let response = f.follow(&bad).await;
        let (status, body) = status_and_json(&response);
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("LINK_INVALID")), "{bad}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("POST /links"), "{body}");
    }
    assert_eq!(f.sts.calls(), 0, "a refused link never reaches STS");
}

#[tokio::test]
async fn an_expired_link_is_gone_and_says_when_it_expired() {
    let f = fixture();
    let external_id = f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    let (_, body) =
        f.links("acme", json!({"locators": ["s3://acme-photos/cats/01.jpg"], "expires_in": 1})).await;
    let link = body["results"][0]["link"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = status_and_json(&f.follow(&link).await);
    assert_eq!((status, body["error"]["code"].as_str()), (410, Some("LINK_EXPIRED")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("expired at 20"), "{body}");
}

#[tokio::test]
async fn a_deleted_integration_kills_its_links_once_the_org_view_is_reloaded() {
    let f = fixture_with(&[("INTEGRATION_CACHE_SECONDS", "0")]);
    let external_id = f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    let link = f.link("acme", json!("s3://acme-photos/cats/01.jpg")).await;
    assert_eq!(f.follow(&link).await.status(), 307);
    let org = OrgId::parse("acme").unwrap();
    let id = f.store.list_all(&org).await.unwrap()[0].id.clone();
    f.store.delete(&org, &shared::domain::audit::Actor::direct(), &id, None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (status, body) = status_and_json(&f.follow(&link).await);
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("LINK_NOT_SERVED")), "{body}");
}

#[tokio::test]
async fn a_link_is_held_to_the_trust_gate_on_every_use() {
    let f = fixture();
    f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::AnyExternalId);
    let link = f.link("acme", json!("s3://acme-photos/cats/01.jpg")).await;
    let (status, body) = status_and_json(&f.follow(&link).await);
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("EXTERNAL_ID_NOT_ENFORCED")), "{body}");
}

#[tokio::test]
async fn another_org_cannot_make_links_to_acmes_bucket_and_acmes_links_serve_only_acmes_integration() {
    let f = fixture();
    let external_id = f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    let (_, body) = f.links("globex", json!({"locators": ["s3://acme-photos/cats/01.jpg"]})).await;
    assert_eq!(code(&body["results"][0]), "NO_INTEGRATION", "{body}");
    let link = f.link("acme", json!("s3://acme-photos/cats/01.jpg")).await;
    assert_eq!(f.follow(&link).await.status(), 307);
}

#[tokio::test]
async fn making_links_needs_a_member_token_and_a_well_formed_request() {
    let f = fixture();
    let anonymous = ApiEvent::post("/links", &json!({"locators": ["s3://a-b/c"]})).without_claims();
    let (status, _) = status_and_json(&presign::handle(&f.state, anonymous.request()).await.unwrap());
    assert_eq!(status, 401);
    for (body, expected) in [
        (json!({"locators": ["s3://a-b/c"], "expires_in": 604_801}), "INVALID_EXPIRES_IN"),
        (json!({"locators": ["s3://a-b/c"], "method": "HEAD"}), "UNKNOWN_FIELD"),
        (json!({"locators": "s3://a-b/c"}), "INVALID_TYPE"),
    ] {
        let (status, answer) = f.links("acme", body.clone()).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (400, Some(expected)), "{body}: {answer}");
    }
    let (status, answer) = f.links("acme", json!({"locators": ["s3://a-b/c"], "expires_in": 604_800})).await;
    assert_eq!(status, 200, "seven days is allowed: {answer}");
}

#[tokio::test]
async fn after_a_key_rotation_links_of_the_old_key_still_open_and_new_links_use_the_new_key() {
    let old = fixture();
    let external_id = old.integration("acme", "acme-photos", ROLE).await;
    old.sts.put_role(ROLE, RoleTrust::ExternalId(external_id.clone()));
    let old_link = old.link("acme", json!("s3://acme-photos/cats/01.jpg")).await;
    let rotated_keys = r#"{"current": "t2", "t1": "a-test-link-signing-key-of-32-bytes-or-more", "t2": "the-next-link-signing-key-of-32-bytes-or-more"}"#;
    let rotated = fixture_with(&[("LINK_SIGNING_KEYS", rotated_keys)]);
    let external_id = rotated.integration("acme", "acme-photos", ROLE).await;
    rotated.sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    assert_eq!(rotated.follow(&old_link).await.status(), 307, "the old key still opens its links");
    let new_link = rotated.link("acme", json!("s3://acme-photos/cats/01.jpg")).await;
    assert!(new_link.contains("/l/t2."), "{new_link}");
    let (status, _) = status_and_json(&old.follow(&new_link).await);
    assert_eq!(status, 403, "an instance without the new key cannot open its links");
}

// ---- explain --------------------------------------------------------------------------------------

impl Fixture {
    async fn explain(&self, org: &str, locators: &[Value]) -> Vec<Value> {
        let event = ApiEvent::post("/locators/explain", &json!({ "locators": locators })).member_of(org);
        let (status, body) = status_and_json(&presign::handle(&self.state, event.request()).await.unwrap());
        assert_eq!(status, 200, "{body}");
        body["results"].as_array().cloned().unwrap()
    }

    async fn presign_values(&self, org: &str, locators: &[Value]) -> Vec<Value> {
        let event = ApiEvent::post("/presign", &json!({ "locators": locators })).member_of(org);
        let (status, body) = status_and_json(&presign::handle(&self.state, event.request()).await.unwrap());
        assert_eq!(status, 200, "{body}");
        body["results"].as_array().cloned().unwrap()
    }

    async fn integration_with(
        &self,
        org: &str,
        name: &str,
        role: &str,
        scope: Value,
        versioning: bool,
    ) -> Option<String> {
        let org = OrgId::parse(org).unwrap();
        let draft = IntegrationDraft::role_from_json(&json!({
            "name": name, "role_arn": role, "region": "us-east-1", "scope": scope, "versioning": versioning,
        }))
        .unwrap();
        self.store.create(&org, draft).await.ok().map(|i| i.id)
    }
}

#[tokio::test]
async fn explain_names_the_serving_integration_why_it_won_and_every_candidate_most_specific_first() {
    let f = fixture();
    let default = f
        .integration_with(
            "acme",
            "Everything",
            ROLE,
            json!({"type": "default", "buckets": ["acme-photos"]}),
            false,
        )
        .await
        .unwrap();
    let photos = f
        .integration_with(
            "acme",
            "Photos",
            ROLE,
            json!({"type": "bucket", "bucket": "acme-photos", "prefix": "photos/"}),
            false,
        )
        .await
        .unwrap();
    let external_id = f.store.external_id(&OrgId::parse("acme").unwrap()).await.unwrap();
    f.sts.put_role(ROLE, RoleTrust::ExternalId(external_id.as_str().to_owned()));
    let results = f
        .explain(
            "acme",
            &[
                json!("s3://acme-photos/photos/cat.png"),
                json!("s3://acme-photos/raw/cat.png?versionId=v1"),
                json!("s3://elsewhere/x"),
                json!("https://cdn.example.com/a.png"),
                json!("gs://b/k"),
            ],
        )
        .await;
    let served = &results[0];
    assert_eq!(served["integration"]["id"], photos.as_str(), "{served}");
    assert_eq!(served["integration"]["kind"], "aws_role");
    assert_eq!(
        served["matched_by"],
        "bucket scope acme-photos, prefix photos/, is more specific than the org default"
    );
    let candidates: Vec<&str> =
        served["candidates"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(candidates, [photos.as_str(), default.as_str()]);
    assert_eq!(
        (served["would_sign"].clone(), served["blocked_by"].clone(), served["fix"].clone()),
        (json!(true), json!(null), json!(null))
    );

    let version = &results[1];
    assert_eq!(version["integration"]["id"], default.as_str(), "the default serves raw/");
    assert_eq!(
        (version["would_sign"].clone(), version["blocked_by"].clone()),
        (json!(false), json!("VERSIONING_DISABLED"))
    );
    assert!(version["fix"].as_str().unwrap().contains("versioning"), "{version}");

    assert_eq!(results[2]["integration"], json!(null));
    assert_eq!(results[2]["blocked_by"], "BUCKET_NOT_PERMITTED");
    assert!(results[2]["fix"].as_str().unwrap().contains("Ask an org admin"), "{}", results[2]);
    assert_eq!(
        (results[3]["would_sign"].clone(), results[3]["blocked_by"].clone()),
        (json!(false), json!(null))
    );
    assert_eq!(results[4]["blocked_by"], "UNSUPPORTED_LOCATOR");
}

#[tokio::test]
async fn explain_takes_at_most_100_locators_and_nothing_but_locators() {
    let f = fixture();
    let many: Vec<Value> = (0..101).map(|i| json!(format!("s3://acme-photos/{i}"))).collect();
    let event = ApiEvent::post("/locators/explain", &json!({ "locators": many })).member_of("acme");
    let (status, _) = status_and_json(&presign::handle(&f.state, event.request()).await.unwrap());
    assert_eq!(status, 413);
    let event =
        ApiEvent::post("/locators/explain", &json!({"locators": [], "expires_in": 5})).member_of("acme");
    let (status, body) = status_and_json(&presign::handle(&f.state, event.request()).await.unwrap());
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("UNKNOWN_FIELD")), "{body}");
}

/// A small deterministic generator: the same cases on every run, and many of them.
struct Cases(u64);

impl Cases {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

#[tokio::test]
async fn explain_and_presign_agree_on_every_locator_across_many_random_orgs() {
    let buckets = ["acme-a", "acme-b", "acme-c", "acme-d"];
    let prefixes = ["", "photos/", "photos/2026/", "raw/", "v/"];
    let keys = ["photos/cat.png", "photos/2026/dog.png", "raw/x.bin", "v/clip.webm", "other/y", "photosx/z"];
    let roles = [
        ("arn:aws:iam::210987654321:role/trusting", 0),
        ("arn:aws:iam::210987654321:role/any-org", 1),
        ("arn:aws:iam::210987654321:role/someone-elses", 2),
        ("arn:aws:iam::123456789012:role/platform-own", 0),
    ];
    let mut cases = Cases(0x5eed_1234_abcd_ef01);
    let mut compared = 0;
    let mut seen: std::collections::BTreeSet<String> = Default::default();
    for round in 0..25 {
        let f = fixture();
        let org = format!("org-{round}");
        for n in 0..(2 + cases.next() % 6) {
            let (role, trust) = roles[(cases.next() % roles.len() as u64) as usize];
            let scope = if cases.next() % 4 == 0 {
                let mut listed: Vec<&str> =
                    buckets.iter().copied().filter(|_| cases.next() % 2 == 0).collect();
                if listed.is_empty() {
                    listed.push(buckets[0]);
                }
                json!({"type": "default", "buckets": listed})
            } else {
                let prefix = cases.pick(&prefixes);
                let mut scope = json!({"type": "bucket", "bucket": cases.pick(&buckets)});
                if !prefix.is_empty() {
                    scope["prefix"] = json!(prefix);
                }
                scope
            };
            let versioning = cases.next() % 2 == 0;
            if f.integration_with(&org, &format!("i{n}"), role, scope, versioning).await.is_some() {
                let external_id = f.store.external_id(&OrgId::parse(&org).unwrap()).await.unwrap();
                f.sts.put_role(
                    role,
                    match trust {
                        0 => RoleTrust::ExternalId(external_id.as_str().to_owned()),
                        1 => RoleTrust::AnyExternalId,
                        _ => RoleTrust::OtherPrincipal,
                    },
                );
            }
        }
        let locators: Vec<Value> = (0..40)
            .map(|_| match cases.next() % 10 {
                0 => json!("https://cdn.example.com/a.png"),
                1 => json!("s3://Not A Bucket/x"),
                2 => json!({"locator": format!("s3://{}/{}", cases.pick(&buckets), cases.pick(&keys)), "download_as": "a.bin"}),
                3 => json!(format!("s3://{}/{}?versionId=v{}", cases.pick(&buckets), cases.pick(&keys), cases.next() % 9)),
                4 => json!("s3://nobody-bucket/k"),
                _ => json!(format!("s3://{}/{}", cases.pick(&buckets), cases.pick(&keys))),
            })
            .collect();
        let explained = f.explain(&org, &locators).await;
        let presigned = f.presign_values(&org, &locators).await;
        for ((locator, e), p) in locators.iter().zip(&explained).zip(&presigned) {
            let signed = p.get("url").is_some() && p.get("integration_id").is_some();
            assert_eq!(e["would_sign"], json!(signed), "{locator}: explain {e} vs presign {p}");
            assert_eq!(e["blocked_by"], p["error"]["code"], "{locator}: explain {e} vs presign {p}");
            if signed {
                assert_eq!(
                    e["integration"]["id"], p["integration_id"],
                    "{locator}: explain {e} vs presign {p}"
                );
            }
            let outcome = if signed { "signed" } else { "passed through" };
            seen.insert(p["error"]["code"].as_str().unwrap_or(outcome).to_owned());
            compared += 1;
        }
    }
    assert_eq!(compared, 25 * 40);
    let every_outcome = [
        "signed",
        "passed through",
        "INVALID_LOCATOR",
        "NO_INTEGRATION",
        "BUCKET_NOT_PERMITTED",
        "VERSIONING_DISABLED",
        "EXTERNAL_ID_NOT_ENFORCED",
        "ASSUME_ROLE_DENIED",
        "ROLE_IN_PLATFORM_ACCOUNT",
    ];
    for outcome in every_outcome {
        assert!(seen.contains(outcome), "the cases never produced {outcome}: {seen:?}");
    }
}

// ---- external-ID rotation -------------------------------------------------------------------------

#[tokio::test]
async fn during_a_rotation_a_role_still_on_the_previous_id_keeps_signing_until_the_overlap_ends() {
    use shared::domain::audit::Actor;
    let f = fixture_with(&[("INTEGRATION_CACHE_SECONDS", "0")]);
    let old = f.integration("acme", "acme-photos", ROLE).await;
    f.sts.put_role(ROLE, RoleTrust::ExternalId(old.clone()));
    let org = OrgId::parse("acme").unwrap();
    let now = SystemTime::now();
    let rotated =
        f.store.rotate_external_id(&org, &Actor::direct(), now, now + Duration::from_secs(2)).await.unwrap();
    assert_ne!(rotated.current.as_str(), old);
    let results = f.presign("acme", &["s3://acme-photos/cats/01.jpg"]).await;
    assert!(results[0]["url"].is_string(), "the previous ID still serves: {results:?}");
    let link = f.link("acme", json!("s3://acme-photos/cats/01.jpg")).await;
    assert_eq!(f.follow(&link).await.status(), 307, "links follow the same fallback");

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let results = f.presign("acme", &["s3://acme-photos/cats/02.jpg"]).await;
    assert_eq!(code(&results[0]), "ASSUME_ROLE_DENIED", "{results:?}");
    let message = results[0]["error"]["message"].as_str().unwrap();
    assert!(message.contains("GET /policies/trust"), "the fix says where the trust policy is: {message}");
}

#[tokio::test]
async fn during_a_rotation_a_role_already_on_the_new_id_signs_with_it() {
    use shared::domain::audit::Actor;
    let f = fixture();
    f.integration("acme", "acme-photos", ROLE).await;
    let org = OrgId::parse("acme").unwrap();
    let now = SystemTime::now();
    let rotated = f
        .store
        .rotate_external_id(&org, &Actor::direct(), now, now + Duration::from_secs(3600))
        .await
        .unwrap();
    f.sts.put_role(ROLE, RoleTrust::ExternalId(rotated.current.as_str().to_owned()));
    let results = f.presign("acme", &["s3://acme-photos/cats/01.jpg"]).await;
    assert!(results[0]["url"].is_string(), "{results:?}");
}
