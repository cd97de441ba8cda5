//! Validation end to end: `POST /integrations/{id}/validate`, the scheduled run
//! (`validate::run_scheduled`), how reports are recorded (`Store::record_report`), the CORS
//! preflight client, and the sample events through `validate::handle_http` and
//! `validate::handle_schedule`.
//!
//! Most tests run a [`Rig`]: a moto of the test's own, started through the project's launcher
//! (missing `sts:ExternalId` fails `StringEquals`, as in AWS) that enforces IAM once set-up is done,
//! with an IAM user `platform` whose ARN is the platform principal the dev server renders into
//! every trust policy and whose keys its STS client signs `AssumeRole` with. Customer roles carry
//! exactly the trust and access policy texts the API renders (`GET /policies/trust`,
//! `POST /policies/access`) unless a test breaks them on purpose. The validator's S3 checks go to
//! that enforcing moto (`AppWith::validator_aws`), so a check that passes is one the rendered
//! policies allow.
//!
//! Two emulator quirks, handled here rather than ignored:
//! - moto 5.2.5 authorizes HeadBucket as `s3:HeadBucket` (AWS: `s3:ListBucket`) and
//!   `HeadObject?versionId=` as `s3:GetObject` (AWS: `s3:GetObjectVersion`). The project launcher
//!   (`scripts/moto_server.py`, `patch_s3_action_names`) puts AWS's names in moto's action map;
//!   without it the region check never sees `x-amz-bucket-region` (403) and a role without
//!   `s3:GetObjectVersion` passes the version check.
//! - the CORS preflight goes to `S3_ENDPOINT_URL`, the plain moto (`AWS_ENDPOINT_URL`): moto with
//!   enforcement would authorize the unsigned OPTIONS. So every bucket also exists in the plain moto,
//!   with the CORS configuration `GET /policies/cors` renders. There moto 5.2.5 answers a preflight
//!   for an existing private object 403 before evaluating CORS (an anonymous-access ACL check), so
//!   the rig's plain buckets carry a bucket policy that lets moto's made-up `s3:OptionsObject`
//!   through (see [`Rig::bucket`]). Its CORS evaluation is loose (a bucket without CORS rules
//!   passes any origin, an unanchored origin pattern, the requested method ignored, and its Flask
//!   layer echoes any origin even on a 403); the exact
//!   preflight rules are tested against a loopback server of the test's own (`the_cors_check_...`).

use crate::helpers::*;
use crate::moto::MotoProcess;
use crate::platform::*;
use futures::StreamExt;
use serde_json::{json, Value};
use shared::aws::credentials::{CacheConfig, CredentialCache};
use shared::aws::validation::Validator;
use shared::domain::integration::{CheckResult, HealthState, IntegrationDraft, Status};
use shared::domain::org::OrgId;
use shared::domain::policy::AppOrigin;
use shared::domain::presign::{CustomEndpoint, S3Endpoint};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn org(name: &str) -> OrgId {
    OrgId::parse(name).expect("org id")
}

/// An SDK config for `endpoint` with throw-away keys: the validator swaps in the assumed ones.
async fn sdk_config_for(endpoint: &str) -> aws_config::SdkConfig {
    sdk_config_with(endpoint, keys("testing", "testing", None)).await
}

/// An STS client at `endpoint` that tries once and gives up after `timeout`: a dead STS costs
/// each `AssumeRole` at most that.
async fn one_shot_sts(endpoint: &str, timeout: Duration) -> aws_sdk_sts::Client {
    let config = sdk_config_for(endpoint).await;
    aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&config)
            .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_sdk_sts::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(timeout)
                    .operation_attempt_timeout(timeout)
                    .operation_timeout(timeout)
                    .build(),
            )
            .build(),
    )
}

/// A loopback port nothing listens on: connections to it are refused at once.
fn refused_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A validator whose STS refuses every connection (each report keeps the previous state with its
/// role checks `warn`: not known; fast), whose S3 and
/// preflight would go to the plain emulator.
async fn validator_with_dead_sts() -> Validator {
    let sts = one_shot_sts(&refused_endpoint(), Duration::from_secs(1)).await;
    Validator::new(
        aws_config().await,
        CredentialCache::new(sts, CacheConfig::default()).assumer(),
        S3Endpoint::Custom(CustomEndpoint::parse(&emulator_endpoint(), false).expect("endpoint")),
        PLATFORM_PRINCIPAL.to_owned(),
        vec![AppOrigin::parse(APP_ORIGIN).expect("origin")],
    )
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

fn expect(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    list.iter().map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned())).collect()
}

/// The one check with this code and target (CORS checks repeat an origin per bucket: use
/// [`cors_checks`]).
fn check<'a>(report: &'a Value, code: &str, target: &str) -> &'a Value {
    let found: Vec<&Value> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["code"] == code && c["target"] == target)
        .collect();
    assert_eq!(found.len(), 1, "exactly one {code} check on {target} in {report:#}");
    found[0]
}

fn message(check: &Value) -> &str {
    check["message"].as_str().expect("message")
}

/// The CORS checks in report order (one per bucket and origin).
fn cors_checks(report: &Value) -> Vec<&Value> {
    report["checks"].as_array().expect("checks").iter().filter(|c| c["code"] == "CORS").collect()
}

/// The per-bucket checks of a healthy bucket, in the validator's order.
fn healthy_bucket(bucket: &str, versioning: bool) -> Vec<(String, String)> {
    let target = format!("bucket:{bucket}");
    let mut codes = vec!["BUCKET_REGION", "LIST_ACCESS", "READ_ACCESS"];
    if versioning {
        codes.push("VERSION_READ");
    }
    let mut out: Vec<(String, String)> = codes.into_iter().map(|c| (c.to_owned(), target.clone())).collect();
    out.push(("CORS".to_owned(), format!("{target} origin:{APP_ORIGIN}")));
    out
}

fn all_pass(pairs: Vec<(String, String)>) -> Vec<(String, String, String)> {
    pairs.into_iter().map(|(c, t)| (c, t, "pass".to_owned())).collect()
}

fn role_checks(assume: &str, external_id_required: &str) -> Vec<(String, String, String)> {
    expect(&[("ASSUME_ROLE", "role", assume), ("EXTERNAL_ID_REQUIRED", "role", external_id_required)])
}

/// The report as the integration stores it: the validate response less `recorded`.
fn stored_form(report: &Value) -> Value {
    let mut stored = report.clone();
    stored.as_object_mut().expect("report object").remove("recorded");
    stored
}

/// The [`Platform`], with the CORS rules `GET /policies/cors` renders put on every bucket.
#[derive(Debug)]
struct Rig {
    platform: Platform,
    /// The rules `GET /policies/cors` renders, put on every bucket in the plain moto.
    cors: aws_sdk_s3::types::CorsConfiguration,
}

impl std::ops::Deref for Rig {
    type Target = Platform;
    fn deref(&self) -> &Platform {
        &self.platform
    }
}

impl Rig {
    async fn start() -> Self {
        let moto = MotoProcess::start().await;
        let validator_aws = sdk_config_for(&moto.url).await;
        let platform = Platform::start_on(moto, |options| options.validator_aws = Some(validator_aws)).await;
        let cors = rendered_cors(&platform.app).await;
        Self { platform, cors }
    }

