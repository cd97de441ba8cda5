//! Integrations: an org's connection to its buckets through one IAM role, and the draft an admin
//! sends to create or replace one. Request bodies are parsed field by field so that every
//! rejection names the field (`scope.buckets[2]`) and says how to fix it.

use crate::arn::RoleArn;
use crate::bucket::BucketName;
use crate::error::ApiError;
use crate::input::InputError;
use crate::region::{Partition, Region};
use crate::scope::{KeyPrefix, Scope, Scoped, MAX_DEFAULT_BUCKETS};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub const MAX_NAME_CHARS: usize = 128;

/// Codes of the validation checks, stable for clients. Here rather than in the validator because
/// presign reads them too: a recorded `ASSUME_ROLE` failure stops its URLs.
pub mod check_codes {
    pub const ASSUME_ROLE: &str = "ASSUME_ROLE";
    pub const EXTERNAL_ID_REQUIRED: &str = "EXTERNAL_ID_REQUIRED";
    pub const BUCKET_REGION: &str = "BUCKET_REGION";
    pub const LIST_ACCESS: &str = "LIST_ACCESS";
    pub const READ_ACCESS: &str = "READ_ACCESS";
    pub const VERSION_READ: &str = "VERSION_READ";
    pub const CORS: &str = "CORS";
}

/// The health an integration was last seen in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    Unverified,
    Healthy,
    Degraded,
    Failing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckResult {
    Pass,
    Warn,
    Fail,
}

/// One check of a validation report: what was checked, on what, and what to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub code: String,
    pub target: String,
    pub result: CheckResult,
    pub message: String,
}

/// The latest validation report, or `unverified` before the first one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub state: HealthState,
    pub checked_at: Option<String>,
    pub checks: Vec<Check>,
}

impl Status {
    pub fn unverified() -> Self {
        Self { state: HealthState::Unverified, checked_at: None, checks: Vec::new() }
    }
}

/// A stored integration.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    pub id: String,
    pub name: String,
    pub role_arn: RoleArn,
    pub region: Region,
    pub scope: Scope,
    pub versioning: bool,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
    pub status: Status,
    /// The latest conclusive probe of the role's trust policy ([`crate::trust`]).
    pub external_id_proof: Option<crate::trust::ExternalIdProof>,
}

impl Scoped for Integration {
    fn scope(&self) -> &Scope {
        &self.scope
    }
    fn name(&self) -> &str {
        &self.name
    }
}

pub fn scope_to_json(scope: &Scope) -> Value {
    match scope {
        Scope::Default { buckets } => json!({"type": "default", "buckets": buckets}),
        Scope::Bucket { bucket, prefix: None } => json!({"type": "bucket", "bucket": bucket}),
        Scope::Bucket { bucket, prefix: Some(p) } => {
            json!({"type": "bucket", "bucket": bucket, "prefix": p.as_str()})
        }
    }
}

impl Integration {
    /// The public JSON shape of an integration (README, API reference).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "role_arn": self.role_arn,
            "region": self.region,
            "scope": scope_to_json(&self.scope),
            "versioning": self.versioning,
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "status": self.status,
            "external_id_proof": self.external_id_proof,
        })
    }
}

/// What an admin sends to create or replace an integration, after parsing.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationDraft {
    pub name: String,
    pub role_arn: RoleArn,
    pub region: Region,
    pub scope: Scope,
    pub versioning: bool,
    /// The version the caller last read; required to replace (or sent as `If-Match`).
    pub version: Option<u64>,
}

/// Fields of the stored shape that a client may send back unchanged on replace; they are ignored.
const READ_ONLY_FIELDS: &[&str] =
    &["id", "created_at", "updated_at", "status", "history", "policies", "external_id_proof"];

fn missing(field: &str, hint: &str) -> ApiError {
    ApiError::bad_request("MISSING_FIELD", Some(field), format!("The field {field:?} is required: {hint}."))
}

fn wrong_type(field: &str, expected: &str) -> ApiError {
    ApiError::bad_request("INVALID_TYPE", Some(field), format!("The field {field:?} must be {expected}."))
}

fn unknown(field: &str, allowed: &[&str]) -> ApiError {
    ApiError::bad_request(
        "UNKNOWN_FIELD",
        Some(field),
        format!(
            "The field {field:?} is not recognised; the allowed fields are {allowed:?}. Check its spelling."
        ),
    )
}

