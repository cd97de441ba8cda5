//! S3-compatible stores end to end: the dev server over real HTTP, secrets sealed with a real key
//! in the emulator's KMS, integrations in DynamoDB, and two real S3 servers playing the customer's
//! store:
//! - `s3s-fs` (the `s3s` crate's file-system backend, at `$S3S_FS_BIN`), an independent S3 server
//!   that verifies every SigV4 signature with its own code and knows one access key: what a
//!   presigned URL is worth, and what the store says to a wrong key, is decided by it, not by us.
//! - the test moto itself (`AWS_ENDPOINT_URL`), for a store with versioning and CORS. It enforces
//!   no IAM, so any keys are accepted there.
//!
//! The handler-level rules (sealing on create, refusals at create time, replace keeping the
//! secret) are in `functions/integrations/tests/s3_compatible.rs` on the memory store; these
//! tests are what only the real servers can show.

use crate::helpers::*;
use crate::platform::{bounded, put_cors_for_preflights, rendered_cors};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use serde_json::{json, Value};
use shared::aws::endpoint_guard::EndpointPolicy;
use shared::aws::secrets::{KmsSealer, SharedSealer, PURPOSE};
use shared::domain::integration::{Access, IntegrationDraft};
use shared::domain::org::OrgId;
use shared::domain::s3_compatible::SecretInput;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const ORG: &str = "acme";
const ACCESS_KEY: &str = "AKIASTORETESTKEY0001";
const SECRET_KEY: &str = "store/Secret+Key=ForApiTests0123456789ab";
const BUCKET: &str = "store-media";

// ---------------------------------------------------------------------------------------------
// s3s-fs (`shared/tests/support/s3s_fs.rs`; `shared/tests/presign_s3s.rs` lists what it cannot store).

/// A running `s3s-fs` that knows one key pair, [`ACCESS_KEY`] / [`SECRET_KEY`].
struct S3sFs(crate::s3s_fs::S3sFsProcess);

impl std::ops::Deref for S3sFs {
    type Target = crate::s3s_fs::S3sFsProcess;
    fn deref(&self) -> &crate::s3s_fs::S3sFsProcess {
        &self.0
    }
}

impl S3sFs {
    fn start() -> Self {
        Self(crate::s3s_fs::S3sFsProcess::start(ACCESS_KEY, SECRET_KEY))
    }

    /// aws-sdk-s3 (a third, independent signer) with the store's own keys, path style.
    async fn sdk_client(&self) -> aws_sdk_s3::Client {
        s3_client_with(&self.endpoint_url(), ACCESS_KEY, SECRET_KEY, None).await
    }

