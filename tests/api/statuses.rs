//! Every status `openapi.yaml` documents can occur. For each documented (operation, status) pair
//! this file holds one way to make the dev server answer it over HTTP, and checks the answer
//! against what the document says of that status: the body against its schema (or no body), and
//! its required headers. A documented pair with no way to produce it fails by name: make it occur,
//! or stop documenting it. Schemathesis's `status_code_conformance` holds the converse, that
//! nothing undocumented is answered.
//!
//! Four dev servers answer: `app` (healthy, over the emulators), `down` (its DynamoDB answers
//! every request with 500, so a retry cannot help: 503), `stuck` (its STS accepts connections and
//! never answers, so a validation hangs in AssumeRole while a second one is refused: 429) and
//! `contended` (over `app`'s table, through a DynamoDB that cancels every transaction as if another
//! held its items, so a write is tried three times and refused: 429).
//! In `app`, the org `broken` has had its stored items damaged by hand (an integration's scope,
//! the external ID and the audit records): what no request can write, and what a request must
//! answer with 500, not with a guess.

use crate::faults::{contended_app, failing_dynamodb};
use crate::helpers::*;
use crate::platform::{black_hole, bounded, BlackHole};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use shared::api::routes::Route;
use shared::aws::limits;
use shared::domain::link::{Link, LinkKeys};
use shared::domain::locator::S3Locator;
use shared::domain::org::OrgId;
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The orgs of the healthy server: where 2xx and 4xx happen, where rotations start and complete,
/// and the damaged one.
const ORG: &str = "acme";
const ROTATING: &str = "rotating";
const BROKEN: &str = "broken";

/// The routes any member may call; every other route with a token is for admins.
const MEMBER_ROUTES: [&str; 3] = ["POST /presign", "POST /links", "POST /locators/explain"];

/// One request to the dev server.
#[derive(Debug, Clone)]
struct Call {
    method: &'static str,
    path: String,
    token: Option<String>,
    body: Option<String>,
    headers: Vec<(&'static str, String)>,
}

impl Call {
    fn new(operation: &str, path: String, token: Option<String>) -> Self {
        let method = match operation.split(' ').next() {
            Some("GET") => "GET",
            Some("PUT") => "PUT",
            Some("DELETE") => "DELETE",
            _ => "POST",
        };
        Self { method, path, token, body: None, headers: Vec::new() }
    }

    fn json(mut self, body: &Value) -> Self {
        self.body = Some(body.to_string());
        self
    }

