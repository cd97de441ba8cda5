//! The glue between API Gateway HTTP API (payload v2) requests and the domain: which
//! [`Route`] a request is for, the caller's claims, bounded JSON bodies, `If-Match`, and turning
//! results into responses. Every function and the dev server go through here, so errors look the
//! same on every route.

use crate::api::auth::{Caller, ClaimNames};
use crate::api::error::ApiError;
use crate::api::routes::{PathParams, Route};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;
use std::collections::HashMap;

/// What the admin functions (integrations, policies) hold across invocations.
#[derive(Debug, Clone)]
pub struct AdminState {
    pub store: crate::aws::store::SharedStore,
    pub claims: ClaimNames,
    pub platform_principal: String,
    pub app_origins: Vec<crate::domain::policy::AppOrigin>,
    pub platform: crate::aws::trust::PlatformIdentity,
    pub max_integrations: u32,
    pub external_id_overlap: std::time::Duration,
}

/// The largest body an admin route accepts; an integration with 100 buckets fits in 8 KiB.
pub const MAX_ADMIN_BODY_BYTES: usize = 64 * 1024;

impl AdminState {
    pub fn new(store: crate::aws::store::SharedStore, config: crate::api::config::ApiConfig) -> Self {
        Self {
            store,
            claims: config.claims,
            platform_principal: config.platform_principal,
            app_origins: config.app_origins,
            platform: config.platform,
            max_integrations: config.max_integrations,
            external_id_overlap: config.external_id_overlap,
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

    /// The org's external IDs, its first one created now if it has none (an admin asking for a
    /// trust policy is the first use).
    pub async fn external_ids(
        &self,
        org: &crate::domain::org::OrgId,
    ) -> Result<crate::domain::external_id::ExternalIds, ApiError> {
        if let Some(ids) = self.store.read_external_ids(org).await? {
            return Ok(ids);
        }
        let current = self.store.external_id(org).await?;
        Ok(self
            .store
            .read_external_ids(org)
            .await?
            .unwrap_or_else(|| crate::domain::external_id::ExternalIds::single(current)))
    }

    /// The access, trust and CORS documents for a saved integration (CORS alone for an S3-compatible store).
    pub fn rendered_policies(
        &self,
        integration: &crate::domain::integration::Integration,
        external_ids: &crate::domain::external_id::ExternalIds,
    ) -> Value {
        crate::domain::policy::rendered_policies(
            integration,
            &self.platform_principal,
            external_ids,
            &self.app_origins,
            std::time::SystemTime::now(),
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

/// The `Idempotency-Key` header, if sent: 1 to 128 characters of `A-Za-z0-9._:-` (a UUID fits).
pub fn idempotency_key(req: &Request) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().unwrap_or("");
    let ok = (1..=128).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if ok {
        Ok(Some(key.to_owned()))
    } else {
        Err(ApiError::bad_request(
            "INVALID_IDEMPOTENCY_KEY",
            Some("Idempotency-Key"),
            "Idempotency-Key must be 1 to 128 characters of A-Z, a-z, 0-9 and . _ : - (a UUID works); send the \
             same key when you retry the same create.",
        ))
    }
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

/// `307 Temporary Redirect` to `location` (a stable link's fresh URL), which the browser may reuse
/// for `max_age` seconds and no shared cache may keep (the link is a capability). 307 keeps the
/// method, so a HEAD stays a HEAD.
pub fn redirect(location: &str, max_age: u32) -> Result<Response<Body>, ApiError> {
    use lambda_http::http::{header, HeaderValue, StatusCode};
    let location = HeaderValue::from_str(location).map_err(ApiError::internal)?;
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, max_age_header(max_age));
    // The page that embeds the link is no business of the bucket's.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(response)
}

fn max_age_header(max_age: u32) -> lambda_http::http::HeaderValue {
    lambda_http::http::HeaderValue::from_str(&format!("private, max-age={max_age}"))
        .unwrap_or_else(|_| lambda_http::http::HeaderValue::from_static("no-store"))
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
    let mut response = json_response(status, &err.body());
    if let Some(secs) = err.retry_after() {
        response
            .headers_mut()
            .insert(lambda_http::http::header::RETRY_AFTER, lambda_http::http::HeaderValue::from(secs));
    }
    response
}

/// The last step of every handler: an error becomes its response, so nothing leaves as `Err`.
pub fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(|err| error_response(&err))
}

/// JSON text the Lambda runtime's serde_json writes out verbatim. serde_json's raw-value protocol
/// (the struct token its own `RawValue` serializes as) carries it without re-parsing: building a
/// `RawValue` would validate all 1.5 MB of a large answer once more. `tests` holds the protocol
/// to serde_json's behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText(String);

const SERDE_JSON_RAW_TOKEN: &str = "$serde_json::private::RawValue";

impl JsonText {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Hands `json` to serde_json as a raw value: written as it is, never parsed or escaped again.
fn serialize_verbatim<S: serde::Serializer>(json: &str, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut raw = serializer.serialize_struct(SERDE_JSON_RAW_TOKEN, 1)?;
    raw.serialize_field(SERDE_JSON_RAW_TOKEN, json)?;
    raw.end()
}

impl serde::Serialize for JsonText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_verbatim(&self.0, serializer)
    }
}

/// The API Gateway v2 (HTTP API) response the Lambda runtime sends back, as `lambda_http` builds
/// it from `response`: `{"statusCode", "headers", "multiValueHeaders": {}, "body"?,
/// "isBase64Encoded", "cookies": []}`. For every answer but presign's hot path.
pub fn envelope_of(response: Response<Body>) -> JsonText {
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse;
    let (parts, body) = response.into_parts();
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.is_base64_encoded = matches!(body, Body::Binary(_));
    out.headers = parts.headers;
    out.body = match body {
        Body::Empty => None,
        other => Some(other),
    };
    JsonText(serde_json::to_string(&out).unwrap_or_else(|_| FALLBACK_ENVELOPE.to_owned()))
}

const FALLBACK_ENVELOPE: &str = r#"{"statusCode":500,"headers":{"content-type":"application/json"},"multiValueHeaders":{},"body":"{\"error\":{\"code\":\"INTERNAL\",\"message\":\"Something went wrong on our side.\"}}","isBase64Encoded":false,"cookies":[]}"#;

/// A JSON answer's envelope written in one pass: `body` is serialized straight into the escaped
/// string the envelope carries ([`EnvelopeBody`]), instead of into a string that is then escaped
/// again (1.5 MB for a 1,000-URL batch). Equal to [`envelope_of`] of [`serialized_response`]
/// (tested).
pub fn json_envelope<T: serde::Serialize>(status: u16, body: &T) -> JsonText {
    let mut out = Vec::with_capacity(64 * 1024);
    out.extend_from_slice(b"{\"statusCode\":");
    out.extend_from_slice(status.to_string().as_bytes());
    out.extend_from_slice(
        b",\"headers\":{\"content-type\":\"application/json\"},\"multiValueHeaders\":{},\"body\":\"",
    );
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, EnvelopeBody);
    if body.serialize(&mut serializer).is_err() {
        return JsonText(FALLBACK_ENVELOPE.to_owned());
    }
    out.extend_from_slice(b"\",\"isBase64Encoded\":false,\"cookies\":[]}");
    // serde_json writes UTF-8 and the escaping only adds ASCII.
    JsonText(String::from_utf8(out).unwrap_or_else(|_| FALLBACK_ENVELOPE.to_owned()))
}

/// How many bytes `body` takes inside an envelope's `body` string (escaped for it), counted
/// without keeping them.
pub fn enveloped_len<T: serde::Serialize>(body: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let mut serializer = serde_json::Serializer::with_formatter(&mut count, EnvelopeBody);
    // Counting cannot fail; a value serde refuses would be refused when written too.
    let _ = body.serialize(&mut serializer);
    count.0
}

/// The envelope's bytes besides the body: status, headers and the fixed fields.
pub const ENVELOPE_OVERHEAD_BYTES: usize = 160;

/// A serde_json formatter that writes compact JSON as the inside of a JSON string: every byte
/// the compact formatter would write, with `"` and `\` escaped once more. String contents arrive
/// as runs that hold neither (serde_json splits them at each escape), so they are copied as
/// they are; only quotes, escapes and raw fragments ([`JsonString`]) need the second escape.
#[derive(Debug, Clone, Copy)]
struct EnvelopeBody;

impl serde_json::ser::Formatter for EnvelopeBody {
    fn begin_string<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        writer.write_all(b"\\\"")
    }