    /// The server with `bucket` created and `keys` put, each holding [`body_for`] its key.
    async fn with_objects(bucket: &str, keys: &[&str]) -> Self {
        let server = Self::start();
        let client = server.sdk_client().await;
        bounded("CreateBucket", client.create_bucket().bucket(bucket).send())
            .await
            .unwrap_or_else(|e| panic!("create {bucket} in s3s-fs: {e:?}\n{}", server.log()));
        for key in keys {
            bounded(
                "PutObject",
                client.put_object().bucket(bucket).key(*key).body(ByteStream::from(body_for(key))).send(),
            )
            .await
            .unwrap_or_else(|e| panic!("put {key:?} into s3s-fs: {e:?}\n{}", server.log()));
        }
        server
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// Distinct bytes per key, with every byte value in them.
fn body_for(key: &str) -> Vec<u8> {
    let mut body = format!("object {key:?}\n").into_bytes();
    body.extend(0u8..=255);
    body.extend_from_slice(key.as_bytes());
    body
}

/// Keys s3s-fs stores as distinct files (`shared/tests/presign_s3s.rs` lists what it cannot), each
/// also a valid locator (no trailing `?versionId=`, no `.` or `..` segment).
const TRICKY_KEYS: &[&str] = &[
    "plain.txt",
    "with space.txt",
    " leading space.txt",
    "trailing space.txt ",
    "a+b.txt",
    "+",
    "100%.txt",
    "%25 is not a space.txt",
    "%2F stays literal",
    "hash#tag.txt",
    "question?.txt",
    "a=b&c=d.txt",
    "what?x=1&versionId",
    "tilde~file~.txt",
    "nested/dir/deeper/file (2).jpg",
    "café/日本語/ファイル 😀.txt",
    "𝄞 music/🦀 crab.png",
    "e\u{301}t\u{301}e\u{301} combining",
    "!$'()*,;:@[]{}|^`<>\"\\.txt",
    "...",
    "x/ /y z",
];

fn org(name: &str) -> OrgId {
    OrgId::parse(name).expect("an org id")
}

/// A create body for an `s3_compatible` integration of one bucket.
fn store_body(
    name: &str,
    endpoint: &str,
    bucket: &str,
    access_key: &str,
    secret: &str,
    versioning: bool,
) -> Value {
    json!({
        "kind": "s3_compatible",
        "name": name,
        "endpoint": endpoint,
        "access_key_id": access_key,
        "secret_access_key": secret,
        "region": "us-east-1",
        "addressing_style": "path",
        "scope": {"type": "bucket", "bucket": bucket},
        "versioning": versioning,
    })
}

/// Creates the integration as `org`'s admin; its id. The answer never holds the secret.
async fn create(app: &TestApp, org_id: &str, body: &Value) -> String {
    let created = bounded("POST /integrations", app.create(org_id, body)).await;
    assert_eq!(created["kind"], "s3_compatible", "{created}");
    assert_eq!(created["secret_set"], true, "{created}");
    let secret = body["secret_access_key"].as_str().expect("the body has a secret");
    assert!(!created.to_string().contains(secret), "the create answer shows the secret: {created}");
    created["id"].as_str().expect("an id").to_owned()
}

/// `POST /presign` as `org`'s member: one result per locator.
async fn presign(app: &TestApp, org_id: &str, locators: &[String]) -> Vec<Value> {
    let reply =
        bounded("POST /presign", app.post("/presign", &member(org_id), &json!({ "locators": locators })))
            .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let results = reply.body["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), locators.len(), "{}", reply.body);
    results
}

fn url_of(result: &Value) -> &str {
    result["url"].as_str().unwrap_or_else(|| panic!("no URL in {result}"))
}

fn query(url: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).expect("a URL");
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

async fn fetch(url: &str) -> (u16, Vec<u8>) {
    let client = reqwest::Client::builder().no_proxy().build().expect("an HTTP client");
    let response = bounded("GET a presigned URL", client.get(url).send())
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("the body").to_vec())
}

/// `POST /integrations/{id}/validate` as `org`'s admin: the report.
async fn validate(app: &TestApp, org_id: &str, id: &str) -> Value {
    let path = format!("/integrations/{id}/validate");
    let reply = bounded("POST validate", app.call("POST", &path, Some(&admin(org_id)), None)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// `(code, target, result)` of every check, in report order.
fn outcomes(report: &Value) -> Vec<(String, String, String)> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            let field = |name: &str| c[name].as_str().unwrap_or_default().to_owned();
            (field("code"), field("target"), field("result"))
        })
        .collect()
}

fn expect(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    list.iter().map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned())).collect()
}

/// The message of the one check with this code.
fn message<'a>(report: &'a Value, code: &str) -> &'a str {
    let found: Vec<&Value> =
        report["checks"].as_array().expect("checks").iter().filter(|c| c["code"] == code).collect();
    assert_eq!(found.len(), 1, "one {code} check in {report}");
    found[0]["message"].as_str().expect("a message")
}

/// What the store answered as S3 XML: `<Code>` of an error body.
fn s3_error_code(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.to_owned())
        .unwrap_or_else(|| format!("(no S3 error code in {text:?})"))
}

// ---------------------------------------------------------------------------------------------
// 1-2: presigned URLs, verified by the store.

