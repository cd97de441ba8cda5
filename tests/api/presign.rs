//! `POST /presign` end to end, and the STS credential cache behind it.
//!
//! Most tests run a [`Platform`]: a moto of the test's own that enforces IAM once set-up is done,
//! with an IAM user `platform` whose ARN is the platform principal the dev server renders into
//! every trust policy, and whose keys the dev server's STS client signs `AssumeRole` with. The
//! customer roles are created in that moto with exactly the trust and access policy texts the API
//! renders (`GET /policies/trust`, `POST /policies/access`), so an `AssumeRole` or a `GetObject`
//! that works there is one that the rendered policies allow.
//!
//! moto with enforcement answers presigned (query-string) requests with 500, so every object is
//! also put in the plain moto (`AWS_ENDPOINT_URL`), presigned URLs point there (`S3_ENDPOINT_URL`)
//! and are fetched from there; the enforcing moto sees the Authorization-header requests made with
//! the cached credentials.

use crate::helpers::*;
use crate::platform::*;
use serde_json::{json, Value};
use shared::aws::credentials::{AssumeFailure, CacheConfig, Clock, CredentialCache, Lease};
use shared::domain::external_id::ExternalId;
use shared::domain::org::OrgId;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

impl Platform {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A platform whose presign leases from a credential cache on `clock`; also that cache.
    async fn start_on_clock(clock: &TestClock) -> (Self, CredentialCache) {
        let cache_clock = clock.clock();
        let mut built: Option<CredentialCache> = None;
        let p = Self::start_with(|options| {
            let cache = CredentialCache::with_clock(options.sts.clone(), CacheConfig::default(), cache_clock);
            built = Some(cache.clone());
            options.credentials = Some(cache);
        })
        .await;
        (p, built.expect("the test's cache"))
    }

    /// A customer role with the API's trust policy and the API's access policy for `scope`.
    async fn role(&self, name: &str, scope: &Value, versioning: bool) -> String {
        let trust = self.trust.clone();
        self.role_trusting(name, scope, versioning, &trust).await
    }

    /// A customer role whose trust policy is the API's, but naming ANOTHER external ID.
    async fn role_for_another_external_id(&self, name: &str, scope: &Value) -> String {
        let trust = self.trust_for_another_external_id();
        self.role_trusting(name, scope, false, &trust).await
    }

    async fn role_trusting(&self, name: &str, scope: &Value, versioning: bool, trust: &str) -> String {
        let access = self.access_policy(scope, versioning).await;
        self.moto.create_role(name, trust, &access).await
    }

    /// Saves an integration in us-east-1; returns its id.
    async fn integration(&self, name: &str, role_arn: &str, scope: &Value, versioning: bool) -> String {
        self.save_integration(name, role_arn, scope, versioning, "us-east-1").await
    }

    async fn presign(&self, token: &str, locators: &[&str], expires_in: Option<u64>) -> Reply {
        let mut body = json!({ "locators": locators });
        if let Some(expires_in) = expires_in {
            body["expires_in"] = json!(expires_in);
        }
        bounded("POST /presign", self.app.post("/presign", token, &body)).await
    }

    fn cache(&self) -> &CredentialCache {
        self.server.presign.credentials()
    }

    fn external_id(&self) -> ExternalId {
        ExternalId::parse(&self.external_id).expect("external id")
    }
}

fn org() -> OrgId {
    OrgId::parse(ORG).expect("org id")
}

async fn fetch(url: &str) -> (u16, Vec<u8>) {
    let response = bounded("GET presigned URL", reqwest::get(url)).await.expect("the URL answers");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

fn results_of(reply: &Reply) -> &Vec<Value> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["results"].as_array().expect("results")
}

fn url_of(result: &Value) -> &str {
    result["url"].as_str().unwrap_or_else(|| panic!("no URL in {result}"))
}

fn query(url: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).expect("URL");
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn unix(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH).expect("after 1970").as_secs() as i64
}

/// A clock that runs `ahead` seconds in front of the real one.
#[derive(Debug, Clone, Default)]
struct TestClock {
    ahead: Arc<AtomicU64>,
}

impl TestClock {
    fn clock(&self) -> Clock {
        let ahead = self.ahead.clone();
        Arc::new(move || SystemTime::now() + Duration::from_secs(ahead.load(Ordering::SeqCst)))
    }

    fn now(&self) -> SystemTime {
        (self.clock())()
    }

    /// Moves the clock so that `at` is `remaining` (or a fraction of a second more) away.
    fn set_remaining(&self, at: SystemTime, remaining: Duration) {
        let real = at.duration_since(SystemTime::now()).expect("`at` is in the future");
        let ahead = real.as_secs().checked_sub(remaining.as_secs()).expect("the clock only moves forward");
        self.ahead.store(ahead, Ordering::SeqCst);
    }

    /// Moves the clock so that `at` lies `past` behind it.
    fn set_past(&self, at: SystemTime, past: Duration) {
        let real = at.duration_since(SystemTime::now()).unwrap_or_default();
        self.ahead.store(real.as_secs() + past.as_secs() + 1, Ordering::SeqCst);
    }
}

/// `sign_until` never lies beyond the credentials' expiry less the safety margin.
fn assert_within_credentials(lease: &Lease, margin: Duration) {
    assert!(
        lease.sign_until <= lease.credentials.expires_at - margin,
        "sign_until {:?} is beyond expiry {:?} - margin {margin:?}",
        lease.sign_until,
        lease.credentials.expires_at
    );
}

fn assume_calls(cache: &CredentialCache) -> u64 {
    cache.stats().assume_calls.load(Ordering::SeqCst)
}

// ---- A. against a moto that enforces IAM ---------------------------------------------------------

#[tokio::test]
async fn a_presigned_url_for_a_permitted_bucket_returns_the_objects_bytes() {
    let p = Platform::start().await;
    let bucket = p.bucket("photos").await;
    p.put(&bucket, "cats/tabby.jpg", b"tabby bytes").await;
    let role = p.role("platform-read", &default_scope(&[&bucket]), false).await;
    let id = p.integration("Photos", &role, &default_scope(&[&bucket]), false).await;
    p.enforce().await;

    let locator = format!("s3://{bucket}/cats/tabby.jpg");
    let reply = p.presign(&member(ORG), &[&locator], None).await;
    let result = &results_of(&reply)[0];
    assert_eq!(result["locator"], locator.as_str());
    assert_eq!(result["integration_id"], id.as_str());
    let url = url_of(result);
    assert!(url.starts_with(&format!("{}/{bucket}/cats/tabby.jpg?", emulator_endpoint())), "{url}");
    assert!(query(url, "X-Amz-Security-Token").is_some(), "signed with STS credentials: {url}");
    assert_eq!(fetch(url).await, (200, b"tabby bytes".to_vec()));
}