    /// A bucket (unique name) in both emulators, in `region` (us-east-1 when `None`), with the
    /// rendered CORS configuration in the plain one.
    async fn bucket(&self, hint: &str, region: Option<&str>) -> String {
        let name = self.bucket_in(hint, region).await;
        put_cors_for_preflights(&self.plain, &name, self.cors.clone()).await;
        name
    }

    async fn role(&self, name: &str, trust: &str, access: &str) -> String {
        self.moto.create_role(name, trust, access).await
    }

    /// Saves an integration named "Media"; returns its id.
    async fn integration(&self, role_arn: &str, scope: &Value, versioning: bool, region: &str) -> String {
        self.save_integration("Media", role_arn, scope, versioning, region).await
    }

    /// `POST /integrations/{id}/validate` as the org's admin; the report, checked for shape.
    async fn validate(&self, id: &str) -> Value {
        let path = format!("/integrations/{id}/validate");
        let reply = bounded("POST validate", self.app.call("POST", &path, Some(&admin(ORG)), None)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let checked_at = reply.body["checked_at"].as_str().expect("checked_at");
        time::OffsetDateTime::parse(checked_at, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("checked_at {checked_at:?} is not RFC 3339: {e}"));
        assert!(checked_at.ends_with('Z'), "UTC: {checked_at}");
        for check in reply.body["checks"].as_array().expect("checks") {
            assert!(!message(check).is_empty(), "every check says something: {check}");
        }
        reply.body
    }
}

// ---- 1-6: POST /integrations/{id}/validate against an IAM-enforcing moto -------------------------

#[tokio::test]
async fn a_correct_integration_is_healthy_with_every_check_passing_and_the_report_becomes_its_status_and_history(
) {
    let rig = Rig::start().await;
    let photos = rig.bucket("photos", None).await;
    let videos = rig.bucket("videos", None).await;
    for bucket in [&photos, &videos] {
        rig.enable_versioning(bucket).await;
        rig.put(bucket, "2024/cat 1.jpg", b"first").await;
        rig.put(bucket, "2024/cat 1.jpg", b"second").await;
    }
    let scope = default_scope(&[&photos, &videos]);
    let role = rig.role("platform-read", &rig.trust, &rig.access_policy(&scope, true).await).await;
    let id = rig.integration(&role, &scope, true, "us-east-1").await;
    rig.enforce().await;

    let first = rig.validate(&id).await;
    assert_eq!(first["state"], "healthy", "{first:#}");
    assert_eq!(first["recorded"], true);
    let mut expected = role_checks("pass", "pass");
    expected.extend(all_pass(healthy_bucket(&photos, true)));
    expected.extend(all_pass(healthy_bucket(&videos, true)));
    assert_eq!(outcomes(&first), expected, "{first:#}");
    let assumed = check(&first, "ASSUME_ROLE", "role");
    assert!(message(assumed).contains(&role), "{assumed}");
    let region = check(&first, "BUCKET_REGION", &format!("bucket:{photos}"));
    assert!(message(region).contains("us-east-1"), "{region}");

    let got = rig.app.get(&format!("/integrations/{id}"), &admin(ORG)).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["status"], stored_form(&first));
    assert_eq!(got.body["history"], json!([stored_form(&first)]));
    assert_eq!(got.body["version"], 1, "recording a report is not an edit");

    // The bucket's CORS rule is replaced by one for another origin: the next report fails on that
    // bucket's origin check only, becomes the status, and heads the history. (Deleting the rule
    // would not do: moto answers a preflight on a bucket without CORS rules 200, echoing the origin.)
    let elsewhere = aws_sdk_s3::types::CorsConfiguration::builder()
        .cors_rules(
            aws_sdk_s3::types::CorsRule::builder()
                .allowed_methods("GET")
                .allowed_origins("https://other-app.example.com")
                .build()
                .expect("rule"),
        )
        .build()
        .expect("CORS configuration");
    bounded(
        "PutBucketCors",
        rig.plain.put_bucket_cors().bucket(&videos).cors_configuration(elsewhere).send(),
    )
    .await
    .expect("put CORS");
    let second = rig.validate(&id).await;
    assert_eq!(second["state"], "failing", "{second:#}");
    let cors = cors_checks(&second);
    assert_eq!(cors.len(), 2);
    assert_eq!(cors[0]["result"], "pass", "{}", cors[0]);
    assert_eq!(cors[1]["result"], "fail", "{}", cors[1]);
    assert!(message(cors[1]).contains(&videos), "names the bucket: {}", cors[1]);
    assert!(message(cors[1]).contains("AllowedOrigins"), "gives the rule to paste: {}", cors[1]);
    let failed: Vec<_> = outcomes(&second).into_iter().filter(|(_, _, r)| r != "pass").collect();
    assert_eq!(failed, expect(&[("CORS", &format!("bucket:{videos} origin:{APP_ORIGIN}"), "fail")]));

    let got = rig.app.get(&format!("/integrations/{id}"), &admin(ORG)).await;
    assert_eq!(got.body["status"], stored_form(&second));
    assert_eq!(got.body["history"], json!([stored_form(&second), stored_form(&first)]), "newest first");
    let listed = rig.app.get("/integrations", &admin(ORG)).await;
    assert_eq!(listed.body["integrations"][0]["status"], stored_form(&second), "the list shows health");
}

#[tokio::test]
async fn a_trust_policy_without_the_external_id_condition_is_failing_with_the_condition_to_add() {
    let rig = Rig::start().await;
    let bucket = rig.bucket("deputy", None).await;
    rig.put(&bucket, "a.png", b"a").await;
    let scope = bucket_scope(&bucket);
    let role = rig
        .role("open-trust", &rig.trust_without_external_id(), &rig.access_policy(&scope, false).await)
        .await;
    let id = rig.integration(&role, &scope, false, "us-east-1").await;
    rig.enforce().await;

    let report = rig.validate(&id).await;
    assert_eq!(report["state"], "failing", "a role that would serve any org is a failure: {report:#}");
    let mut expected = role_checks("pass", "fail");
    expected.extend(all_pass(healthy_bucket(&bucket, false)));
    assert_eq!(outcomes(&report), expected, "{report:#}");
    let failure = message(check(&report, "EXTERNAL_ID_REQUIRED", "role"));
    assert!(failure.contains("sts:ExternalId"), "{failure}");
    assert!(failure.contains(&rig.external_id), "names the org's external ID: {failure}");
    assert!(failure.contains("StringEquals"), "{failure}");
    let got = rig.app.get(&format!("/integrations/{id}"), &admin(ORG)).await;
    assert_eq!(got.body["external_id_proof"]["enforced"], false, "{}", got.body);
    assert_eq!(got.body["external_id_proof"]["role_arn"], role.as_str(), "{}", got.body);
}

