#![allow(clippy::unwrap_used, clippy::expect_used)]
//! S3-compatible stores and KMS keys through the integrations handler, on the in-memory store
//! and sealer: what an admin may save, what comes back, and what is kept. Written from the
//! abuses first: a secret echoed or stored in the clear, an endpoint that points the platform at
//! its own network, a replace that keeps a secret for a key it does not belong to, another org's
//! ciphertext.

use serde_json::{json, Value};
use shared::api::testkit::{status_and_json, ApiEvent};
use shared::aws::endpoint_guard::EndpointPolicy;
use shared::aws::secrets::{MemorySealer, SecretSealer};
use shared::aws::store::{IntegrationStore, MemoryStore};
use shared::domain::integration::Access;
use shared::domain::org::OrgId;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const KEY: &str = "arn:aws:kms:us-east-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab";

struct World {
    state: integrations::State,
    store: Arc<MemoryStore>,
    sealer: Arc<MemorySealer>,
}

fn world(allow_loopback_http: bool) -> World {
    let env: HashMap<String, String> = [
        ("TABLE_NAME", "unused-by-the-memory-store"),
        ("PLATFORM_PRINCIPAL_ARN", "arn:aws:iam::123456789012:role/platform"),
        ("APP_ORIGINS", "https://app.example.com"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let store = Arc::new(MemoryStore::new());
    let sealer = Arc::new(MemorySealer::new());
    let config = shared::api::config::ApiConfig::from_env(&env).unwrap();
    let state = integrations::State::new(
        store.clone(),
        config,
        sealer.clone(),
        EndpointPolicy { allow_loopback_http },
    );
    World { state, store, sealer }
}

async fn call(state: &integrations::State, event: ApiEvent) -> (u16, Value) {
    let response = integrations::handle(state, event.request()).await.unwrap();
    status_and_json(&response)
}

fn store_body(endpoint: &str) -> Value {
    json!({
        "kind": "s3_compatible", "name": "MinIO photos", "endpoint": endpoint,
        "access_key_id": "platform-reader", "secret_access_key": SECRET,
        "scope": {"type": "bucket", "bucket": "photos"},
    })
}

async fn create(world: &World, org: &str, body: &Value) -> (u16, Value) {
    call(&world.state, ApiEvent::post("/integrations", body).admin_of(org)).await
}

fn org(name: &str) -> OrgId {
    OrgId::parse(name).unwrap()
}

#[tokio::test]
async fn a_store_integration_is_saved_with_its_secret_sealed_and_never_shown() {
    let world = world(true);
    let (status, created) = create(&world, "acme", &store_body("http://127.0.0.1:9000")).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["kind"], "s3_compatible");
    assert_eq!(created["endpoint"], "http://127.0.0.1:9000");
    assert_eq!(created["access_key_id"], "platform-reader");
    assert_eq!(created["secret_set"], true);
    assert_eq!(created["region"], "us-east-1", "the default region");
    assert_eq!(created["addressing_style"], "path", "the default style");
    assert!(created.get("role_arn").is_none() && created.get("external_id_proof").is_none(), "{created}");
    assert_eq!(
        created["policies"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["cors"],
        "no IAM documents"
    );
    assert!(!created.to_string().contains(SECRET), "the secret is never in a response");

    let id = created["id"].as_str().unwrap();
    let stored = world.store.get(&org("acme"), id).await.unwrap();
    let Access::S3Compatible(store) = &stored.access else { panic!("stored as {stored:?}") };
    let ciphertext = store.secret.ciphertext();
    assert!(!ciphertext.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()), "stored sealed");
    assert_eq!(world.sealer.open(&org("acme"), &store.secret).await.unwrap().expose(), SECRET);
    assert!(world.sealer.open(&org("globex"), &store.secret).await.is_err(), "it opens for its own org only");
    assert!(!format!("{stored:?}").contains(SECRET));

    let (_, read) = call(&world.state, ApiEvent::get(&format!("/integrations/{id}")).admin_of("acme")).await;
    let (_, list) = call(&world.state, ApiEvent::get("/integrations").admin_of("acme")).await;
    assert!(!read.to_string().contains(SECRET) && !list.to_string().contains(SECRET));
    assert_eq!(read["secret_set"], true);
}

#[tokio::test]
async fn endpoints_on_the_platforms_own_network_are_refused_before_anything_is_stored() {
    let world = world(false);
    for (endpoint, code) in [
        ("http://169.254.169.254", "ENDPOINT_NOT_PUBLIC"),
        ("https://169.254.169.254", "ENDPOINT_NOT_PUBLIC"),
        ("https://10.0.0.1", "ENDPOINT_NOT_PUBLIC"),
        ("https://[fd00:ec2::254]", "ENDPOINT_NOT_PUBLIC"),
        ("https://localhost:9000", "ENDPOINT_NOT_PUBLIC"),
        ("http://127.0.0.1:9000", "ENDPOINT_NOT_PUBLIC"),
        ("http://93.184.215.14", "ENDPOINT_NOT_HTTPS"),
        ("https://does-not-exist.invalid", "ENDPOINT_UNRESOLVABLE"),
    ] {
        let (status, body) = create(&world, "acme", &store_body(endpoint)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some(code)), "{endpoint}: {body}");
        assert_eq!(body["error"]["field"], "endpoint");
        assert!(!body.to_string().contains(SECRET));
    }
    let metadata = create(&world, "acme", &store_body("http://169.254.169.254")).await.1;
    assert!(metadata["error"]["message"].as_str().unwrap().contains("metadata"), "{metadata}");
    assert_eq!(world.store.item_count(&org("acme")), 0, "nothing stored");
}