#[tokio::test]
async fn the_cached_credentials_read_the_permitted_bucket_and_are_denied_on_a_bucket_the_policy_does_not_list(
) {
    let p = Platform::start().await;
    let permitted = p.bucket("permitted").await;
    let unlisted = p.bucket("unlisted").await;
    p.put(&permitted, "doc.txt", b"permitted bytes").await;
    p.put(&unlisted, "doc.txt", b"unlisted bytes").await;
    let role = p.role("platform-read", &default_scope(&[&permitted]), false).await;
    let id = p.integration("Docs", &role, &default_scope(&[&permitted]), false).await;
    p.enforce().await;

    // A presign warms the cache; the lease is then a hit on the very credentials that signed.
    let locator = format!("s3://{permitted}/doc.txt");
    let reply = p.presign(&member(ORG), &[&locator], None).await;
    let url = url_of(&results_of(&reply)[0]).to_owned();
    let (org, external_id) = (org(), p.external_id());
    let lease =
        p.cache().lease_for_integration(&org, &id, &role, &external_id, Duration::from_secs(900), false);
    let lease = bounded("lease", lease).await.unwrap();
    assert_eq!(assume_calls(p.cache()), 1, "the lease must come from the cache");
    let key_id = &lease.credentials.signing.access_key_id;
    assert!(query(&url, "X-Amz-Credential").unwrap().starts_with(&format!("{key_id}/")), "{url}");

    // Authorization-header requests with those credentials, evaluated by the enforcing moto.
    let s3 = p.s3_as(&lease.credentials).await;
    let read = bounded("GetObject", s3.get_object().bucket(&permitted).key("doc.txt").send())
        .await
        .unwrap_or_else(|e| panic!("GetObject on the permitted bucket: {e:?}"));
    let bytes = read.body.collect().await.expect("object body").into_bytes();
    assert_eq!(&bytes[..], b"permitted bytes");

    let denied = bounded("GetObject", s3.get_object().bucket(&unlisted).key("doc.txt").send())
        .await
        .expect_err("the access policy does not list this bucket");
    let status = denied.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(403), "{denied:?}");
    assert_eq!(aws_sdk_s3::error::ProvideErrorMetadata::code(&denied), Some("AccessDenied"), "{denied:?}");

    // The platform principal itself has no S3 access: only the assumed role reads.
    let platform = s3_client_with(&p.moto.url, &p.user.access_key_id, &p.user.secret_access_key, None).await;
    let own = bounded("GetObject", platform.get_object().bucket(&permitted).key("doc.txt").send()).await;
    assert!(own.is_err(), "the platform user must not read customer buckets directly");
}

#[tokio::test]
async fn a_role_trusting_another_external_id_fails_its_locators_with_assume_role_denied_and_spares_the_rest()
{
    let p = Platform::start().await;
    let good_bucket = p.bucket("good").await;
    let bad_bucket = p.bucket("bad").await;
    p.put(&good_bucket, "a.txt", b"good a").await;
    p.put(&good_bucket, "b.txt", b"good b").await;
    p.put(&bad_bucket, "x.txt", b"bad x").await;
    let good_role = p.role("good-read", &default_scope(&[&good_bucket]), false).await;
    let bad_role = p.role_for_another_external_id("bad-read", &bucket_scope(&bad_bucket)).await;
    let good = p.integration("Good", &good_role, &default_scope(&[&good_bucket]), false).await;
    p.integration("Bad", &bad_role, &bucket_scope(&bad_bucket), false).await;
    p.enforce().await;

    let locators = [
        format!("s3://{bad_bucket}/x.txt"),
        format!("s3://{good_bucket}/a.txt"),
        format!("s3://{bad_bucket}/y.txt"),
        format!("s3://{good_bucket}/b.txt"),
    ];
    let locators: Vec<&str> = locators.iter().map(String::as_str).collect();
    let reply = p.presign(&member(ORG), &locators, None).await;
    let results = results_of(&reply);
    assert_eq!(results.len(), 4);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["locator"], locators[i], "order preserved");
    }
    for denied in [&results[0], &results[2]] {
        assert_eq!(denied["error"]["code"], "ASSUME_ROLE_DENIED", "{denied}");
        let message = denied["error"]["message"].as_str().unwrap();
        assert!(message.contains(&bad_role), "the message names the role: {message}");
        assert!(denied.get("url").is_none(), "{denied}");
    }
    for (result, body) in [(&results[1], &b"good a"[..]), (&results[3], &b"good b"[..])] {
        assert_eq!(result["integration_id"], good.as_str(), "{result}");
        assert_eq!(fetch(url_of(result)).await, (200, body.to_vec()));
    }
}

#[tokio::test]
async fn a_bucket_scoped_integration_beats_the_default_for_its_bucket() {
    let p = Platform::start().await;
    let shared_bucket = p.bucket("shared").await;
    let other = p.bucket("other").await;
    p.put(&shared_bucket, "k.txt", b"in the shared bucket").await;
    p.put(&other, "k.txt", b"in the other bucket").await;
    let default_role = p.role("default-read", &default_scope(&[&shared_bucket, &other]), false).await;
    let bucket_role = p.role("bucket-read", &bucket_scope(&shared_bucket), false).await;
    let default_id =
        p.integration("Default", &default_role, &default_scope(&[&shared_bucket, &other]), false).await;
    let bucket_id = p.integration("Shared only", &bucket_role, &bucket_scope(&shared_bucket), false).await;
    p.enforce().await;

    let locators = [format!("s3://{shared_bucket}/k.txt"), format!("s3://{other}/k.txt")];
    let reply = p.presign(&member(ORG), &[&locators[0], &locators[1]], None).await;
    let results = results_of(&reply);
    assert_eq!(results[0]["integration_id"], bucket_id.as_str(), "{}", results[0]);
    assert_eq!(results[1]["integration_id"], default_id.as_str(), "{}", results[1]);
    assert_eq!(fetch(url_of(&results[0])).await, (200, b"in the shared bucket".to_vec()));
    assert_eq!(fetch(url_of(&results[1])).await, (200, b"in the other bucket".to_vec()));
    // Each integration's own role signed its URL: two roles, two sets of credentials.
    let key_of = |r: &Value| query(url_of(r), "X-Amz-Credential").unwrap();
    assert_ne!(key_of(&results[0]), key_of(&results[1]));
    assert_eq!(assume_calls(p.cache()), 2);
}

#[tokio::test]
async fn a_version_id_locator_returns_that_version_of_the_object() {
    let p = Platform::start().await;
    let bucket = p.bucket("versioned").await;
    let role = p.role("platform-read", &default_scope(&[&bucket]), true).await;
    let unversioned_role = p.role("platform-read-latest", &default_scope(&[&bucket]), false).await;
    p.integration("Versioned", &role, &default_scope(&[&bucket]), true).await;
    // Two versions of one key in each emulator (each has its own version IDs).
    let mut versions = Vec::new();
    p.enable_versioning(&bucket).await;
    for s3 in [&p.plain, &p.strict] {
        let mut ids = Vec::new();
        for body in ["first version", "second version"] {
            let out = bounded(
                "PutObject",
                s3.put_object()
                    .bucket(&bucket)
                    .key("report.pdf")
                    .body(body.as_bytes().to_vec().into())
                    .send(),
            )
            .await
            .expect("put a version");
            ids.push((out.version_id.expect("a version id"), body));
        }
        assert_ne!(ids[0].0, ids[1].0);
        versions.push(ids);
    }
    let (plain_versions, strict_versions) = (&versions[0], &versions[1]);
    p.enforce().await;

    let locators: Vec<String> = plain_versions
        .iter()
        .map(|(v, _)| format!("s3://{bucket}/report.pdf?versionId={v}"))
        .chain([format!("s3://{bucket}/report.pdf")])
        .collect();
    let locators: Vec<&str> = locators.iter().map(String::as_str).collect();
    let reply = p.presign(&member(ORG), &locators, None).await;
    let results = results_of(&reply);
    for (result, (version, body)) in results.iter().zip(plain_versions) {
        let url = url_of(result);
        assert_eq!(query(url, "versionId").as_deref(), Some(version.as_str()), "{url}");
        assert_eq!(fetch(url).await, (200, body.as_bytes().to_vec()), "{url}");
    }
    assert_eq!(fetch(url_of(&results[2])).await, (200, b"second version".to_vec()), "no versionId: latest");

    // The access policy rendered with versioning grants s3:GetObjectVersion (the enforcing moto
    // authorizes a GET with versionId as that action); the one rendered without it does not.
    let lease =
        bounded("lease", p.cache().lease(&org(), &role, &p.external_id(), Duration::from_secs(900), false))
            .await
            .expect("warm credentials");
    let without = bounded("assume", p.cache().assume(&org(), &unversioned_role, Some(&p.external_id)))
        .await
        .expect("assume the role without versioning");
    for (credentials, allowed) in [(&lease.credentials, true), (&without, false)] {
        let s3 = p.s3_as(credentials).await;
        let (version, body) = &strict_versions[0];
        let read = bounded(
            "GetObject",
            s3.get_object().bucket(&bucket).key("report.pdf").version_id(version).send(),
        )
        .await;
        match read {
            Ok(out) if allowed => {
                assert_eq!(&out.body.collect().await.unwrap().into_bytes()[..], body.as_bytes())
            }
            Err(e) if !allowed => {
                assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(403), "{e:?}")
            }
            other => panic!("versioned read (allowed: {allowed}): {other:?}"),
        }
        let latest = bounded("GetObject", s3.get_object().bucket(&bucket).key("report.pdf").send()).await;
        assert!(latest.is_ok(), "the latest version is readable either way: {latest:?}");
    }
}