    fn end_string<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        writer.write_all(b"\\\"")
    }

    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: serde_json::ser::CharEscape,
    ) -> std::io::Result<()> {
        let mut once = Vec::with_capacity(6);
        serde_json::ser::CompactFormatter.write_char_escape(&mut once, char_escape)?;
        let mut twice = Vec::with_capacity(12);
        escape_in_string(&once, &mut twice);
        writer.write_all(&twice)
    }

    fn write_raw_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        let bytes = fragment.as_bytes();
        for i in memchr::memchr2_iter(b'"', b'\\', bytes) {
            writer.write_all(&bytes[start..i])?;
            writer.write_all(&[b'\\', bytes[i]])?;
            start = i + 1;
        }
        writer.write_all(&bytes[start..])
    }
}

/// Appends JSON text as the inside of a JSON string. Compact JSON holds no raw control characters
/// (they are escaped inside strings), so only `"` and `\` need escaping.
fn escape_in_string(text: &[u8], out: &mut Vec<u8>) {
    let mut start = 0;
    for i in memchr::memchr2_iter(b'"', b'\\', text) {
        out.extend_from_slice(&text[start..i]);
        out.push(b'\\');
        out.push(text[i]);
        start = i + 1;
    }
    out.extend_from_slice(&text[start..]);
}

