//! SSE-KMS buckets for `aws_role` integrations, end to end: the integration's `kms_key_arns`, the
//! `DecryptObjectsWithKms` statement the access policy gains from them, validation's `KMS_DECRYPT`
//! check and its `READ_ACCESS` message, and a member's presigned read of an SSE-KMS object.
//!
//! The set-up is validation.rs's `Rig` (its module doc says why): a moto of the test's own,
//! started through the project's launcher, that enforces IAM once set-up is done, with an IAM user
//! `platform` as the platform principal; customer roles carry exactly the trust and access policy
//! texts the API renders unless a test breaks them on purpose; validation's S3 checks go to that
//! enforcing moto, presigned URLs and CORS preflights to the plain one. The `Rig` is private to
//! validation.rs, so the minimum of it is copied here ([`Rig::start`], [`Rig::bucket`],
//! [`Rig::validate`], [`check`], [`outcomes`]).
//!
//! The customer's key is a customer-managed KMS key created in the customer's account of the
//! enforcing moto; the sample object is put there with SSE-KMS under it. The launcher
//! (`scripts/moto_server.py`, `patch_s3_kms_decrypt`) makes GetObject of such an object need
//! `kms:Decrypt` on the key's ARN with `kms:ViaService` = `s3.<bucket region>.amazonaws.com`, as on
//! AWS, and reports the key's full ARN in HeadObject. The object also exists, under SSE-KMS, in the
//! plain moto, where presigned URLs are fetched (moto answers 500 to presigned URLs while it
//! enforces IAM); that the role's own credentials can decrypt it is shown in the enforcing moto.

use crate::helpers::*;
use crate::moto::{MotoProcess, CUSTOMER_ACCOUNT};
use crate::platform::*;
use aws_sdk_s3::types::ServerSideEncryption;
use serde_json::{json, Value};
use shared::domain::external_id::ExternalId;
use shared::domain::org::OrgId;
use std::time::Duration;

const REGION: &str = "us-east-1";
const KEY: &str = "reports/q3 figures.pdf";
const BYTES: &[u8] = b"quarterly figures, encrypted at rest with the customer's key";
/// The rendered statement that grants `kms:Decrypt`.
const DECRYPT_SID: &str = "DecryptObjectsWithKms";

// ---- the Rig: the minimum of validation.rs's (private there) ----------------------------------

/// The [`Platform`] with validation's S3 checks on the enforcing moto, and the CORS rules
/// `GET /policies/cors` renders (put on every bucket in the plain moto).
#[derive(Debug)]
struct Rig {
    platform: Platform,
    cors: aws_sdk_s3::types::CorsConfiguration,
}

impl std::ops::Deref for Rig {
    type Target = Platform;
    fn deref(&self) -> &Platform {
        &self.platform
    }
}

impl Rig {
    /// Copied from validation.rs's `Rig::start`.
    async fn start() -> Self {
        let moto = MotoProcess::start().await;
        let validator_aws = sdk_config_with(&moto.url, keys("testing", "testing", None)).await;
        let platform = Platform::start_on(moto, |options| options.validator_aws = Some(validator_aws)).await;
        let cors = rendered_cors(&platform.app).await;
        Self { platform, cors }
    }

    /// A bucket in both emulators (us-east-1) with the rendered CORS rules in the plain one
    /// ([`put_cors_for_preflights`]).
    async fn bucket(&self, hint: &str) -> String {
        let name = self.bucket_in(hint, None).await;
        put_cors_for_preflights(&self.plain, &name, self.cors.clone()).await;
        name
    }