#[tokio::test]
async fn loopback_http_is_allowed_only_where_the_deployment_says_so() {
    let local = world(true);
    assert_eq!(create(&local, "acme", &store_body("http://localhost:9000")).await.0, 201);
    let deployed = world(false);
    assert_eq!(create(&deployed, "acme", &store_body("http://localhost:9000")).await.0, 400);
    let (status, body) = create(&local, "acme", &store_body("http://10.0.0.1")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("ENDPOINT_NOT_PUBLIC")), "{body}");
}

#[tokio::test]
async fn an_endpoint_that_smuggles_a_path_credentials_or_a_query_is_refused_naming_the_field() {
    let world = world(true);
    for endpoint in [
        "http://127.0.0.1:9000/bucket",
        "http://admin:pw@127.0.0.1:9000",
        "http://127.0.0.1:9000?x-id=1",
        "ftp://127.0.0.1",
        "127.0.0.1:9000",
    ] {
        let (status, body) = create(&world, "acme", &store_body(endpoint)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("INVALID_ENDPOINT")),
            "{endpoint}: {body}"
        );
        assert_eq!(body["error"]["field"], "endpoint");
    }
}

#[tokio::test]
async fn a_create_needs_the_secret_and_a_bad_one_is_refused_without_being_repeated() {
    let world = world(true);
    let mut body = store_body("http://127.0.0.1:9000");
    body.as_object_mut().unwrap().remove("secret_access_key");
    let (status, reply) = create(&world, "acme", &body).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("MISSING_FIELD")), "{reply}");
    assert_eq!(reply["error"]["field"], "secret_access_key");

    body["secret_access_key"] = json!("short\u{7}secret");
    let (status, reply) = create(&world, "acme", &body).await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (400, Some("INVALID_SECRET_ACCESS_KEY")),
        "{reply}"
    );
    assert!(!reply.to_string().contains("short"), "{reply}");
}