#[tokio::test]
async fn a_version_id_locator_on_an_integration_without_file_versioning_gets_an_error_not_a_url_s3_denies() {
    let p = Platform::start().await;
    let bucket = p.bucket("unversioned").await;
    p.enable_versioning(&bucket).await;
    let put = bounded(
        "PutObject",
        p.strict.put_object().bucket(&bucket).key("a.txt").body(b"v1".to_vec().into()).send(),
    )
    .await
    .expect("put");
    let version = put.version_id.expect("a version id");
    let role = p.role("platform-read", &default_scope(&[&bucket]), false).await;
    p.integration("No versioning", &role, &default_scope(&[&bucket]), false).await;
    p.enforce().await;

    let locator = format!("s3://{bucket}/a.txt?versionId={version}");
    let reply = p.presign(&member(ORG), &[&locator], None).await;
    let result = results_of(&reply)[0].clone();

    // What that URL would get from S3: the role's credentials may not read a version.
    let lease =
        bounded("lease", p.cache().lease(&org(), &role, &p.external_id(), Duration::from_secs(900), false))
            .await
            .expect("credentials");
    let s3 = p.s3_as(&lease.credentials).await;
    let read =
        bounded("GetObject", s3.get_object().bucket(&bucket).key("a.txt").version_id(&version).send()).await;
    assert_eq!(read.err().and_then(|e| e.raw_response().map(|r| r.status().as_u16())), Some(403));

    assert!(result.get("url").is_none(), "a URL that S3 will deny: {result}");
    assert!(result["error"]["code"].is_string(), "{result}");
}

#[tokio::test]
async fn keys_with_spaces_plus_percent_hash_question_marks_unicode_and_double_slashes_round_trip() {
    let p = Platform::start().await;
    let bucket = p.bucket("keys").await;
    let keys = [
        // Each has a twin that a wrong encoding or decoding would fetch instead.
        "dir with spaces/file name.txt",
        "dir+with+spaces/file+name.txt",
        "a+b=c&d.txt",
        "a b=c&d.txt",
        "100%/literal%20percent%2F.txt",
        "100%/literal percent/.txt",
        "double/slash.txt",
        "tag#1.txt",
        "what?.txt",
        "q?x=1&versionId",
        "ünïcødé/日本語 ファイル.png",
        "emoji 😀.txt",
        "double//slash.txt",
        "trailing//",
        "tilde~quote'paren()star*bang!comma,semi;colon:at@dollar$.txt",
    ];
    for key in keys {
        // Each object holds its own key, so the right object is the one that comes back.
        bounded(
            "PutObject",
            p.plain.put_object().bucket(&bucket).key(key).body(key.as_bytes().to_vec().into()).send(),
        )
        .await
        .unwrap_or_else(|e| panic!("put {key:?}: {e:?}"));
    }
    let role = p.role("platform-read", &default_scope(&[&bucket]), false).await;
    p.integration("Keys", &role, &default_scope(&[&bucket]), false).await;
    p.enforce().await;

    let locators: Vec<String> = keys.iter().map(|k| format!("s3://{bucket}/{k}")).collect();
    let locators: Vec<&str> = locators.iter().map(String::as_str).collect();
    let reply = p.presign(&member(ORG), &locators, None).await;
    let results = results_of(&reply);
    let mut wrong = Vec::new();
    for (key, result) in keys.iter().zip(results) {
        let url = url_of(result);
        let (status, body) = fetch(url).await;
        if (status, body.as_slice()) != (200, key.as_bytes()) {
            wrong.push(format!("{key:?}: {status} {:?} from {url}", String::from_utf8_lossy(&body)));
        }
    }
    assert!(wrong.is_empty(), "keys that did not round-trip:\n{}", wrong.join("\n"));
}

#[tokio::test]
async fn one_batch_mixes_pass_through_urls_and_per_locator_errors_with_good_locators_in_input_order() {
    let p = Platform::start().await;
    let permitted = p.bucket("permitted").await;
    let prefixed = p.bucket("prefixed").await;
    let outside = p.bucket("outside").await;
    p.put(&permitted, "one.txt", b"one").await;
    p.put(&permitted, "two.txt", b"two").await;
    p.put(&prefixed, "only/three.txt", b"three").await;
    let prefix_scope = json!({"type": "bucket", "bucket": prefixed, "prefix": "only/"});
    let role = p.role("default-read", &default_scope(&[&permitted]), false).await;
    let prefix_role = p.role("prefix-read", &prefix_scope, false).await;
    let default_id = p.integration("Default", &role, &default_scope(&[&permitted]), false).await;
    let prefix_id = p.integration("Only", &prefix_role, &prefix_scope, false).await;
    p.enforce().await;

    let https = "https://cdn.example.com/images/a%20b.png?size=large";
    let batch = json!([
        format!("s3://{permitted}/one.txt"),
        https,
        "gs://x/y",
        "s3://Not_A_Bucket/key",
        42,
        format!("s3://{prefixed}/elsewhere/four.txt"),
        format!("s3://{outside}/five.txt"),
        format!("s3://{permitted}/two.txt"),
        format!("s3://{prefixed}/only/three.txt"),
        format!("s3://{permitted}/a/../escape.txt"),
    ]);
    let expires_in = 600;
    let stored = p.app.stored_items(ORG).await;
    let before = SystemTime::now();
    let reply = bounded(
        "POST /presign",
        p.app.post("/presign", &member(ORG), &json!({"locators": batch, "expires_in": expires_in})),
    )
    .await;
    let after = SystemTime::now();
    let results = results_of(&reply);
    assert_eq!(results.len(), 10);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(p.app.stored_items(ORG).await, stored, "presign only reads the table");
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["locator"], batch[i], "result {i} keeps the input order");
    }
    let code = |i: usize| results[i]["error"]["code"].as_str().unwrap_or("");
    let message = |i: usize| results[i]["error"]["message"].as_str().unwrap_or("");

    assert_eq!(results[1], json!({"locator": https, "url": https}), "https passes through unchanged");
    assert_eq!(code(2), "UNSUPPORTED_LOCATOR");
    assert_eq!(code(3), "INVALID_LOCATOR");
    assert_eq!(code(4), "INVALID_LOCATOR", "a non-string locator");
    assert_eq!(code(5), "NO_INTEGRATION", "{}", results[5]);
    assert!(message(5).contains(&prefixed), "names the bucket: {}", message(5));
    assert_eq!(code(6), "BUCKET_NOT_PERMITTED", "{}", results[6]);
    assert!(message(6).contains(&outside), "names the bucket: {}", message(6));
    assert_eq!(code(9), "INVALID_LOCATOR", "a `..` segment: {}", results[9]);

    for (i, id, body) in [(0, &default_id, "one"), (7, &default_id, "two"), (8, &prefix_id, "three")] {
        let result = &results[i];
        assert!(result.get("error").is_none(), "{result}");
        assert_eq!(result["integration_id"], id.as_str());
        let url = url_of(result);
        assert_eq!(fetch(url).await, (200, body.as_bytes().to_vec()), "{url}");

        // expires_at: RFC 3339 UTC, no later than now + expires_in, and exactly what the URL says.
        let text = result["expires_at"].as_str().expect("expires_at");
        assert!(text.ends_with('Z'), "{text}");
        let expires_at = OffsetDateTime::parse(text, &Rfc3339).expect("RFC 3339").unix_timestamp();
        assert!(expires_at <= unix(after) + expires_in, "{text} is later than now + {expires_in}s");
        assert!(expires_at >= unix(before) + expires_in, "{text}: the URL lives the full {expires_in}s");
        let date = query(url, "X-Amz-Date").expect("X-Amz-Date");
        let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        let signed_at = time::PrimitiveDateTime::parse(&date, &format).expect("X-Amz-Date").assume_utc();
        let lifetime: i64 = query(url, "X-Amz-Expires").expect("X-Amz-Expires").parse().expect("a number");
        assert_eq!(lifetime, expires_in, "{url}");
        assert_eq!(
            signed_at.unix_timestamp() + lifetime,
            expires_at,
            "X-Amz-Date + X-Amz-Expires = expires_at"
        );
    }

    // An org without a default: a bucket that no integration covers is NO_INTEGRATION, by name.
    let other_org = "globex";
    let nobody = format!("nobody-{}", p.tag);
    p.app
        .create(
            other_org,
            &json!({
                "name": "Only one bucket",
                "role_arn": role,
                "region": "us-east-1",
                "scope": bucket_scope(&permitted),
                "versioning": false,
            }),
        )
        .await;
    let reply = p.presign(&member(other_org), &[&format!("s3://{nobody}/k.txt")], None).await;
    let result = &results_of(&reply)[0];
    assert_eq!(result["error"]["code"], "NO_INTEGRATION", "{result}");
    assert!(result["error"]["message"].as_str().unwrap().contains(&nobody), "{result}");
}

