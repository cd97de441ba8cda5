//! Nothing a caller sends can panic a handler or make it answer 5xx: arbitrary API Gateway v2
//! events (methods, paths with random segments, query strings, headers, claims, and bodies of any
//! bytes, JSON that is deep, huge-numbered or nearly right) go through every function's `handle`
//! on the in-memory store and STS. Every answer must be a 2xx or a 4xx, and every 4xx a JSON
//! error with a code and a message. No emulator: the in-memory twins are held to DynamoDB's and
//! STS's behaviour by the contract suites.

use base64::Engine;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use shared::api::routes::Route;
use shared::api::testkit::{status_and_json, ApiEvent};
use shared::aws::credentials::{CacheConfig, CredentialCache, MemoryAssumer, RoleTrust};
use shared::aws::endpoint_guard::EndpointPolicy;
use shared::aws::store::{IntegrationStore, MemoryStore};
use shared::domain::integration::IntegrationDraft;
use shared::domain::org::OrgId;
use shared::domain::presign::S3Endpoint;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const CASES_PER_FUNCTION: u32 = 1500;
const ROLE: &str = "arn:aws:iam::210987654321:role/platform-read";

/// Every function's handler, on one in-memory world with a few integrations in it.
struct World {
    integrations: integrations::State,
    policies: policies::State,
    presign: presign::State,
    validate: validate::State,
    ids: Vec<String>,
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

async fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    let secrets: shared::aws::secrets::SharedSealer = Arc::new(shared::aws::secrets::MemorySealer::new());
    let sts = Arc::new(MemoryAssumer::new(Duration::from_secs(3600)));
    let api_env = env(&[
        ("TABLE_NAME", "memory"),
        ("PLATFORM_PRINCIPAL_ARN", "arn:aws:iam::123456789012:role/platform"),
        ("APP_ORIGINS", "https://app.example.com"),
        ("SECRETS_KMS_KEY_ID", "unused-by-the-memory-sealer"),
        ("LINK_SIGNING_KEYS", crate::helpers::TEST_LINK_KEYS),
    ]);
    let api = shared::api::config::ApiConfig::from_env(&api_env).unwrap();
    let mut ids = Vec::new();
    for (org, bucket) in [("acme", "acme-photos"), ("acme", "acme-video"), ("globex", "globex-data")] {
        let org_id = OrgId::parse(org).unwrap();
        let external_id = store.external_id(&org_id).await.unwrap();
        sts.put_role(ROLE, RoleTrust::ExternalId(external_id.as_str().to_owned()));
        let draft = IntegrationDraft::role_from_json(&json!({
            "name": bucket, "role_arn": ROLE, "region": "us-east-1",
            "scope": {"type": "bucket", "bucket": bucket, "prefix": "p/"}, "versioning": true,
        }))
        .unwrap();
        ids.push(store.create(&org_id, draft).await.unwrap().id);
    }
    let credentials =
        CredentialCache::with_assumer(sts.clone(), CacheConfig::default(), Arc::new(SystemTime::now));
    let presign_config = presign::PresignConfig::from_env(&api_env).unwrap();
    let mut validate_config = validate::ValidateConfig::from_env(&api_env).unwrap();
    validate_config.page_size = 2;
    // No S3 answers here: validation of a real integration stops at the role, which the memory
    // STS denies for any org's external ID but the first one registered.
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let validator = shared::aws::validation::Validator::new(
        sdk,
        sts.clone(),
        S3Endpoint::Aws,
        "arn:aws:iam::123456789012:role/platform".into(),
        api.app_origins.clone(),
    )
    .with_stores(secrets.clone(), EndpointPolicy::default());
    World {
        integrations: integrations::State::new(
            store.clone(),
            api.clone(),
            secrets.clone(),
            EndpointPolicy::default(),
        ),
        policies: policies::State::new(store.clone(), api),
        presign: presign::State::new(store.clone(), credentials, secrets, presign_config),
        validate: validate::State { store, validator, config: validate_config },
        ids,
    }
}

/// Text as it reaches API Gateway in a URL: every byte but A-Z a-z 0-9 percent-encoded (a raw
/// space or non-ASCII character cannot be in a request line, so API Gateway never passes one on).
fn url_encoded(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn any_text(max_chars: usize) -> impl Strategy<Value = String> {
    any::<String>().prop_map(move |s| s.chars().take(max_chars).collect())
}

/// A path segment a hostile caller might send.
fn segment(ids: Vec<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(ids),
        "[A-Za-z0-9]{0,30}",
        any_text(40).prop_map(|s| url_encoded(&s)),
        Just("..".to_owned()),
        Just("%C3%A9%00%FF".to_owned()),
        Just("x".repeat(3000)),
        Just(String::new()),
    ]
}

