//! `spawn_app`: a dev server on a free loopback port, over a fresh DynamoDB table in the local
//! emulator, with helpers to mint tokens and call the API.

use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_s3::config::Credentials;
use devserver::{DevConfig, DevServer};
use serde_json::{json, Value};
use shared::api::config::ApiConfig;
use shared::aws::endpoint_guard::EndpointPolicy;
use shared::aws::secrets::{KmsSealer, SharedSealer};
use shared::aws::store::DynamoStore as Store;
pub use shared::aws::store::IntegrationStore;
use std::net::SocketAddr;
use std::sync::Arc;

/// The stable-link signing keys every test server signs with.
pub const TEST_LINK_KEYS: &str = r#"{"current": "t1", "t1": "a-test-link-signing-key-of-32-bytes-or-more"}"#;

pub const JWT_SECRET: &str = "integration-test-secret-0123456789";
pub const PLATFORM_PRINCIPAL: &str = "arn:aws:iam::123456789012:user/platform";
pub const APP_ORIGIN: &str = "https://app.example.com";

/// The emulator every test talks to. The test command starts it and exports its URL; refusing a
/// non-loopback endpoint keeps a stray shell from pointing the suite at real AWS.
pub fn emulator_endpoint() -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "AWS_ENDPOINT_URL must point at the local emulator (got {endpoint:?}); run the tests with scripts/test.sh"
    );
    endpoint
}

/// Where the emulators' DynamoDB listens: `AWS_ENDPOINT_URL_DYNAMODB`, else the emulator.
pub fn emulator_dynamodb_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        Ok(url) if url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:") => url,
        _ => emulator_endpoint(),
    }
}

/// SDK config for the emulators: endpoints come from `AWS_ENDPOINT_URL` and the per-service
/// `AWS_ENDPOINT_URL_DYNAMODB`, as in the dev server and the functions.
pub async fn aws_config() -> aws_config::SdkConfig {
    emulator_endpoint();
    if let Ok(dynamo) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        assert!(dynamo.starts_with("http://127.0.0.1:"), "AWS_ENDPOINT_URL_DYNAMODB must be loopback");
    }
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

#[derive(Debug)]
pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub store: Store,
    pub dynamo: DynamoClient,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// The stable error code of an error reply.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
    pub fn field(&self) -> Option<&str> {
        self.body["error"]["field"].as_str()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_serving(None).await
}

/// `spawn_app`, also serving the web app's files from `web_dir` at `/`.
pub async fn spawn_app_serving(web_dir: Option<std::path::PathBuf>) -> TestApp {
    let aws = aws_config().await;
    let dynamo = DynamoClient::new(&aws);
    let table = format!("it-{}", ulid::Ulid::new().to_string().to_lowercase());
    let store = Store::new(dynamo.clone(), table.clone());
    store.ensure_table().await.expect("create a fresh table in the emulator");
    spawn_app_over(dynamo, table, web_dir).await
}