#[tokio::test]
async fn fields_of_the_other_kind_are_refused_saying_which_kind_they_belong_to() {
    let world = world(true);
    let mut with_role = store_body("http://127.0.0.1:9000");
    with_role["role_arn"] = json!("arn:aws:iam::210987654321:role/r");
    let (status, reply) = create(&world, "acme", &with_role).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("FIELD_NOT_FOR_KIND")), "{reply}");
    assert_eq!(reply["error"]["field"], "role_arn");

    let aws_with_endpoint = json!({
        "name": "P", "role_arn": "arn:aws:iam::210987654321:role/r", "region": "us-east-1",
        "endpoint": "https://minio.example.com", "scope": {"type": "bucket", "bucket": "photos"},
    });
    let (status, reply) = create(&world, "acme", &aws_with_endpoint).await;
    assert_eq!((status, reply["error"]["field"].as_str()), (400, Some("endpoint")), "{reply}");
    assert!(reply["error"]["message"].as_str().unwrap().contains("s3_compatible"), "{reply}");

    let mut unknown = store_body("http://127.0.0.1:9000");
    unknown["kind"] = json!("gcs");
    let (status, reply) = create(&world, "acme", &unknown).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("INVALID_KIND")), "{reply}");
}

async fn replace(world: &World, id: &str, body: &Value) -> (u16, Value) {
    call(&world.state, ApiEvent::put(&format!("/integrations/{id}"), body).admin_of("acme")).await
}

#[tokio::test]
async fn a_replace_without_the_secret_keeps_the_stored_one_only_for_the_same_access_key() {
    let world = world(true);
    let (_, created) = create(&world, "acme", &store_body("http://127.0.0.1:9000")).await;
    let id = created["id"].as_str().unwrap();
    let sealed_before = world.store.get(&org("acme"), id).await.unwrap().access;

    let mut renamed = store_body("http://127.0.0.1:9001");
    renamed.as_object_mut().unwrap().remove("secret_access_key");
    renamed["version"] = json!(1);
    renamed["name"] = json!("Renamed");
    let (status, updated) = replace(&world, id, &renamed).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        (updated["endpoint"].as_str(), updated["secret_set"].as_bool()),
        (Some("http://127.0.0.1:9001"), Some(true))
    );
    let kept = world.store.get(&org("acme"), id).await.unwrap().access;
    let (Access::S3Compatible(before), Access::S3Compatible(after)) = (&sealed_before, &kept) else {
        panic!()
    };
    assert_eq!(before.secret, after.secret, "the stored secret is kept");

    let mut new_key = renamed.clone();
    new_key["version"] = json!(2);
    new_key["access_key_id"] = json!("another-key");
    let (status, reply) = replace(&world, id, &new_key).await;
    assert_eq!((status, reply["error"]["field"].as_str()), (400, Some("secret_access_key")), "{reply}");

    new_key["secret_access_key"] = json!("another/secret/access/key/0123456789");
    let (status, _) = replace(&world, id, &new_key).await;
    assert_eq!(status, 200);
    let Access::S3Compatible(rotated) = world.store.get(&org("acme"), id).await.unwrap().access else {
        panic!()
    };
    assert_eq!(
        world.sealer.open(&org("acme"), &rotated.secret).await.unwrap().expose(),
        "another/secret/access/key/0123456789"
    );
}

#[tokio::test]
async fn an_aws_integration_turned_into_a_store_needs_a_secret() {
    let world = world(true);
    let role = json!({
        "name": "P", "role_arn": "arn:aws:iam::210987654321:role/r", "region": "us-east-1",
        "scope": {"type": "bucket", "bucket": "photos"},
    });
    let (_, created) = create(&world, "acme", &role).await;
    let id = created["id"].as_str().unwrap();
    let mut store = store_body("http://127.0.0.1:9000");
    store.as_object_mut().unwrap().remove("secret_access_key");
    store["version"] = json!(1);
    let (status, reply) = replace(&world, id, &store).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("MISSING_FIELD")), "{reply}");
    assert_eq!(reply["error"]["field"], "secret_access_key");
}