#[tokio::test]
async fn presign_bounds_the_batch_and_expires_in_and_needs_a_token_but_not_an_admin() {
    let app = spawn_app().await;
    app.create("acme", &bucket_body("Images", "bucket-a")).await;
    let member = member("acme");

    let too_many: Vec<String> = (0..1001).map(|i| format!("s3://bucket-a/{i}.png")).collect();
    let reply = app.post("/presign", &member, &json!({ "locators": too_many })).await;
    assert_eq!((reply.status, reply.code()), (413, "PAYLOAD_TOO_LARGE"), "{}", reply.body);
    assert!(reply.message().contains("1000"), "the message names the limit: {}", reply.message());

    for bad in [json!(0), json!(3001), json!(-5), json!(1.5), json!("900")] {
        let reply = app
            .post("/presign", &member, &json!({"locators": ["s3://bucket-a/x.png"], "expires_in": bad}))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "INVALID_EXPIRES_IN"),
            "expires_in {bad}: {}",
            reply.body
        );
        assert_eq!(reply.field(), Some("expires_in"));
        assert!(reply.message().contains("3000"), "the message names the maximum: {}", reply.message());
    }

    // The maximum itself is fine, for a member (the https locator needs no credentials).
    let ok = app
        .post("/presign", &member, &json!({"locators": ["https://example.com/x.png"], "expires_in": 3000}))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["results"][0]["url"], "https://example.com/x.png");

    let anonymous = app.call("POST", "/presign", None, Some(&json!({"locators": []}))).await;
    assert_eq!((anonymous.status, anonymous.code()), (401, "UNAUTHORIZED"));
}

// ---- B. the credential cache ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_cold_presigns_make_one_assume_role_call_and_one_probe_at_the_emulator() {
    let p = Platform::start().await;
    let bucket = p.bucket("burst").await;
    p.put(&bucket, "hot.png", b"hot").await;
    let role = p.role("platform-read", &default_scope(&[&bucket]), false).await;
    let id = p.integration("Burst", &role, &default_scope(&[&bucket]), false).await;
    p.enforce().await;
    p.moto.start_recording().await;

    let locator = format!("s3://{bucket}/hot.png");
    let token = member(ORG);
    let locators = [locator.as_str()];
    let requests = (0..100).map(|_| p.presign(&token, &locators, None));
    let replies = bounded("100 presigns", futures::future::join_all(requests)).await;
    for reply in &replies {
        let result = &results_of(reply)[0];
        assert!(result["url"].is_string(), "{result}");
    }
    let stats = p.cache().stats();
    let recorded = p.moto.recorded("AssumeRole", Some(&role)).await;
    assert_eq!(recorded.len(), 2, "AssumeRole requests seen by the emulator: {recorded:?}");
    // The first carries the org's external ID and a session name that names the org and the
    // integration; the second
    // is the probe (a random external ID the role must refuse), once for the whole burst.
    let param = |i: usize, name: &str| recorded[i].iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(param(0, "ExternalId"), Some(p.external_id.clone()));
    assert_eq!(param(0, "RoleSessionName"), Some(format!("acme.{id}")));
    assert_eq!(param(0, "DurationSeconds").as_deref(), Some("3600"));
    let probe = param(1, "ExternalId").expect("the probe names an external ID");
    assert!(probe.starts_with("probe-") && probe != p.external_id, "{probe}");
    assert_eq!(assume_calls(p.cache()), 1, "{stats:?}");
    assert_eq!(stats.probes.load(Ordering::SeqCst), 1, "{stats:?}");
    assert_eq!(stats.failures.load(Ordering::SeqCst), 0, "{stats:?}");
    assert_eq!(fetch(url_of(&results_of(&replies[99])[0])).await, (200, b"hot".to_vec()));
}

#[tokio::test]
async fn a_credential_close_to_expiry_is_refreshed_before_it_signs() {
    let p = Platform::start().await;
    let bucket = p.bucket("refresh").await;
    let role = p.role("platform-read", &default_scope(&[&bucket]), false).await;
    p.enforce().await;
    p.moto.start_recording().await;
    let config = CacheConfig::default();
    let margin = config.safety_margin;
    let clock = TestClock::default();
    let sts = platform_sts_client(&p.moto.url, &p.user.access_key_id, &p.user.secret_access_key).await;
    let cache = CredentialCache::with_clock(sts, config, clock.clock());
    let (org, external_id) = (org(), p.external_id());
    let lease = |lifetime: u64| {
        let (cache, org, external_id, role) = (&cache, &org, &external_id, &role);
        async move {
            bounded("lease", cache.lease(org, role, external_id, Duration::from_secs(lifetime), false))
                .await
                .expect("STS answers")
        }
    };

    let first = lease(900).await;
    assert_within_credentials(&first, margin);
    let again = lease(3000).await;
    assert_eq!(again.credentials, first.credentials, "warm: the same credentials");
    assert_eq!((assume_calls(&cache), p.moto.assume_role_requests(&role).await), (1, 1));

    // 930 s left: enough for a 600 s URL (+ 60 s margin), not for a 900 s one.
    clock.set_remaining(first.credentials.expires_at, Duration::from_secs(930));
    let short = lease(600).await;
    assert_eq!(short.credentials, first.credentials, "a 600 s URL fits in what is left");
    assert_eq!(assume_calls(&cache), 1);

    tokio::time::sleep(Duration::from_millis(20)).await;
    let refreshed = lease(900).await;
    assert_eq!(assume_calls(&cache), 2, "a 900 s URL needs a refresh");
    assert_eq!(p.moto.assume_role_requests(&role).await, 2, "AssumeRole requests seen by the emulator");
    assert_ne!(refreshed.credentials.signing.access_key_id, first.credentials.signing.access_key_id);
    assert!(refreshed.sign_until > first.sign_until, "{refreshed:?} vs {first:?}");
    for lease in [&first, &again, &short, &refreshed] {
        assert_within_credentials(lease, margin);
    }

    // Concurrent refreshes are single-flight too: credentials that cannot carry a 3,000 s URL
    // (1,000 s left on a clock that agrees with the emulator's), then 50 leases at once.
    clock.ahead.store(0, Ordering::SeqCst);
    let mut ageing = refreshed.credentials.clone();
    ageing.expires_at = SystemTime::now() + Duration::from_secs(1000);
    cache.prime(&org, &role, &external_id, ageing.clone()).await;
    let burst = bounded("50 leases", futures::future::join_all((0..50).map(|_| lease(3000)))).await;
    assert_eq!(assume_calls(&cache), 3, "one refresh for 50 concurrent leases");
    assert_eq!(p.moto.assume_role_requests(&role).await, 3, "AssumeRole requests seen by the emulator");
    for lease in &burst {
        assert_ne!(lease.credentials, ageing, "every lease got the refreshed credentials");
        assert_eq!(lease.credentials, burst[0].credentials);
        assert!(lease.sign_until >= SystemTime::now() + Duration::from_secs(3000), "{lease:?}");
        assert_within_credentials(lease, margin);
    }
}

