//! The one error type every handler returns. It decides, in one place, the HTTP status, the
//! stable `SNAKE_UPPER` code and the JSON body `{"error": {"code", "message", "field"?}}`.
//! Messages tell the caller what to do; causes (AWS errors, I/O) are logged, never shown.

use crate::domain::input::{InputError, Rejection};
use serde_json::{json, Value};
use std::error::Error as StdError;

type Cause = Box<dyn StdError + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A value failed a domain rule (bucket name, ARN, region, locator, ...).
    #[error("{source}")]
    Input { field: Option<String>, source: InputError },
    /// The request's shape is wrong: bad JSON, a missing or unknown field, a wrong type.
    #[error("{message}")]
    BadRequest { code: &'static str, field: Option<String>, message: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The scope is already served by another integration of the org.
    #[error("{message}")]
    ScopeConflict { message: String },
    /// Another conflict with what is stored, with its own code.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The caller's `version` is not the stored one (or none was sent where one is required).
    #[error("{message}")]
    Precondition { code: &'static str, message: String },
    #[error("The request body is {size} bytes; the limit is {limit} bytes.")]
    PayloadTooLarge { size: usize, limit: usize },
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// The same work is already running for the caller; `retry_after` says when it will be done.
    #[error("{message}")]
    Busy { message: String, retry_after: u64 },
    /// A stable link that opens no object (`GET /l/{token}`): see [`LinkRefusal`].
    #[error("{message}")]
    Link { refusal: LinkRefusal, message: String },
    /// A dependency (DynamoDB, STS) failed in a way a retry may fix.
    #[error("{message}")]
    Unavailable {
        message: String,
        #[source]
        cause: Cause,
    },
    /// A bug or an unexpected answer. The client sees a generic message.
    #[error("internal error")]
    Internal(#[source] Cause),
}

/// Why a stable link is not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    /// Not a link this service issued, or altered: 403 `LINK_INVALID`.
    Invalid,
    /// Authentic and past its expiry: 410 `LINK_EXPIRED`.
    Expired,
    /// No integration of the org serves its locator any more (deleted, or its scope changed):
    /// 404 `LINK_NOT_SERVED`.
    NotServed,
    /// An integration serves it, and presign would refuse it with this code (the trust gate, a
    /// denied role, file versioning off): 403 with presign's code.
    Refused(&'static str),
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        let Rejection { code, field, message } = rejection;
        ApiError::BadRequest { code, field, message }
    }
}

impl ApiError {
    pub fn input(field: impl Into<String>, source: InputError) -> Self {
        ApiError::Input { field: Some(field.into()), source }
    }

    pub fn bad_request(code: &'static str, field: Option<&str>, message: impl Into<String>) -> Self {
        ApiError::BadRequest { code, field: field.map(str::to_owned), message: message.into() }
    }

    pub fn internal(cause: impl Into<Cause>) -> Self {
        ApiError::Internal(cause.into())
    }

    pub fn unavailable(message: impl Into<String>, cause: impl Into<Cause>) -> Self {
        ApiError::Unavailable { message: message.into(), cause: cause.into() }
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Input { .. } | ApiError::BadRequest { .. } => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::ScopeConflict { .. } | ApiError::Conflict { .. } => 409,
            ApiError::Precondition { .. } => 412,
            ApiError::PayloadTooLarge { .. } | ApiError::TooLarge(_) => 413,
            ApiError::TooManyRequests(_) | ApiError::Busy { .. } => 429,
            ApiError::Link { refusal, .. } => match refusal {
                LinkRefusal::Invalid | LinkRefusal::Refused(_) => 403,
                LinkRefusal::Expired => 410,
                LinkRefusal::NotServed => 404,
            },
            ApiError::Unavailable { .. } => 503,
            ApiError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Input { source, .. } => source.kind.code(),
            ApiError::BadRequest { code, .. }
            | ApiError::Precondition { code, .. }
            | ApiError::Conflict { code, .. } => code,
            ApiError::Unauthorized(_) => "UNAUTHORIZED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            ApiError::ScopeConflict { .. } => "SCOPE_CONFLICT",
            ApiError::PayloadTooLarge { .. } | ApiError::TooLarge(_) => "PAYLOAD_TOO_LARGE",
            ApiError::TooManyRequests(_) | ApiError::Busy { .. } => "TOO_MANY_REQUESTS",
            ApiError::Link { refusal, .. } => match refusal {
                LinkRefusal::Invalid => "LINK_INVALID",
                LinkRefusal::Expired => "LINK_EXPIRED",
                LinkRefusal::NotServed => "LINK_NOT_SERVED",
                LinkRefusal::Refused(code) => code,
            },
            ApiError::Unavailable { .. } => "SERVICE_UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// What the client reads. Internal causes are replaced by a generic sentence.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => {
                "Something went wrong on our side. Try again; if it keeps failing, contact support."
                    .to_owned()
            }
            other => other.to_string(),
        }
    }

    /// Seconds a client should wait before it tries again, sent as `Retry-After`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Unavailable { .. } | ApiError::TooManyRequests(_) => {
                Some(crate::aws::limits::RETRY_AFTER_SECS)
            }
            ApiError::Busy { retry_after, .. } => Some((*retry_after).max(1)),
            _ => None,
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::Input { field, .. } | ApiError::BadRequest { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    pub fn body(&self) -> Value {
        let mut error = json!({"code": self.code(), "message": self.public_message()});
        if let Some(field) = self.field() {
            error["field"] = Value::String(field.to_owned());
        }
        json!({ "error": error })
    }

    /// The full cause chain, for the log line (never for the client).
    pub fn cause_chain(&self) -> String {
        cause_chain(self)
    }
}

