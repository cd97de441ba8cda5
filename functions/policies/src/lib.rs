//! The `policies` function: the access, trust and CORS documents an admin pastes into AWS
//! (`/policies/*` and `/integrations/{id}/policies`), and the org's external-ID rotation
//! (`/policies/trust/rotate`, `/policies/trust/rotate/complete`). Admin only. The trust policy
//! needs the org's external ID, which this function creates on first use; during a rotation it
//! names both IDs.

use lambda_http::{Body, Request, Response};
use shared::api;
use shared::api::auth::Caller;
use shared::api::error::ApiError;
use shared::api::routes::Route;
use shared::domain::external_id::completion_blockers;
use shared::domain::integration::AccessDraft;
use shared::domain::policy::{access_policy_response, cors_response, trust_policy_response};
use std::time::SystemTime;

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
            let external_ids = state.external_ids(&caller.org).await?;
            let now = SystemTime::now();
            Ok(api::json_response(200, &trust_policy_response(&state.platform_principal, &external_ids, now)))
        }
        Route::RotateExternalId => rotate(state, &caller).await,
        Route::CompleteRotation => complete(state, &caller).await,
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
    let external_ids = state.external_ids(&caller.org).await?;
    Ok(api::json_response(200, &state.rendered_policies(&integration, &external_ids)))
}

/// `POST /policies/trust/rotate`: a new external ID; the previous one stays honoured for
/// `EXTERNAL_ID_OVERLAP_DAYS`. Answers the trust policy naming both, and which is which.
async fn rotate(state: &State, caller: &Caller) -> Result<Response<Body>, ApiError> {
    let now = SystemTime::now();
    let ids = state
        .store
        .rotate_external_id(&caller.org, &caller.actor(), now, now + state.external_id_overlap)
        .await?;
    tracing::info!(org = %caller.org, "external ID rotation started");
    Ok(api::json_response(200, &trust_policy_response(&state.platform_principal, &ids, now)))
}

/// `POST /policies/trust/rotate/complete`: ends the overlap now, unless an integration's role may
/// still need the previous ID (409 `ROTATION_NOT_READY` naming each one and what to do).
async fn complete(state: &State, caller: &Caller) -> Result<Response<Body>, ApiError> {
    let now = SystemTime::now();
    let ids = state.external_ids(&caller.org).await?;
    let Some(rotation) = ids.overlap_at(now) else {
        return Err(shared::aws::store::StoreError::NoRotation.into());
    };
    let integrations = state.store.list_all(&caller.org).await?;
    let blockers = completion_blockers(&integrations, rotation);
    if !blockers.is_empty() {
        let listed: Vec<String> =
            blockers.iter().map(|(name, id, why)| format!("{name:?} ({id}): {why}")).collect();
        return Err(ApiError::Conflict {
            code: "ROTATION_NOT_READY",
            message: format!(
                "The rotation cannot be completed yet: {}. The previous external ID stays honoured until then \
                 (and at the latest until {}).",
                listed.join("; "),
                shared::domain::clock::rfc3339(rotation.until)
            ),
        });
    }
    let ids = state.store.complete_rotation(&caller.org, &caller.actor(), now).await?;
    tracing::info!(org = %caller.org, "external ID rotation completed");
    Ok(api::json_response(200, &trust_policy_response(&state.platform_principal, &ids, now)))
}
