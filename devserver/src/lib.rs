//! The dev server: one process that serves every route of the API by calling the same handler
//! functions the Lambdas run. It plays API Gateway's part: it verifies the HS256 dev token (401
//! before any handler), matches the route, and hands the handler an API Gateway HTTP API v2
//! event with the claims where the JWT authorizer would put them. It also serves the built web app
//! (`web/dist`) at `/`, as the static host in front of a deploy would, and the API's OpenAPI
//! document (`openapi.yaml`) as JSON at [`OPENAPI_PATH`].

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Map, Value};
use shared::api;
use shared::api::config::{ApiConfig, ConfigError, Env};
use shared::api::error::ApiError;
use shared::api::routes::{Function, Route};
use shared::aws::endpoint_guard::EndpointPolicy;
use shared::aws::secrets::SharedSealer;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where `npm --prefix web run build` puts the web app, relative to the repository root (the
/// directory scripts/run.sh starts the dev server in).
pub const DEFAULT_WEB_DIR: &str = "web/dist";

/// Where the dev server serves the OpenAPI document, without a token (not a route of the API).
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The API's OpenAPI 3.1 document, `openapi.yaml` at the repository root, compiled in.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// [`OPENAPI_YAML`] as JSON, converted once; the error says why the YAML does not read.
pub fn openapi_json() -> Result<&'static str, &'static str> {
    static JSON: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    JSON.get_or_init(|| {
        serde_yaml::from_str::<Value>(OPENAPI_YAML)
            .map(|document| document.to_string())
            .map_err(|e| format!("openapi.yaml is not valid YAML: {e}"))
    })
    .as_deref()
    .map_err(String::as_str)
}

/// API Gateway's own payload limit.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct DevConfig {
    pub listen_addr: SocketAddr,
    pub jwt_secret: String,
    pub api: ApiConfig,
    pub presign: presign::PresignConfig,
    pub validate: validate::ValidateConfig,
    /// The KMS key that seals S3-compatible secrets (default [`DEV_SECRETS_KEY_ALIAS`]).
    pub secrets_key_id: String,
    /// Which S3-compatible endpoints may be saved and called (default: loopback http allowed).
    pub endpoints: EndpointPolicy,
    /// The built web app (`web/dist`), served at `/`; `None` serves the API only.
    pub web_dir: Option<PathBuf>,
}

/// The KMS key that seals S3-compatible secrets when `SECRETS_KMS_KEY_ID` is not set: an alias
/// the dev server creates in the emulator on start (like the table), so secrets saved in one run
/// still open in the next against the same emulator.
pub const DEV_SECRETS_KEY_ALIAS: &str = "alias/s3-integrations-dev-secrets";

/// The dev server's defaults for what a Lambda function must be told (DESIGN §9): the table's
/// name, the secrets key, and loopback S3-compatible endpoints allowed (the local demo store
/// listens on 127.0.0.1, over http).
/// The stable-link signing keys default to one random key per start (links die with the process).
struct WithDefaults<'a> {
    env: &'a dyn Env,
    random_link_keys: String,
}

impl<'a> WithDefaults<'a> {
    fn new(env: &'a dyn Env) -> Result<Self, ConfigError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| ConfigError {
            variable: "LINK_SIGNING_KEYS",
            message: format!("is not set, and no random key could be made for it ({e}); set it"),
        })?;
        let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self { env, random_link_keys: serde_json::json!({"current": "dev", "dev": key}).to_string() })
    }
}

impl Env for WithDefaults<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.env.var(name).or_else(|| match name {
            "TABLE_NAME" => Some("integrations".to_owned()),
            "SECRETS_KMS_KEY_ID" => Some(DEV_SECRETS_KEY_ALIAS.to_owned()),
            "ALLOW_LOOPBACK_ENDPOINTS" => Some("true".to_owned()),
            // A deployment's keys are in Secrets Manager (LINK_SIGNING_KEYS_SECRET_ID); only when
            // neither is given does the dev server make its own.
            "LINK_SIGNING_KEYS" if self.env.var("LINK_SIGNING_KEYS_SECRET_ID").is_none() => {
                Some(self.random_link_keys.clone())
            }
            _ => None,
        })
    }
}

