//! The `policies` function: the access, trust and CORS documents an admin pastes into AWS
//! (`/policies/*` and `/integrations/{id}/policies`). Admin only. The trust policy needs the
//! org's external ID, which this function creates on first use.

use lambda_http::{Body, Request, Response};
use shared::api;
use shared::api::auth::Caller;
use shared::api::error::ApiError;
use shared::api::routes::Route;
use shared::domain::external_id::ExternalIds;
use shared::domain::integration::AccessDraft;
use shared::domain::policy::{access_policy_response, cors_response, trust_policy_response};

pub const MAX_BODY_BYTES: usize = api::MAX_ADMIN_BODY_BYTES;

/// Built once per Lambda instance and shared by every invocation.
pub type State = shared::api::AdminState;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(api::respond(dispatch(state, &req).await))
}

async fn dispatch(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let (caller, route, params) = state.admin_request(req)?;
    match route {
        Route::TrustPolicy => {
            let external_ids = ExternalIds::single(state.store.external_id(&caller.org).await?);
            let now = std::time::SystemTime::now();
            Ok(api::json_response(200, &trust_policy_response(&state.platform_principal, &external_ids, now)))
        }
        Route::AccessPolicy => access(req),
        Route::CorsPolicy => Ok(api::json_response(200, &cors_response(&state.app_origins))),
        Route::IntegrationPolicies => {
            let id = params.get("id").map(String::as_str).unwrap_or_default();
            for_integration(state, &caller, id).await
        }
        _ => Err(api::not_found_route(req)),
    }
}

/// The access policy for a draft, before it is saved: `{"scope", "versioning"?, "region"?,
/// "kms_key_arns"?}`.
fn access(req: &Request) -> Result<Response<Body>, ApiError> {
    let draft = AccessDraft::from_json(&api::json_body(req, MAX_BODY_BYTES)?)?;
    let policy = access_policy_response(draft.partition, &draft.scope, draft.versioning, &draft.kms_key_arns);
    Ok(api::json_response(200, &policy))
}

async fn for_integration(state: &State, caller: &Caller, id: &str) -> Result<Response<Body>, ApiError> {
    let integration = state.store.get(&caller.org, id).await?;
    let external_ids = ExternalIds::single(state.store.external_id(&caller.org).await?);
    Ok(api::json_response(200, &state.rendered_policies(&integration, &external_ids)))
}
