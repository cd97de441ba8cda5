//! Stable links end to end: `POST /links` on the dev server, `GET /l/{token}` followed over HTTP
//! with no Authorization header, and the redirect's target fetched from the emulator's S3. Also
//! the link keys read from Secrets Manager in the emulator, and rotated there.
//!
//! Attacks each test stands for: a changed or cut-short token, an expired one, a token under a
//! key the service does not hold, a link that outlives its integration, and a link used while the
//! credentials behind it are refreshed.

use crate::helpers::*;
use crate::moto::MotoProcess;
use crate::platform::*;
use serde_json::json;
use shared::aws::credentials::{CacheConfig, Clock, CredentialCache};
use shared::aws::link_keys::{Keyring, KeyringError};
use shared::domain::link::{Link, LinkError};
use shared::domain::locator::S3Locator;
use shared::domain::org::OrgId;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ORG: &str = "acme";

/// A client that shows redirects instead of following them, and sends no token.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

struct Followed {
    status: u16,
    location: String,
    cache_control: String,
    body: serde_json::Value,
}

async fn follow(link: &str) -> Followed {
    let response = bounded("GET link", browser().get(link).send()).await.expect("the link answers");
    let header = |name: &str| {
        response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    let (location, cache_control) = (header("location"), header("cache-control"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    Followed { status, location, cache_control, body: serde_json::from_str(&text).unwrap_or(json!(text)) }
}

async fn fetch(url: &str) -> (u16, Vec<u8>) {
    let response = bounded("GET presigned URL", reqwest::get(url)).await.expect("the URL answers");
    (response.status().as_u16(), response.bytes().await.expect("body").to_vec())
}

/// Makes one link for `locator` as a member of the org.
async fn link_for(p: &Platform, locator: &str, expires_in: Option<u64>) -> String {
    let mut body = json!({ "locators": [locator] });
    if let Some(secs) = expires_in {
        body["expires_in"] = json!(secs);
    }
    let reply = bounded("POST /links", p.app.post("/links", &member(ORG), &body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["results"][0]["link"].as_str().unwrap_or_else(|| panic!("{}", reply.body)).to_owned()
}

/// A platform with one bucket, one object, a role with the rendered policies and its integration.
async fn platform_with_object(configure: impl FnOnce(&mut AppWith)) -> (Platform, String, String) {
    let p = Platform::start_with(configure).await;
    let bucket = p.bucket("links").await;
    p.put(&bucket, "clips/a.bin", b"0123456789abcdefghij").await;
    let scope = default_scope(&[&bucket]);
    let role = p.moto.create_role("platform-read", &p.trust, &p.access_policy(&scope, false).await).await;
    let id = p.save_integration("Clips", &role, &scope, false, "us-east-1").await;
    p.enforce().await;
    (p, bucket, id)
}

#[tokio::test]
async fn a_stable_link_redirects_without_a_token_to_a_url_that_fetches_the_bytes() {
    let (p, bucket, _) = platform_with_object(|_| {}).await;
    let link = link_for(&p, &format!("s3://{bucket}/clips/a.bin"), None).await;
    assert!(link.starts_with(&format!("{}/l/", p.app.url)), "links point at the API itself: {link}");

    let followed = follow(&link).await;
    assert_eq!(followed.status, 307, "{}", followed.body);
    assert!(followed.location.starts_with(&format!("{}/{bucket}/clips/a.bin?", emulator_endpoint())));
    let max_age: u64 = followed.cache_control.trim_start_matches("private, max-age=").parse().unwrap();
    assert!(max_age > 0 && max_age < 900, "{}", followed.cache_control);
    assert_eq!(fetch(&followed.location).await, (200, b"0123456789abcdefghij".to_vec()));

    // A browser follows it by itself, Range requests included.
    let response = bounded(
        "GET link with a Range",
        reqwest::Client::new().get(&link).header("range", "bytes=5-9").send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 206);
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"56789");
}

#[tokio::test]
async fn a_changed_cut_short_or_expired_link_is_refused_with_a_json_code_and_no_url() {
    let (p, bucket, _) = platform_with_object(|_| {}).await;
    let link = link_for(&p, &format!("s3://{bucket}/clips/a.bin"), None).await;
    let (head, tail) = link.split_at(link.len() - 3);
    let changed = format!("{head}{}", if tail == "AAA" { "BBB" } else { "AAA" });
    for bad in [changed, link[..link.len() - 10].to_owned(), format!("{}/l/not-a-token", p.app.url)] {
        let followed = follow(&bad).await;
        assert_eq!(
            (followed.status, followed.body["error"]["code"].as_str()),
            (403, Some("LINK_INVALID")),
            "{bad}"
        );
        assert!(followed.location.is_empty());
    }

    let short = link_for(&p, &format!("s3://{bucket}/clips/a.bin"), Some(1)).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let followed = follow(&short).await;
    assert_eq!((followed.status, followed.body["error"]["code"].as_str()), (410, Some("LINK_EXPIRED")));
}

#[tokio::test]
async fn deleting_the_integration_kills_its_links_within_the_org_view_cache_time() {
    let (p, bucket, id) = platform_with_object(|options| {
        options.presign_env.push(("INTEGRATION_CACHE_SECONDS".to_owned(), "1".to_owned()));
    })
    .await;
    let link = link_for(&p, &format!("s3://{bucket}/clips/a.bin"), None).await;
    assert_eq!(follow(&link).await.status, 307);
    let reply = bounded("DELETE", p.app.delete(&format!("/integrations/{id}"), &admin(ORG))).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let followed = follow(&link).await;
    assert_eq!((followed.status, followed.body["error"]["code"].as_str()), (404, Some("LINK_NOT_SERVED")));
}

/// A clock that runs `ahead` seconds in front of the real one.
#[derive(Debug, Clone, Default)]
struct TestClock(Arc<AtomicU64>);

impl TestClock {
    fn clock(&self) -> Clock {
        let ahead = self.0.clone();
        Arc::new(move || SystemTime::now() + Duration::from_secs(ahead.load(Ordering::SeqCst)))
    }
}

fn credential_of(url: &str) -> String {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs().find(|(k, _)| k == "X-Amz-Credential").map(|(_, v)| v.into_owned()).unwrap_or_default()
}

#[tokio::test]
async fn a_link_keeps_working_across_a_credential_refresh() {
    let clock = TestClock::default();
    let mut cache: Option<CredentialCache> = None;
    let (p, bucket, _) = platform_with_object(|options| {
        let built = CredentialCache::with_clock(options.sts.clone(), CacheConfig::default(), clock.clock());
        cache = Some(built.clone());
        options.credentials = Some(built);
    })
    .await;
    let cache = cache.unwrap();
    let link = link_for(&p, &format!("s3://{bucket}/clips/a.bin"), None).await;
    let first = follow(&link).await;
    assert_eq!(fetch(&first.location).await.0, 200);
    let assumed = cache.stats().assume_calls.load(Ordering::SeqCst);

    // 930 s left on the credentials: not enough for the link's 900 s URL and the 60 s margin.
    let session = CacheConfig::default().session_duration.as_secs();
    clock.0.store(session - 930, Ordering::SeqCst);
    let second = follow(&link).await;
    assert_eq!(second.status, 307, "{}", second.body);
    assert!(cache.stats().assume_calls.load(Ordering::SeqCst) > assumed, "the credentials were refreshed");
    assert_ne!(credential_of(&second.location), credential_of(&first.location), "signed with the new ones");
    assert_eq!(fetch(&second.location).await, (200, b"0123456789abcdefghij".to_vec()));
}

// ---- the keys in Secrets Manager -----------------------------------------------------------------

const K1: &str = "the-first-link-signing-key-32-bytes-long";
const K2: &str = "the-second-link-signing-key-32-bytes-long";

fn a_link() -> Link {
    Link {
        org: OrgId::parse(ORG).unwrap(),
        locator: S3Locator::parse("s3://acme-photos/cat.png").unwrap(),
        download_as: None,
        content_type: None,
        expires_at: now() + 600,
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

async fn secrets_client(moto: &MotoProcess) -> aws_sdk_secretsmanager::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto.url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sts::config::Credentials::new("testing", "testing", None, None, "t"))
        .load()
        .await;
    Keyring::client(&sdk)
}

#[tokio::test]
async fn keys_rotated_in_secrets_manager_reach_a_running_instance_and_old_links_keep_opening() {
    let moto = MotoProcess::start().await;
    let client = secrets_client(&moto).await;
    let keys = |current: &str, pairs: &[(&str, &str)]| {
        let mut value = json!({ "current": current });
        for (id, key) in pairs {
            value[*id] = json!(key);
        }
        value.to_string()
    };
    let created = client
        .create_secret()
        .name("link-keys")
        .secret_string(keys("k1", &[("k1", K1)]))
        .send()
        .await
        .expect("create the secret");
    let arn = created.arn().unwrap().to_owned();
    let running = Keyring::from_secret(client.clone(), arn.clone()).await.expect("the keys load");
    let old_link = running.current().await.issue(&a_link());

    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(keys("k2", &[("k1", K1), ("k2", K2)]))
        .send()
        .await
        .unwrap();
    let started_after = Keyring::from_secret(client.clone(), arn.clone()).await.unwrap();
    let new_link = started_after.current().await.issue(&a_link());
    assert!(new_link.starts_with("k2."), "{new_link}");
    assert_eq!(started_after.open(&old_link, now()).await.map(|l| l.org), Ok(a_link().org));
    // The running instance has never seen k2: the unknown key id makes it read the secret again.
    assert_eq!(running.open(&new_link, now()).await, Ok(a_link()));
    // A forged key id does not: the re-read just happened.
    let forged = new_link.replacen("k2.", "k9.", 1);
    assert_eq!(running.open(&forged, now()).await, Err(LinkError::UnknownKey));

    // The old key is retired once its links have expired.
    client.put_secret_value().secret_id(&arn).secret_string(keys("k2", &[("k2", K2)])).send().await.unwrap();
    let retired = Keyring::from_secret(client.clone(), arn).await.unwrap();
    assert!(retired.open(&old_link, now()).await.is_err());
    assert!(retired.open(&new_link, now()).await.is_ok());
}

#[tokio::test]
async fn a_missing_or_malformed_secret_stops_the_start_naming_the_secret_and_never_its_value() {
    let moto = MotoProcess::start().await;
    let client = secrets_client(&moto).await;
    let missing = Keyring::from_secret(client.clone(), "no-such-secret").await.unwrap_err();
    assert!(matches!(missing, KeyringError::Unreadable { .. }), "{missing}");
    assert!(missing.to_string().contains("no-such-secret"), "{missing}");
    client
        .create_secret()
        .name("weak")
        .secret_string(r#"{"current": "k1", "k1": "short-key"}"#)
        .send()
        .await
        .unwrap();
    let weak = Keyring::from_secret(client, "weak").await.unwrap_err();
    let message = weak.to_string();
    assert!(matches!(weak, KeyringError::Malformed { .. }) && message.contains("at least 32"), "{message}");
    assert!(!message.contains("short-key"), "the key itself never reaches a message: {message}");
}