impl DevConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let listen = shared::api::config::optional(env, "LISTEN_ADDR", "127.0.0.1:3000");
        let listen_addr = listen.parse().map_err(|_| ConfigError {
            variable: "LISTEN_ADDR",
            message: format!("{listen:?} is not an address such as 127.0.0.1:3000"),
        })?;
        let jwt_secret = shared::api::config::required(
            env,
            "DEV_JWT_SECRET",
            "the HS256 secret dev tokens are signed with",
        )?;
        if jwt_secret.len() < 16 {
            return Err(ConfigError {
                variable: "DEV_JWT_SECRET",
                message: "must be at least 16 characters".into(),
            });
        }
        let web_dir = match env.var("WEB_DIR") {
            Some(dir) if Path::new(&dir).join("index.html").is_file() => Some(PathBuf::from(dir)),
            Some(dir) => {
                return Err(ConfigError {
                    variable: "WEB_DIR",
                    message: format!(
                        "{dir:?} has no index.html; build the web app (npm --prefix web run build) \
                         or unset WEB_DIR"
                    ),
                })
            }
            None => Some(PathBuf::from(DEFAULT_WEB_DIR)).filter(|d| d.join("index.html").is_file()),
        };
        let env = WithDefaults::new(env)?;
        let presign = presign::PresignConfig::from_env(&env)?;
        if matches!(presign.links.keys, shared::api::config::LinkKeySource::SecretsManager(_)) {
            return Err(ConfigError {
                variable: "LINK_SIGNING_KEYS_SECRET_ID",
                message: "is for the Lambda function; give the dev server its keys as LINK_SIGNING_KEYS \
                          (or neither, for a random key per start)"
                    .to_owned(),
            });
        }
        Ok(Self {
            listen_addr,
            jwt_secret,
            web_dir,
            secrets_key_id: shared::api::config::secrets_key_id(&env)?,
            endpoints: EndpointPolicy {
                allow_loopback_http: shared::api::config::allow_loopback_endpoints(&env)?,
            },
            api: ApiConfig::from_env(&env)?,
            presign,
            validate: validate::ValidateConfig::from_env(&env)?,
        })
    }
}

/// Every handler's state, built once.
#[derive(Debug)]
pub struct DevServer {
    pub integrations: integrations::State,
    pub policies: policies::State,
    pub presign: presign::State,
    pub validate: validate::State,
    jwt_secret: String,
    web_dir: Option<PathBuf>,
}

impl DevServer {
    /// `sts` is the platform principal's STS client: the identity customer trust policies name.
    /// `aws` is the base SDK config (emulator endpoints); `sts` assumes customer roles as the
    /// platform principal.
    pub fn new(
        store: shared::aws::store::SharedStore,
        aws: &aws_config::SdkConfig,
        sts: aws_sdk_sts::Client,
        secrets: SharedSealer,
        config: &DevConfig,
    ) -> Self {
        let credentials =
            shared::aws::credentials::CredentialCache::new(sts, config.presign.credentials.clone());
        let validator = shared::aws::validation::Validator::new(
            aws.clone(),
            credentials.assumer(),
            config.presign.s3_endpoint.clone(),
            config.api.platform_principal.clone(),
            config.api.app_origins.clone(),
        )
        .with_stores(secrets.clone(), config.endpoints);
        Self {
            integrations: integrations::State::new(
                store.clone(),
                config.api.clone(),
                secrets.clone(),
                config.endpoints,
            ),
            policies: policies::State::new(store.clone(), config.api.clone()),
            validate: validate::State { store: store.clone(), validator, config: config.validate.clone() },
            presign: presign::State::new(store, credentials, secrets, config.presign.clone()),
            jwt_secret: config.jwt_secret.clone(),
            web_dir: config.web_dir.clone(),
        }
    }
}

/// A dev token: HS256 with `org_id`, `role` and `exp`.
pub fn mint_token(secret: &str, org_id: &str, role: &str, ttl_secs: u64) -> String {
    let exp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) + ttl_secs;
    let claims = json!({"org_id": org_id, "role": role, "exp": exp, "iat": exp - ttl_secs, "sub": format!("dev-{role}@{org_id}")});
    EncodingKey::from_secret(secret.as_bytes())
        .and_then(|key| jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key))
        .unwrap_or_default()
}