/// A JSON string value, quotes included, that serde_json writes verbatim (the raw-value protocol
/// of [`JsonText`]). For long text that needs no escaping, such as a presigned URL (percent-encoded
/// ASCII): serde_json would otherwise look at each of its ~1,500 bytes for characters to escape,
/// which was a quarter of a warm presign batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonString(String);

impl JsonString {
    /// The text `write` appends, as a JSON string. Text with nothing to escape (no `"`, `\`,
    /// control or non-ASCII byte; one vectorized pass decides) is kept as written; anything else
    /// is escaped by serde_json, so the result is valid JSON whatever `write` produced.
    pub fn build(capacity: usize, write: impl FnOnce(&mut String)) -> Self {
        let mut text = String::with_capacity(capacity + 2);
        text.push('"');
        write(&mut text);
        let plain = !text.as_bytes()[1..]
            .iter()
            .fold(false, |bad, &b| bad | !(0x20..0x7f).contains(&b) | (b == b'"') | (b == b'\\'));
        if plain {
            text.push('"');
            return Self(text);
        }
        // serde_json cannot fail to write a string into a String.
        Self(serde_json::to_string(&text[1..]).unwrap_or_else(|_| "\"\"".to_owned()))
    }

    /// The JSON literal, quotes included.
    pub fn as_json(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for JsonString {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_verbatim(&self.0, serializer)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod envelope_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_text_is_written_verbatim_by_serde_json() {
        let text = JsonText(r#"{"a":[1,"x\"y"],"b":{}}"#.to_owned());
        assert_eq!(serde_json::to_string(&text).unwrap(), text.as_str());
        assert_eq!(serde_json::to_vec(&text).unwrap(), text.as_str().as_bytes());
    }

    #[test]
    fn the_one_pass_envelope_equals_the_envelope_lambda_http_would_send() {
        let body = json!({"results": [
            {"locator": "s3://b/k \"quoted\" \\ back\nline \u{2028} ünï 李", "url": "https://x/y?a=1&b=%2F"},
            {"locator": 7, "error": {"code": "INVALID_LOCATOR", "message": "tab\there"}}
        ]});
        let one_pass: serde_json::Value = serde_json::from_str(json_envelope(200, &body).as_str()).unwrap();
        let reference: serde_json::Value =
            serde_json::from_str(envelope_of(serialized_response(200, &body)).as_str()).unwrap();
        assert_eq!(one_pass, reference);
        let inner: serde_json::Value = serde_json::from_str(one_pass["body"].as_str().unwrap()).unwrap();
        assert_eq!(inner, body);
    }

    #[test]
    fn the_one_pass_envelope_escapes_every_kind_of_character_like_lambda_http() {
        let every_ascii: String = (0u8..0x80).map(char::from).collect();
        let body = json!({
            "ascii": every_ascii,
            "unicode": "ünï 李 \u{2028} \u{1F600}",
            "raw": JsonString::build(8, |s| s.push_str("a\"b\\c\nd")),
            "plain": JsonString::build(8, |s| s.push_str("https://b.s3.amazonaws.com/k%20y?x=1&y=%2F")),
            "nested": [{"k\"ey": [1, -2.5, null, true]}],
        });
        let one_pass: serde_json::Value = serde_json::from_str(json_envelope(201, &body).as_str()).unwrap();
        let reference: serde_json::Value =
            serde_json::from_str(envelope_of(serialized_response(201, &body)).as_str()).unwrap();
        assert_eq!(one_pass, reference);
        let inner: serde_json::Value = serde_json::from_str(one_pass["body"].as_str().unwrap()).unwrap();
        assert_eq!(inner["raw"], "a\"b\\c\nd");
        assert_eq!(inner["ascii"].as_str().unwrap().len(), 0x80);
    }

    #[test]
    fn a_json_string_keeps_plain_text_verbatim_and_escapes_anything_else() {
        let plain = JsonString::build(4, |s| s.push_str("https://x/a%20b~c"));
        assert_eq!(plain.as_json(), "\"https://x/a%20b~c\"");
        for text in ["quote \" inside", "back\\slash", "line\nfeed", "tab\t", "ünï", "\u{7f}", ""] {
            let built = JsonString::build(4, |s| s.push_str(text));
            let read: String = serde_json::from_str(built.as_json()).unwrap();
            assert_eq!(read, text);
            assert_eq!(serde_json::to_string(&built).unwrap(), serde_json::to_string(text).unwrap());
        }
    }

    #[test]
    fn an_error_response_keeps_its_status_and_headers_in_the_envelope() {
        let e = ApiError::bad_request("INVALID_BODY", None, "no");
        let envelope: serde_json::Value =
            serde_json::from_str(envelope_of(error_response(&e)).as_str()).unwrap();
        assert_eq!(envelope["statusCode"], 400);
        assert_eq!(envelope["headers"]["content-type"], "application/json");
        assert_eq!(envelope["isBase64Encoded"], false);
    }
}
