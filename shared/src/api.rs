//! The glue between API Gateway HTTP API (payload v2) requests and the domain: which
//! [`Route`] a request is for, the caller's claims, bounded JSON bodies, `If-Match`, and turning
//! results into responses. Every function and the dev server go through here, so errors look the
//! same on every route.

use crate::auth::{Caller, ClaimNames};
use crate::error::ApiError;
use crate::routes::{PathParams, Route};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;
use std::collections::HashMap;

/// What the admin functions (integrations, policies) hold across invocations.
#[derive(Debug, Clone)]
pub struct AdminState {
    pub store: crate::store::Store,
    pub claims: ClaimNames,
    pub platform_principal: String,
    pub app_origins: Vec<crate::policy::AppOrigin>,
    pub platform: crate::trust::PlatformIdentity,
}

/// The largest body an admin route accepts; an integration with 100 buckets fits in 8 KiB.
pub const MAX_ADMIN_BODY_BYTES: usize = 64 * 1024;

impl AdminState {
    pub fn new(store: crate::store::Store, config: crate::config::ApiConfig) -> Self {
        Self {
            store,
            claims: config.claims,
            platform_principal: config.platform_principal,
            app_origins: config.app_origins,
            platform: config.platform,
        }
    }

    /// What every admin route checks first, in API Gateway's order: who calls (401), which route
    /// (404), then that the caller is an admin (403). Returns the caller, route and path
    /// parameters.
    pub fn admin_request(&self, req: &Request) -> Result<(Caller, Route, PathParams), ApiError> {
        let caller = caller(req, &self.claims)?;
        let (route, params) = route(req)?;
        caller.require_admin()?;
        Ok((caller, route, params))
    }

    /// The access, trust and CORS documents for a saved integration.
    pub fn rendered_policies(
        &self,
        integration: &crate::integration::Integration,
        external_id: &crate::policy::ExternalId,
    ) -> Value {
        crate::policy::rendered_policies(
            integration.region.partition(),
            &integration.scope,
            integration.versioning,
            &self.platform_principal,
            external_id,
            &self.app_origins,
        )
    }
}

/// The route this request was sent to: API Gateway's `routeKey`, or matched from the path when
/// the event has none (a catch-all `$default` route). A path no route has is 404; a known path
/// with another method is 405, naming the methods it allows.
pub fn route(req: &Request) -> Result<(Route, PathParams), ApiError> {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() {
        if let Some(route) = ctx.route_key.as_deref().and_then(Route::from_key) {
            let params = req.path_parameters().iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            return Ok((route, params));
        }
    }
    if let Some(found) = Route::recognize(req.method().as_str(), req.uri().path()) {
        return Ok(found);
    }
    let allowed = Route::allowed_methods(req.uri().path());
    if allowed.is_empty() {
        Err(not_found_route(req))
    } else {
        Err(method_not_allowed(req.method().as_str(), req.uri().path(), &allowed))
    }
}

/// 405 for a known path asked with another method.
pub fn method_not_allowed(method: &str, path: &str, allowed: &[&str]) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {path}; use {}.", allowed.join(" or ")))
}

/// 404 for this request's method and path; also what a function answers for a route it does not
/// serve.
pub fn not_found_route(req: &Request) -> ApiError {
    no_route(req.method().as_str(), req.uri().path())
}

/// 404 for a method and path no route has.
pub fn no_route(method: &str, path: &str) -> ApiError {
    ApiError::NotFound(format!("There is no route {method} {path}. See the API reference in the README."))
}

/// The claims API Gateway's JWT authorizer verified and attached to the request.
pub fn claims(req: &Request) -> Option<&HashMap<String, String>> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.authorizer.as_ref()?.jwt.as_ref().map(|jwt| &jwt.claims),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

pub fn caller(req: &Request, names: &ClaimNames) -> Result<Caller, ApiError> {
    let empty = HashMap::new();
    Caller::from_claims(claims(req).unwrap_or(&empty), names)
}

fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        #[allow(unreachable_patterns)]
        _ => &[],
    }
}

/// The request body as JSON, rejecting bodies over `limit` bytes with 413 before parsing.
pub fn json_body(req: &Request, limit: usize) -> Result<Value, ApiError> {
    let bytes = body_bytes(req);
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { size: bytes.len(), limit });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("MISSING_BODY", None, "The request needs a JSON body."));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "INVALID_JSON",
            None,
            format!(
                "The body is not valid JSON (line {}, column {}): {e}. Send a JSON object.",
                e.line(),
                e.column()
            ),
        )
    })
}

/// The version in an `If-Match` header (`3`, `"3"` or `W/"3"`), if one was sent.
pub fn if_match(req: &Request) -> Result<Option<u64>, ApiError> {
    let Some(value) = req.headers().get("if-match") else { return Ok(None) };
    let text = value.to_str().unwrap_or("").trim();
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<u64>().map(Some).map_err(|_| {
        ApiError::bad_request(
            "INVALID_IF_MATCH",
            Some("If-Match"),
            "If-Match must be the integration's version number, such as \"3\".",
        )
    })
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref().and_then(|q| q.first(name)).map(str::to_owned)
}

pub fn json_response(status: u16, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = lambda_http::http::StatusCode::from_u16(status)
        .unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        lambda_http::http::header::CONTENT_TYPE,
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    response
}

/// A JSON response serialized straight from a typed value (no intermediate JSON tree).
pub fn serialized_response<T: serde::Serialize>(status: u16, body: &T) -> Response<Body> {
    match serde_json::to_string(body) {
        Ok(text) => {
            let mut response = json_response(status, &Value::Null);
            *response.body_mut() = Body::Text(text);
            response
        }
        Err(e) => error_response(&ApiError::internal(e)),
    }
}

pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = lambda_http::http::StatusCode::NO_CONTENT;
    response
}

/// Logs the error with its cause chain (server errors loudly) and renders the client's view.
pub fn error_response(err: &ApiError) -> Response<Body> {
    let status = err.status();
    if status >= 500 {
        tracing::error!(status, code = err.code(), cause = %err.cause_chain(), "request failed");
    } else {
        tracing::info!(status, code = err.code(), field = err.field(), "request rejected");
    }
    json_response(status, &err.body())
}

/// The last step of every handler: an error becomes its response, so nothing leaves as `Err`.
pub fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(|err| error_response(&err))
}