#[tokio::test]
async fn urls_presigned_through_the_api_with_the_stores_own_keys_fetch_every_tricky_key_byte_for_byte() {
    let store = S3sFs::with_objects(BUCKET, TRICKY_KEYS).await;
    let app = spawn_app().await;
    let body = store_body("Store", &store.endpoint_url(), BUCKET, ACCESS_KEY, SECRET_KEY, false);
    let id = create(&app, ORG, &body).await;

    let locators: Vec<String> = TRICKY_KEYS.iter().map(|k| format!("s3://{BUCKET}/{k}")).collect();
    let results = presign(&app, ORG, &locators).await;
    let mut wrong = Vec::new();
    for (key, result) in TRICKY_KEYS.iter().zip(&results) {
        assert_eq!(result["integration_id"], id.as_str(), "{result}");
        let url = url_of(result);
        assert!(
            url.starts_with(&format!("{}/{BUCKET}/", store.endpoint_url())),
            "at the store, path style: {url}"
        );
        assert_eq!(query(url, "X-Amz-Security-Token"), None, "a store's keys have no session token: {url}");
        let credential = query(url, "X-Amz-Credential").expect("X-Amz-Credential");
        assert!(
            credential.starts_with(&format!("{ACCESS_KEY}/")),
            "signed with the store's key: {credential}"
        );
        assert!(credential.ends_with("/us-east-1/s3/aws4_request"), "for the store's region: {credential}");
        assert!(!url.contains(SECRET_KEY), "{url}");
        let (status, bytes) = fetch(url).await;
        if (status, bytes.as_slice()) != (200, body_for(key).as_slice()) {
            wrong.push(format!("{key:?}: HTTP {status} ({} bytes) from {url}", bytes.len()));
        }
    }
    assert!(
        wrong.is_empty(),
        "s3s-fs refused or served other bytes:\n{}\n\nserver log:\n{}",
        wrong.join("\n"),
        store.log()
    );
}

