//! The `integrations` function: create, list, read, replace and delete an org's integrations
//! (`/integrations*`), and read the org's audit trail of those changes (`/audit`). Admin only;
//! every key is scoped to the caller's org.

use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use shared::api;
use shared::api::auth::Caller;
use shared::api::config::ApiConfig;
use shared::api::error::ApiError;
use shared::api::routes::Route;
use shared::api::AdminState;
use shared::aws::endpoint_guard::{admit, EndpointPolicy, RefusalReason};
use shared::aws::secrets::{SecretError, SharedSealer};
use shared::aws::store::SharedStore;
use shared::aws::store::{CreateOptions, Created, Idempotency, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use shared::domain::integration::{Access, Integration, IntegrationDraft};
use shared::domain::org::OrgId;
use shared::domain::s3_compatible::{SealedSecret, SecretInput};

/// `AUDIT_RETENTION_DAYS` (one home: `shared::api::config`).
pub use shared::api::config::audit_retention_days;

/// The largest create or replace body accepted.
pub const MAX_BODY_BYTES: usize = api::MAX_ADMIN_BODY_BYTES;

/// Built once per Lambda instance and shared by every invocation.
#[derive(Debug, Clone)]
pub struct State {
    pub admin: AdminState,
    /// Seals S3-compatible stores' secret access keys before they are stored.
    pub secrets: SharedSealer,
    /// Which S3-compatible endpoints may be saved ([`shared::aws::endpoint_guard`]).
    pub endpoints: EndpointPolicy,
}

impl State {
    pub fn new(
        store: SharedStore,
        config: ApiConfig,
        secrets: SharedSealer,
        endpoints: EndpointPolicy,
    ) -> Self {
        Self { admin: AdminState::new(store, config), secrets, endpoints }
    }
}

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(api::respond(dispatch(state, &req).await))
}