/// A dev server over `table` as `dynamo` reaches it (which may be a DynamoDB that fails on
/// purpose), with the emulator for everything else.
pub async fn spawn_app_over(
    dynamo: DynamoClient,
    table: String,
    web_dir: Option<std::path::PathBuf>,
) -> TestApp {
    let aws = aws_config().await;
    let store = Store::new(dynamo.clone(), table.clone());
    let (secrets, secrets_key_id) = kms_sealer(&aws).await;
    let config = DevConfig {
        listen_addr: "127.0.0.1:0".parse().expect("loopback address"),
        jwt_secret: JWT_SECRET.to_owned(),
        api: api_config(&table, PLATFORM_PRINCIPAL),
        presign: presign_config(store.table()),
        validate: validate_config(store.table()),
        secrets_key_id,
        endpoints: EndpointPolicy { allow_loopback_http: true },
        web_dir,
    };
    let app =
        Arc::new(DevServer::new(store.shared(), &aws, aws_sdk_sts::Client::new(&aws), secrets, &config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
    let addr: SocketAddr = listener.local_addr().expect("local address");
    tokio::spawn(devserver::serve(listener, app));
    TestApp { url: format!("http://{addr}"), client: reqwest::Client::new(), store, dynamo }
}

/// A sealer over a new key in the emulator's KMS (moto), and the key's ARN: secrets at rest in
/// the tests are sealed as in a deployment.
pub async fn kms_sealer(aws: &aws_config::SdkConfig) -> (SharedSealer, String) {
    let kms = KmsSealer::client(aws);
    let key = KmsSealer::create_key(&kms, "integration tests: S3-compatible secrets")
        .await
        .expect("a KMS key in moto");
    (Arc::new(KmsSealer::new(kms, key.clone())), key)
}

/// A sealer in process, for tests about something else than secrets at rest.
pub fn memory_sealer() -> SharedSealer {
    Arc::new(shared::aws::secrets::MemorySealer::new())
}

/// The integrations function's state over `store`, with a memory sealer and no loopback endpoints.
pub fn integrations_state(store: shared::aws::store::SharedStore, config: ApiConfig) -> integrations::State {
    integrations::State::new(store, config, memory_sealer(), EndpointPolicy::default())
}

/// The HTTP functions' settings for tests: the app origin and `principal` as the platform's.
pub fn api_config(table: &str, principal: &str) -> ApiConfig {
    let mut env = std::collections::HashMap::new();
    env.insert("TABLE_NAME".to_owned(), table.to_owned());
    env.insert("PLATFORM_PRINCIPAL_ARN".to_owned(), principal.to_owned());
    env.insert("APP_ORIGINS".to_owned(), APP_ORIGIN.to_owned());
    ApiConfig::from_env(&env).expect("api config")
}

/// Presign settings for tests: URLs point at the emulator, path-style.
pub fn presign_config(table: &str) -> presign::PresignConfig {
    let mut env = std::collections::HashMap::new();
    env.insert("TABLE_NAME".to_owned(), table.to_owned());
    env.insert("PLATFORM_PRINCIPAL_ARN".to_owned(), PLATFORM_PRINCIPAL.to_owned());
    env.insert("S3_ENDPOINT_URL".to_owned(), emulator_endpoint());
    env.insert("SECRETS_KMS_KEY_ID".to_owned(), "set-by-spawn-app".to_owned());
    env.insert("LINK_SIGNING_KEYS".to_owned(), TEST_LINK_KEYS.to_owned());
    presign::PresignConfig::from_env(&env).expect("presign config")
}

/// Validation settings for tests: a small page size, so that paging is exercised.
pub fn validate_config(table: &str) -> validate::ValidateConfig {
    let mut env = std::collections::HashMap::new();
    env.insert("TABLE_NAME".to_owned(), table.to_owned());
    validate::ValidateConfig::from_env(&env).expect("validate config")
}

pub fn token(org: &str, role: &str) -> String {
    devserver::mint_token(JWT_SECRET, org, role, 3600)
}

pub fn admin(org: &str) -> String {
    token(org, "admin")
}

pub fn member(org: &str) -> String {
    token(org, "member")
}

impl TestApp {
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
        self.call_with(method, path, token, body.map(Value::to_string), &[]).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        raw_body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, format!("{}{}", self.url, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = raw_body {
            request = request.header("content-type", "application/json").body(body);
        }
        let response = request.send().await.expect("the dev server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") };
        Reply { status, body, headers }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.call("POST", path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.call("PUT", path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call("DELETE", path, Some(token), None).await
    }

    /// Creates an integration and returns its stored JSON; panics unless it was created.
    pub async fn create(&self, org: &str, body: &Value) -> Value {
        let reply = self.post("/integrations", &admin(org), body).await;
        assert_eq!(reply.status, 201, "create failed: {}", reply.body);
        reply.body
    }

    /// Every item stored for an org, straight from the table: proves what a rejected request
    /// did not write.
    pub async fn stored_items(
        &self,
        org: &str,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let out = self
            .dynamo
            .query()
            .table_name(self.store.table())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("ORG#{org}")),
            )
            .consistent_read(true)
            .send()
            .await
            .expect("query the table");
        out.items.unwrap_or_default()
    }
}

/// A valid integration body for a bucket scope.
pub fn bucket_body(name: &str, bucket: &str) -> Value {
    serde_json::json!({
        "name": name,
        "role_arn": "arn:aws:iam::210987654321:role/platform-read",
        "region": "us-east-1",
        "scope": {"type": "bucket", "bucket": bucket},
        "versioning": false
    })
}

/// A valid integration body for the org default.
pub fn default_body(name: &str, buckets: &[&str]) -> Value {
    serde_json::json!({
        "name": name,
        "role_arn": "arn:aws:iam::210987654321:role/platform-read",
        "region": "us-east-1",
        "scope": {"type": "default", "buckets": buckets},
        "versioning": true
    })
}

// ---- spawn_app_with: a dev server that assumes customer roles as a given platform principal ----

/// What [`spawn_app_with`] changes from [`spawn_app`]. The DynamoDB store stays on
/// `AWS_ENDPOINT_URL_DYNAMODB`, with a fresh table.
#[derive(Debug, Clone)]
pub struct AppWith {
    /// The platform principal's STS client: the identity customer trust policies name.
    pub sts: aws_sdk_sts::Client,
    /// `PLATFORM_PRINCIPAL_ARN`: the principal in every rendered trust policy.
    pub platform_principal: String,
    /// `S3_ENDPOINT_URL`: the base of presigned URLs (path-style).
    pub s3_endpoint: String,
    /// More presign settings, e.g. `PRESIGN_MAX_EXPIRES_IN` or `ASSUME_FAILURE_CACHE_SECONDS`.
    pub presign_env: Vec<(String, String)>,
    /// Serve presign with this credential cache (e.g. one with a test clock) instead of a new one
    /// over `sts`.
    pub credentials: Option<shared::aws::credentials::CredentialCache>,
    /// The SDK config validation's S3 checks use (default: the plain emulator).
    pub validator_aws: Option<aws_config::SdkConfig>,
}

impl AppWith {
    pub fn new(sts: aws_sdk_sts::Client, platform_principal: &str, s3_endpoint: &str) -> Self {
        Self {
            sts,
            platform_principal: platform_principal.to_owned(),
            s3_endpoint: s3_endpoint.to_owned(),
            presign_env: Vec::new(),
            credentials: None,
            validator_aws: None,
        }
    }
}

/// A dev server over a fresh table whose presign assumes customer roles with `options.sts` (the
/// platform principal's client), whose trust policies name `options.platform_principal`, and whose
/// presigned URLs point at `options.s3_endpoint`. Also returns the server: its `presign` state holds
/// the credential cache (`server.presign.credentials()`).
pub async fn spawn_app_with(options: AppWith) -> (TestApp, Arc<DevServer>) {
    let aws = aws_config().await;
    let dynamo = DynamoClient::new(&aws);
    let table = format!("it-{}", ulid::Ulid::new().to_string().to_lowercase());
    let store = Store::new(dynamo.clone(), table.clone());
    store.ensure_table().await.expect("create a fresh table in the emulator");
    let mut env = std::collections::HashMap::new();
    env.insert("TABLE_NAME".to_owned(), table.clone());
    env.insert("S3_ENDPOINT_URL".to_owned(), options.s3_endpoint.clone());
    env.insert("PLATFORM_PRINCIPAL_ARN".to_owned(), options.platform_principal.clone());
    env.extend(options.presign_env.iter().cloned());
    let (secrets, secrets_key_id) = kms_sealer(&aws).await;
    env.insert("SECRETS_KMS_KEY_ID".to_owned(), secrets_key_id.clone());
    env.insert("LINK_SIGNING_KEYS".to_owned(), TEST_LINK_KEYS.to_owned());
    let config = DevConfig {
        listen_addr: "127.0.0.1:0".parse().expect("loopback address"),
        jwt_secret: JWT_SECRET.to_owned(),
        api: api_config(&table, &options.platform_principal),
        presign: presign::PresignConfig::from_env(&env).expect("presign config"),
        validate: validate_config(store.table()),
        secrets_key_id,
        endpoints: EndpointPolicy { allow_loopback_http: true },
        web_dir: None,
    };
    let validator_aws = options.validator_aws.clone().unwrap_or_else(|| aws.clone());
    let mut server = DevServer::new(store.shared(), &validator_aws, options.sts, secrets.clone(), &config);
    if let Some(credentials) = options.credentials {
        server.presign = presign::State::new(store.shared(), credentials, secrets, config.presign.clone());
    }
    let server = Arc::new(server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
    let addr: SocketAddr = listener.local_addr().expect("local address");
    tokio::spawn(devserver::serve(listener, server.clone()));
    (TestApp { url: format!("http://{addr}"), client: reqwest::Client::new(), store, dynamo }, server)
}

/// Keys to sign with: an access key pair, and a session token for assumed-role credentials.
pub fn keys(access_key_id: &str, secret_access_key: &str, session_token: Option<&str>) -> Credentials {
    Credentials::new(access_key_id, secret_access_key, session_token.map(str::to_owned), None, "tests")
}

/// SDK settings for `endpoint` in us-east-1, signed with `credentials`.
pub async fn sdk_config_with(endpoint: &str, credentials: Credentials) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .load()
        .await
}

/// The STS client the platform principal uses, as the functions build it (timeouts, bounded
/// retries), against `endpoint` with the principal's keys.
pub async fn platform_sts_client(
    endpoint: &str,
    access_key_id: &str,
    secret_access_key: &str,
) -> aws_sdk_sts::Client {
    let config = sdk_config_with(endpoint, keys(access_key_id, secret_access_key, None)).await;
    shared::aws::credentials::sts_client(&config)
}

/// An S3 client against `endpoint` (path-style) with these credentials.
pub async fn s3_client_with(
    endpoint: &str,
    access_key_id: &str,
    secret_access_key: &str,
    session_token: Option<&str>,
) -> aws_sdk_s3::Client {
    let config = sdk_config_with(endpoint, keys(access_key_id, secret_access_key, session_token)).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::standard().with_max_attempts(1))
            .build(),
    )
}

/// The sample `POST /presign` event (`events/presign.json`) for `org`'s member, asking for `locators`.
pub fn presign_event(org: &str, locators: &[&str]) -> lambda_http::Request {
    let path = format!("{}/../events/presign.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let mut event: Value = serde_json::from_str(&text).expect("the sample event is JSON");
    event["requestContext"]["authorizer"]["jwt"]["claims"]["org_id"] = json!(org);
    event["body"] = json!(json!({ "locators": locators }).to_string());
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway v2 event")
}

/// A handler's response body as JSON (`null` when empty).
pub fn response_json(response: &lambda_http::Response<lambda_http::Body>) -> Value {
    match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).expect("a JSON body"),
        lambda_http::Body::Empty => Value::Null,
        other => panic!("unexpected body {other:?}"),
    }
}