/// The store's failures as the client sees them: the one place they get a status and words.
impl From<crate::aws::store::StoreError> for ApiError {
    fn from(e: crate::aws::store::StoreError) -> Self {
        use crate::aws::store::StoreError;
        match e {
            StoreError::NotFound { id } => ApiError::NotFound(format!(
                "No integration {:?} exists in your organization. List integrations to find its id.",
                crate::domain::input::quoted(&id).trim_matches('"')
            )),
            StoreError::ScopeConflict { scope_key, holder_id, holder_name } => {
                let what = if scope_key == "s3://" {
                    "Your organization already has a default integration".to_owned()
                } else {
                    format!("The scope {scope_key:?} is already served")
                };
                ApiError::ScopeConflict {
                    message: format!(
                        "{what}: {holder_name:?} (id {holder_id}). Edit that integration, delete it first, or pick \
                         another bucket or prefix."
                    ),
                }
            }
            StoreError::VersionMismatch { id, current, sent } => ApiError::Precondition {
                code: "VERSION_MISMATCH",
                message: format!(
                    "Integration {id} was changed by someone else: it is at version {current}, you sent version \
                     {sent}. Reload it, reapply your change and send version {current}."
                ),
            },
            StoreError::Contended(message) => ApiError::TooManyRequests(message.to_owned()),
            StoreError::TooManyIntegrations { max } => ApiError::Conflict {
                code: "INTEGRATION_LIMIT_REACHED",
                message: format!(
                    "Your organization has {max} integrations, the most it may have. Delete one it no longer \
                     uses, or ask the platform's operators to raise the limit (INTEGRATIONS_PER_ORG)."
                ),
            },
            StoreError::IdempotencyKeyReused { reason } => ApiError::Conflict {
                code: "IDEMPOTENCY_KEY_REUSED",
                message: format!(
                    "This Idempotency-Key was used before and {reason}. Send a new key with a new integration."
                ),
            },
            StoreError::InvalidCursor => ApiError::bad_request(
                "INVALID_CURSOR",
                Some("next"),
                "The page cursor is not one this API returned; start again without it.",
            ),
            StoreError::RotationInProgress { until } => ApiError::Conflict {
                code: "ROTATION_IN_PROGRESS",
                message: format!(
                    "An external-ID rotation is already in progress: the previous ID is honoured until {until}. \
                     Update your roles' trust policies (GET /policies/trust), validate them, then complete it \
                     (POST /policies/trust/rotate/complete) before rotating again."
                ),
            },
            StoreError::NoRotation => ApiError::Conflict {
                code: "NO_ROTATION",
                message: "No external-ID rotation is in progress, so there is nothing to complete. Start one with \
                          POST /policies/trust/rotate."
                    .to_owned(),
            },
            e @ StoreError::Unavailable(_) => {
                ApiError::unavailable("The integrations store did not answer; try again in a moment.", e)
            }
            e @ StoreError::Internal(_) => ApiError::internal(e),
        }
    }
}

pub use crate::cause_chain;