#[tokio::test]
async fn a_presigned_url_with_one_character_of_its_path_expiry_or_signature_changed_is_refused_by_the_store()
{
    let keys = ["photo a.jpg", "photo b.jpg"];
    let store = S3sFs::with_objects(BUCKET, &keys).await;
    let app = spawn_app().await;
    create(&app, ORG, &store_body("Store", &store.endpoint_url(), BUCKET, ACCESS_KEY, SECRET_KEY, false))
        .await;
    let results = presign(&app, ORG, &[format!("s3://{BUCKET}/photo a.jpg")]).await;
    let url = url_of(&results[0]).to_owned();
    assert_eq!(fetch(&url).await, (200, body_for("photo a.jpg")), "the untouched URL works");

    let expires = query(&url, "X-Amz-Expires").expect("X-Amz-Expires");
    let shorter = (expires.parse::<u64>().expect("a number") - 1).to_string();
    let signature = query(&url, "X-Amz-Signature").expect("X-Amz-Signature");
    let mut flipped = signature.clone().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).expect("hex");
    let tampered = [
        // Another object that exists: only the signature stands between the URL and its bytes.
        ("the key", url.replacen("/photo%20a.jpg?", "/photo%20b.jpg?", 1)),
        (
            "X-Amz-Expires",
            url.replacen(&format!("X-Amz-Expires={expires}"), &format!("X-Amz-Expires={shorter}"), 1),
        ),
        ("X-Amz-Signature", url.replacen(&signature, &flipped, 1)),
    ];
    for (what, changed) in tampered {
        assert_ne!(changed, url, "{what} was changed");
        let (status, body) = fetch(&changed).await;
        // The refusal is the store's: an S3 error document from s3s-fs (the platform is not
        // between the browser and the store).
        assert_eq!(
            (status, s3_error_code(&body)),
            (403, "SignatureDoesNotMatch".to_owned()),
            "{what} changed: {changed}\n{}",
            String::from_utf8_lossy(&body)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3: validation against s3s-fs.

#[tokio::test]
async fn validating_a_store_with_its_keys_passes_reachability_listing_and_reading() {
    let store = S3sFs::with_objects(BUCKET, &["first.txt"]).await;
    let app = spawn_app().await;
    let endpoint = store.endpoint_url();
    let id = create(&app, ORG, &store_body("Store", &endpoint, BUCKET, ACCESS_KEY, SECRET_KEY, false)).await;
    let report = validate(&app, ORG, &id).await;
    let bucket = format!("bucket:{BUCKET}");
    let origin = format!("{bucket} origin:{APP_ORIGIN}");
    // s3s-fs implements no CORS: it has no bucket CORS configuration, and it answers the preflight
    // (OPTIONS with Origin and Access-Control-Request-Method) 501 NotImplemented "Unknown
    // operation" without any Access-Control-* header. Browsers could not load its files, so CORS
    // is the one failing check, and it says how to fix it at this store.
    assert_eq!(
        outcomes(&report),
        expect(&[
            ("ENDPOINT_REACHABLE", &format!("endpoint:{endpoint}"), "pass"),
            ("LIST_ACCESS", &bucket, "pass"),
            ("READ_ACCESS", &bucket, "pass"),
            ("CORS", &origin, "fail"),
        ]),
        "{report}"
    );
    assert_eq!(report["state"], "failing", "{report}");
    assert!(message(&report, "LIST_ACCESS").contains(ACCESS_KEY), "{report}");
    assert!(message(&report, "READ_ACCESS").contains(&format!("s3://{BUCKET}/first.txt")), "{report}");
    let cors = message(&report, "CORS");
    assert!(cors.contains(APP_ORIGIN) && cors.contains(BUCKET), "{cors}");
    assert!(cors.contains(&format!("at the store {endpoint}")) && cors.contains("PutBucketCors"), "{cors}");
    assert!(cors.contains("AllowedOrigins"), "gives the rule to paste: {cors}");
    assert!(!report.to_string().contains(SECRET_KEY), "{report}");
    // The report became the integration's status.
    let read = app.get(&format!("/integrations/{id}"), &admin(ORG)).await;
    assert_eq!(read.body["status"]["state"], "failing", "{}", read.body);
    assert!(!read.body.to_string().contains(SECRET_KEY));
}

/// Validates a store integration of `bucket` with these keys, against an s3s-fs holding
/// [`BUCKET`]; the report (held to: the endpoint answered, listing failed, reading was not tested)
/// and the endpoint.
async fn report_with_listing_refused(bucket: &str, access_key: &str, secret: &str) -> (Value, String) {
    let store = S3sFs::with_objects(BUCKET, &["first.txt"]).await;
    let app = spawn_app().await;
    let endpoint = store.endpoint_url();
    let id = create(&app, ORG, &store_body("Store", &endpoint, bucket, access_key, secret, false)).await;
    let report = validate(&app, ORG, &id).await;
    let target = format!("bucket:{bucket}");
    assert_eq!(
        outcomes(&report),
        expect(&[
            // A refusal is an answer: the endpoint is there and speaks S3.
            ("ENDPOINT_REACHABLE", &format!("endpoint:{endpoint}"), "pass"),
            ("LIST_ACCESS", &target, "fail"),
            ("READ_ACCESS", &target, "warn"),
        ]),
        "{report}"
    );
    (report, endpoint)
}

#[tokio::test]
async fn validating_with_a_wrong_secret_fails_listing_saying_the_store_refused_the_key_and_to_replace_it() {
    let wrong_secret = "not/the+store's=secret/0123456789abcdef";
    let (report, endpoint) = report_with_listing_refused(BUCKET, ACCESS_KEY, wrong_secret).await;
    assert_eq!(report["state"], "failing");
    let list = message(&report, "LIST_ACCESS");
    assert!(list.contains(&format!("The store at {endpoint} refused the access key {ACCESS_KEY}")), "{list}");
    assert!(list.contains("SignatureDoesNotMatch"), "names what the store said: {list}");
    assert!(list.contains("Replace the integration with a current key ID and secret access key"), "{list}");
    assert!(message(&report, "READ_ACCESS").contains("not tested because listing failed"), "{report}");
    let text = report.to_string();
    assert!(!text.contains(wrong_secret) && !text.contains(SECRET_KEY), "{report}");
}

#[tokio::test]
async fn validating_with_an_access_key_the_store_does_not_know_fails_listing_saying_the_store_refused_the_key(
) {
    // s3s-fs answers a key it does not know with `NotSignedUp` (as AWS S3 does for an account
    // without S3), not InvalidAccessKeyId: either way the key is the problem, not a permission.
    let unknown = "AKIAUNKNOWNKEY000001";
    let (report, endpoint) = report_with_listing_refused(BUCKET, unknown, SECRET_KEY).await;
    let list = message(&report, "LIST_ACCESS");
    assert!(list.contains(&format!("The store at {endpoint} refused the access key {unknown}")), "{list}");
    assert!(list.contains("Replace the integration with a current key ID and secret access key"), "{list}");
    assert!(!list.contains("s3:ListBucket permission"), "not a missing permission: {list}");
}

#[tokio::test]
async fn validating_a_bucket_the_store_does_not_have_names_it_as_missing_at_the_endpoint() {
    let missing = "no-such-bucket-here";
    let (report, endpoint) = report_with_listing_refused(missing, ACCESS_KEY, SECRET_KEY).await;
    let list = message(&report, "LIST_ACCESS");
    assert!(list.contains(&format!("Bucket {missing} does not exist at {endpoint}")), "{list}");
    assert!(list.contains("Check the bucket name in the integration's scope"), "{list}");
    assert!(!list.contains("refused the access key"), "the key is fine: {list}");
    assert!(!report.to_string().contains(SECRET_KEY), "{report}");
}

// ---------------------------------------------------------------------------------------------
// 4: a healthy store (moto).

#[tokio::test]
async fn a_versioned_store_with_cors_for_the_app_is_healthy_with_every_check_passing() {
    let app = spawn_app().await;
    let moto = emulator_endpoint();
    // moto enforces no IAM here: any key pair is accepted, as a store would accept its own.
    let (access_key, secret) = ("MOTOSTOREKEY", "moto/store+secret=0123456789");
    let s3 = s3_client_with(&moto, access_key, secret, None).await;
    let bucket = format!("store-{}", ulid::Ulid::new().to_string().to_lowercase());
    bounded("CreateBucket", s3.create_bucket().bucket(&bucket).send()).await.expect("create the bucket");
    let enabled = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .build();
    bounded(
        "PutBucketVersioning",
        s3.put_bucket_versioning().bucket(&bucket).versioning_configuration(enabled).send(),
    )
    .await
    .expect("turn versioning on");
    put_cors_for_preflights(&s3, &bucket, rendered_cors(&app).await).await;
    let put = bounded(
        "PutObject",
        s3.put_object()
            .bucket(&bucket)
            .key("photos/cat 1.jpg")
            .body(ByteStream::from(body_for("cat")))
            .send(),
    )
    .await
    .expect("put an object");
    assert!(put.version_id().is_some_and(|v| v != "null"), "a versioned put: {put:?}");

    let id = create(&app, ORG, &store_body("Moto store", &moto, &bucket, access_key, secret, true)).await;
    let report = validate(&app, ORG, &id).await;
    let target = format!("bucket:{bucket}");
    assert_eq!(
        outcomes(&report),
        expect(&[
            ("ENDPOINT_REACHABLE", &format!("endpoint:{moto}"), "pass"),
            ("LIST_ACCESS", &target, "pass"),
            ("READ_ACCESS", &target, "pass"),
            ("VERSION_READ", &target, "pass"),
            ("CORS", &format!("{target} origin:{APP_ORIGIN}"), "pass"),
        ]),
        "{report}"
    );
    assert_eq!(report["state"], "healthy", "{report}");
    assert_eq!(report["recorded"], true, "{report}");
    assert!(!report.to_string().contains(secret), "{report}");
    let read = app.get(&format!("/integrations/{id}"), &admin(ORG)).await;
    assert_eq!(read.body["status"]["state"], "healthy", "{}", read.body);

    // And what validation vouched for holds: a member's URL for the object, and for its first
    // version once a second one is put.
    let first = put.version_id().expect("a version id").to_owned();
    bounded(
        "PutObject",
        s3.put_object()
            .bucket(&bucket)
            .key("photos/cat 1.jpg")
            .body(ByteStream::from(body_for("cat v2")))
            .send(),
    )
    .await
    .expect("put a second version");
    let locators = [
        format!("s3://{bucket}/photos/cat 1.jpg"),
        format!("s3://{bucket}/photos/cat 1.jpg?versionId={first}"),
    ];
    let results = presign(&app, ORG, &locators).await;
    assert_eq!(fetch(url_of(&results[0])).await, (200, body_for("cat v2")));
    assert_eq!(fetch(url_of(&results[1])).await, (200, body_for("cat")));
}

// ---------------------------------------------------------------------------------------------
// 5: the secret at rest.

/// Whether any value in `value`, at any depth, holds `needle`.
fn holds(value: &AttributeValue, needle: &[u8]) -> bool {
    let has = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => has(s.as_bytes()),
        AttributeValue::B(b) => has(b.as_ref()),
        AttributeValue::Ss(list) | AttributeValue::Ns(list) => list.iter().any(|s| has(s.as_bytes())),
        AttributeValue::Bs(list) => list.iter().any(|b| has(b.as_ref())),
        AttributeValue::L(list) => list.iter().any(|v| holds(v, needle)),
        AttributeValue::M(map) => map.iter().any(|(k, v)| has(k.as_bytes()) || holds(v, needle)),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => false,
        other => panic!("an attribute of a type this test does not read: {other:?}"),
    }
}

#[tokio::test]
async fn the_stored_item_holds_only_ciphertext_that_kms_opens_for_its_own_org_alone() {
    let app = spawn_app().await;
    let id =
        create(&app, ORG, &store_body("Store", "http://127.0.0.1:9", BUCKET, ACCESS_KEY, SECRET_KEY, false))
            .await;
    // Another org's integration, so its context exists and is known to work.
    create(&app, "globex", &store_body("Store", "http://127.0.0.1:9", BUCKET, ACCESS_KEY, SECRET_KEY, false))
        .await;

    let item = app
        .dynamo
        .get_item()
        .table_name(app.store.table())
        .key("pk", AttributeValue::S(format!("ORG#{ORG}")))
        .key("sk", AttributeValue::S(format!("INT#{id}")))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem")
        .item
        .expect("the integration's item");
    assert_eq!(item.get("access_kind"), Some(&AttributeValue::S("s3_compatible".into())));
    assert_eq!(
        item.get("access_key_id"),
        Some(&AttributeValue::S(ACCESS_KEY.into())),
        "the key ID is not secret"
    );
    let Some(AttributeValue::B(ciphertext)) = item.get("secret_ciphertext") else {
        panic!("secret_ciphertext is not binary: {:?}", item.get("secret_ciphertext"));
    };

    // No attribute of any item in the table holds the secret, nor a recognisable part of it.
    let scanned =
        app.dynamo.scan().table_name(app.store.table()).consistent_read(true).send().await.expect("Scan");
    let items = scanned.items.unwrap_or_default();
    assert!(items.len() >= 4, "two integrations and their scope locks at least: {items:?}");
    for stored in &items {
        for (name, value) in stored {
            for part in SECRET_KEY.as_bytes().windows(8) {
                assert!(
                    !holds(value, part),
                    "{name} holds {:?} of the secret",
                    String::from_utf8_lossy(part)
                );
            }
        }
    }

    // KMS itself (not our sealer) opens the ciphertext with the org's encryption context, and
    // with no other.
    let kms = KmsSealer::client(&aws_config().await);
    let decrypt = |context: &[(&str, &str)]| {
        let mut call = kms.decrypt().ciphertext_blob(ciphertext.clone());
        for (key, value) in context {
            call = call.encryption_context(*key, *value);
        }
        call.send()
    };
    let opened =
        decrypt(&[("purpose", PURPOSE), ("org_id", ORG)]).await.expect("Decrypt with the org's context");
    assert_eq!(opened.plaintext().map(|p| p.as_ref()), Some(SECRET_KEY.as_bytes()));
    let refusals: [(&str, &[(&str, &str)]); 5] = [
        ("another org", &[("purpose", PURPOSE), ("org_id", "globex")]),
        ("an org whose id extends this one", &[("purpose", PURPOSE), ("org_id", "acme2")]),
        ("another purpose", &[("purpose", "something-else"), ("org_id", ORG)]),
        ("the org without the purpose", &[("org_id", ORG)]),
        ("no context", &[]),
    ];
    for (what, context) in refusals {
        match decrypt(context).await {
            Ok(out) => panic!(
                "KMS opened the secret with {what}: {:?} bytes",
                out.plaintext().map(|p| p.as_ref().len())
            ),
            Err(e) => {
                let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e).unwrap_or_default().to_owned();
                assert_eq!(code, "InvalidCiphertextException", "{what}: {e:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 6: the SSRF guard at validation time.

/// Dev servers over one fresh table that seal with one KMS key: what one saves, another opens.
struct Deployment {
    store: shared::aws::store::DynamoStore,
    secrets: SharedSealer,
    key_id: String,
}

impl Deployment {
    async fn new() -> Self {
        let aws = aws_config().await;
        let table = format!("it-{}", ulid::Ulid::new().to_string().to_lowercase());
        let store = shared::aws::store::DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table);
        store.ensure_table().await.expect("create a fresh table in the emulator");
        let (secrets, key_id) = kms_sealer(&aws).await;
        Self { store, secrets, key_id }
    }

    /// A dev server over this deployment's table and key, admitting `endpoints`.
    async fn server(&self, endpoints: EndpointPolicy) -> TestApp {
        let aws = aws_config().await;
        let table = self.store.table();
        let config = devserver::DevConfig {
            listen_addr: "127.0.0.1:0".parse().expect("loopback address"),
            jwt_secret: JWT_SECRET.to_owned(),
            api: api_config(table, PLATFORM_PRINCIPAL),
            presign: presign_config(table),
            validate: validate_config(table),
            secrets_key_id: self.key_id.clone(),
            endpoints,
            web_dir: None,
        };
        let sts = aws_sdk_sts::Client::new(&aws);
        let server = devserver::DevServer::new(self.store.shared(), &aws, sts, self.secrets.clone(), &config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let addr = listener.local_addr().expect("local address");
        tokio::spawn(devserver::serve(listener, Arc::new(server)));
        TestApp {
            url: format!("http://{addr}"),
            client: reqwest::Client::new(),
            store: self.store.clone(),
            dynamo: aws_sdk_dynamodb::Client::new(&aws),
        }
    }

    /// Saves `body` straight into the table (as an integration saved before a rule tightened, or
    /// written by anything but the API would be), its secret sealed with this deployment's key.
    async fn save_directly(&self, org_id: &str, body: &Value) -> String {
        let draft = IntegrationDraft::from_json(body).unwrap_or_else(|e| panic!("{body}: {}", e.message()));
        let Access::S3Compatible(store) = &draft.access else { panic!("not a store: {body}") };
        let SecretInput::New(secret) = &store.secret else { panic!("no secret: {body}") };
        let sealed = self.secrets.seal(&org(org_id), secret).await.expect("seal with KMS");
        let draft = draft.map_secret(|_| Ok::<_, std::convert::Infallible>(sealed)).expect("infallible");
        self.store.create(&org(org_id), draft).await.expect("saved").id
    }
}

/// A TCP listener that counts the connections made to it (and closes each at once).
async fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
    let addr = listener.local_addr().expect("local address");
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (format!("http://{addr}"), connections)
}

#[tokio::test]
async fn validation_refuses_a_saved_endpoint_on_a_private_or_metadata_address_naming_why_and_checks_nothing_else(
) {
    let deployment = Deployment::new().await;
    // Even the server that admits loopback http (the dev default) calls no other non-public address.
    let app = deployment.server(EndpointPolicy { allow_loopback_http: true }).await;
    // (endpoint saved, as the store normalises it, bucket, why it is refused)
    let cases = [
        (
            "https://10.0.0.1",
            "https://10.0.0.1",
            "bucket-private",
            "\"10.0.0.1\" is not a public address (private)",
        ),
        (
            "http://169.254.169.254",
            "http://169.254.169.254",
            "bucket-metadata",
            "\"169.254.169.254\" is not a public address (cloud metadata)",
        ),
        (
            "https://[::ffff:127.0.0.1]:9000",
            "https://[::ffff:7f00:1]:9000",
            "bucket-mapped",
            "\"[::ffff:7f00:1]\" is not a public address (IPv4-mapped loopback)",
        ),
    ];
    for (endpoint, normalised, bucket, why) in cases {
        let body = store_body(bucket, endpoint, bucket, ACCESS_KEY, SECRET_KEY, false);
        let id = deployment.save_directly(ORG, &body).await;
        let report = validate(&app, ORG, &id).await;
        let target = format!("endpoint:{normalised}");
        assert_eq!(
            outcomes(&report),
            expect(&[("ENDPOINT_REACHABLE", &target, "fail")]),
            "{endpoint}: no bucket is checked: {report}"
        );
        assert_eq!(report["state"], "failing", "{report}");
        let reachable = message(&report, "ENDPOINT_REACHABLE");
        assert!(reachable.contains(why), "{endpoint}: {reachable}");
        assert!(reachable.contains("the platform only calls public addresses"), "{reachable}");
    }
}

#[tokio::test]
async fn validation_connects_to_a_loopback_endpoint_only_where_the_deployment_allows_loopback() {
    let deployment = Deployment::new().await;
    let lenient = deployment.server(EndpointPolicy { allow_loopback_http: true }).await;
    let strict = deployment.server(EndpointPolicy { allow_loopback_http: false }).await;
    let (endpoint, connections) = counting_listener().await;
    let id =
        create(&lenient, ORG, &store_body("Local", &endpoint, BUCKET, ACCESS_KEY, SECRET_KEY, false)).await;

    // Where loopback is not allowed (every deployment on AWS), nothing connects.
    let report = validate(&strict, ORG, &id).await;
    assert_eq!(
        outcomes(&report),
        expect(&[("ENDPOINT_REACHABLE", &format!("endpoint:{endpoint}"), "fail")]),
        "{report}"
    );
    let reachable = message(&report, "ENDPOINT_REACHABLE");
    assert!(reachable.contains("\"127.0.0.1\" is not a public address (loopback)"), "{reachable}");
    assert_eq!(connections.load(Ordering::SeqCst), 0, "the refused endpoint was called");

    // The dev default calls it: the same integration, the same listener, now connected to (it
    // closes every connection, so the store is unreachable).
    let report = validate(&lenient, ORG, &id).await;
    assert!(connections.load(Ordering::SeqCst) > 0, "the admitted endpoint was never called: {report}");
    assert_eq!(
        outcomes(&report),
        expect(&[("ENDPOINT_REACHABLE", &format!("endpoint:{endpoint}"), "fail")]),
        "{report}"
    );
    assert!(message(&report, "ENDPOINT_REACHABLE").contains("could not connect"), "{report}");
}

// ---------------------------------------------------------------------------------------------
// 7: one org's store is not another's.

#[tokio::test]
async fn a_member_of_another_org_never_gets_a_url_signed_with_the_stores_keys() {
    let store = S3sFs::with_objects(BUCKET, &["private.txt"]).await;
    let app = spawn_app().await;
    let endpoint = store.endpoint_url();
    create(&app, ORG, &store_body("Store", &endpoint, BUCKET, ACCESS_KEY, SECRET_KEY, false)).await;
    let locator = format!("s3://{BUCKET}/private.txt");
    assert_eq!(fetch(url_of(&presign(&app, ORG, std::slice::from_ref(&locator)).await[0])).await.0, 200);

    // An org with no integration for the bucket: no URL.
    let other = &presign(&app, "globex", std::slice::from_ref(&locator)).await[0];
    assert_eq!(other["error"]["code"], "NO_INTEGRATION", "{other}");
    assert!(other.get("url").is_none(), "{other}");
    assert!(!other.to_string().contains(ACCESS_KEY), "{other}");

    // An org that claims the same bucket at the same store with keys of its own: its URLs carry
    // its key, never acme's, and the store refuses them.
    let theirs = "globex/own+secret=0123456789abcdef";
    // (A miss reloads the org's integrations only against a view older than a second: presign's
    // `dispatch`. Wait that out, so the miss above does not hide the integration saved below.)
    tokio::time::sleep(Duration::from_millis(1100)).await;
    create(&app, "globex", &store_body("Claimed", &endpoint, BUCKET, "GLOBEXKEY0001", theirs, false)).await;
    let signed = &presign(&app, "globex", std::slice::from_ref(&locator)).await[0];
    let url = url_of(signed);
    let credential = query(url, "X-Amz-Credential").expect("X-Amz-Credential");
    assert!(credential.starts_with("GLOBEXKEY0001/"), "{credential}");
    assert!(!url.contains(ACCESS_KEY), "{url}");
    let (status, body) = fetch(url).await;
    // s3s-fs says `NotSignedUp` for an access key it does not know (AWS says InvalidAccessKeyId).
    assert_eq!(
        (status, s3_error_code(&body)),
        (403, "NotSignedUp".to_owned()),
        "{}",
        String::from_utf8_lossy(&body)
    );
    // The unknown org sees neither integration.
    let listed = app.get("/integrations", &admin("globex")).await;
    let names: Vec<&str> = listed.body["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["Claimed"], "{}", listed.body);
    assert!(!listed.body.to_string().contains(ACCESS_KEY), "{}", listed.body);
}