/// A path: a route's template with its parameters filled by [`segment`]s, or anything at all.
fn path(ids: Vec<String>) -> impl Strategy<Value = String> {
    let templates: Vec<&'static str> = Route::ALL.iter().map(|r| r.template()).collect();
    prop_oneof![
        4 => (proptest::sample::select(templates), segment(ids.clone())).prop_map(|(t, s)| {
            t.split('/').map(|part| if part.starts_with('{') { s.as_str() } else { part }).collect::<Vec<_>>().join("/")
        }),
        1 => any_text(80).prop_map(|s| format!("/{}", url_encoded(&s).replace("%2F", "/"))),
        1 => proptest::collection::vec(segment(ids), 0..6).prop_map(|parts| format!("/{}", parts.join("/"))),
    ]
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(vec!["GET", "POST", "PUT", "DELETE"]).prop_map(str::to_owned),
        1 => proptest::sample::select(vec!["PATCH", "HEAD", "OPTIONS", "get", "TRACE"]).prop_map(str::to_owned),
    ]
}

/// JSON of any shape, nested up to `depth`.
fn json_value(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        "s3://[a-z0-9.-]{0,20}/[^\u{0}]{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    proptest::sample::select(vec![
                        "name",
                        "role_arn",
                        "region",
                        "scope",
                        "type",
                        "bucket",
                        "buckets",
                        "prefix",
                        "versioning",
                        "version",
                        "locators",
                        "expires_in",
                        "id",
                        "status",
                        "kind",
                        "kms_key_arns",
                        "endpoint",
                        "access_key_id",
                        "secret_access_key",
                        "addressing_style",
                        "locator",
                        "download_as",
                        "content_type",
                        "method",
                    ])
                    .prop_map(str::to_owned),
                    any::<String>(),
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body: none, bytes that are not UTF-8 (base64 as API Gateway sends them), text, deep JSON,
/// JSON of any shape, or a nearly right integration or presign body.
#[derive(Debug, Clone)]
enum Body {
    None,
    Binary(Vec<u8>),
    Text(String),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        1 => Just(Body::None),
        1 => proptest::collection::vec(any::<u8>(), 0..200).prop_map(Body::Binary),
        1 => any::<String>().prop_map(Body::Text),
        1 => (1usize..5000).prop_map(|depth| Body::Text(format!("{}{}", "[".repeat(depth), "]".repeat(depth)))),
        1 => (1usize..200).prop_map(|depth| Body::Text(format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth)))),
        3 => json_value(4).prop_map(|v| Body::Text(v.to_string())),
        2 => (json_value(2), json_value(2), json_value(2)).prop_map(|(name, scope, versioning)| Body::Text(json!({
            "name": name, "role_arn": ROLE, "region": "us-east-1", "scope": scope, "versioning": versioning,
        }).to_string())),
        // Nearly right S3-compatible bodies: hostile endpoints (metadata, private, smuggled paths and
        // credentials), keys and styles. Loopback is refused here (the policy allows none), so no
        // endpoint of this machine is ever called.
        2 => (
            prop_oneof![
                Just(json!("http://169.254.169.254")),
                Just(json!("https://10.0.0.1:9000")),
                Just(json!("https://user:pw@minio.example.com")),
                Just(json!("https://minio.example.com/bucket?x=1")),
                Just(json!("http://127.0.0.1:9000")),
                json_value(1),
            ],
            json_value(1),
            json_value(1),
            json_value(2),
        )
            .prop_map(|(endpoint, secret, style, scope)| Body::Text(json!({
                "kind": "s3_compatible", "name": "store", "endpoint": endpoint, "access_key_id": "key-id",
                "secret_access_key": secret, "addressing_style": style, "scope": scope,
            }).to_string())),
        1 => (json_value(1), json_value(2)).prop_map(|(keys, scope)| Body::Text(json!({
            "name": "kms", "role_arn": ROLE, "region": "us-east-1", "kms_key_arns": keys, "scope": scope,
        }).to_string())),
        2 => (proptest::collection::vec(json_value(1), 0..5), json_value(1)).prop_map(|(locators, expires_in)| {
            Body::Text(json!({"locators": locators, "expires_in": expires_in}).to_string())
        }),
    ]
}

#[derive(Debug, Clone)]
struct Event {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    org: Option<String>,
    role: Option<String>,
    body: Body,
    drop_route_key: bool,
}

fn event(ids: Vec<String>) -> impl Strategy<Value = Event> {
    let query = prop_oneof![
        Just(String::new()),
        "(next|limit|x)=[A-Za-z0-9%._~-]{0,30}(&(next|limit)=[A-Za-z0-9%-]{0,10})?",
        Just("next=a%C3%A9b".to_owned()),
        Just("limit=-1&limit=99999999999999999999".to_owned()),
        proptest::collection::vec((any_text(20), any_text(40)), 0..4).prop_map(|pairs| {
            pairs
                .iter()
                .map(|(k, v)| format!("{}={}", url_encoded(k), url_encoded(v)))
                .collect::<Vec<_>>()
                .join("&")
        }),
    ];
    let headers = proptest::collection::vec(
        (
            proptest::sample::select(vec![
                "if-match",
                "content-type",
                "content-length",
                "x-any",
                "idempotency-key",
            ]),
            "[ -~]{0,60}",
        )
            .prop_map(|(k, v)| (k.to_owned(), v)),
        0..3,
    );
    let org = proptest::option::weighted(
        0.9,
        prop_oneof![
            4 => proptest::sample::select(vec!["acme", "globex", "initech"]).prop_map(str::to_owned),
            1 => any::<String>().prop_map(|s| s.chars().take(60).collect()),
        ],
    );
    let role = proptest::option::weighted(
        0.9,
        prop_oneof![
            4 => proptest::sample::select(vec!["[admin]", "[member]", "admin", "Support admin", "[admin member]"])
                .prop_map(str::to_owned),
            1 => any::<String>().prop_map(|s| s.chars().take(40).collect()),
        ],
    );
    (method(), path(ids), query, headers, org, role, body(), proptest::bool::weighted(0.2)).prop_map(
        |(method, path, query, headers, org, role, body, drop_route_key)| Event {
            method,
            path,
            query,
            headers,
            org,
            role,
            body,
            drop_route_key,
        },
    )
}