    fn raw(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn without_token(mut self) -> Self {
        self.token = None;
        self
    }

    fn with_token(mut self, token: String) -> Self {
        self.token = Some(token);
        self
    }
}

/// What the server answered.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

/// Sends `call` to the server at `url`, never following a redirect (a stable link's 307 is the
/// answer under test).
async fn send(url: &str, call: &Call) -> Answer {
    let client =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    let method = reqwest::Method::from_bytes(call.method.as_bytes()).expect("a method");
    let mut request = client.request(method, format!("{url}{}", call.path));
    if let Some(token) = &call.token {
        request = request.bearer_auth(token);
    }
    for (name, value) in &call.headers {
        request = request.header(*name, value);
    }
    if let Some(body) = &call.body {
        request = request.header("content-type", "application/json").body(body.clone());
    }
    let response = bounded(&format!("{} {}", call.method, call.path), request.send())
        .await
        .expect("the dev server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Answer { status, headers, text: response.text().await.expect("a body") }
}

/// What one server needs to answer an operation's usual request: the org, an integration of it
/// (and its version), a locator it serves and a stable link to that locator.
#[derive(Debug, Clone)]
struct Fixture {
    org: String,
    id: String,
    version: u64,
    locator: String,
    link: String,
}

/// The operation's ordinary request for `fixture`, with the token of the role the route is for.
fn usual(operation: &str, fixture: &Fixture) -> Call {
    let token = if MEMBER_ROUTES.contains(&operation) { member(&fixture.org) } else { admin(&fixture.org) };
    let id = &fixture.id;
    let locators = json!({"locators": [fixture.locator]});
    match operation {
        "POST /integrations" => {
            let bucket = format!("new-{}", ulid::Ulid::new().to_string().to_lowercase());
            Call::new(operation, "/integrations".into(), Some(token)).json(&bucket_body("New", &bucket))
        }
        "GET /integrations" => Call::new(operation, "/integrations".into(), Some(token)),
        "GET /integrations/{id}" => Call::new(operation, format!("/integrations/{id}"), Some(token)),
        "GET /integrations/{id}/policies" => {
            Call::new(operation, format!("/integrations/{id}/policies"), Some(token))
        }
        "POST /integrations/{id}/validate" => {
            Call::new(operation, format!("/integrations/{id}/validate"), Some(token))
        }
        "PUT /integrations/{id}" => Call::new(operation, format!("/integrations/{id}"), Some(token))
            .json(&bucket_body("Renamed", &format!("put-{}", id.to_lowercase())))
            .header("If-Match", &fixture.version.to_string()),
        "DELETE /integrations/{id}" => Call::new(operation, format!("/integrations/{id}"), Some(token))
            .header("If-Match", &fixture.version.to_string()),
        "GET /policies/trust" => Call::new(operation, "/policies/trust".into(), Some(token)),
        "POST /policies/trust/rotate" => Call::new(operation, "/policies/trust/rotate".into(), Some(token)),
        "POST /policies/trust/rotate/complete" => {
            Call::new(operation, "/policies/trust/rotate/complete".into(), Some(token))
        }
        "POST /policies/access" => Call::new(operation, "/policies/access".into(), Some(token))
            .json(&json!({"scope": {"type": "bucket", "bucket": "bucket-a", "prefix": "images/"}})),
        "GET /policies/cors" => Call::new(operation, "/policies/cors".into(), Some(token)),
        "POST /presign" => Call::new(operation, "/presign".into(), Some(token)).json(&locators),
        "POST /links" => Call::new(operation, "/links".into(), Some(token)).json(&locators),
        "GET /l/{token}" => Call::new(operation, format!("/l/{}", fixture.link), None),
        "POST /locators/explain" => {
            Call::new(operation, "/locators/explain".into(), Some(token)).json(&locators)
        }
        "GET /audit" => Call::new(operation, "/audit".into(), Some(token)),
        other => panic!("{other} is documented in openapi.yaml but has no usual request here: add one"),
    }
}

/// A stable-link token of the test keys for `locator` of `org`, expiring `expires_at` (Unix s).
fn link_token(org: &str, locator: &str, expires_at: u64) -> String {
    let keys = LinkKeys::from_json(TEST_LINK_KEYS).expect("the test link keys");
    keys.issue(&Link {
        org: OrgId::parse(org).expect("an org id"),
        locator: S3Locator::parse(locator).expect("a locator"),
        download_as: None,
        content_type: None,
        expires_at,
    })
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The four servers, and what their orgs hold.
struct Stacks {
    app: TestApp,
    down: TestApp,
    stuck: TestApp,
    hole: BlackHole,
    contended: TestApp,
    /// `acme` on `app`: an S3-compatible integration (no STS: its links redirect), signed with
    /// fixed keys; its locator and a link to it.
    served: Fixture,
    broken: Fixture,
    /// Anything, for `down`, which fails before it looks.
    anything: Fixture,
    stuck_id: String,
}

impl Stacks {
    async fn start() -> Self {
        let app = spawn_app().await;

        let store_body = json!({
            "kind": "s3_compatible",
            "name": "Store",
            "endpoint": emulator_endpoint(),
            "access_key_id": "AKIASTATUSCOVERAGE01",
            "secret_access_key": "status-coverage-secret-key-0123456789abcd",
            "region": "us-east-1",
            "addressing_style": "path",
            "scope": {"type": "bucket", "bucket": "acme-store"},
            "versioning": false,
        });
        let store = app.create(ORG, &store_body).await;
        let locator = "s3://acme-store/photos/cat.png".to_owned();
        let links = app.post("/links", &member(ORG), &json!({"locators": [locator]})).await;
        let link =
            links.body["results"][0]["link"].as_str().unwrap_or_else(|| panic!("a link: {}", links.body));
        let served = Fixture {
            org: ORG.into(),
            id: store["id"].as_str().expect("id").into(),
            version: 1,
            locator,
            link: link.rsplit_once("/l/").expect("a link URL").1.into(),
        };

        let broken = damaged_org(&app).await;

        let (dynamodb, _) = failing_dynamodb(500, "InternalServerError").await;
        let sdk = sdk_config_with(&dynamodb, keys("testing", "testing", None)).await;
        let down = spawn_app_over(limits::dynamodb_client(&sdk), "down".into(), None).await;
        let anything = Fixture {
            org: ORG.into(),
            id: ulid::Ulid::new().to_string(),
            version: 1,
            locator: "s3://acme-store/photos/cat.png".into(),
            link: link_token(ORG, "s3://acme-store/photos/cat.png", now() + 600),
        };

        let hole = black_hole().await;
        let sts = one_shot_sts(&hole.url, Duration::from_secs(3)).await;
        let (stuck, _) = spawn_app_with(AppWith::new(sts, PLATFORM_PRINCIPAL, &emulator_endpoint())).await;
        let stuck_id = stuck.create(ORG, &bucket_body("Stuck", "acme-stuck")).await["id"]
            .as_str()
            .expect("id")
            .to_owned();

        let (contended, _) = contended_app(&app, usize::MAX).await;

        Self { app, down, stuck, hole, contended, served, broken, anything, stuck_id }
    }

    /// Makes `operation` answer `status`, or says that nothing here does.
    async fn occur(&self, operation: &str, status: u16) -> Option<Answer> {
        let app = &self.app.url;
        let served = &self.served;
        let with_body = |body: &str| usual(operation, served).raw(body);
        let admin_route = !MEMBER_ROUTES.contains(&operation) && operation != "GET /l/{token}";
        let answer = match (operation, status) {
            (_, 401) => send(app, &usual(operation, served).without_token()).await,
            ("GET /l/{token}", 403) => {
                let tampered = format!("{}x", served.link);
                send(app, &usual(operation, &Fixture { link: tampered, ..served.clone() })).await
            }
            (_, 403) if admin_route => send(app, &usual(operation, served).with_token(member(ORG))).await,
            (_, 500) => send(app, &usual(operation, &self.broken)).await,
            (_, 503) => send(&self.down.url, &usual(operation, &self.anything)).await,
            (_, 413) => {
                let limit =
                    if admin_route { shared::api::MAX_ADMIN_BODY_BYTES } else { presign::MAX_BODY_BYTES };
                send(app, &with_body(&format!("\"{}\"", "x".repeat(limit)))).await
            }
            ("GET /integrations" | "GET /audit", 400) => {
                let call = usual(operation, served);
                send(app, &Call { path: format!("{}?limit=0", call.path), ..call }).await
            }
            ("DELETE /integrations/{id}", 400) => {
                send(app, &usual(operation, served).header("If-Match", "not-a-version")).await
            }
            (_, 400) => send(app, &with_body("{\"locators\": [")).await,
            (_, 404) if operation.contains("{id}") => {
                let unknown = Fixture { id: ulid::Ulid::new().to_string(), ..served.clone() };
                send(app, &usual(operation, &unknown)).await
            }
            ("GET /l/{token}", 404) => {
                let unserved = link_token(ORG, "s3://no-integration-serves-this/a.png", now() + 600);
                send(app, &usual(operation, &Fixture { link: unserved, ..served.clone() })).await
            }
            ("GET /l/{token}", 410) => {
                let expired = link_token(ORG, &served.locator, now() - 60);
                send(app, &usual(operation, &Fixture { link: expired, ..served.clone() })).await
            }
            ("POST /integrations", 409) => {
                send(app, &usual(operation, served).json(&bucket_body("Twin", "acme-store"))).await
            }
            ("PUT /integrations/{id}", 409) => {
                let onto_store =
                    usual(operation, &self.fresh().await).json(&bucket_body("Twin", "acme-store"));
                send(app, &onto_store).await
            }
            ("POST /policies/trust/rotate", 409) => {
                let rotate = usual(operation, &Fixture { org: ROTATING.into(), ..served.clone() });
                send(app, &rotate).await;
                send(app, &rotate).await
            }
            ("POST /policies/trust/rotate/complete", 409) => {
                let never_rotated = Fixture { org: "never-rotated".into(), ..served.clone() };
                send(app, &usual(operation, &never_rotated)).await
            }
            ("POST /policies/trust/rotate/complete", 200) => {
                let org = "rotated-without-integrations";
                let fixture = Fixture { org: org.into(), ..served.clone() };
                let started = send(app, &usual("POST /policies/trust/rotate", &fixture)).await;
                assert_eq!(started.status, 200, "{}", started.text);
                send(app, &usual(operation, &fixture)).await
            }
            ("PUT /integrations/{id}" | "DELETE /integrations/{id}", 412) => {
                let stale = Fixture { version: 7, ..self.fresh().await };
                send(app, &usual(operation, &stale)).await
            }
            ("PUT /integrations/{id}", 200) | ("DELETE /integrations/{id}", 204) => {
                send(app, &usual(operation, &self.fresh().await)).await
            }
            ("POST /integrations/{id}/validate", 429) => {
                let fixture = Fixture { id: self.stuck_id.clone(), ..served.clone() };
                let first = tokio::spawn({
                    let (url, call) = (self.stuck.url.clone(), usual(operation, &fixture));
                    async move { send(&url, &call).await }
                });
                let hanging = bounded("the first validation reaches STS", async {
                    while self.hole.accepted.load(std::sync::atomic::Ordering::SeqCst) < 1 {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                });
                hanging.await;
                let second = send(&self.stuck.url, &usual(operation, &fixture)).await;
                assert_eq!(first.await.expect("the first validation").status, 200);
                second
            }
            ("POST /integrations" | "PUT /integrations/{id}" | "DELETE /integrations/{id}", 429) => {
                send(&self.contended.url, &usual(operation, &self.fresh().await)).await
            }
            ("POST /policies/trust/rotate", 429) => {
                let fixture = Fixture { org: "rotates-while-contended".into(), ..served.clone() };
                send(&self.contended.url, &usual(operation, &fixture)).await
            }
            ("POST /policies/trust/rotate/complete", 429) => {
                let fixture = Fixture { org: "completes-while-contended".into(), ..served.clone() };
                let started = send(app, &usual("POST /policies/trust/rotate", &fixture)).await;
                assert_eq!(started.status, 200, "{}", started.text);
                send(&self.contended.url, &usual(operation, &fixture)).await
            }
            ("POST /policies/trust/rotate", 200) => {
                send(app, &usual(operation, &Fixture { org: "rotates-once".into(), ..served.clone() })).await
            }
            ("POST /presign" | "POST /links" | "POST /locators/explain", 200)
            | (
                "POST /integrations/{id}/validate"
                | "GET /integrations"
                | "GET /integrations/{id}"
                | "GET /integrations/{id}/policies"
                | "GET /policies/trust"
                | "POST /policies/access"
                | "GET /policies/cors"
                | "GET /audit",
                200,
            )
            | ("POST /integrations", 201)
            | ("GET /l/{token}", 307) => send(app, &usual(operation, served)).await,
            _ => return None,
        };
        Some(answer)
    }

    /// A new integration of `acme` at version 1, to replace or delete.
    async fn fresh(&self) -> Fixture {
        let bucket = format!("fresh-{}", ulid::Ulid::new().to_string().to_lowercase());
        let created = self.app.create(ORG, &bucket_body("Fresh", &bucket)).await;
        Fixture { id: created["id"].as_str().expect("id").into(), version: 1, ..self.served.clone() }
    }
}

/// An STS client that tries once and gives up after `timeout`.
async fn one_shot_sts(endpoint: &str, timeout: Duration) -> aws_sdk_sts::Client {
    let config = sdk_config_with(endpoint, keys("testing", "testing", None)).await;
    let timeouts = aws_sdk_sts::config::timeout::TimeoutConfig::builder()
        .connect_timeout(timeout)
        .operation_attempt_timeout(timeout)
        .operation_timeout(timeout)
        .build();
    aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&config)
            .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
            .timeout_config(timeouts)
            .build(),
    )
}

/// The org `broken` of `app`: an integration, the external ID and audit records, then each of
/// them damaged in the table as no request could (a scope that is not JSON, an external ID that
/// is a number, audit events that are not JSON). Nothing has read the org yet, so no cache
/// hides the damage.
async fn damaged_org(app: &TestApp) -> Fixture {
    let created = app.create(BROKEN, &bucket_body("Broken", "broken-a")).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let trust = app.get("/policies/trust", &admin(BROKEN)).await;
    assert_eq!(trust.status, 200, "{}", trust.body);
    let table = app.store.table().to_owned();
    let key = |sk: &str| {
        [
            ("pk".to_owned(), AttributeValue::S(format!("ORG#{BROKEN}"))),
            ("sk".to_owned(), AttributeValue::S(sk.into())),
        ]
    };
    let set = |sk: String, attribute: &'static str, value: AttributeValue| {
        let (table, dynamo) = (table.clone(), app.dynamo.clone());
        let key = key(&sk);
        async move {
            dynamo
                .update_item()
                .table_name(table)
                .set_key(Some(key.into_iter().collect()))
                .update_expression("SET #a = :v")
                .expression_attribute_names("#a", attribute)
                .expression_attribute_values(":v", value)
                .send()
                .await
                .unwrap_or_else(|e| panic!("damage {sk}.{attribute}: {e:?}"));
        }
    };
    set(format!("INT#{id}"), "scope", AttributeValue::S("not json".into())).await;
    set("EXTERNAL_ID".into(), "external_id", AttributeValue::N("5".into())).await;
    let audits: Vec<String> = app
        .stored_items(BROKEN)
        .await
        .into_iter()
        .filter_map(|item| item.get("sk").and_then(|sk| sk.as_s().ok()).cloned())
        .filter(|sk| sk.starts_with("AUDIT#"))
        .collect();
    assert!(!audits.is_empty(), "creating the integration recorded it");
    for sk in audits {
        set(sk, "event", AttributeValue::S("not json".into())).await;
    }
    Fixture {
        org: BROKEN.into(),
        id,
        version: 1,
        locator: "s3://broken-a/a.png".into(),
        link: link_token(BROKEN, "s3://broken-a/a.png", now() + 600),
    }
}

// ---- what openapi.yaml documents -----------------------------------------------------------------

fn openapi() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_yaml::from_str(&text).expect("openapi.yaml is YAML")
}

/// Every documented (operation, status), with the JSON pointer of its response object (after
/// following a `$ref` to `components/responses`).
fn documented(document: &Value) -> Vec<(String, u16, String)> {
    let mut pairs = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let Some(responses) = operation["responses"].as_object() else { continue };
            for (status, response) in responses {
                let pointer = match response["$ref"].as_str() {
                    Some(reference) => reference.trim_start_matches('#').to_owned(),
                    None => format!(
                        "/paths/{}/{method}/responses/{status}",
                        path.replace('~', "~0").replace('/', "~1")
                    ),
                };
                let status = status.parse().unwrap_or_else(|_| panic!("{method} {path}: status {status}"));
                pairs.push((format!("{} {path}", method.to_uppercase()), status, pointer));
            }
        }
    }
    pairs
}