#[tokio::test]
async fn an_sts_outage_during_validation_keeps_a_healthy_integration_healthy_and_its_proof_as_recorded() {
    let mut rig = Rig::start().await;
    let bucket = rig.bucket("steady", None).await;
    rig.put(&bucket, "a.png", b"a").await;
    let scope = bucket_scope(&bucket);
    let role = rig.role("steady-read", &rig.trust, &rig.access_policy(&scope, false).await).await;
    let id = rig.integration(&role, &scope, false, "us-east-1").await;
    rig.enforce().await;
    let healthy = rig.validate(&id).await;
    assert_eq!(healthy["state"], "healthy", "{healthy:#}");
    let path = format!("/integrations/{id}");
    let proof = rig.app.get(&path, &admin(ORG)).await.body["external_id_proof"].clone();
    assert_eq!(proof["enforced"], true, "{proof}");

    // STS (the emulator) goes away: nothing is known, so nothing changes.
    rig.platform.moto.stop();
    let report = rig.validate(&id).await;
    assert_eq!(report["state"], "healthy", "an outage never fails a healthy integration: {report:#}");
    assert_eq!(outcomes(&report), role_checks("warn", "warn"), "{report:#}");
    let assumed = message(check(&report, "ASSUME_ROLE", "role"));
    assert!(assumed.contains("platform's side"), "whose problem it is: {assumed}");
    assert!(!assumed.contains("trust policy"), "never 'fix your trust policy': {assumed}");
    assert_eq!(report["recorded"], true);
    let got = rig.app.get(&path, &admin(ORG)).await;
    assert_eq!(got.body["status"]["state"], "healthy", "{}", got.body);
    assert_eq!(got.body["external_id_proof"], proof, "the recorded proof still stands");
    assert_eq!(got.body["history"].as_array().map(Vec::len), Some(2), "{}", got.body);
}

#[tokio::test]
async fn a_trust_policy_for_another_external_id_fails_assume_role_with_the_trust_to_paste_and_checks_no_bucket(
) {
    let rig = Rig::start().await;
    let bucket = rig.bucket("elsewhere", None).await;
    rig.put(&bucket, "a.png", b"a").await;
    let scope = bucket_scope(&bucket);
    let role = rig
        .role("other-trust", &rig.trust_for_another_external_id(), &rig.access_policy(&scope, false).await)
        .await;
    let id = rig.integration(&role, &scope, false, "us-east-1").await;
    rig.enforce().await;

    let report = rig.validate(&id).await;
    assert_eq!(report["state"], "failing", "{report:#}");
    assert_eq!(outcomes(&report), role_checks("fail", "warn"), "no bucket or origin checks: {report:#}");
    let unknown = message(check(&report, "EXTERNAL_ID_REQUIRED", "role"));
    assert!(
        unknown.contains("fix ASSUME_ROLE"),
        "a denial proves nothing while the role itself is refused: {unknown}"
    );
    let failure = message(check(&report, "ASSUME_ROLE", "role"));
    assert!(failure.contains(&role), "names the role: {failure}");
    assert!(failure.contains(&rig.user.arn), "names the platform principal: {failure}");
    assert!(failure.contains(&rig.external_id), "names the org's external ID: {failure}");
    assert!(failure.contains("GET /policies/trust"), "{failure}");
    assert_eq!(report["recorded"], true);
}

#[tokio::test]
async fn an_access_policy_missing_a_permitted_bucket_fails_that_bucket_only() {
    let rig = Rig::start().await;
    let kept = rig.bucket("kept", None).await;
    let dropped = rig.bucket("dropped", None).await;
    for bucket in [&kept, &dropped] {
        rig.put(bucket, "a.png", b"a").await;
    }
    let scope = default_scope(&[&kept, &dropped]);
    // The admin rendered the access policy before adding the second bucket.
    let access = rig.access_policy(&default_scope(&[&kept]), false).await;
    let role = rig.role("stale-access", &rig.trust, &access).await;
    let id = rig.integration(&role, &scope, false, "us-east-1").await;
    rig.enforce().await;

    let report = rig.validate(&id).await;
    assert_eq!(report["state"], "failing", "{report:#}");
    let kept_target = format!("bucket:{kept}");
    let dropped_target = format!("bucket:{dropped}");
    // Everything about the role and the kept bucket passes.
    let mut expected = role_checks("pass", "pass");
    expected.extend(all_pass(healthy_bucket(&kept, false)));
    let (dropped_checks, kept_checks): (Vec<_>, Vec<_>) =
        outcomes(&report).into_iter().partition(|(_, target, _)| target == &dropped_target);
    assert_eq!(kept_checks, expected, "{report:#}");

    // The dropped bucket: region (moto omits x-amz-bucket-region on a 403, so a warning here;
    // AWS sends it, so a pass there), then list denied, and read not proven; no CORS check (no
    // object to preflight).
    let codes: Vec<_> = dropped_checks.iter().map(|(c, t, _)| (c.as_str(), t.as_str())).collect();
    assert_eq!(
        codes,
        [
            ("BUCKET_REGION", &*dropped_target),
            ("LIST_ACCESS", &*dropped_target),
            ("READ_ACCESS", &*dropped_target)
        ],
        "{report:#}"
    );
    assert_ne!(dropped_checks[0].2, "fail", "{report:#}");
    assert_eq!(dropped_checks[1].2, "fail");
    assert_ne!(dropped_checks[2].2, "pass");
    let list = message(check(&report, "LIST_ACCESS", &dropped_target));
    assert!(list.contains("s3:ListBucket"), "{list}");
    assert!(list.contains(&format!("arn:aws:s3:::{dropped}")), "{list}");
    let read = message(check(&report, "READ_ACCESS", &dropped_target));
    assert!(read.contains(&format!("arn:aws:s3:::{dropped}/*")), "{read}");
    // Nothing failed outside the dropped bucket.
    let stray: Vec<_> =
        outcomes(&report).into_iter().filter(|(_, t, r)| r != "pass" && t != &dropped_target).collect();
    assert!(stray.is_empty(), "{stray:?}");
    assert_eq!(check(&report, "LIST_ACCESS", &kept_target)["result"], "pass");
}

#[tokio::test]
async fn when_listing_is_denied_the_read_check_names_the_read_statement_instead_of_asking_for_an_upload() {
    let rig = Rig::start().await;
    let kept = rig.bucket("kept", None).await;
    let dropped = rig.bucket("dropped", None).await;
    for bucket in [&kept, &dropped] {
        rig.put(bucket, "a.png", b"a").await;
    }
    let access = rig.access_policy(&default_scope(&[&kept]), false).await;
    let role = rig.role("stale-access", &rig.trust, &access).await;
    let id = rig.integration(&role, &default_scope(&[&kept, &dropped]), false, "us-east-1").await;
    rig.enforce().await;

    let report = rig.validate(&id).await;
    let read = check(&report, "READ_ACCESS", &format!("bucket:{dropped}"));
    // Untestable without a listed key, so a warning (LIST_ACCESS already fails the report).
    assert_eq!(read["result"], "warn", "{read}");
    assert_eq!(report["state"], "failing");
    assert!(message(read).contains("s3:GetObject"), "{read}");
    assert!(message(read).contains(&format!("arn:aws:s3:::{dropped}/*")), "{read}");
    assert!(!message(read).contains("Upload a file"), "the bucket has objects: {read}");
}