impl Event {
    /// The API Gateway v2 event; `None` if `lambda_http` itself refuses it (the runtime would
    /// never hand it to the handler).
    fn request(&self) -> Option<lambda_http::Request> {
        let path_and_query =
            if self.query.is_empty() { self.path.clone() } else { format!("{}?{}", self.path, self.query) };
        let mut api = ApiEvent::new(&self.method, &path_and_query);
        if let Some(org) = &self.org {
            api = api.org(org);
        }
        if let Some(role) = &self.role {
            api = api.role(role);
        }
        for (name, value) in &self.headers {
            api = api.header(name, value);
        }
        let (body, base64) = match &self.body {
            Body::None => (Value::Null, false),
            Body::Text(text) => (json!(text), false),
            Body::Binary(bytes) => (json!(base64::engine::general_purpose::STANDARD.encode(bytes)), true),
        };
        let drop_route_key = self.drop_route_key;
        let api = api.with(|e| {
            e["body"] = body;
            e["isBase64Encoded"] = json!(base64);
            if drop_route_key {
                e["routeKey"] = json!("$default");
                e["requestContext"]["routeKey"] = json!("$default");
            }
        });
        let text = api.to_json();
        std::panic::catch_unwind(|| lambda_http::request::from_str(&text)).ok()?.ok()
    }
}

/// An answer a caller may get: 2xx, or a 4xx that is a JSON error with a code and a message.
fn check(
    function: &str,
    event: &Event,
    response: &lambda_http::Response<lambda_http::Body>,
) -> Result<(), TestCaseError> {
    let (status, body) = status_and_json(response);
    prop_assert!(
        (200..300).contains(&status) || (400..500).contains(&status),
        "{function} answered {status} to {event:?}: {body}"
    );
    if status >= 400 {
        prop_assert!(
            body["error"]["code"].as_str().is_some_and(|c| !c.is_empty())
                && body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{function} answered {status} without a JSON error to {event:?}: {body}"
        );
    }
    Ok(())
}

#[test]
fn no_event_of_any_shape_panics_a_handler_or_gets_a_5xx() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let world = runtime.block_on(world());
    let ran = AtomicUsize::new(0);
    let refused_by_lambda_http = AtomicUsize::new(0);
    for function in ["integrations", "policies", "presign", "presign-envelope", "validate"] {
        let mut runner = TestRunner::new(Config {
            cases: CASES_PER_FUNCTION,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&event(world.ids.clone()), |event| {
                let Some(request) = event.request() else {
                    refused_by_lambda_http.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                };
                ran.fetch_add(1, Ordering::Relaxed);
                let response = runtime.block_on(async {
                    match function {
                        "integrations" => integrations::handle(&world.integrations, request).await,
                        "policies" => policies::handle(&world.policies, request).await,
                        "presign" => presign::handle(&world.presign, request).await,
                        "presign-envelope" => {
                            let envelope = presign::handle_event(&world.presign, request).await;
                            let envelope: Value = serde_json::from_str(envelope.as_str()).unwrap();
                            let status = envelope["statusCode"].as_u64().unwrap() as u16;
                            let mut response = lambda_http::Response::new(lambda_http::Body::Text(
                                envelope["body"].as_str().unwrap_or("").to_owned(),
                            ));
                            *response.status_mut() = lambda_http::http::StatusCode::from_u16(status).unwrap();
                            Ok(response)
                        }
                        _ => Ok(validate::handle_http(&world.validate, request).await),
                    }
                });
                let response =
                    response.map_err(|e| TestCaseError::fail(format!("{function} returned Err: {e}")))?;
                check(function, &event, &response)
            })
            .unwrap_or_else(|e| panic!("{function}: {e}"));
    }
    eprintln!(
        "fuzz: {} events through the handlers ({} per function, 5 entry points), {} refused by lambda_http before any handler",
        ran.load(Ordering::Relaxed),
        CASES_PER_FUNCTION,
        refused_by_lambda_http.load(Ordering::Relaxed)
    );
    assert!(
        ran.load(Ordering::Relaxed) > 5 * CASES_PER_FUNCTION as usize / 2,
        "most events reached a handler"
    );
}