#[tokio::test]
async fn during_an_sts_outage_valid_credentials_keep_signing_shorter_urls_then_fail_as_assume_role_failed() {
    let clock = TestClock::default();
    let (mut p, cache) = Platform::start_on_clock(&clock).await;
    let bucket = p.bucket("outage").await;
    p.put(&bucket, "x.txt", b"x").await;
    let role = p.role("platform-read", &default_scope(&[&bucket]), false).await;
    let id = p.integration("Outage", &role, &default_scope(&[&bucket]), false).await;
    p.enforce().await;
    let margin = cache.config().safety_margin;
    let locator = format!("s3://{bucket}/x.txt");

    // Warm: one presign through the handler, one lease from the same cache.
    let warm = p.presign(&member(ORG), &[&locator], Some(900)).await;
    assert!(results_of(&warm)[0]["url"].is_string(), "{}", warm.body);
    let (org, external_id) = (org(), p.external_id());
    let lease = |lifetime: u64| {
        cache.lease_for_integration(&org, &id, &role, &external_id, Duration::from_secs(lifetime), false)
    };
    let warm_lease = bounded("lease", lease(900)).await.expect("warm");
    assert_eq!(assume_calls(&cache), 1);

    // STS goes away.
    p.moto.stop();

    // Through the handler (its clock and the cache's agree here): the cached credentials have
    // 1,000 s left, a 3,000 s URL wants a refresh, STS does not answer, so the URL is cut to what
    // the credentials can honour, and the response says so.
    let mut short_lived = warm_lease.credentials.clone();
    short_lived.expires_at = SystemTime::now() + Duration::from_secs(1000);
    cache.prime_for_integration(&org, &id, &role, &external_id, short_lived.clone()).await;
    let started = std::time::Instant::now();
    let reply = p.presign(&member(ORG), &[&locator], Some(3000)).await;
    let after = SystemTime::now();
    assert!(started.elapsed() < Duration::from_secs(10), "STS retries are bounded: {:?}", started.elapsed());
    let result = &results_of(&reply)[0];
    let url = url_of(result);
    assert_eq!(assume_calls(&cache), 2, "the refresh was tried");
    assert_eq!(cache.stats().failures.load(Ordering::SeqCst), 1);
    let expires_at = OffsetDateTime::parse(result["expires_at"].as_str().unwrap(), &Rfc3339).unwrap();
    let limit = unix(short_lived.expires_at - margin);
    assert!(expires_at.unix_timestamp() <= limit, "{result} outlives the credentials less the margin");
    assert!(expires_at.unix_timestamp() < unix(after) + 3000, "{result}: not the 3,000 s asked for");
    let lifetime: i64 = query(url, "X-Amz-Expires").unwrap().parse().unwrap();
    assert!((900..=940).contains(&lifetime), "X-Amz-Expires={lifetime}, about 1,000 s - 60 s margin");
    assert_eq!(fetch(url).await, (200, b"x".to_vec()), "the shortened URL still works");

    // The cache on its own clock: 930 s left, a 900 s URL wants a refresh, STS is still down;
    // the credentials still serve, with `sign_until` at expiry less the margin.
    clock.set_remaining(short_lived.expires_at, Duration::from_secs(930));
    let degraded = bounded("lease", lease(900)).await.expect("still-valid credentials keep serving");
    assert_eq!(assume_calls(&cache), 3, "the refresh was tried again");
    assert_eq!(degraded.credentials, short_lived);
    assert_within_credentials(&degraded, margin);
    let left = degraded.sign_until.duration_since(clock.now()).expect("sign_until is ahead");
    assert!(left < Duration::from_secs(900), "the URL life is shortened to {left:?}");

    // Past expiry: nothing valid is left and STS is still down.
    clock.set_past(short_lived.expires_at, Duration::from_secs(10));
    let failed = bounded("lease", lease(900)).await.expect_err("expired credentials must not sign");
    assert!(matches!(failed, AssumeFailure::Unavailable(_)), "{failed:?}");
    assert_eq!(failed.code(), "ASSUME_ROLE_FAILED");

    let calls = assume_calls(&cache);

    // Through the handler: a per-item error, not a 500, and other items are unaffected; the
    // failure is remembered briefly, so this batch does not call STS again.
    let reply = p.presign(&member(ORG), &[&locator, "https://example.com/still.png"], Some(900)).await;
    let results = results_of(&reply);
    assert_eq!(results[0]["error"]["code"], "ASSUME_ROLE_FAILED", "{}", results[0]);
    assert!(results[0]["error"]["message"].as_str().unwrap().contains(&role), "{}", results[0]);
    assert_eq!(results[1]["url"], "https://example.com/still.png");
    assert_eq!(assume_calls(&cache), calls);
}

#[tokio::test]
async fn an_sts_that_never_answers_costs_one_bounded_wait_then_fails_fast_as_assume_role_failed() {
    let holder = black_hole().await;
    let hole = holder.url.clone();
    let sts = platform_sts_client(&hole, "AKIAPLATFORM00000000", "secret").await;
    let (app, server) = spawn_app_with(AppWith::new(sts, PLATFORM_PRINCIPAL, &emulator_endpoint())).await;
    app.create(ORG, &bucket_body("Images", "bucket-a")).await;

    let started = std::time::Instant::now();
    let reply = bounded(
        "POST /presign",
        app.post("/presign", &member(ORG), &json!({"locators": ["s3://bucket-a/x.png"]})),
    )
    .await;
    let waited = started.elapsed();
    assert_eq!(results_of(&reply)[0]["error"]["code"], "ASSUME_ROLE_FAILED", "{}", reply.body);
    assert!(waited < Duration::from_secs(8), "the STS timeouts bound the wait: {waited:?}");

    // Remembered briefly: the next batch fails at once, without another STS call.
    let calls = assume_calls(server.presign.credentials());
    let started = std::time::Instant::now();
    let reply = app.post("/presign", &member(ORG), &json!({"locators": ["s3://bucket-a/y.png"]})).await;
    assert_eq!(results_of(&reply)[0]["error"]["code"], "ASSUME_ROLE_FAILED", "{}", reply.body);
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(assume_calls(server.presign.credentials()), calls);
    drop(holder);
}