async fn dispatch(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let admin = &state.admin;
    let (caller, route, params) = admin.admin_request(req)?;
    let id = params.get("id").map(String::as_str).unwrap_or_default();
    match route {
        Route::CreateIntegration => create(state, &caller, req).await,
        Route::ListIntegrations => list(state, &caller, req).await,
        Route::Audit => audit(state, &caller, req).await,
        Route::GetIntegration => {
            let integration = admin.store.get(&caller.org, id).await?;
            let history =
                admin.store.report_history(&caller.org, id, shared::aws::store::HISTORY_LIMIT).await?;
            let mut body = integration.to_json();
            body["history"] = serde_json::to_value(history).map_err(ApiError::internal)?;
            Ok(api::json_response(200, &body))
        }
        Route::ReplaceIntegration => replace(state, &caller, req, id).await,
        Route::DeleteIntegration => {
            admin.store.delete(&caller.org, &caller.actor(), id, api::if_match(req)?).await?;
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
    let admin = &state.admin;
    let draft = IntegrationDraft::from_json(&api::json_body(req, MAX_BODY_BYTES)?)?;
    admissible(state, &draft).await?;
    let idempotency =
        api::idempotency_key(req)?.map(|key| Idempotency { key, fingerprint: draft.fingerprint() });
    let options = CreateOptions { max_integrations: admin.max_integrations, idempotency };
    let external_id = admin.store.external_id(&caller.org).await?;
    let draft = seal(state, &caller.org, draft, None).await?;
    let actor = caller.actor();
    let Created { integration, replayed } =
        admin.store.create_with(&caller.org, &actor, draft, &options).await?;
    tracing::info!(org = %caller.org, id = %integration.id, kind = integration.access.kind(), scope = %integration.scope.key(), replayed, "integration created");
    let mut body = integration.to_json();
    body["policies"] = admin.rendered_policies(
        &integration,
        &shared::domain::external_id::ExternalIds::single(external_id.clone()),
    );
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
    let limit = page_limit(req)?;
    let cursor = api::query_param(req, "next");
    let page = state.admin.store.list(&caller.org, cursor.as_deref(), limit).await?;
    let integrations: Vec<Value> = page.integrations.iter().map(|i| i.to_json()).collect();
    let mut body = json!({ "integrations": integrations });
    if let Some(next) = page.next {
        body["next"] = Value::String(next);
    }
    Ok(api::json_response(200, &body))
}

/// `GET /audit`: the org's audit trail, newest first, paged as `GET /integrations` is (the same
/// `limit` bounds, an opaque `next`). The keys are the caller's org's, so no cursor or id can
/// reach another org's records.
async fn audit(state: &State, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
    let limit = page_limit(req)?;
    let cursor = api::query_param(req, "next");
    let page = state.admin.store.audit_log(&caller.org, cursor.as_deref(), limit).await?;
    let mut body = json!({ "events": page.events });
    if let Some(next) = page.next {
        body["next"] = Value::String(next);
    }
    Ok(api::json_response(200, &body))
}

/// The `limit` query parameter of a listing: 1..=[`MAX_PAGE_SIZE`], [`DEFAULT_PAGE_SIZE`] when absent.
fn page_limit(req: &Request) -> Result<i32, ApiError> {
    Ok(match api::query_param(req, "limit") {
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
    })
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
    admissible(state, &draft).await?;
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
    // Keeping the stored secret: it is the one of the version being replaced, and the store
    // replaces only that version, so the kept secret is never another version's.
    let current = match &draft.access {
        Access::S3Compatible(store) if store.secret == SecretInput::Keep => {
            Some(state.admin.store.get(&caller.org, id).await?)
        }
        _ => None,
    };
    let draft = seal(state, &caller.org, draft, current.as_ref()).await?;
    let updated = state.admin.store.replace(&caller.org, &caller.actor(), id, draft, expected).await?;
    tracing::info!(org = %caller.org, id, version = updated.version, "integration replaced");
    // A replace may change what the admin pastes (a bucket, versioning, a KMS key): the answer
    // carries the documents, as create's does.
    let external_id = state.admin.store.external_id(&caller.org).await?;
    let mut body = updated.to_json();
    body["policies"] = state
        .admin
        .rendered_policies(&updated, &shared::domain::external_id::ExternalIds::single(external_id.clone()));
    Ok(api::json_response(200, &body))
}

/// What may be saved besides the body's own rules: a role outside the platform's account, an
/// S3-compatible endpoint the SSRF guard admits (public https, or loopback where the deployment
/// allows it).
async fn admissible(state: &State, draft: &IntegrationDraft<SecretInput>) -> Result<(), ApiError> {
    match &draft.access {
        Access::AwsRole(role) => Ok(state.admin.platform.admits(&role.role_arn)?),
        Access::S3Compatible(store) => {
            let endpoint = &store.endpoint;
            admit(endpoint.host(), endpoint.port(), endpoint.is_https(), state.endpoints)
                .await
                .map(|_| ())
                .map_err(|refused| {
                    let code = match refused.reason {
                        RefusalReason::PlainHttp => "ENDPOINT_NOT_HTTPS",
                        RefusalReason::NotPublic => "ENDPOINT_NOT_PUBLIC",
                        RefusalReason::Unresolvable => "ENDPOINT_UNRESOLVABLE",
                    };
                    ApiError::bad_request(code, Some("endpoint"), refused.message)
                })
        }
    }
}

/// The draft with its secret sealed: a new secret through KMS, bound to the org; a kept one taken
/// from `current` (the version being replaced). Creating needs a secret.
async fn seal(
    state: &State,
    org: &OrgId,
    draft: IntegrationDraft<SecretInput>,
    current: Option<&Integration>,
) -> Result<IntegrationDraft<SealedSecret>, ApiError> {
    let sealed = match &draft.access {
        Access::AwsRole(_) => None,
        Access::S3Compatible(store) => Some(match &store.secret {
            SecretInput::New(secret) => state.secrets.seal(org, secret).await.map_err(|e| match e {
                SecretError::Unavailable(_) => ApiError::unavailable(
                    "The secret access key could not be sealed just now (KMS did not answer); nothing was saved. \
                     Try again shortly.",
                    e,
                ),
                SecretError::Refused(_) => ApiError::internal(e),
            })?,
            SecretInput::Keep => match current.map(|c| &c.access) {
                Some(Access::S3Compatible(stored)) if stored.access_key_id == store.access_key_id => {
                    stored.secret.clone()
                }
                Some(Access::S3Compatible(_)) => {
                    return Err(ApiError::bad_request(
                        "MISSING_FIELD",
                        Some("secret_access_key"),
                        "The field \"secret_access_key\" is required when the access key ID changes: the stored \
                         secret belongs to the old key.",
                    ))
                }
                _ => {
                    return Err(ApiError::bad_request(
                        "MISSING_FIELD",
                        Some("secret_access_key"),
                        if current.is_some() {
                            "The field \"secret_access_key\" is required: this integration had no S3-compatible \
                             store before, so there is no stored secret to keep."
                        } else {
                            "The field \"secret_access_key\" is required: the secret of the access key the store \
                             issued for the platform. It is stored encrypted and never shown again."
                        },
                    ))
                }
            },
        }),
    };
    draft.map_secret(|_| {
        sealed.ok_or_else(|| ApiError::internal("an S3-compatible draft without a sealed secret"))
    })
}
