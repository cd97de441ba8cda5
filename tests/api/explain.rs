//! `POST /locators/explain` against the IAM-enforcing emulator: for every locator, explain says
//! what presign then does (the same integration, URL or error code), because both run one
//! decision; and the locator explain says would sign is one whose URL fetches the object.

use crate::helpers::*;
use crate::platform::*;
use serde_json::{json, Value};

const ORG: &str = "acme";

#[tokio::test]
async fn explain_agrees_with_presign_on_served_refused_and_untrusted_locators_in_an_enforcing_emulator() {
    let p = Platform::start_with(|_| {}).await;
    let good = p.bucket("good").await;
    let untrusted = p.bucket("untrusted").await;
    let denied = p.bucket("denied").await;
    p.put(&good, "photos/cat.png", b"cat bytes").await;
    let role = |name: &'static str, bucket: String, trust: String| {
        let p = &p;
        async move {
            let scope = bucket_scope(&bucket);
            let access = p.access_policy(&scope, false).await;
            let arn = p.moto.create_role(name, &trust, &access).await;
            p.save_integration(name, &arn, &scope, false, "us-east-1").await
        }
    };
    let good_id = role("good-role", good.clone(), p.trust.clone()).await;
    role("any-org-role", untrusted.clone(), p.trust_with_wildcard_external_id()).await;
    role("another-orgs-role", denied.clone(), p.trust_for_another_external_id()).await;
    p.enforce().await;

    let locators: Vec<Value> = vec![
        json!(format!("s3://{good}/photos/cat.png")),
        json!(format!("s3://{good}/photos/cat.png?versionId=v1")),
        json!(format!("s3://{untrusted}/a.png")),
        json!(format!("s3://{denied}/a.png")),
        json!("s3://no-such-bucket-of-this-org/a.png"),
        json!("https://cdn.example.com/a.png"),
    ];
    let explained =
        bounded("explain", p.app.post("/locators/explain", &member(ORG), &json!({ "locators": locators })))
            .await;
    assert_eq!(explained.status, 200, "{}", explained.body);
    let presigned =
        bounded("presign", p.app.post("/presign", &member(ORG), &json!({ "locators": locators }))).await;
    assert_eq!(presigned.status, 200, "{}", presigned.body);
    let pairs: Vec<(&Value, &Value)> = explained.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .zip(presigned.body["results"].as_array().unwrap())
        .collect();
    for (e, r) in &pairs {
        let signed = r.get("integration_id").is_some();
        assert_eq!(e["would_sign"], json!(signed), "explain {e} vs presign {r}");
        assert_eq!(e["blocked_by"], r["error"]["code"], "explain {e} vs presign {r}");
    }
    let codes: Vec<Value> = pairs.iter().map(|(e, _)| e["blocked_by"].clone()).collect();
    assert_eq!(
        codes,
        [
            json!(null),
            json!("VERSIONING_DISABLED"),
            json!("EXTERNAL_ID_NOT_ENFORCED"),
            json!("ASSUME_ROLE_DENIED"),
            json!("NO_INTEGRATION"),
            json!(null)
        ]
    );
    let (served, result) = pairs[0];
    assert_eq!(served["integration"]["id"], good_id.as_str());
    assert_eq!(served["matched_by"], format!("bucket scope {good} covers every key of the bucket"));
    let url = result["url"].as_str().unwrap();
    let fetched = bounded("GET", reqwest::get(url)).await.unwrap();
    assert_eq!(fetched.status().as_u16(), 200);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), b"cat bytes");
    for (e, _) in &pairs[2..4] {
        assert!(e["fix"].as_str().is_some_and(|fix| fix.contains("sts:ExternalId")), "{e}");
    }
}