    /// A customer-managed KMS key in the customer's account of the enforcing moto; its ARN. Set-up
    /// only (unsigned, before enforcement): moto takes the account from `x-moto-account-id`, as
    /// [`MotoProcess::iam`] does. The project has no KMS SDK, so this is KMS's JSON protocol.
    async fn customer_kms_key(&self, description: &str) -> String {
        let answer = bounded(
            "KMS CreateKey",
            reqwest::Client::new()
                .post(format!("{}/", self.moto.url))
                .header(
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=testing/20200101/us-east-1/kms/aws4_request, SignedHeaders=host, \
                     Signature=0",
                )
                .header("x-moto-account-id", CUSTOMER_ACCOUNT)
                .header("x-amz-target", "TrentService.CreateKey")
                .header("content-type", "application/x-amz-json-1.1")
                .body(json!({"Description": description}).to_string())
                .send(),
        )
        .await
        .expect("KMS answers");
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        assert!(status.is_success(), "CreateKey: {status} {text}");
        let created: Value = serde_json::from_str(&text).expect("a JSON answer");
        let arn = created["KeyMetadata"]["Arn"].as_str().expect("the key's ARN").to_owned();
        assert!(arn.starts_with(&format!("arn:aws:kms:{REGION}:{CUSTOMER_ACCOUNT}:key/")), "{arn}");
        arn
    }

    /// The object, put with SSE-KMS under `key_arn`, in both emulators (the enforcing one: as the
    /// customer's administrator). Guard: the enforcing moto reports the key's full ARN.
    async fn put_encrypted(&self, bucket: &str, key_arn: &str) {
        for s3 in [&self.plain, &self.strict] {
            let put = s3
                .put_object()
                .bucket(bucket)
                .key(KEY)
                .body(BYTES.to_vec().into())
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(key_arn)
                .send();
            bounded("PutObject", put).await.unwrap_or_else(|e| panic!("put s3://{bucket}/{KEY}: {e:?}"));
        }
        let head = bounded("HeadObject", self.strict.head_object().bucket(bucket).key(KEY).send())
            .await
            .expect("head the object");
        assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
        assert_eq!(head.ssekms_key_id(), Some(key_arn), "S3 names the key by its full ARN");
    }

    /// Replaces the role's access policy (the inline policy [`MotoProcess::create_role`] put) with
    /// `policy`, as the customer pasting one: enforcement pauses for the one unsigned IAM call and
    /// is back on (checked) when this returns. Like [`MotoProcess::update_trust`], whose moto-api
    /// helper is private, so its `reset-auth` call is made here.
    async fn paste_access_policy(&self, role_arn: &str, policy: &str) {
        let role_name = role_arn.rsplit('/').next().expect("a role name");
        let paused = bounded(
            "reset-auth",
            reqwest::Client::new()
                .post(format!("{}/moto-api/reset-auth", self.moto.url))
                .header("content-type", "text/plain")
                .body("1000000000")
                .send(),
        )
        .await
        .expect("moto-api answers");
        assert!(paused.status().is_success(), "reset-auth: {}", paused.status());
        self.moto
            .iam(
                CUSTOMER_ACCOUNT,
                &[
                    ("Action", "PutRolePolicy"),
                    ("RoleName", role_name),
                    ("PolicyName", "platform-read"),
                    ("PolicyDocument", policy),
                ],
            )
            .await;
        self.enforce().await;
    }

    /// `POST /policies/access` for `kms_key_arns` (and the region, so each key is checked to be in it).
    async fn access_policy_with_keys(&self, scope: &Value, kms_key_arns: &[&str]) -> String {
        let body =
            json!({"scope": scope, "versioning": false, "region": REGION, "kms_key_arns": kms_key_arns});
        let reply = self.app.post("/policies/access", &admin(ORG), &body).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["text"].as_str().expect("access policy text").to_owned()
    }

