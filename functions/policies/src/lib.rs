//! The `policies` function: the access, trust and CORS documents an admin pastes into AWS
//! (`/policies/*` and `/integrations/{id}/policies`). Admin only. The trust policy needs the
//! org's external ID, which this function creates on first use.

use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::api;
use shared::auth::Caller;
use shared::error::ApiError;
use shared::integration::parse_scope;
use shared::policy::{access_policy_response, cors_response, rendered_policies, trust_policy_response};
use shared::region::{Partition, Region};

pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Built once per Lambda instance and shared by every invocation.
pub type State = shared::api::AdminState;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(api::respond(dispatch(state, &req).await))
}

async fn dispatch(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = api::caller(req, &state.claims)?;
    let (route, params) = api::route(req)?;
    caller.require_admin()?;
    match route.as_str() {
        "GET /policies/trust" => {
            let external_id = state.store.external_id(&caller.org).await?;
            Ok(api::json_response(200, &trust_policy_response(&state.platform_principal, &external_id)))
        }
        "POST /policies/access" => access(req),
        "GET /policies/cors" => Ok(api::json_response(200, &cors_response(&state.app_origins))),
        "GET /integrations/{id}/policies" => {
            let id = params.get("id").map(String::as_str).unwrap_or_default();
            for_integration(state, &caller, id).await
        }
        _ => Err(api::not_found_route(req)),
    }
}

/// The access policy for a draft, before it is saved: `{"scope", "versioning"?, "region"?}`.
fn access(req: &Request) -> Result<Response<Body>, ApiError> {
    let body = api::json_body(req, MAX_BODY_BYTES)?;
    let Value::Object(fields) = &body else {
        return Err(ApiError::bad_request(
            "INVALID_BODY",
            None,
            "The body must be a JSON object with \"scope\" and optionally \"versioning\" and \"region\".",
        ));
    };
    for key in fields.keys() {
        if !["scope", "versioning", "region"].contains(&key.as_str()) {
            return Err(ApiError::bad_request(
                "UNKNOWN_FIELD",
                Some(key),
                format!(
                    "The field {key:?} is not recognised; send \"scope\", \"versioning\" and \"region\"."
                ),
            ));
        }
    }
    let scope = match fields.get("scope") {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request(
                "MISSING_FIELD",
                Some("scope"),
                "The field \"scope\" is required: {\"type\": \"default\", \"buckets\": [...]} or \
                 {\"type\": \"bucket\", \"bucket\": \"...\"}.",
            ))
        }
        Some(scope) => parse_scope(scope)?,
    };
    let versioning = match fields.get("versioning") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::bad_request(
                "INVALID_TYPE",
                Some("versioning"),
                "\"versioning\" must be true or false.",
            ))
        }
    };
    let partition = match fields.get("region") {
        None | Some(Value::Null) => Partition::Aws,
        Some(Value::String(region)) => {
            Region::parse(region).map_err(|e| ApiError::input("region", e))?.partition()
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "INVALID_TYPE",
                Some("region"),
                "\"region\" must be a string such as \"us-east-1\".",
            ))
        }
    };
    Ok(api::json_response(200, &access_policy_response(partition, &scope, versioning)))
}

async fn for_integration(state: &State, caller: &Caller, id: &str) -> Result<Response<Body>, ApiError> {
    let integration = state.store.get(&caller.org, id).await?;
    let external_id = state.store.external_id(&caller.org).await?;
    Ok(api::json_response(
        200,
        &rendered_policies(
            integration.region.partition(),
            &integration.scope,
            integration.versioning,
            &state.platform_principal,
            &external_id,
            &state.app_origins,
        ),
    ))
}
