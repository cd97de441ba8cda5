//! The `integrations` function: create, list, read, replace and delete an org's integrations
//! (`/integrations*`). Admin only; every key is scoped to the caller's org.

use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use shared::api;
use shared::api::auth::Caller;
use shared::api::error::ApiError;
use shared::api::routes::Route;
use shared::aws::store::{CreateOptions, Created, Idempotency, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use shared::domain::integration::IntegrationDraft;

/// The largest create or replace body accepted.
pub const MAX_BODY_BYTES: usize = api::MAX_ADMIN_BODY_BYTES;

/// Built once per Lambda instance and shared by every invocation.
pub type State = shared::api::AdminState;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(api::respond(dispatch(state, &req).await))
}

async fn dispatch(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let (caller, route, params) = state.admin_request(req)?;
    let id = params.get("id").map(String::as_str).unwrap_or_default();
    match route {
        Route::CreateIntegration => create(state, &caller, req).await,
        Route::ListIntegrations => list(state, &caller, req).await,
        Route::GetIntegration => {
            let integration = state.store.get(&caller.org, id).await?;
            let history =
                state.store.report_history(&caller.org, id, shared::aws::store::HISTORY_LIMIT).await?;
            let mut body = integration.to_json();
            body["history"] = serde_json::to_value(history).map_err(ApiError::internal)?;
            Ok(api::json_response(200, &body))
        }
        Route::ReplaceIntegration => replace(state, &caller, req, id).await,
        Route::DeleteIntegration => {
            state.store.delete(&caller.org, id, api::if_match(req)?).await?;
            tracing::info!(org = %caller.org, id, "integration deleted");
            Ok(api::no_content())
        }
        _ => Err(api::not_found_route(req)),
    }
}

/// Create is safe to retry: the org's external ID is made before the integration is written (so
/// nothing can fail after the write but the answer itself), and with an `Idempotency-Key` a retry
/// of a create whose answer was lost gets that create's integration instead of a `SCOPE_CONFLICT`.
async fn create(state: &State, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
    let draft = IntegrationDraft::from_json(&api::json_body(req, MAX_BODY_BYTES)?)?;
    state.platform.admits(&draft.role_arn)?;
    let idempotency =
        api::idempotency_key(req)?.map(|key| Idempotency { key, fingerprint: draft.fingerprint() });
    let options = CreateOptions { max_integrations: state.max_integrations, idempotency };
    let external_id = state.store.external_id(&caller.org).await?;
    let Created { integration, replayed } = state.store.create_with(&caller.org, draft, &options).await?;
    tracing::info!(org = %caller.org, id = %integration.id, scope = %integration.scope.key(), replayed, "integration created");
    let mut body = integration.to_json();
    body["policies"] = state.rendered_policies(&integration, &external_id);
    let mut response = api::json_response(201, &body);
    if let Ok(location) = Route::GetIntegration.path(&[("id", integration.id.as_str())]).parse() {
        response.headers_mut().insert(lambda_http::http::header::LOCATION, location);
    }
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", lambda_http::http::HeaderValue::from_static("true"));
    }
    Ok(response)
}

async fn list(state: &State, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
    let limit = match api::query_param(req, "limit") {
        None => DEFAULT_PAGE_SIZE,
        Some(raw) => {
            raw.parse::<i32>().ok().filter(|l| (1..=MAX_PAGE_SIZE).contains(l)).ok_or_else(|| {
                ApiError::bad_request(
                    "INVALID_LIMIT",
                    Some("limit"),
                    format!("limit must be a whole number from 1 to {MAX_PAGE_SIZE}; got {raw:?}."),
                )
            })?
        }
    };
    let cursor = api::query_param(req, "next");
    let page = state.store.list(&caller.org, cursor.as_deref(), limit).await?;
    let integrations: Vec<Value> = page.integrations.iter().map(|i| i.to_json()).collect();
    let mut body = json!({ "integrations": integrations });
    if let Some(next) = page.next {
        body["next"] = Value::String(next);
    }
    Ok(api::json_response(200, &body))
}

async fn replace(
    state: &State,
    caller: &Caller,
    req: &Request,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let body = api::json_body(req, MAX_BODY_BYTES)?;
    if let Some(body_id) = body.get("id").and_then(Value::as_str) {
        if body_id != id {
            return Err(ApiError::bad_request(
                "ID_MISMATCH",
                Some("id"),
                format!("The body is for integration {body_id:?} but the URL names {id:?}; send it to its own URL."),
            ));
        }
    }
    let draft = IntegrationDraft::from_json(&body)?;
    state.platform.admits(&draft.role_arn)?;
    let expected = match (api::if_match(req)?, draft.version) {
        (Some(header), Some(field)) if header != field => {
            return Err(ApiError::bad_request(
                "VERSION_AMBIGUOUS",
                Some("version"),
                format!("If-Match says version {header} but the body says {field}; send one version."),
            ))
        }
        (Some(v), _) | (None, Some(v)) => v,
        (None, None) => {
            return Err(ApiError::Precondition {
                code: "VERSION_REQUIRED",
                message: "Replacing an integration needs the version you last read, as \"version\" in \
                          the body or an If-Match header, so that nobody's change is overwritten."
                    .to_owned(),
            })
        }
    };
    let updated = state.store.replace(&caller.org, id, draft, expected).await?;
    tracing::info!(org = %caller.org, id, version = updated.version, "integration replaced");
    Ok(api::json_response(200, &updated.to_json()))
}