/// Verifies the bearer token and returns its claims as API Gateway passes them: every value a
/// string, arrays flattened to `"[a b]"`.
fn verify(secret: &str, headers: &HeaderMap) -> Result<HashMap<String, String>, ApiError> {
    let unauthorized = |why: &str| {
        ApiError::Unauthorized(format!("{why} Send \"Authorization: Bearer <token>\" with a valid token."))
    };
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("The request has no Authorization header."))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            h.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")).map(|(_, t)| t)
        })
        .ok_or_else(|| unauthorized("The Authorization header is not a bearer token."))?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp"]);
    let key =
        DecodingKey::from_secret(secret.as_bytes()).map_err(|_| unauthorized("The token is invalid."))?;
    let data = jsonwebtoken::decode::<Map<String, Value>>(token.trim(), &key, &validation).map_err(|e| {
        match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => unauthorized("The token has expired."),
            _ => unauthorized("The token is invalid."),
        }
    })?;
    Ok(data.claims.into_iter().map(|(k, v)| (k, flatten_claim(&v))).collect())
}

fn flatten_claim(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(flatten_claim).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}

/// The API Gateway HTTP API (payload 2.0) event for a request, as the JWT authorizer passes it on.
#[allow(clippy::too_many_arguments)]
pub fn api_gateway_event(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    route_key: &str,
    path_parameters: &HashMap<String, String>,
    claims: &HashMap<String, String>,
) -> Value {
    let mut header_map: Map<String, Value> = Map::new();
    // What API Gateway adds: the scheme the client used (plain http, here).
    header_map.insert("x-forwarded-proto".to_owned(), Value::String("http".to_owned()));
    for (name, value) in headers.iter().filter(|(name, _)| name.as_str() != "x-forwarded-proto") {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match header_map.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                header_map.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let raw_query = uri.query().unwrap_or("");
    let mut query: Map<String, Value> = Map::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        match query.get_mut(&k) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                query.insert(k, Value::String(v));
            }
        }
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let (body, base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (base64_encode(body), true),
    };
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": uri.path(),
        "rawQueryString": raw_query,
        "headers": header_map,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "devserver",
            "authorizer": {"jwt": {"claims": claims, "scopes": null}},
            "domainName": header_map.get("host").cloned().unwrap_or(Value::String("localhost".into())),
            "domainPrefix": "localhost",
            "http": {
                "method": method.as_str(),
                "path": uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": header_map.get("user-agent").cloned().unwrap_or(Value::String(String::new())),
            },
            "requestId": ulid::Ulid::new().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": shared::domain::clock::now_rfc3339(),
            "timeEpoch": now as u64,
        },
        "isBase64Encoded": base64,
    });
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !path_parameters.is_empty() {
        event["pathParameters"] = json!(path_parameters);
    }
    if !body.is_empty() {
        event["body"] = Value::String(body);
    }
    event
}

/// Query strings as API Gateway decodes them: `+` is a space, `%XX` a byte.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn error_response(err: &ApiError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], err.body().to_string()).into_response()
}

fn into_axum(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = response.into_parts();
    let bytes: Vec<u8> = match body {
        lambda_http::Body::Empty => Vec::new(),
        lambda_http::Body::Text(t) => t.into_bytes(),
        lambda_http::Body::Binary(b) => b,
        #[allow(unreachable_patterns)]
        _ => Vec::new(),
    };
    let mut out = Response::new(axum::body::Body::from(bytes));
    *out.status_mut() = parts.status;
    *out.headers_mut() = parts.headers;
    out
}

/// What API Gateway plus the Lambda integration do for one request: an unknown route is 404
/// before the authorizer runs, a bad token 401 before any handler.
pub async fn gateway(app: &DevServer, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let Some((route, params)) = Route::recognize(method.as_str(), uri.path()) else {
        let allowed = Route::allowed_methods(uri.path());
        if !allowed.is_empty() {
            let mut response =
                error_response(&api::method_not_allowed(method.as_str(), uri.path(), &allowed));
            if let Ok(value) = allowed.join(", ").parse() {
                response.headers_mut().insert(axum::http::header::ALLOW, value);
            }
            return response;
        }
        if uri.path() == OPENAPI_PATH && (method == Method::GET || method == Method::HEAD) {
            return openapi_response();
        }
        if let Some(response) = web_asset(app.web_dir.as_deref(), &method, uri.path()).await {
            return response;
        }
        return error_response(&api::no_route(method.as_str(), uri.path()));
    };
    // API Gateway runs the JWT authorizer on every route but a stable link's.
    let claims = if route.needs_token() {
        match verify(&app.jwt_secret, &headers) {
            Ok(claims) => claims,
            Err(e) => return error_response(&e),
        }
    } else {
        HashMap::new()
    };
    let body = match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return error_response(&ApiError::TooLarge(format!(
                "The request body is larger than API Gateway's limit of {MAX_REQUEST_BYTES} bytes."
            )))
        }
    };
    let event = api_gateway_event(&method, &uri, &headers, &body, route.key(), &params, &claims);
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(request) => request,
        Err(e) => return error_response(&ApiError::internal(e)),
    };
    let response = match route.function() {
        Function::Integrations => integrations::handle(&app.integrations, request).await,
        Function::Policies => policies::handle(&app.policies, request).await,
        Function::Presign => presign::handle(&app.presign, request).await,
        Function::Validate => Ok(validate::handle_http(&app.validate, request).await),
    };
    match response {
        Ok(response) => into_axum(response),
        Err(e) => error_response(&ApiError::internal(std::io::Error::other(e.to_string()))),
    }
}