    /// The access policy text `GET /integrations/{id}/policies` renders for the saved integration.
    async fn rendered_access(&self, id: &str) -> String {
        let reply = self.app.get(&format!("/integrations/{id}/policies"), &admin(ORG)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["access"]["text"].as_str().expect("access policy text").to_owned()
    }

    /// `PUT /integrations/{id}` with this `kms_key_arns`, the rest as saved; the new version.
    async fn replace_keys(&self, id: &str, role_arn: &str, scope: &Value, kms_key_arns: &[&str]) -> u64 {
        let path = format!("/integrations/{id}");
        let version = self.app.get(&path, &admin(ORG)).await.body["version"].as_u64().expect("version");
        let body = json!({
            "name": "Reports", "role_arn": role_arn, "region": REGION, "scope": scope, "versioning": false,
            "kms_key_arns": kms_key_arns, "version": version,
        });
        let replaced = self.app.put(&path, &admin(ORG), &body).await;
        assert_eq!(replaced.status, 200, "{}", replaced.body);
        assert_eq!(replaced.body["kms_key_arns"], json!(kms_key_arns), "{}", replaced.body);
        replaced.body["version"].as_u64().expect("version")
    }

    /// A customer role with the rendered trust policy and this access policy.
    async fn role_with(&self, access: &str) -> String {
        self.moto.create_role("platform-read", &self.trust, access).await
    }

    /// Saves a bucket-scoped integration "Reports" listing `kms_key_arns`; its id.
    async fn save_integration_with_keys(
        &self,
        role_arn: &str,
        scope: &Value,
        kms_key_arns: &[&str],
    ) -> String {
        let body = json!({
            "name": "Reports", "role_arn": role_arn, "region": REGION, "scope": scope, "versioning": false,
            "kms_key_arns": kms_key_arns,
        });
        let created = self.app.create(ORG, &body).await;
        assert_eq!(created["kms_key_arns"], json!(kms_key_arns), "{created:#}");
        created["id"].as_str().expect("id").to_owned()
    }

    /// `POST /integrations/{id}/validate` as the org's admin; the report.
    async fn validate(&self, id: &str) -> Value {
        let path = format!("/integrations/{id}/validate");
        let reply = bounded("POST validate", self.app.call("POST", &path, Some(&admin(ORG)), None)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["recorded"], true, "{}", reply.body);
        reply.body
    }
}

/// `(code, target, result)` of every check, in report order.
fn outcomes(report: &Value) -> Vec<(String, String, String)> {
    report["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks in {report:#}"))
        .iter()
        .map(|c| {
            let s = |f: &str| c[f].as_str().unwrap_or_else(|| panic!("check without {f}: {c}")).to_owned();
            (s("code"), s("target"), s("result"))
        })
        .collect()
}

/// Every check of a bucket-scoped integration on `bucket` whose sample object is SSE-KMS, in the
/// validator's order, with these results for `READ_ACCESS` and `KMS_DECRYPT` (all else passes).
fn expected(bucket: &str, read: &str, decrypt: &str) -> Vec<(String, String, String)> {
    let target = format!("bucket:{bucket}");
    [
        ("ASSUME_ROLE", "role".to_owned(), "pass"),
        ("EXTERNAL_ID_REQUIRED", "role".to_owned(), "pass"),
        ("BUCKET_REGION", target.clone(), "pass"),
        ("LIST_ACCESS", target.clone(), "pass"),
        ("READ_ACCESS", target.clone(), read),
        ("KMS_DECRYPT", target.clone(), decrypt),
        ("CORS", format!("{target} origin:{APP_ORIGIN}"), "pass"),
    ]
    .into_iter()
    .map(|(code, target, result)| (code.to_owned(), target, result.to_owned()))
    .collect()
}

/// The message of the one check with this code on `bucket`.
fn message<'a>(report: &'a Value, code: &str, bucket: &str) -> &'a str {
    let target = format!("bucket:{bucket}");
    let found: Vec<&Value> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["code"] == code && c["target"] == target.as_str())
        .collect();
    assert_eq!(found.len(), 1, "exactly one {code} check on {target} in {report:#}");
    found[0]["message"].as_str().expect("message")
}

/// The access policy `text` with its `DecryptObjectsWithKms` statement changed by `change`.
fn with_decrypt_statement(text: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut policy: Value = serde_json::from_str(text).expect("policy JSON");
    let statement = policy["Statement"]
        .as_array_mut()
        .expect("statements")
        .iter_mut()
        .find(|s| s["Sid"] == DECRYPT_SID)
        .unwrap_or_else(|| panic!("no {DECRYPT_SID} in {text}"));
    change(statement);
    serde_json::to_string_pretty(&policy).expect("JSON")
}