#[tokio::test]
async fn scopes_are_unique_across_kinds() {
    let world = world(true);
    let role = json!({
        "name": "AWS photos", "role_arn": "arn:aws:iam::210987654321:role/r", "region": "us-east-1",
        "scope": {"type": "bucket", "bucket": "photos"},
    });
    assert_eq!(create(&world, "acme", &role).await.0, 201);
    let (status, reply) = create(&world, "acme", &store_body("http://127.0.0.1:9000")).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (409, Some("SCOPE_CONFLICT")), "{reply}");
}

#[tokio::test]
async fn an_unavailable_kms_is_a_503_and_nothing_is_saved() {
    let world = world(true);
    world.sealer.unavailable.store(true, Ordering::Relaxed);
    let (status, reply) = create(&world, "acme", &store_body("http://127.0.0.1:9000")).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (503, Some("SERVICE_UNAVAILABLE")), "{reply}");
    assert!(!reply.to_string().contains(SECRET));
    let (_, list) = call(&world.state, ApiEvent::get("/integrations").admin_of("acme")).await;
    assert_eq!(list["integrations"], json!([]));
}

#[tokio::test]
async fn kms_keys_are_saved_and_the_access_policy_grants_decrypt_on_exactly_them_through_s3() {
    let world = world(false);
    let body = json!({
        "name": "Encrypted", "role_arn": "arn:aws:iam::210987654321:role/r", "region": "us-east-1",
        "kms_key_arns": [KEY], "scope": {"type": "bucket", "bucket": "secret-photos"},
    });
    let (status, created) = create(&world, "acme", &body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["kind"], "aws_role");
    assert_eq!(created["kms_key_arns"], json!([KEY]));
    let statements = created["policies"]["access"]["policy"]["Statement"].as_array().unwrap();
    let decrypt = statements.iter().find(|s| s["Sid"] == "DecryptObjectsWithKms").expect("the KMS statement");
    assert_eq!(decrypt["Action"], "kms:Decrypt");
    assert_eq!(decrypt["Resource"], KEY);
    assert_eq!(decrypt["Condition"]["StringEquals"]["kms:ViaService"], "s3.us-east-1.amazonaws.com");

    let plain = json!({
        "name": "Plain", "role_arn": "arn:aws:iam::210987654321:role/r", "region": "us-east-1",
        "scope": {"type": "bucket", "bucket": "plain-photos"},
    });
    let (_, created) = create(&world, "acme", &plain).await;
    assert_eq!(created["kms_key_arns"], json!([]));
    assert!(!created["policies"]["access"]["text"].as_str().unwrap().contains("kms:"));
}

#[tokio::test]
async fn kms_keys_outside_the_integrations_region_or_partition_or_as_aliases_are_refused_by_index() {
    let world = world(false);
    let with_keys = |keys: Value| {
        json!({
            "name": "Encrypted", "role_arn": "arn:aws:iam::210987654321:role/r", "region": "us-east-1",
            "kms_key_arns": keys, "scope": {"type": "bucket", "bucket": "secret-photos"},
        })
    };
    for (keys, code, field) in [
        (
            json!([KEY, "arn:aws:kms:eu-west-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"]),
            "INVALID_KMS_KEY_ARN",
            "kms_key_arns[1]",
        ),
        (
            json!(["arn:aws:kms:us-east-1:210987654321:alias/photos"]),
            "INVALID_KMS_KEY_ARN",
            "kms_key_arns[0]",
        ),
        (json!([KEY, KEY]), "DUPLICATE_KMS_KEY", "kms_key_arns[1]"),
        (json!(vec![KEY; 11]), "TOO_MANY_KMS_KEYS", "kms_key_arns"),
        (json!("not-a-list"), "INVALID_TYPE", "kms_key_arns"),
        (json!([7]), "INVALID_TYPE", "kms_key_arns[0]"),
    ] {
        let (status, reply) = create(&world, "acme", &with_keys(keys.clone())).await;
        assert_eq!(
            (status, reply["error"]["code"].as_str(), reply["error"]["field"].as_str()),
            (400, Some(code), Some(field)),
            "{keys}: {reply}"
        );
    }
}