#[tokio::test]
async fn a_bucket_in_another_region_than_saved_fails_the_region_check_naming_the_real_region() {
    let rig = Rig::start().await;
    let bucket = rig.bucket("faraway", Some("eu-west-1")).await;
    rig.put(&bucket, "a.png", b"a").await;
    let scope = bucket_scope(&bucket);
    let role = rig.role("platform-read", &rig.trust, &rig.access_policy(&scope, false).await).await;
    let id = rig.integration(&role, &scope, false, "us-east-1").await;
    // moto answers HeadBucket with the bucket's region (set-up identity, before enforcement).
    let head = bounded("HeadBucket", rig.strict.head_bucket().bucket(&bucket).send()).await.expect("head");
    assert_eq!(head.bucket_region(), Some("eu-west-1"));
    rig.enforce().await;

    let report = rig.validate(&id).await;
    assert_eq!(report["state"], "failing", "{report:#}");
    let target = format!("bucket:{bucket}");
    let region = check(&report, "BUCKET_REGION", &target);
    assert_eq!(region["result"], "fail", "{report:#}");
    assert!(message(region).contains("eu-west-1"), "{region}");
    assert!(message(region).contains("us-east-1"), "names the saved region: {region}");
    assert!(message(region).contains("\"eu-west-1\""), "says what to save: {region}");
    // The other checks ran against the bucket's real region and pass.
    let rest: Vec<_> = outcomes(&report).into_iter().filter(|(c, _, _)| c != "BUCKET_REGION").collect();
    let mut expected = role_checks("pass", "pass");
    expected.extend(
        all_pass(healthy_bucket(&bucket, false)).into_iter().filter(|(c, _, _)| c != "BUCKET_REGION"),
    );
    assert_eq!(rest, expected, "{report:#}");

    // Following the advice makes it healthy.
    let body = json!({
        "name": "Media", "role_arn": role, "region": "eu-west-1", "scope": scope, "versioning": false, "version": 1,
    });
    let replaced = rig.app.put(&format!("/integrations/{id}"), &admin(ORG), &body).await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    let report = rig.validate(&id).await;
    assert_eq!(report["state"], "healthy", "{report:#}");
    assert_eq!(check(&report, "BUCKET_REGION", &target)["result"], "pass");
}

#[tokio::test]
async fn file_versioning_on_with_an_access_policy_rendered_without_versioning_fails_the_version_check() {
    let rig = Rig::start().await;
    let bucket = rig.bucket("versions", None).await;
    rig.enable_versioning(&bucket).await;
    rig.put(&bucket, "report.pdf", b"v1").await;
    rig.put(&bucket, "report.pdf", b"v2").await;
    let scope = bucket_scope(&bucket);
    // Rendered WITHOUT versioning: no s3:GetObjectVersion.
    let access = rig.access_policy(&scope, false).await;
    assert!(!access.contains("s3:GetObjectVersion"), "{access}");
    let role = rig.role("no-versions", &rig.trust, &access).await;
    let id = rig.integration(&role, &scope, true, "us-east-1").await;
    rig.enforce().await;

    let report = rig.validate(&id).await;
    assert_eq!(report["state"], "failing", "{report:#}");
    let target = format!("bucket:{bucket}");
    let mut expected = role_checks("pass", "pass");
    expected.extend(expect(&[
        ("BUCKET_REGION", &target, "pass"),
        ("LIST_ACCESS", &target, "pass"),
        ("READ_ACCESS", &target, "pass"),
        ("VERSION_READ", &target, "fail"),
        ("CORS", &format!("{target} origin:{APP_ORIGIN}"), "pass"),
    ]));
    assert_eq!(outcomes(&report), expected, "{report:#}");
    let version = message(check(&report, "VERSION_READ", &target));
    assert!(version.contains("s3:GetObjectVersion"), "{version}");
    assert!(version.contains(&format!("arn:aws:s3:::{bucket}/*")), "{version}");
}