/// What is wrong with `answer` as the response object at `pointer` describes it: a missing
/// required header, a body where none is described (or none where one is), a body off its schema.
fn off_the_document(document: &Value, pointer: &str, answer: &Answer) -> Vec<String> {
    let response = document.pointer(pointer).unwrap_or_else(|| panic!("no response object at {pointer}"));
    let mut wrong = Vec::new();
    for (name, header) in response["headers"].as_object().into_iter().flatten() {
        if header["required"] == json!(true) && !answer.headers.contains_key(name.as_str()) {
            wrong.push(format!("the required header {name} is missing"));
        }
    }
    if response["content"]["application/json"]["schema"].is_null() {
        if !answer.text.is_empty() {
            wrong.push(format!("a body where none is documented: {}", answer.text));
        }
        return wrong;
    }
    let Ok(body) = serde_json::from_str::<Value>(&answer.text) else {
        wrong.push(format!("the body is not JSON: {:?}", answer.text));
        return wrong;
    };
    let mut schema = document.clone();
    // A JSON pointer in a URI fragment: the braces of a path template are percent-encoded.
    let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
    schema["$ref"] = json!(format!("#{fragment}/content/application~1json/schema"));
    let validator = jsonschema::draft202012::new(&schema).expect("openapi.yaml's schemas compile");
    wrong.extend(validator.iter_errors(&body).map(|e| format!("{e} (at {})", e.instance_path())));
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_openapi_documents_occurs_and_answers_as_documented() {
    let document = openapi();
    let pairs = documented(&document);
    assert!(pairs.len() >= Route::ALL.len(), "openapi.yaml documents {} statuses", pairs.len());
    let stacks = Stacks::start().await;
    let mut failures = Vec::new();
    let mut occurred = BTreeSet::new();
    for (operation, status, pointer) in pairs.iter().cloned() {
        let Some(answer) = stacks.occur(&operation, status).await else {
            failures.push(format!(
                "{operation} documents {status}, and nothing here makes it occur: add a way, or stop documenting it"
            ));
            continue;
        };
        if answer.status != status {
            let text: String = answer.text.chars().take(300).collect();
            failures
                .push(format!("{operation}: meant to answer {status}, answered {}: {text}", answer.status));
            continue;
        }
        for wrong in off_the_document(&document, &pointer, &answer) {
            failures.push(format!("{operation} {status}: {wrong}"));
        }
        occurred.insert((operation, status));
    }
    assert!(failures.is_empty(), "{} of the documented statuses:\n{}", failures.len(), failures.join("\n"));
    let expected: BTreeSet<(String, u16)> = pairs.into_iter().map(|(op, status, _)| (op, status)).collect();
    assert_eq!(occurred, expected, "each documented status occurred once");
}

#[tokio::test]
async fn a_presign_refusal_inside_a_200_is_of_the_documented_result_schema() {
    // The per-locator refusals of a batch are part of its 200: here a role the plain emulator
    // lets anyone assume, which the trust gate refuses.
    let document = openapi();
    let app = spawn_app().await;
    let role = app.create(ORG, &bucket_body("Role", "acme-role")).await;
    let fixture = Fixture {
        org: ORG.into(),
        id: role["id"].as_str().expect("id").into(),
        version: 1,
        locator: "s3://acme-role/a.png".into(),
        link: String::new(),
    };
    let answer = send(&app.url, &usual("POST /presign", &fixture)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let body: Value = serde_json::from_str(&answer.text).expect("JSON");
    assert!(body["results"][0]["error"]["code"].is_string(), "refused: {body}");
    let pointer = "/paths/~1presign/post/responses/200";
    assert_eq!(off_the_document(&document, pointer, &answer), Vec::<String>::new());
}