/// `GET /openapi.json`: the OpenAPI document, as a static file is served (no token).
fn openapi_response() -> Response {
    match openapi_json() {
        Ok(json) => (
            StatusCode::OK,
            [
                (axum::http::header::CONTENT_TYPE, "application/json"),
                (axum::http::header::CACHE_CONTROL, "no-cache"),
                (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            json,
        )
            .into_response(),
        Err(why) => error_response(&ApiError::internal(std::io::Error::other(why))),
    }
}

/// The web app's files, as a static host (S3 + CloudFront) would serve them: `/` is `index.html`,
/// otherwise one path segment naming a file of a known type. Nothing else of the disk is reachable
/// (no `/`, `..` or hidden names). The headers are the ones a deploy should send too (README).
async fn web_asset(dir: Option<&Path>, method: &Method, path: &str) -> Option<Response> {
    let dir = dir?;
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let name = match path.strip_prefix('/')? {
        "" => "index.html",
        name => name,
    };
    let safe = !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    let content_type = match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => return None,
    };
    if !safe {
        return None;
    }
    // For HEAD, hyper sends the headers (Content-Length included) and drops the body.
    let body = tokio::fs::read(dir.join(name)).await.ok()?;
    let headers = [
        (axum::http::header::CONTENT_TYPE, content_type),
        (axum::http::header::CACHE_CONTROL, "no-cache"),
        (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // The page is reached with the token in its fragment and loads customer objects: no
        // referrer leaves it.
        (axum::http::header::REFERRER_POLICY, "no-referrer"),
        (axum::http::header::CONTENT_SECURITY_POLICY, WEB_CSP),
    ];
    Some((StatusCode::OK, headers, body).into_response())
}

/// Scripts, styles and API calls from the page's own origin only; images and videos from the
/// presigned URLs (any bucket's host, and the emulator's plain-HTTP one locally).
pub const WEB_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data: http: https:; media-src http: https:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

pub fn router(app: Arc<DevServer>) -> axum::Router {
    axum::Router::new().fallback(move |request: axum::extract::Request| {
        let app = app.clone();
        async move { gateway(&app, request).await }
    })
}

/// Serves until the listener fails or the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, app: Arc<DevServer>) -> std::io::Result<()> {
    axum::serve(listener, router(app)).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod config_tests {
    use super::*;

    #[test]
    fn the_dev_server_starts_with_only_the_local_run_variables_and_fills_in_the_new_settings() {
        let env: HashMap<String, String> = [
            ("PLATFORM_PRINCIPAL_ARN", "arn:aws:iam::123456789012:user/platform"),
            ("APP_ORIGINS", "http://127.0.0.1:3000"),
            ("DEV_JWT_SECRET", "a-dev-secret-of-enough-length"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config = DevConfig::from_env(&env).unwrap();
        assert_eq!(config.secrets_key_id, DEV_SECRETS_KEY_ALIAS);
        assert!(config.endpoints.allow_loopback_http, "the local demo store listens on loopback http");
        assert_eq!(config.presign.secrets_key_id, DEV_SECRETS_KEY_ALIAS);
    }

    #[test]
    fn a_given_secrets_key_and_loopback_setting_win_over_the_dev_defaults() {
        let env: HashMap<String, String> = [
            ("PLATFORM_PRINCIPAL_ARN", "arn:aws:iam::123456789012:user/platform"),
            ("APP_ORIGINS", "http://127.0.0.1:3000"),
            ("DEV_JWT_SECRET", "a-dev-secret-of-enough-length"),
            ("SECRETS_KMS_KEY_ID", "alias/mine"),
            ("ALLOW_LOOPBACK_ENDPOINTS", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config = DevConfig::from_env(&env).unwrap();
        assert_eq!(config.secrets_key_id, "alias/mine");
        assert!(!config.endpoints.allow_loopback_http);
    }
}