#[tokio::test]
async fn a_denial_is_cached_briefly_so_a_broken_integration_does_not_hammer_sts() {
    let p = Platform::start().await;
    let bucket = p.bucket("denied").await;
    let role = p.role_for_another_external_id("wrong-trust", &default_scope(&[&bucket])).await;
    p.integration("Broken", &role, &default_scope(&[&bucket]), false).await;
    p.enforce().await;
    p.moto.start_recording().await;

    // Through the handler: two batches, one AssumeRole.
    let locator = format!("s3://{bucket}/x.txt");
    for _ in 0..2 {
        let reply = p.presign(&member(ORG), &[&locator, &locator], None).await;
        for result in results_of(&reply) {
            assert_eq!(result["error"]["code"], "ASSUME_ROLE_DENIED", "{result}");
        }
    }
    assert_eq!(p.moto.assume_role_requests(&role).await, 1, "AssumeRole requests seen by the emulator");
    assert_eq!(assume_calls(p.cache()), 1);

    // The cache itself, with a clock: many denials within the TTL for one call; after it, a retry.
    let clock = TestClock::default();
    let config = CacheConfig::default();
    let denied_ttl = config.denied_ttl;
    let sts = platform_sts_client(&p.moto.url, &p.user.access_key_id, &p.user.secret_access_key).await;
    let cache = CredentialCache::with_clock(sts, config, clock.clock());
    let (org, external_id) = (org(), p.external_id());
    let lease = || cache.lease(&org, &role, &external_id, Duration::from_secs(900), false);
    // 20 cold leases at once, then one more within the TTL: one AssumeRole in all.
    let burst = bounded("20 leases", futures::future::join_all((0..20).map(|_| lease()))).await;
    let later = bounded("lease", lease()).await;
    for denied in burst.into_iter().chain([later]) {
        let denied = denied.expect_err("the trust policy names another external ID");
        assert!(matches!(denied, AssumeFailure::Denied(_)), "{denied:?}");
        assert_eq!(denied.code(), "ASSUME_ROLE_DENIED");
    }
    assert_eq!(assume_calls(&cache), 1);
    assert_eq!(p.moto.assume_role_requests(&role).await, 2);

    clock.ahead.store(denied_ttl.as_secs() + 1, Ordering::SeqCst);
    let again = bounded("lease", lease()).await.expect_err("still denied");
    assert!(matches!(again, AssumeFailure::Denied(_)), "{again:?}");
    assert_eq!(assume_calls(&cache), 2, "after the TTL the role is tried again");
    assert_eq!(p.moto.assume_role_requests(&role).await, 3);
}

// ---- C. the trust boundary: no URL without proof that the role demands this org's external ID ----

/// A presign state of its own over the platform's table (a fresh credential cache: a new Lambda
/// instance), driven through `presign::handle` with the sample event's shape.
async fn presign_on_a_new_instance(p: &Platform, locators: &[&str]) -> Vec<Value> {
    let sts = platform_sts_client(&p.moto.url, &p.user.access_key_id, &p.user.secret_access_key).await;
    presign_through_the_handler(&p.app.store, sts, &p.user.arn, locators).await
}

/// `presign::handle` for the org [`ORG`] on a new state over `store`, assuming roles with `sts`.
async fn presign_through_the_handler(
    store: &shared::aws::store::DynamoStore,
    sts: aws_sdk_sts::Client,
    platform_principal: &str,
    locators: &[&str],
) -> Vec<Value> {
    let mut env = std::collections::HashMap::new();
    env.insert("TABLE_NAME".to_owned(), store.table().to_owned());
    env.insert("S3_ENDPOINT_URL".to_owned(), emulator_endpoint());
    env.insert("PLATFORM_PRINCIPAL_ARN".to_owned(), platform_principal.to_owned());
    env.insert("SECRETS_KMS_KEY_ID".to_owned(), "unused-by-the-memory-sealer".to_owned());
    env.insert("LINK_SIGNING_KEYS".to_owned(), crate::helpers::TEST_LINK_KEYS.to_owned());
    let config = presign::PresignConfig::from_env(&env).expect("presign config");
    let state = presign::State::new(
        store.shared(),
        CredentialCache::new(sts, CacheConfig::default()),
        memory_sealer(),
        config,
    );
    let request = presign_event(ORG, locators);
    let response = bounded("presign::handle", presign::handle(&state, request)).await.expect("never Err");
    assert_eq!(response.status(), 200);
    response_json(&response)["results"].as_array().expect("results").clone()
}

fn not_enforced<'a>(result: &'a Value, role: &str, external_id: &str) -> &'a str {
    assert_eq!(result["error"]["code"], "EXTERNAL_ID_NOT_ENFORCED", "{result}");
    assert!(result.get("url").is_none(), "no URL through a role that would serve any org: {result}");
    let message = result["error"]["message"].as_str().expect("message");
    for needle in [role, external_id, "sts:ExternalId", "StringEquals"] {
        assert!(message.contains(needle), "the message names {needle:?}: {message}");
    }
    message
}

