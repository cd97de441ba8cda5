//! What handler tests need to call a function's `handle` as API Gateway would, without a server
//! or an emulator: API Gateway HTTP API (payload v2) events with the authorizer's claims, built
//! from the repository's own sample event (`events/presign.json`). Compiled only with the
//! `testkit` feature, which only dev-dependencies turn on.

use crate::api::routes::Route;
use serde_json::{json, Value};

const SAMPLE: &str = include_str!("../../../events/presign.json");

/// An API Gateway v2 event, built up and then turned into the `lambda_http` request the function
/// would receive.
#[derive(Debug, Clone)]
pub struct ApiEvent {
    event: Value,
}

impl ApiEvent {
    /// `method path` (the path may carry a query string) from a member of `acme`. The route key
    /// and path parameters are what API Gateway would set: the matching route's, else `$default`.
    pub fn new(method: &str, path_and_query: &str) -> Self {
        let mut event: Value = serde_json::from_str(SAMPLE).unwrap_or_else(|_| json!({}));
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let (route_key, params) = match Route::recognize(method, path) {
            Some((route, params)) => (route.key(), params),
            None => ("$default", Default::default()),
        };
        event["routeKey"] = json!(route_key);
        event["requestContext"]["routeKey"] = json!(route_key);
        event["rawPath"] = json!(path);
        event["requestContext"]["http"]["path"] = json!(path);
        event["requestContext"]["http"]["method"] = json!(method);
        event["rawQueryString"] = json!(query);
        if !params.is_empty() {
            event["pathParameters"] = json!(params);
        }
        event["body"] = Value::Null;
        Self { event }
    }

    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    pub fn post(path: &str, body: &Value) -> Self {
        Self::new("POST", path).body(&body.to_string())
    }

    pub fn put(path: &str, body: &Value) -> Self {
        Self::new("PUT", path).body(&body.to_string())
    }

    pub fn delete(path: &str) -> Self {
        Self::new("DELETE", path)
    }

    /// The caller's org claim.
    pub fn org(mut self, org: &str) -> Self {
        self.event["requestContext"]["authorizer"]["jwt"]["claims"]["org_id"] = json!(org);
        self
    }

    /// The caller's role claim, as API Gateway flattens it (`"[admin]"` for `["admin"]`).
    pub fn role(mut self, role: &str) -> Self {
        self.event["requestContext"]["authorizer"]["jwt"]["claims"]["role"] = json!(role);
        self
    }

    pub fn admin_of(self, org: &str) -> Self {
        self.org(org).role("[admin]")
    }

    pub fn member_of(self, org: &str) -> Self {
        self.org(org).role("[member]")
    }

    /// No authorizer claims at all (a route API Gateway would not have authorized).
    pub fn without_claims(mut self) -> Self {
        self.event["requestContext"]["authorizer"] = Value::Null;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.event["headers"][name] = json!(value);
        self
    }

    /// The body exactly as given (it need not be JSON).
    pub fn body(mut self, body: &str) -> Self {
        self.event["body"] = json!(body);
        self
    }

    /// Any other change to the event's JSON (fuzzing: raw paths, query strings, binary bodies).
    pub fn with(mut self, change: impl FnOnce(&mut Value)) -> Self {
        change(&mut self.event);
        self
    }

    /// The event's JSON, as the Lambda runtime would receive it.
    pub fn to_json(&self) -> String {
        self.event.to_string()
    }

    /// The request `lambda_http` hands the handler.
    pub fn request(&self) -> lambda_http::Request {
        lambda_http::request::from_str(&self.to_json())
            .unwrap_or_else(|e| panic!("an API Gateway v2 event: {e}"))
    }
}

/// A handler's response: status, body as JSON (`null` when empty), and a header's value.
pub fn status_and_json(response: &lambda_http::Response<lambda_http::Body>) -> (u16, Value) {
    let body = match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::String(text.clone())),
        lambda_http::Body::Binary(bytes) => serde_json::from_slice(bytes).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (response.status().as_u16(), body)
}