fn input(field: &str) -> impl FnOnce(InputError) -> ApiError + '_ {
    move |e| ApiError::input(field, e)
}

/// An optional boolean field: absent or null is false.
fn optional_bool(body: &Map<String, Value>, field: &str) -> Result<bool, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(wrong_type(field, "true or false")),
    }
}

fn required_str<'a>(
    body: &'a Map<String, Value>,
    field: &str,
    path: &str,
    hint: &str,
) -> Result<&'a str, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Err(missing(path, hint)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(wrong_type(path, "a string")),
    }
}

impl IntegrationDraft {
    /// Parses a create or replace body. Every problem names its field.
    pub fn from_json(body: &Value) -> Result<Self, ApiError> {
        let Value::Object(body) = body else {
            return Err(ApiError::bad_request(
                "INVALID_BODY",
                None,
                "The body must be a JSON object with name, role_arn, region, scope and versioning.",
            ));
        };
        const ALLOWED: &[&str] = &["name", "role_arn", "region", "scope", "versioning", "version"];
        for key in body.keys() {
            if !ALLOWED.contains(&key.as_str()) && !READ_ONLY_FIELDS.contains(&key.as_str()) {
                return Err(unknown(key, ALLOWED));
            }
        }

        let name = required_str(body, "name", "name", "a display name such as \"Production images\"")?.trim();
        if name.is_empty() {
            return Err(ApiError::bad_request(
                "INVALID_NAME",
                Some("name"),
                "The name is empty; give the integration a name.",
            ));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(ApiError::bad_request(
                "FIELD_TOO_LONG",
                Some("name"),
                format!("The name has {} characters; use at most {MAX_NAME_CHARS}.", name.chars().count()),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(ApiError::bad_request(
                "INVALID_NAME",
                Some("name"),
                "The name contains a control character (such as a newline); use plain text.",
            ));
        }

        let region = Region::parse(required_str(
            body,
            "region",
            "region",
            "the bucket's region, such as \"us-east-1\"",
        )?)
        .map_err(input("region"))?;
        let role_arn = RoleArn::parse(required_str(
            body,
            "role_arn",
            "role_arn",
            "the ARN of the role you created, such as \"arn:aws:iam::123456789012:role/platform-read\"",
        )?)
        .map_err(input("role_arn"))?;
        role_arn.check_partition(region).map_err(input("role_arn"))?;

        let scope = match body.get("scope") {
            None | Some(Value::Null) => return Err(missing("scope", SCOPE_HINT)),
            Some(value) => parse_scope(value)?,
        };

        let versioning = optional_bool(body, "versioning")?;

        let version = match body.get("version") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|v| *v >= 1)
                    .ok_or_else(|| wrong_type("version", "the integer version you last read (1 or more)"))?,
            ),
        };

        Ok(Self { name: name.to_owned(), role_arn, region, scope, versioning, version })
    }
}

/// A draft scope an admin asks the access policy for, before saving (`POST /policies/access`).
#[derive(Debug, Clone, PartialEq)]
pub struct AccessDraft {
    pub scope: Scope,
    pub versioning: bool,
    /// From the optional `region`; `aws` without one.
    pub partition: Partition,
}

impl AccessDraft {
    /// Parses `{"scope", "versioning"?, "region"?}`. Every problem names its field.
    pub fn from_json(body: &Value) -> Result<Self, ApiError> {
        let Value::Object(body) = body else {
            return Err(ApiError::bad_request(
                "INVALID_BODY",
                None,
                "The body must be a JSON object with \"scope\" and optionally \"versioning\" and \"region\".",
            ));
        };
        const ALLOWED: &[&str] = &["scope", "versioning", "region"];
        if let Some(key) = body.keys().find(|key| !ALLOWED.contains(&key.as_str())) {
            return Err(unknown(key, ALLOWED));
        }
        let scope = match body.get("scope") {
            None | Some(Value::Null) => return Err(missing("scope", SCOPE_HINT)),
            Some(value) => parse_scope(value)?,
        };
        let versioning = optional_bool(body, "versioning")?;
        let partition = match body.get("region") {
            None | Some(Value::Null) => Partition::Aws,
            Some(Value::String(region)) => Region::parse(region).map_err(input("region"))?.partition(),
            Some(_) => return Err(wrong_type("region", "a string such as \"us-east-1\"")),
        };
        Ok(Self { scope, versioning, partition })
    }
}

const SCOPE_HINT: &str =
    "{\"type\": \"default\", \"buckets\": [...]} or {\"type\": \"bucket\", \"bucket\": \"...\"}";