#[tokio::test]
async fn another_orgs_role_that_ignores_the_external_id_gets_external_id_not_enforced_for_every_locator() {
    // The victim's role trusts the platform principal with no external-ID condition; the attacker
    // (the org ORG) saves an integration naming that role and the victim's bucket.
    let p = Platform::start_with(|options| {
        // Every presign reloads the org view and retries STS at once: what stops a URL is the
        // proof, not a cache.
        options.presign_env.push(("INTEGRATION_CACHE_SECONDS".into(), "0".into()));
        options.presign_env.push(("ASSUME_FAILURE_CACHE_SECONDS".into(), "0".into()));
    })
    .await;
    let victims = p.bucket("victim-photos").await;
    p.put(&victims, "private/passport.jpg", b"the victim's bytes").await;
    let scope = bucket_scope(&victims);
    let role = p.role_trusting("victim-open-trust", &scope, false, &p.trust_without_external_id()).await;
    let id = p.integration("Not mine", &role, &scope, false).await;
    p.enforce().await;
    p.moto.start_recording().await;

    let locators = [format!("s3://{victims}/private/passport.jpg"), format!("s3://{victims}/other.jpg")];
    let reply = p.presign(&member(ORG), &[&locators[0], &locators[1]], None).await;
    let results = results_of(&reply);
    let words = not_enforced(&results[0], &role, &p.external_id).to_owned();
    assert_eq!(not_enforced(&results[1], &role, &p.external_id), words);
    let stats = p.cache().stats();
    assert_eq!(stats.probes.load(Ordering::SeqCst), 1, "{stats:?}");
    assert_eq!(stats.not_enforced.load(Ordering::SeqCst), 1, "{stats:?}");
    assert_eq!(p.moto.assume_role_requests(&role).await, 2, "the assume and its probe");

    // Validation runs the same probe and says the same words.
    let report = p.app.call("POST", &format!("/integrations/{id}/validate"), Some(&admin(ORG)), None).await;
    assert_eq!(report.status, 200, "{}", report.body);
    let check = report.body["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["code"] == "EXTERNAL_ID_REQUIRED")
        .expect("the external-ID check")
        .clone();
    assert_eq!(check["result"], "fail", "{check}");
    assert_eq!(check["message"], words.as_str(), "validation and presign never disagree about one role");
    assert_eq!(report.body["state"], "failing", "{}", report.body);

    // The recorded proof now refuses the role without another call to STS.
    let before = p.moto.assume_role_requests(&role).await;
    let again = p.presign(&member(ORG), &[&locators[0]], None).await;
    assert_eq!(not_enforced(&results_of(&again)[0], &role, &p.external_id), words);
    assert_eq!(
        p.moto.assume_role_requests(&role).await,
        before,
        "the recorded proof stands in for the probe"
    );
}

#[tokio::test]
async fn a_wildcard_external_id_condition_is_refused_like_no_condition() {
    let p = Platform::start().await;
    let bucket = p.bucket("wildcard").await;
    p.put(&bucket, "a.txt", b"a").await;
    let scope = bucket_scope(&bucket);
    let role = p.role_trusting("wildcard-trust", &scope, false, &p.trust_with_wildcard_external_id()).await;
    p.integration("Wildcard", &role, &scope, false).await;
    p.enforce().await;

    // The org's own external ID gets in (the condition matches it) ...
    let own = bounded("AssumeRole", p.cache().assume(&org(), &role, Some(&p.external_id))).await;
    assert!(own.is_ok(), "StringLike * admits the org's external ID: {own:?}");
    // ... and so would any other org's: no URL.
    let reply = p.presign(&member(ORG), &[&format!("s3://{bucket}/a.txt")], None).await;
    not_enforced(&results_of(&reply)[0], &role, &p.external_id);
}

#[tokio::test]
async fn a_correctly_configured_role_presigns_right_after_save_and_a_recorded_proof_spares_the_probe() {
    let p = Platform::start().await;
    let bucket = p.bucket("proven").await;
    p.put(&bucket, "a.txt", b"proven bytes").await;
    let scope = bucket_scope(&bucket);
    let role = p.role("proven-read", &scope, false).await;
    let id = p.integration("Proven", &role, &scope, false).await;
    p.enforce().await;
    p.moto.start_recording().await;

    // Right after save, before any validation: one assume, one denied probe, a working URL.
    let locator = format!("s3://{bucket}/a.txt");
    let reply = p.presign(&member(ORG), &[&locator], None).await;
    assert_eq!(fetch(url_of(&results_of(&reply)[0])).await, (200, b"proven bytes".to_vec()));
    assert_eq!(p.cache().stats().probes.load(Ordering::SeqCst), 1);
    assert_eq!(p.moto.assume_role_requests(&role).await, 2);

    // Validation records the proof on the integration.
    let report = p.app.call("POST", &format!("/integrations/{id}/validate"), Some(&admin(ORG)), None).await;
    assert_eq!(report.status, 200, "{}", report.body);
    let got = p.app.get(&format!("/integrations/{id}"), &admin(ORG)).await;
    let proof = &got.body["external_id_proof"];
    assert_eq!(proof["enforced"], true, "{}", got.body);
    assert_eq!(proof["role_arn"], role.as_str(), "{}", got.body);
    assert!(
        proof["checked_at"].as_str().is_some_and(|t| OffsetDateTime::parse(t, &Rfc3339).is_ok()),
        "{proof}"
    );
    let after_validation = p.moto.assume_role_requests(&role).await;
    assert_eq!(after_validation, 4, "validation's own assume and probe");

    // A new instance (cold cache) signs after one AssumeRole: the recorded proof stands in for
    // the probe.
    let results = presign_on_a_new_instance(&p, &[&locator]).await;
    assert_eq!(fetch(url_of(&results[0])).await, (200, b"proven bytes".to_vec()));
    assert_eq!(p.moto.assume_role_requests(&role).await, after_validation + 1, "no probe");
}

#[tokio::test]
async fn a_role_in_the_platforms_own_account_is_refused_at_save_and_never_assumed() {
    use crate::moto::PLATFORM_ACCOUNT;
    let p = Platform::start().await;
    let bucket = p.bucket("own-account").await;
    let scope = bucket_scope(&bucket);
    let access = p.access_policy(&scope, false).await;
    // A role in the platform's account that even trusts the platform with the org's external ID.
    let own = p.moto.create_role_in(PLATFORM_ACCOUNT, "platform-internal", &p.trust, &access).await;
    assert!(own.contains(&format!(":{PLATFORM_ACCOUNT}:")), "{own}");
    let body = json!({"name": "Internal", "role_arn": own, "region": "us-east-1", "scope": scope, "versioning": false});

    let refused = p.app.post("/integrations", &admin(ORG), &body).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.code(), "ROLE_IN_PLATFORM_ACCOUNT");
    assert_eq!(refused.field(), Some("role_arn"));
    assert!(refused.message().contains(PLATFORM_ACCOUNT), "names the account: {}", refused.message());

    // Nor by replacing a good integration's role.
    let good_role = p.role("good-read", &scope, false).await;
    let id = p.integration("Good", &good_role, &scope, false).await;
    let mut replaced = body.clone();
    replaced["name"] = json!("Good");
    let path = format!("/integrations/{id}");
    let headers = [("if-match", "1"), ("content-type", "application/json")];
    let reply = p.app.call_with("PUT", &path, Some(&admin(ORG)), Some(replaced.to_string()), &headers).await;
    assert_eq!((reply.status, reply.code()), (400, "ROLE_IN_PLATFORM_ACCOUNT"), "{}", reply.body);

    // An integration stored before the rule existed gets the error per locator, with no STS call.
    let draft = shared::domain::integration::IntegrationDraft::role_from_json(&json!({
        "name": "Legacy", "role_arn": own, "region": "us-east-1",
        "scope": bucket_scope(&p.bucket("legacy").await), "versioning": false,
    }))
    .expect("draft");
    let legacy = p.app.store.create(&org(), draft).await.expect("stored directly");
    let legacy_bucket = legacy.scope.buckets().first().expect("one bucket").as_str().to_owned();
    p.enforce().await;
    p.moto.start_recording().await;
    let reply = p.presign(&member(ORG), &[&format!("s3://{legacy_bucket}/x")], None).await;
    let result = &results_of(&reply)[0];
    assert_eq!(result["error"]["code"], "ROLE_IN_PLATFORM_ACCOUNT", "{result}");
    assert_eq!(p.moto.assume_role_requests(&own).await, 0, "never assumed");
}

#[tokio::test]
async fn a_role_in_another_partition_is_refused_with_the_partition_and_the_deployment_it_needs() {
    let app = spawn_app().await;
    for (role, region, partition) in [
        ("arn:aws-cn:iam::210987654321:role/reader", "cn-north-1", "aws-cn"),
        ("arn:aws-us-gov:iam::210987654321:role/reader", "us-gov-west-1", "aws-us-gov"),
    ] {
        let mut body = bucket_body("Elsewhere", "bucket-a");
        body["role_arn"] = json!(role);
        body["region"] = json!(region);
        let reply = app.post("/integrations", &admin("acme"), &body).await;
        assert_eq!((reply.status, reply.code()), (400, "PARTITION_NOT_SERVED"), "{}", reply.body);
        assert_eq!(reply.field(), Some("role_arn"));
        let message = reply.message();
        assert!(message.contains(partition) && message.contains("deployment"), "{message}");
        // The rendering for that partition's deployment still works.
        let rendered = app
            .post(
                "/policies/access",
                &admin("acme"),
                &json!({"scope": bucket_scope("bucket-a"), "region": region}),
            )
            .await;
        assert_eq!(rendered.status, 200, "{}", rendered.body);
        let text = rendered.body["text"].as_str().expect("policy text");
        assert!(text.contains(&format!("arn:{partition}:s3:::bucket-a")), "{text}");
    }
}