// ---- 7, 8: the scheduled run and how reports are recorded ----------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_run_over_1500_integrations_in_30_orgs_with_pages_of_7_validates_each_exactly_once() {
    const TOTAL: usize = 1500;
    const ORGS: usize = 30;
    let started = Instant::now();
    let app = spawn_app().await;
    let orgs: Vec<OrgId> = (0..ORGS).map(|i| org(&format!("org-{i:02}"))).collect();
    for org in &orgs {
        app.store.external_id(org).await.expect("external id");
    }
    let created: Vec<(OrgId, String)> = futures::stream::iter(0..TOTAL)
        .map(|i| {
            let (store, org) = (&app.store, orgs[i % ORGS].clone());
            async move {
                let draft = IntegrationDraft::role_from_json(&json!({
                    "name": format!("Integration {i}"),
                    "role_arn": format!("arn:aws:iam::210987654321:role/customer-{i}"),
                    "region": "us-east-1",
                    "scope": bucket_scope(&format!("bucket-{i:04}")),
                    "versioning": false,
                }))
                .expect("draft");
                let integration = store.create(&org, draft).await.expect("create");
                (org, integration.id)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert_eq!(created.len(), TOTAL);
    let set_up = started.elapsed();

    let mut config = validate_config(app.store.table());
    config.page_size = 7;
    config.concurrency = 16;
    let state =
        validate::State { store: app.store.shared(), validator: validator_with_dead_sts().await, config };
    let run_started = Instant::now();
    let summary = tokio::time::timeout(Duration::from_secs(120), validate::run_scheduled(&state))
        .await
        .expect("the run ends");
    let run = run_started.elapsed();
    eprintln!(
        "scheduled run: {TOTAL} integrations, {ORGS} orgs, page size 7, concurrency 16: set-up {set_up:.1?}, \
         run {run:.1?} ({:.2} ms per integration), {summary:?}",
        run.as_secs_f64() * 1000.0 / TOTAL as f64
    );
    assert_eq!(summary.validated, TOTAL, "{summary:?}");
    assert_eq!(summary.errors, 0, "{summary:?}");
    assert_eq!(summary.dropped, 0, "{summary:?}");
    assert_eq!(summary.unverified, TOTAL, "STS refuses every connection, nothing is known: {summary:?}");
    assert_eq!(summary.failing, 0, "an outage never fails an integration: {summary:?}");
    // 1,500 integrations + 1,500 scope locks + 30 external IDs at 7 items a page, at least.
    assert!(summary.pages >= (2 * TOTAL + ORGS) / 7, "{summary:?}");

    // Every integration got exactly one report, and it is its status.
    let counts: Vec<(String, usize)> = futures::stream::iter(&created)
        .map(|(org, id)| {
            let store = &app.store;
            async move {
                let history = store.report_history(org, id, 10).await.expect("history");
                (id.clone(), history.len())
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let wrong: Vec<_> = counts.iter().filter(|(_, n)| *n != 1).collect();
    assert!(
        wrong.is_empty(),
        "{} integrations without exactly one report: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
    let (org, id) = &created[TOTAL - 1];
    let integration = app.store.get(org, id).await.expect("get");
    assert_eq!(integration.status.state, HealthState::Unverified, "an outage proves nothing either way");
    assert_eq!(integration.status.checks[0].code, "ASSUME_ROLE");
    assert_eq!(integration.status.checks[0].result, CheckResult::Warn);
    assert!(integration.status.checks[0].message.contains("STS did not answer"), "{:?}", integration.status);
    assert_eq!(integration.version, 1);
}

fn a_report() -> Status {
    Status {
        state: HealthState::Healthy,
        checked_at: Some(shared::domain::clock::now_rfc3339()),
        checks: vec![shared::domain::integration::Check {
            code: "ASSUME_ROLE".into(),
            target: "role".into(),
            result: CheckResult::Pass,
            message: "The platform assumed the role with your external ID.".into(),
        }],
    }
}

fn sort_keys(items: &[HashMap<String, aws_sdk_dynamodb::types::AttributeValue>]) -> Vec<String> {
    items.iter().map(|item| item["sk"].as_s().expect("sk").clone()).collect()
}

#[tokio::test]
async fn a_report_for_a_deleted_integration_is_dropped_and_does_not_resurrect_it() {
    let app = spawn_app().await;
    let created = app.create(ORG, &bucket_body("Images", "bucket-a")).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let deleted = app.delete(&format!("/integrations/{id}"), &admin(ORG)).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);

    let recorded = app
        .store
        .record_report(&org(ORG), &shared::domain::audit::Actor::direct(), &id, 1, &a_report(), None)
        .await
        .expect("no store error");
    assert!(!recorded, "the report of a deleted integration must be dropped");
    let got = app.get(&format!("/integrations/{id}"), &admin(ORG)).await;
    assert_eq!(got.status, 404, "{}", got.body);
    let left = sort_keys(&app.stored_items(ORG).await);
    assert!(left.iter().all(|sk| !sk.contains(&id)), "no integration, status or report item: {left:?}");
    assert_eq!(app.store.report_history(&org(ORG), &id, 10).await.expect("history"), Vec::<Status>::new());
}

#[tokio::test]
async fn a_report_about_the_version_before_a_concurrent_replace_is_dropped_and_the_replace_survives() {
    let app = spawn_app().await;
    let created = app.create(ORG, &bucket_body("Images", "bucket-a")).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let mut body = bucket_body("Renamed", "bucket-a");
    body["version"] = json!(1);
    let replaced = app.put(&format!("/integrations/{id}"), &admin(ORG), &body).await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(replaced.body["version"], 2);

    // The validation read version 1; its report arrives after the replace.
    let recorded = app
        .store
        .record_report(&org(ORG), &shared::domain::audit::Actor::direct(), &id, 1, &a_report(), None)
        .await
        .expect("no store error");
    assert!(!recorded, "a report about version 1 must not land on version 2");
    let got = app.get(&format!("/integrations/{id}"), &admin(ORG)).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["name"], "Renamed");
    assert_eq!(got.body["version"], 2);
    assert_eq!(got.body["status"]["state"], "unverified", "{}", got.body);
    assert_eq!(got.body["history"], json!([]));
    let items = sort_keys(&app.stored_items(ORG).await);
    assert!(items.iter().all(|sk| !sk.starts_with("REPORT#")), "{items:?}");

    // A report about the current version lands, without bumping the version.
    let report = a_report();
    assert!(app
        .store
        .record_report(&org(ORG), &shared::domain::audit::Actor::direct(), &id, 2, &report, None)
        .await
        .expect("recorded"));
    let got = app.get(&format!("/integrations/{id}"), &admin(ORG)).await;
    assert_eq!(got.body["version"], 2);
    assert_eq!(got.body["status"], serde_json::to_value(&report).expect("JSON"));
    assert_eq!(got.body["history"], json!([report]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_run_drops_the_reports_of_integrations_deleted_or_replaced_while_they_were_validated() {
    // An STS that accepts connections and never answers: each validation waits in AssumeRole
    // while the test deletes one integration and replaces the other.
    let holder = black_hole().await;
    let (hole, accepted) = (holder.url.clone(), holder.accepted.clone());
    let app = spawn_app().await;
    let doomed =
        app.create(ORG, &bucket_body("Doomed", "bucket-a")).await["id"].as_str().expect("id").to_owned();
    let edited =
        app.create(ORG, &bucket_body("Edited", "bucket-b")).await["id"].as_str().expect("id").to_owned();
    let sts = one_shot_sts(&hole, Duration::from_millis(1500)).await;
    let validator = Validator::new(
        aws_config().await,
        CredentialCache::new(sts, CacheConfig::default()).assumer(),
        S3Endpoint::Custom(CustomEndpoint::parse(&emulator_endpoint(), false).expect("endpoint")),
        PLATFORM_PRINCIPAL.to_owned(),
        vec![AppOrigin::parse(APP_ORIGIN).expect("origin")],
    );
    let state =
        validate::State { store: app.store.shared(), validator, config: validate_config(app.store.table()) };
    let run = tokio::spawn(async move { validate::run_scheduled(&state).await });

    // Both validations have read their integration and are waiting on STS.
    bounded("both validations reach STS", async {
        while accepted.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let deleted = app.delete(&format!("/integrations/{doomed}"), &admin(ORG)).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let mut body = bucket_body("Edited again", "bucket-b");
    body["version"] = json!(1);
    let replaced = app.put(&format!("/integrations/{edited}"), &admin(ORG), &body).await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);

    let summary = bounded("the run", run).await.expect("the run task");
    drop(holder);
    assert_eq!((summary.validated, summary.dropped, summary.errors), (2, 2, 0), "{summary:?}");
    assert_eq!(app.get(&format!("/integrations/{doomed}"), &admin(ORG)).await.status, 404);
    let items = sort_keys(&app.stored_items(ORG).await);
    assert!(items.iter().all(|sk| !sk.contains(&doomed)), "nothing of the deleted one: {items:?}");
    assert!(items.iter().all(|sk| !sk.starts_with("REPORT#")), "no report landed: {items:?}");
    let got = app.get(&format!("/integrations/{edited}"), &admin(ORG)).await;
    assert_eq!((got.body["name"].as_str(), got.body["version"].as_u64()), (Some("Edited again"), Some(2)));
    assert_eq!(got.body["status"]["state"], "unverified", "{}", got.body);
}

// ---- 9: the CORS preflight client against a loopback server that answers like S3 ----------------

/// One preflight the loopback server saw.
#[derive(Debug, Clone, PartialEq)]
struct Preflight {
    method: String,
    path: String,
    origin: Option<String>,
    request_method: Option<String>,
    request_headers: Option<String>,
}

/// Answers like S3 with a CORS rule for `allowed` (every header, as the rendered rule) and one for
/// `no_range` that allows GET with no header: OPTIONS from `allowed` asking for GET is 200 with
/// `Access-Control-Allow-Origin`, `-Methods` and the requested headers echoed in `-Headers`; from
/// `no_range`, the same without `-Headers` (S3 leaves it out when a requested header is not
/// allowed); anything else is 403.
async fn s3_like_preflight_server(
    allowed: &'static str,
    no_range: &'static str,
) -> (String, Arc<Mutex<Vec<Preflight>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buffer).into_owned();
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap_or("").split(' ');
                let (method, path) =
                    (first.next().unwrap_or("").to_owned(), first.next().unwrap_or("").to_owned());
                let headers: HashMap<String, String> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let preflight = Preflight {
                    method,
                    path,
                    origin: headers.get("origin").cloned(),
                    request_method: headers.get("access-control-request-method").cloned(),
                    request_headers: headers.get("access-control-request-headers").cloned(),
                };
                let origin = preflight.origin.clone().unwrap_or_default();
                let allow = preflight.method == "OPTIONS"
                    && (origin == allowed || origin == no_range)
                    && preflight.request_method.as_deref() == Some("GET");
                log.lock().expect("log").push(preflight.clone());
                let answer = if allow {
                    let echoed = match &preflight.request_headers {
                        Some(requested) if origin == allowed => {
                            format!("Access-Control-Allow-Headers: {requested}\r\n")
                        }
                        _ => String::new(),
                    };
                    format!(
                        "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: {origin}\r\nAccess-Control-Allow-Methods: \
                         GET, HEAD\r\n{echoed}Access-Control-Max-Age: 3000\r\nVary: Origin\r\nContent-Length: 0\r\n\
                         Connection: close\r\n\r\n"
                    )
                } else {
                    let body =
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessForbidden</Code>\
                                <Message>CORSResponse: This CORS request is not allowed.</Message></Error>";
                    format!(
                        "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
                         Connection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn the_cors_check_passes_an_origin_the_bucket_allows_and_fails_one_it_refuses_or_that_cannot_seek_videos_with_the_rule_to_paste(
) {
    const ALLOWED: &str = "https://app.example.com";
    const DENIED: &str = "https://studio.example.net";
    const NO_RANGE: &str = "https://viewer.example.org";
    let (preflight_url, seen) = s3_like_preflight_server(ALLOWED, NO_RANGE).await;

    // S3 checks against the plain moto (it assumes any role), preflights against the loopback server.
    let aws = aws_config().await;
    let bucket = format!("cors-{}", ulid::Ulid::new().to_string().to_lowercase());
    let plain = s3_client_with(&emulator_endpoint(), "testing", "testing", None).await;
    plain.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    plain
        .put_object()
        .bucket(&bucket)
        .key("photos/cat 1.jpg")
        .body(b"cat".to_vec().into())
        .send()
        .await
        .expect("put");
    let validator = Validator::new(
        aws.clone(),
        CredentialCache::new(shared::aws::credentials::sts_client(&aws), CacheConfig::default()).assumer(),
        S3Endpoint::Custom(CustomEndpoint::parse(&preflight_url, false).expect("endpoint")),
        PLATFORM_PRINCIPAL.to_owned(),
        vec![
            AppOrigin::parse(ALLOWED).expect("origin"),
            AppOrigin::parse(DENIED).expect("origin"),
            AppOrigin::parse(NO_RANGE).expect("origin"),
        ],
    );
    let app = spawn_app().await;
    let id = app.create(ORG, &bucket_body("Photos", &bucket)).await["id"].as_str().expect("id").to_owned();
    let integration = app.store.get(&org(ORG), &id).await.expect("get");
    let external_id = app.store.read_external_id(&org(ORG)).await.expect("read").expect("created with it");

    let report = bounded("validate", validator.validate(&org(ORG), Some(&external_id), &integration)).await;
    let report = serde_json::to_value(&report.status).expect("JSON");
    let target = format!("bucket:{bucket}");
    for code in ["BUCKET_REGION", "LIST_ACCESS", "READ_ACCESS"] {
        assert_eq!(check(&report, code, &target)["result"], "pass", "{report:#}");
    }
    let allowed = check(&report, "CORS", &format!("{target} origin:{ALLOWED}"));
    assert_eq!(allowed["result"], "pass", "{allowed}");
    let denied = check(&report, "CORS", &format!("{target} origin:{DENIED}"));
    assert_eq!(denied["result"], "fail", "{denied}");
    let advice = message(denied);
    assert!(advice.contains(&bucket) && advice.contains(DENIED), "{advice}");
    let json_start = advice.find("[\n").unwrap_or_else(|| panic!("no CORS JSON in {advice}"));
    let rule: Value = serde_json::from_str(&advice[json_start..]).expect("the CORS JSON parses");
    assert_eq!(rule[0]["AllowedOrigins"], json!([DENIED]), "{rule:#}");
    assert_eq!(rule[0]["AllowedMethods"], json!(["GET", "HEAD"]), "{rule:#}");
    let no_range = check(&report, "CORS", &format!("{target} origin:{NO_RANGE}"));
    assert_eq!(no_range["result"], "fail", "images load but a video cannot seek: {no_range}");
    let advice = message(no_range);
    assert!(advice.contains("videos cannot seek") && advice.contains("Range"), "{advice}");
    let rule: Value =
        serde_json::from_str(&advice[advice.find("[\n").expect("the CORS JSON")..]).expect("parses");
    assert_eq!(rule[0]["AllowedHeaders"], json!(["*"]), "{rule:#}");
    assert!(
        rule[0]["ExposeHeaders"]
            .as_array()
            .is_some_and(|h| h.contains(&json!("Content-Range")) && h.contains(&json!("Accept-Ranges"))),
        "{rule:#}"
    );

    // What the server saw: one preflight per origin, on the listed object's path-style URL.
    let object_url = validator.object_url(
        &shared::domain::bucket::BucketName::parse(&bucket).expect("bucket"),
        shared::domain::region::Region::parse("us-east-1").expect("region"),
        "photos/cat 1.jpg",
    );
    assert_eq!(object_url, format!("{preflight_url}/{bucket}/photos/cat%201.jpg"));
    let seen = seen.lock().expect("log").clone();
    let path = format!("/{bucket}/photos/cat%201.jpg");
    let expected: Vec<Preflight> = [ALLOWED, DENIED, NO_RANGE]
        .iter()
        .map(|origin| Preflight {
            method: "OPTIONS".into(),
            path: path.clone(),
            origin: Some((*origin).to_owned()),
            request_method: Some("GET".into()),
            request_headers: Some("range".into()),
        })
        .collect();
    assert_eq!(seen, expected);
}

// ---- 10, 11: who may validate, and the sample events ---------------------------------------------

#[tokio::test]
async fn a_member_gets_403_and_another_orgs_admin_gets_404_on_validate_and_neither_records_a_report() {
    let app = spawn_app().await;
    let id = app.create(ORG, &bucket_body("Images", "bucket-a")).await["id"].as_str().expect("id").to_owned();
    let path = format!("/integrations/{id}/validate");

    let member = app.call("POST", &path, Some(&member(ORG)), None).await;
    assert_eq!((member.status, member.code()), (403, "FORBIDDEN"), "{}", member.body);
    let stranger = app.call("POST", &path, Some(&admin("globex")), None).await;
    assert_eq!((stranger.status, stranger.code()), (404, "NOT_FOUND"), "{}", stranger.body);
    assert!(!stranger.message().contains("bucket-a"), "nothing of acme's leaks: {}", stranger.body);
    let anonymous = app.call("POST", &path, None, None).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    let unknown =
        app.call("POST", "/integrations/01JDZ8W6Q4V3S2R1P0N9M8K7J6/validate", Some(&admin(ORG)), None).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    let got = app.get(&format!("/integrations/{id}"), &admin(ORG)).await;
    assert_eq!(got.body["status"]["state"], "unverified", "{}", got.body);
    assert_eq!(got.body["history"], json!([]));
    assert!(app.stored_items("globex").await.is_empty(), "the stranger's call wrote nothing");
}

const SAMPLE_ID: &str = "01JDZ8W6Q4V3S2R1P0N9M8K7J6";

fn sample_event(name: &str, id: &str) -> Value {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text.replace(SAMPLE_ID, id)).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

/// The HTTP sample event through `validate::handle_http`: status, content type and JSON body.
async fn validate_http(state: &validate::State, id: &str) -> (u16, String, Value) {
    let event = sample_event("integrations-validate.json", id).to_string();
    let request = lambda_http::request::from_str(&event).expect("an API Gateway v2 event");
    let response = validate::handle_http(state, request).await;
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    (response.status().as_u16(), content_type.to_owned(), response_json(&response))
}

#[tokio::test]
async fn the_validate_sample_events_run_through_their_own_entry_points() {
    let app = spawn_app().await;
    let state = validate::State {
        store: app.store.shared(),
        validator: validator_with_dead_sts().await,
        config: validate_config(app.store.table()),
    };

    // The HTTP event as it is: its sample id does not exist in a fresh table.
    let (status, content_type, body) = validate_http(&state, SAMPLE_ID).await;
    assert_eq!((status, content_type.as_str()), (404, "application/json"), "{body:#}");
    assert_eq!(body["error"]["code"], "NOT_FOUND", "{body:#}");

    // With a real id of the event's org (acme, role "[admin]").
    let id =
        app.create("acme", &bucket_body("Images", "bucket-a")).await["id"].as_str().expect("id").to_owned();
    let (status, _, body) = validate_http(&state, &id).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["state"], "unverified", "STS is down, so nothing is known yet: {body:#}");
    assert_eq!(body["checks"][0]["result"], "warn", "{body:#}");
    assert_eq!(body["recorded"], true, "{body:#}");
    assert_eq!(body["checks"][0]["code"], "ASSUME_ROLE", "{body:#}");
    let history = app.store.report_history(&org("acme"), &id, 10).await.expect("history");
    assert_eq!(history.len(), 1);

    // The EventBridge event, typed, runs the scheduled validation over the table.
    let event: aws_lambda_events::eventbridge::EventBridgeEvent =
        serde_json::from_value(sample_event("validate-scheduled.json", SAMPLE_ID))
            .expect("an EventBridge event");
    assert_eq!(event.detail_type, "Scheduled Event");
    let summary = validate::handle_schedule(&state, event).await;
    assert_eq!((summary.validated, summary.unverified, summary.errors), (1, 1, 0), "{summary:?}");
    let returned = serde_json::to_value(&summary).expect("JSON");
    assert_eq!(returned["validated"], 1, "what the schedule's invocation returns: {returned}");
    assert_eq!(app.store.report_history(&org("acme"), &id, 10).await.expect("history").len(), 2);

    // An HTTP event is not a scheduled event: the schedule's entry point cannot be handed one.
    let http = serde_json::from_value::<aws_lambda_events::eventbridge::EventBridgeEvent>(sample_event(
        "integrations-validate.json",
        &id,
    ));
    assert!(http.is_err(), "an API Gateway event does not parse as an EventBridge event");
}

// ---- one on-demand validation per integration at a time, on the table ----------------------------

/// The HTTP sample event through `validate::handle_http`: status, `Retry-After`, JSON body.
async fn validate_http_with_retry_after(state: &validate::State, id: &str) -> (u16, Option<String>, Value) {
    let event = sample_event("integrations-validate.json", id).to_string();
    let request = lambda_http::request::from_str(&event).expect("an API Gateway v2 event");
    let response = validate::handle_http(state, request).await;
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (response.status().as_u16(), retry_after, response_json(&response))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_table_a_second_validation_while_one_runs_is_429_and_the_one_after_it_runs() {
    // An STS that accepts connections and never answers: the first validation waits in AssumeRole
    // (its own 3 s limit) while the second arrives, as from another Lambda instance.
    let holder = black_hole().await;
    let (hole, accepted) = (holder.url.clone(), holder.accepted.clone());
    let app = spawn_app().await;
    // The sample event's org is acme, role "[admin]".
    let id =
        app.create("acme", &bucket_body("Images", "bucket-a")).await["id"].as_str().expect("id").to_owned();
    let sts = one_shot_sts(&hole, Duration::from_secs(3)).await;
    let validator = Validator::new(
        aws_config().await,
        CredentialCache::new(sts, CacheConfig::default()).assumer(),
        S3Endpoint::Custom(CustomEndpoint::parse(&emulator_endpoint(), false).expect("endpoint")),
        PLATFORM_PRINCIPAL.to_owned(),
        vec![AppOrigin::parse(APP_ORIGIN).expect("origin")],
    );
    let state = Arc::new(validate::State {
        store: app.store.shared(),
        validator,
        config: validate_config(app.store.table()),
    });
    let first = tokio::spawn({
        let (state, id) = (state.clone(), id.clone());
        async move { validate_http_with_retry_after(&state, &id).await }
    });
    bounded("the first validation reaches STS", async {
        while accepted.load(Ordering::SeqCst) < 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    let (status, retry_after, body) = validate_http_with_retry_after(&state, &id).await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("TOO_MANY_REQUESTS")), "{body:#}");
    let retry_after: u64 = retry_after.expect("Retry-After").parse().expect("whole seconds");
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert!(body["error"]["message"].as_str().expect("message").contains("already running"), "{body:#}");

    let (status, _, report) = bounded("the first validation", first).await.expect("the first task");
    assert_eq!((status, report["recorded"].as_bool()), (200, Some(true)), "{report:#}");
    assert_eq!(report["checks"][0]["result"], "warn", "STS never answered: {report:#}");
    let (status, _, report) =
        bounded("the next validation", validate_http_with_retry_after(&state, &id)).await;
    assert_eq!(status, 200, "released when the first finished: {report:#}");
    drop(holder);
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "the refused request never reached STS");
    assert_eq!(app.store.report_history(&org("acme"), &id, 10).await.expect("history").len(), 2);
}

// ---- figures: validation time per integration against the emulator, by concurrency --------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_fifty_healthy_integrations_validated_by_the_scheduled_run_at_concurrency_1_and_16() {
    const COUNT: usize = 50;
    let rig = Rig::start().await;
    let buckets: Vec<String> = futures::stream::iter(0..COUNT)
        .map(|i| {
            let rig = &rig;
            async move {
                let bucket = rig.bucket(&format!("f{i:02}"), None).await;
                rig.put(&bucket, "image.png", b"png").await;
                bucket
            }
        })
        .buffered(8)
        .collect()
        .await;
    let names: Vec<&str> = buckets.iter().map(String::as_str).collect();
    // One role whose rendered access policy covers every bucket; one bucket-scoped integration each.
    let access = rig.access_policy(&default_scope(&names), false).await;
    let role = rig.role("platform-read", &rig.trust, &access).await;
    let ids: Vec<String> = futures::stream::iter(&buckets)
        .map(|bucket| {
            let (rig, role) = (&rig, &role);
            async move { rig.integration(role, &bucket_scope(bucket), false, "us-east-1").await }
        })
        .buffered(8)
        .collect()
        .await;
    assert_eq!(ids.len(), COUNT);
    rig.enforce().await;

    let mut figures = Vec::new();
    for (concurrency, page_size) in [(1, 1000), (16, 1000), (16, 7)] {
        let mut config = rig.server.validate.config.clone();
        config.concurrency = concurrency;
        config.page_size = page_size;
        let state = validate::State {
            store: rig.app.store.shared(),
            validator: rig.server.validate.validator.clone(),
            config,
        };
        let started = Instant::now();
        let summary = tokio::time::timeout(Duration::from_secs(120), validate::run_scheduled(&state))
            .await
            .expect("the run ends");
        let elapsed = started.elapsed();
        assert_eq!((summary.validated, summary.healthy, summary.errors), (COUNT, COUNT, 0), "{summary:?}");
        let line = format!(
            "concurrency {concurrency:>2}, page size {page_size:>4}: {COUNT} healthy in {:>6.2} s = {:>6.1} ms per \
             integration ({:.1} integrations/s, {} pages)",
            elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1000.0 / COUNT as f64,
            COUNT as f64 / elapsed.as_secs_f64(),
            summary.pages,
        );
        eprintln!("validation figures: {line}");
        figures.push(line);
    }
    // One validation of a healthy bucket-scoped integration = 2 AssumeRole + HeadBucket +
    // ListObjectsV2 + HeadObject at the enforcing moto, 1 preflight at the plain one, 1 transaction.
    eprintln!("validation figures (moto with IAM enforcement, 2 cores):\n  {}", figures.join("\n  "));
    let history = rig.app.store.report_history(&org(ORG), &ids[0], 10).await.expect("history");
    assert_eq!(history.len(), 3, "one report per run");
}

// ---- the scheduled run's concurrency as the report history grows ----------------------------------

/// An STS that holds each request until `count` are held at once (or `at_most` has passed), then
/// denies them (`AccessDenied`, not retried).
async fn gathering_denying_sts(count: usize, at_most: Duration) -> (String, Arc<InFlight>) {
    sts_answering_error(403, "AccessDenied", Hold::UntilGathered { count, at_most }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_runs_concurrency_does_not_collapse_as_report_history_accumulates() {
    const ORGS: usize = 64;
    const REPORTS: usize = 30;
    let app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..ORGS {
        let org = org(&format!("tenant-{i:02}"));
        app.store.external_id(&org).await.expect("external id");
        let draft = IntegrationDraft::role_from_json(&json!({
            "name": "Images",
            "role_arn": "arn:aws:iam::210987654321:role/customer",
            "region": "us-east-1",
            "scope": bucket_scope("bucket-a"),
            "versioning": false,
        }))
        .expect("draft");
        let integration = app.store.create(&org, draft).await.expect("create");
        created.push((org, integration.id));
    }
    // Each STS call is held until the run has CONCURRENCY of them in flight. A run that keeps its
    // configured concurrency is answered at once, in ORGS / CONCURRENCY rounds; one that lost it
    // waits `at_most` per call and shows a lower peak. No timing decides the outcome.
    const CONCURRENCY: usize = 16;
    let at_most = Duration::from_millis(1500);
    let mut figures = Vec::new();
    for phase in ["fresh table", "after 30 reports per integration"] {
        if phase != "fresh table" {
            let report = a_report();
            let seeded: Vec<bool> =
                futures::stream::iter(created.iter().flat_map(|c| std::iter::repeat_n(c, REPORTS)))
                    .map(|(org, id)| {
                        let (store, report) = (&app.store, &report);
                        async move {
                            store
                                .record_report(
                                    org,
                                    &shared::domain::audit::Actor::direct(),
                                    id,
                                    1,
                                    report,
                                    None,
                                )
                                .await
                                .expect("record")
                        }
                    })
                    .buffer_unordered(32)
                    .collect()
                    .await;
            assert!(seeded.iter().all(|r| *r));
        }
        let (sts_url, in_flight) = gathering_denying_sts(CONCURRENCY, at_most).await;
        let sts = one_shot_sts(&sts_url, Duration::from_secs(2)).await;
        let validator = Validator::new(
            aws_config().await,
            CredentialCache::new(sts, CacheConfig::default()).assumer(),
            S3Endpoint::Custom(CustomEndpoint::parse(&emulator_endpoint(), false).expect("endpoint")),
            PLATFORM_PRINCIPAL.to_owned(),
            vec![AppOrigin::parse(APP_ORIGIN).expect("origin")],
        );
        let mut config = validate_config(app.store.table());
        config.concurrency = CONCURRENCY;
        assert_eq!(config.page_size, 100, "the deployed default");
        let state = validate::State { store: app.store.shared(), validator, config };
        let started = Instant::now();
        let summary = bounded("the run", validate::run_scheduled(&state)).await;
        let elapsed = started.elapsed();
        assert_eq!((summary.validated, summary.errors), (ORGS, 0), "{summary:?}");
        assert_eq!(
            in_flight.total.load(Ordering::SeqCst),
            ORGS,
            "one AssumeRole per integration: a denied role is not probed"
        );
        let max = in_flight.max.load(Ordering::SeqCst);
        figures.push((phase, max, elapsed, summary.pages));
        eprintln!(
            "scheduled run, {ORGS} orgs x 1 integration, concurrency {CONCURRENCY}, page size 100, STS holding calls \
             until {CONCURRENCY} are in flight, {phase}: at most {max} validations at once, {:.2} s, {} pages",
            elapsed.as_secs_f64(),
            summary.pages
        );
    }
    assert_eq!(figures[0].1, CONCURRENCY, "fresh table: {figures:?}");
    assert_eq!(
        figures[1].1, CONCURRENCY,
        "the configured concurrency is lost as history accumulates: {figures:?}"
    );
}

#[tokio::test]
async fn an_integration_read_with_its_history_can_be_put_back_with_one_field_changed() {
    let app = spawn_app().await;
    let id = app.create(ORG, &bucket_body("Images", "bucket-a")).await["id"].as_str().expect("id").to_owned();
    let recorded = app
        .store
        .record_report(&org(ORG), &shared::domain::audit::Actor::direct(), &id, 1, &a_report(), None)
        .await
        .expect("record");
    assert!(recorded);
    let mut read = app.get(&format!("/integrations/{id}"), &admin(ORG)).await.body;
    assert_eq!(read["history"].as_array().map(Vec::len), Some(1), "{read:#}");
    read["name"] = json!("Renamed");
    let replaced = app.put(&format!("/integrations/{id}"), &admin(ORG), &read).await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(replaced.body["version"], 2);
}