async fn fetch(url: &str) -> (u16, Vec<u8>) {
    let response = bounded("GET presigned URL", reqwest::get(url)).await.expect("the URL answers");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

// ---- 1-3: from failing to healthy, and a member reads the file --------------------------------

#[tokio::test]
async fn an_sse_kms_bucket_fails_validation_naming_its_key_then_the_missing_statement_until_the_rendered_policy_is_pasted_and_then_members_read_its_files(
) {
    let rig = Rig::start().await;
    let bucket = rig.bucket("ledger").await;
    let key_arn = rig.customer_kms_key("the customer's data key").await;
    rig.put_encrypted(&bucket, &key_arn).await;
    let scope = bucket_scope(&bucket);
    // The integration is saved without kms_key_arns, and the role carries what that renders.
    let without_keys = rig.access_policy(&scope, false).await;
    assert!(!without_keys.contains("kms:"), "{without_keys}");
    let role = rig.role_with(&without_keys).await;
    let id = rig.save_integration_with_keys(&role, &scope, &[]).await;
    assert_eq!(rig.rendered_access(&id).await, without_keys);
    rig.enforce().await;

    // 1. Validation reads the object's metadata, finds the key, and fails on the read.
    let report = rig.validate(&id).await;
    assert_eq!(report["state"], "failing", "{report:#}");
    assert_eq!(outcomes(&report), expected(&bucket, "fail", "fail"), "{report:#}");
    let decrypt = message(&report, "KMS_DECRYPT", &bucket);
    assert!(decrypt.contains(&format!("\"{key_arn}\"")), "names the key ARN to add: {decrypt}");
    assert!(decrypt.contains("does not list"), "{decrypt}");
    let read = message(&report, "READ_ACCESS", &bucket);
    assert!(read.contains(&key_arn), "names the key: {read}");
    assert!(read.contains("kms:Decrypt") && read.contains(DECRYPT_SID), "names what is missing: {read}");
    assert!(!read.contains("cannot read objects in"), "not the generic denial: {read}");

    // 2. The admin lists the key; the role still has the policy without the statement.
    rig.replace_keys(&id, &role, &scope, &[&key_arn]).await;
    let with_key = rig.rendered_access(&id).await;
    assert_eq!(with_key, rig.access_policy_with_keys(&scope, &[&key_arn]).await, "one rendering");
    assert!(with_key.contains(DECRYPT_SID), "{with_key}");
    let report = rig.validate(&id).await;
    assert_eq!(report["state"], "failing", "{report:#}");
    assert_eq!(outcomes(&report), expected(&bucket, "fail", "fail"), "{report:#}");
    let decrypt = message(&report, "KMS_DECRYPT", &bucket);
    assert!(decrypt.contains("listed KMS key") && decrypt.contains(&key_arn), "{decrypt}");
    assert!(decrypt.contains(&format!("statement {DECRYPT_SID}")), "names the missing statement: {decrypt}");
    let read = message(&report, "READ_ACCESS", &bucket);
    assert!(read.contains("Paste the access policy again") && read.contains(DECRYPT_SID), "{read}");

    // Until then, the role's own credentials (as presign leases them) cannot read the object.
    let org = OrgId::parse(ORG).expect("org id");
    let external_id = ExternalId::parse(&rig.external_id).expect("external id");
    let credentials = rig.server.presign.credentials();
    let lease =
        bounded("lease", credentials.lease(&org, &role, &external_id, Duration::from_secs(900), false))
            .await
            .expect("the role is assumed");
    let as_role = rig.s3_as(&lease.credentials).await;
    let denied = bounded("GetObject", as_role.get_object().bucket(&bucket).key(KEY).send())
        .await
        .expect_err("no kms:Decrypt yet");
    let denial = format!("{:?}", denied.into_service_error());
    assert!(denial.contains("kms:Decrypt") && denial.contains(&key_arn), "{denial}");

    // 3. The customer pastes the newly rendered access policy: every check passes.
    rig.paste_access_policy(&role, &with_key).await;
    let report = rig.validate(&id).await;
    assert_eq!(report["state"], "healthy", "{report:#}");
    assert_eq!(outcomes(&report), expected(&bucket, "pass", "pass"), "{report:#}");
    let decrypt = message(&report, "KMS_DECRYPT", &bucket);
    assert!(decrypt.contains(&key_arn) && decrypt.contains("decrypted"), "{decrypt}");

    // A member presigns the object and the URL returns its bytes (the plain moto, where the object
    // is SSE-KMS too) ...
    let locator = format!("s3://{bucket}/{KEY}");
    let reply =
        bounded("POST /presign", rig.app.post("/presign", &member(ORG), &json!({"locators": [locator]})))
            .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let result = &reply.body["results"][0];
    assert_eq!(result["integration_id"], id.as_str(), "{result}");
    let url = result["url"].as_str().unwrap_or_else(|| panic!("no URL in {result}"));
    assert_eq!(fetch(url).await, (200, BYTES.to_vec()));
    // ... and the credentials that signed it decrypt the object where kms:Decrypt is enforced.
    let lease =
        bounded("lease", credentials.lease(&org, &role, &external_id, Duration::from_secs(900), false))
            .await
            .expect("the role is assumed");
    let read = bounded(
        "GetObject",
        rig.s3_as(&lease.credentials).await.get_object().bucket(&bucket).key(KEY).send(),
    )
    .await
    .expect("the role decrypts the object");
    assert_eq!(read.ssekms_key_id(), Some(key_arn.as_str()));
    let bytes = read.body.collect().await.expect("the body").into_bytes();
    assert_eq!(bytes.as_ref(), BYTES);
}

// ---- 4: the statement is exactly scoped --------------------------------------------------------

#[tokio::test]
async fn a_decrypt_statement_for_another_key_or_for_s3_in_another_region_or_for_another_service_fails_the_kms_check(
) {
    let rig = Rig::start().await;
    let bucket = rig.bucket("scoped").await;
    let key_arn = rig.customer_kms_key("the customer's data key").await;
    let other_key = rig.customer_kms_key("another key of the customer").await;
    rig.put_encrypted(&bucket, &key_arn).await;
    let scope = bucket_scope(&bucket);
    let rendered = rig.access_policy_with_keys(&scope, &[&key_arn]).await;
    let role = rig.role_with(&rendered).await;
    let id = rig.save_integration_with_keys(&role, &scope, &[&key_arn]).await;
    rig.enforce().await;

    // The rendered policy is enough: the failures below are the edits' doing.
    let report = rig.validate(&id).await;
    assert_eq!(outcomes(&report), expected(&bucket, "pass", "pass"), "{report:#}");
    let rendered_statement: Value = serde_json::from_str::<Value>(&rendered).expect("JSON")["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .find(|s| s["Sid"] == DECRYPT_SID)
        .cloned()
        .expect("the decrypt statement");
    assert_eq!(
        rendered_statement,
        json!({
            "Sid": DECRYPT_SID,
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": format!("s3.{REGION}.amazonaws.com")}},
        })
    );

    // (what the edited statement does, the field edited (a JSON pointer), its new value)
    let via = "/Condition/StringEquals/kms:ViaService";
    let variants = [
        ("names another key", "/Resource", json!(other_key)),
        ("allows S3 in another region", via, json!("s3.eu-west-1.amazonaws.com")),
        ("allows another service than S3", via, json!(format!("ec2.{REGION}.amazonaws.com"))),
    ];
    for (what, field, value) in variants {
        let edited = with_decrypt_statement(&rendered, |s| {
            *s.pointer_mut(field).unwrap_or_else(|| panic!("no {field} in the statement")) = value;
        });
        rig.paste_access_policy(&role, &edited).await;
        let report = rig.validate(&id).await;
        assert_eq!(report["state"], "failing", "a statement that {what}: {report:#}");
        assert_eq!(
            outcomes(&report),
            expected(&bucket, "fail", "fail"),
            "a statement that {what}: {report:#}"
        );
        let decrypt = message(&report, "KMS_DECRYPT", &bucket);
        assert!(decrypt.contains(&key_arn) && decrypt.contains(DECRYPT_SID), "{what}: {decrypt}");
    }

    // Pasting the rendered policy again makes it healthy again.
    rig.paste_access_policy(&role, &rendered).await;
    assert_eq!(rig.validate(&id).await["state"], "healthy");
}

// ---- 5: POST /policies/access and saving with kms_key_arns -------------------------------------

#[tokio::test]
async fn the_access_policy_for_kms_keys_grants_decrypt_on_exactly_those_keys_through_s3_in_their_region_and_a_key_in_another_region_is_400(
) {
    let app = spawn_app().await;
    let scope = bucket_scope("ledger");
    let key = |region: &str, id: &str| format!("arn:aws:kms:{region}:{CUSTOMER_ACCOUNT}:key/{id}");
    let first = key(REGION, "1234abcd-12ab-34cd-56ef-1234567890ab");
    let second = key(REGION, "0987dcba-09fe-87dc-65ba-ab0987654321");
    let access = |kms_key_arns: Value| {
        let app = &app;
        let scope = &scope;
        async move {
            let body =
                json!({"scope": scope, "versioning": false, "region": REGION, "kms_key_arns": kms_key_arns});
            app.post("/policies/access", &admin(ORG), &body).await
        }
    };
    let decrypt_statements = |policy: &Value| -> Vec<Value> {
        policy["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .filter(|s| s["Sid"] == DECRYPT_SID)
            .cloned()
            .collect()
    };

    let none = access(json!([])).await;
    assert_eq!(none.status, 200, "{}", none.body);
    assert_eq!(decrypt_statements(&none.body["policy"]), Vec::<Value>::new(), "no keys, no kms:Decrypt");
    assert!(!none.body["text"].as_str().expect("text").contains("kms:"), "{}", none.body);

    let one = access(json!([first])).await;
    assert_eq!(one.status, 200, "{}", one.body);
    let via_s3 = json!({"StringEquals": {"kms:ViaService": format!("s3.{REGION}.amazonaws.com")}});
    assert_eq!(
        decrypt_statements(&one.body["policy"]),
        [
            json!({"Sid": DECRYPT_SID, "Effect": "Allow", "Action": "kms:Decrypt", "Resource": first, "Condition": via_s3})
        ]
    );
    let text: Value =
        serde_json::from_str(one.body["text"].as_str().expect("text")).expect("the text is JSON");
    assert_eq!(text, one.body["policy"], "the text to paste is the policy");
    assert_eq!(
        one.body["policy"]["Statement"].as_array().map(Vec::len),
        Some(3),
        "read, list, decrypt: {}",
        one.body
    );

    let two = access(json!([first, second])).await;
    assert_eq!(two.status, 200, "{}", two.body);
    assert_eq!(
        decrypt_statements(&two.body["policy"]),
        [
            json!({"Sid": DECRYPT_SID, "Effect": "Allow", "Action": "kms:Decrypt", "Resource": [first, second], "Condition": via_s3})
        ]
    );

    // A key in another region than the buckets': S3 could never use it.
    let elsewhere = key("eu-west-1", "1234abcd-12ab-34cd-56ef-1234567890ab");
    let refused = access(json!([elsewhere])).await;
    assert_eq!((refused.status, refused.code()), (400, "INVALID_KMS_KEY_ARN"), "{}", refused.body);
    assert_eq!(refused.field(), Some("kms_key_arns[0]"), "{}", refused.body);
    assert!(
        refused.message().contains("eu-west-1") && refused.message().contains(REGION),
        "{}",
        refused.body
    );
    let refused = access(json!([first, elsewhere])).await;
    assert_eq!((refused.status, refused.field()), (400, Some("kms_key_arns[1]")), "{}", refused.body);

    // Saving is held to the same rule, and a saved integration renders the same statement.
    let mut body = bucket_body("Reports", "ledger");
    body["kms_key_arns"] = json!([elsewhere]);
    let refused = app.call("POST", "/integrations", Some(&admin(ORG)), Some(&body)).await;
    assert_eq!((refused.status, refused.code()), (400, "INVALID_KMS_KEY_ARN"), "{}", refused.body);
    assert_eq!(refused.field(), Some("kms_key_arns[0]"), "{}", refused.body);
    body["kms_key_arns"] = json!([first]);
    let created = app.create(ORG, &body).await;
    assert_eq!(created["kms_key_arns"], json!([first]), "{created:#}");
    assert_eq!(created["policies"]["access"], one.body, "the saved integration renders the same policy");
}