/// Parses `{"type": "default", "buckets": [...]}` or `{"type": "bucket", "bucket", "prefix"?}`.
pub fn parse_scope(value: &Value) -> Result<Scope, ApiError> {
    let Value::Object(scope) = value else {
        return Err(wrong_type(
            "scope",
            "an object such as {\"type\": \"bucket\", \"bucket\": \"my-bucket\"}",
        ));
    };
    let kind = required_str(scope, "type", "scope.type", "\"default\" or \"bucket\"")?;
    match kind {
        "default" => parse_default_scope(scope),
        "bucket" => parse_bucket_scope(scope),
        other => Err(ApiError::bad_request(
            "INVALID_SCOPE",
            Some("scope.type"),
            format!("Scope type {other:?} is not known; use \"default\" or \"bucket\"."),
        )),
    }
}

/// `{"type": "default", "buckets": [...]}`: every bucket parsed, none twice, at most
/// [`MAX_DEFAULT_BUCKETS`].
fn parse_default_scope(scope: &Map<String, Value>) -> Result<Scope, ApiError> {
    for key in scope.keys() {
        match key.as_str() {
            "type" | "buckets" => {}
            "prefix" | "bucket" => {
                return Err(ApiError::bad_request(
                    "INVALID_SCOPE",
                    Some(&format!("scope.{key}")),
                    format!(
                        "A default scope serves whole buckets and takes no {key:?}; use \
                         {{\"type\": \"bucket\", \"bucket\": ..., \"prefix\": ...}} for one bucket or prefix."
                    ),
                ))
            }
            other => return Err(unknown(&format!("scope.{other}"), &["type", "buckets"])),
        }
    }
    let buckets = match scope.get("buckets") {
        None | Some(Value::Null) => {
            return Err(missing("scope.buckets", "the list of buckets the platform may read"))
        }
        Some(Value::Array(items)) => items,
        Some(_) => return Err(wrong_type("scope.buckets", "a list of bucket names")),
    };
    if buckets.len() > MAX_DEFAULT_BUCKETS {
        return Err(ApiError::bad_request(
            "TOO_MANY_BUCKETS",
            Some("scope.buckets"),
            format!(
                "The default scope lists {} buckets; at most {MAX_DEFAULT_BUCKETS} are allowed. \
                 Connect the rest with bucket-scoped integrations.",
                buckets.len()
            ),
        ));
    }
    let mut parsed = Vec::with_capacity(buckets.len());
    for (i, item) in buckets.iter().enumerate() {
        let path = format!("scope.buckets[{i}]");
        let Value::String(name) = item else { return Err(wrong_type(&path, "a bucket name string")) };
        let bucket = BucketName::parse(name).map_err(|e| ApiError::input(path.clone(), e))?;
        if parsed.contains(&bucket) {
            return Err(ApiError::bad_request(
                "DUPLICATE_BUCKET",
                Some(&path),
                format!("Bucket {name:?} is listed twice; list each permitted bucket once."),
            ));
        }
        parsed.push(bucket);
    }
    Scope::default_for(parsed).map_err(input("scope.buckets"))
}

/// `{"type": "bucket", "bucket": ..., "prefix"?: ...}` (an empty prefix is the whole bucket).
fn parse_bucket_scope(scope: &Map<String, Value>) -> Result<Scope, ApiError> {
    for key in scope.keys() {
        match key.as_str() {
            "type" | "bucket" | "prefix" => {}
            "buckets" => {
                return Err(ApiError::bad_request(
                    "INVALID_SCOPE",
                    Some("scope.buckets"),
                    "A bucket scope names one bucket in \"bucket\"; use {\"type\": \"default\", \
                     \"buckets\": [...]} to permit several.",
                ))
            }
            other => return Err(unknown(&format!("scope.{other}"), &["type", "bucket", "prefix"])),
        }
    }
    let bucket = BucketName::parse(required_str(scope, "bucket", "scope.bucket", "the bucket's name")?)
        .map_err(input("scope.bucket"))?;
    let prefix = match scope.get("prefix") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.is_empty() => None,
        Some(Value::String(p)) => Some(KeyPrefix::parse(p).map_err(input("scope.prefix"))?),
        Some(_) => return Err(wrong_type("scope.prefix", "a key prefix string such as \"images/\"")),
    };
    Ok(Scope::Bucket { bucket, prefix })
}