#[tokio::test]
async fn a_role_whose_trust_is_revoked_after_warm_up_gets_no_url_after_its_next_refresh() {
    use crate::moto::CUSTOMER_ACCOUNT;
    let clock = TestClock::default();
    let (p, cache) = Platform::start_on_clock(&clock).await;
    let bucket = p.bucket("revoked").await;
    p.put(&bucket, "a.txt", b"a").await;
    let scope = default_scope(&[&bucket]);
    let role = p.role("revocable", &scope, false).await;
    let id = p.integration("Revocable", &role, &scope, false).await;
    p.enforce().await;
    let locator = format!("s3://{bucket}/a.txt");
    let warm = p.presign(&member(ORG), &[&locator], Some(900)).await;
    assert!(results_of(&warm)[0]["url"].is_string(), "{}", warm.body);

    // The customer revokes the platform's trust. Credentials already issued stay valid on AWS
    // until they expire, so URLs that fit in them are still signed ...
    p.moto.update_trust(CUSTOMER_ACCOUNT, "revocable", &p.trust_for_another_external_id()).await;
    let (org, external_id) = (org(), p.external_id());
    let held = cache.lease_for_integration(&org, &id, &role, &external_id, Duration::from_secs(60), true);
    let held = bounded("lease", held).await.expect("the warm credentials");
    let still = p.presign(&member(ORG), &[&locator], Some(600)).await;
    assert!(results_of(&still)[0]["url"].is_string(), "{}", still.body);

    // ... until the next refresh, which STS denies: no URL, and the still-valid credentials are
    // dropped at once.
    clock.set_remaining(held.credentials.expires_at, Duration::from_secs(700));
    let reply = p.presign(&member(ORG), &[&locator], Some(900)).await;
    let result = &results_of(&reply)[0];
    assert_eq!(result["error"]["code"], "ASSUME_ROLE_DENIED", "{result}");
    let short = cache.lease_for_integration(&org, &id, &role, &external_id, Duration::from_secs(60), true);
    let short = bounded("lease", short).await;
    assert!(
        matches!(short, Err(AssumeFailure::Denied(_))),
        "the dropped credentials sign nothing: {short:?}"
    );
    let reply = p.presign(&member(ORG), &[&locator], Some(60)).await;
    assert_eq!(results_of(&reply)[0]["error"]["code"], "ASSUME_ROLE_DENIED", "{}", reply.body);
}

#[tokio::test]
async fn an_integration_whose_latest_validation_was_denied_gets_the_error_once_the_org_view_reloads() {
    use crate::moto::CUSTOMER_ACCOUNT;
    let p = Platform::start_with(|options| {
        options.presign_env.push(("INTEGRATION_CACHE_SECONDS".into(), "0".into()));
    })
    .await;
    let bucket = p.bucket("denied-later").await;
    p.put(&bucket, "a.txt", b"a").await;
    let scope = default_scope(&[&bucket]);
    let role = p.role("denied-later", &scope, false).await;
    let id = p.integration("Denied later", &role, &scope, false).await;
    p.enforce().await;
    let locator = format!("s3://{bucket}/a.txt");
    let warm = p.presign(&member(ORG), &[&locator], None).await;
    assert!(results_of(&warm)[0]["url"].is_string(), "{}", warm.body);

    p.moto.update_trust(CUSTOMER_ACCOUNT, "denied-later", &p.trust_for_another_external_id()).await;
    let report = p.app.call("POST", &format!("/integrations/{id}/validate"), Some(&admin(ORG)), None).await;
    assert_eq!(report.body["checks"][0]["code"], "ASSUME_ROLE", "{}", report.body);
    assert_eq!(report.body["checks"][0]["result"], "fail", "{}", report.body);
    p.moto.start_recording().await;

    // The cache still holds valid credentials, but the recorded denial wins, without an STS call.
    let reply = p.presign(&member(ORG), &[&locator], None).await;
    let result = &results_of(&reply)[0];
    assert_eq!(result["error"]["code"], "ASSUME_ROLE_DENIED", "{result}");
    assert!(result["error"]["message"].as_str().is_some_and(|m| m.contains(&role)), "{result}");
    assert_eq!(p.moto.assume_role_requests(&role).await, 0);
}

#[tokio::test]
async fn sts_errors_are_classified_by_whose_problem_they_are_in_presign_and_in_validation() {
    let app = spawn_app().await;
    let created = app.create(ORG, &bucket_body("Photos", "bucket-a")).await;
    let integration = app.store.get(&org(), created["id"].as_str().expect("id")).await.expect("get");
    let external_id = app.store.read_external_id(&org()).await.expect("read").expect("created with it");
    let role = integration.role_arn().unwrap().as_str();
    for (status, code, customers_problem) in [
        (400, "ExpiredToken", false),
        (403, "InvalidClientTokenId", false),
        (403, "RegionDisabledException", false),
        (400, "Throttling", false),
        (503, "ServiceUnavailable", false),
        (500, "InternalFailure", false),
        (403, "AccessDenied", true),
    ] {
        let (url, _) = sts_answering_error(status, code, Duration::ZERO).await;
        let aws = sdk_config_with(&url, keys("k", "s", None)).await;
        let cache = CredentialCache::new(shared::aws::credentials::sts_client(&aws), CacheConfig::default());

        let failure =
            bounded("lease", cache.lease(&org(), role, &external_id, Duration::from_secs(900), true))
                .await
                .expect_err("STS answered with an error");
        let message = failure.message(role, Some(&external_id));
        if customers_problem {
            assert_eq!(failure.code(), "ASSUME_ROLE_DENIED", "{code}: {failure:?}");
            assert!(message.contains("GET /policies/trust"), "{code}: the customer's fix: {message}");
        } else {
            assert_eq!(failure.code(), "ASSUME_ROLE_FAILED", "{code}: transient, {failure:?}");
            assert!(message.contains("platform's side"), "{code}: {message}");
            assert!(
                !message.contains("GET /policies/trust"),
                "{code}: never 'fix your trust policy': {message}"
            );
        }

        let validator = shared::aws::validation::Validator::new(
            aws.clone(),
            cache.assumer(),
            shared::domain::presign::S3Endpoint::Custom(
                shared::domain::presign::CustomEndpoint::parse(&emulator_endpoint(), false)
                    .expect("endpoint"),
            ),
            PLATFORM_PRINCIPAL.to_owned(),
            vec![shared::domain::policy::AppOrigin::parse(APP_ORIGIN).expect("origin")],
        );
        let report = bounded("validate", validator.validate(&org(), Some(&external_id), &integration)).await;
        let assumed = &report.status.checks[0];
        assert_eq!(assumed.code, "ASSUME_ROLE");
        let expected = if customers_problem { "fail" } else { "warn" };
        assert_eq!(serde_json::to_value(assumed.result).expect("JSON"), expected, "{code}: {assumed:?}");
        assert!(report.proof.is_none(), "{code}: no conclusion about the external ID");
    }
}

#[tokio::test]
async fn a_probe_that_cannot_complete_issues_no_url_on_a_cold_start_and_a_recorded_proof_still_stands() {
    let app = spawn_app().await;
    let created = app.create(ORG, &bucket_body("Photos", "bucket-a")).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let external_id = app.store.external_id(&org()).await.expect("external id");
    let (url, calls) = sts_throttling_other_external_ids(external_id.as_str()).await;
    let aws = sdk_config_with(&url, keys("k", "s", None)).await;
    let sts = || shared::aws::credentials::sts_client(&aws);
    let locator = "s3://bucket-a/cat.jpg";

    // Cold start, no recorded proof: the probe is throttled, so no URL.
    let results = presign_through_the_handler(&app.store, sts(), PLATFORM_PRINCIPAL, &[locator]).await;
    assert_eq!(results[0]["error"]["code"], "ASSUME_ROLE_FAILED", "transient: {}", results[0]);
    assert!(results[0].get("url").is_none(), "{}", results[0]);
    assert!(calls.total.load(Ordering::SeqCst) >= 2, "the assume succeeded, then the probe was tried");

    // A proof recorded earlier (by validation) stands while STS cannot answer probes.
    let integration = app.store.get(&org(), &id).await.expect("get");
    let proof = shared::domain::external_id::ExternalIdProof::new(
        integration.role_arn().unwrap(),
        true,
        SystemTime::now(),
    );
    let unverified = shared::domain::integration::Status::unverified();
    assert!(app
        .store
        .record_report(&org(), &shared::domain::audit::Actor::direct(), &id, 1, &unverified, Some(&proof))
        .await
        .expect("record"));
    let before = calls.total.load(Ordering::SeqCst);
    let results = presign_through_the_handler(&app.store, sts(), PLATFORM_PRINCIPAL, &[locator]).await;
    assert!(results[0]["url"].is_string(), "{}", results[0]);
    assert_eq!(calls.total.load(Ordering::SeqCst), before + 1, "one AssumeRole, no probe");
}
