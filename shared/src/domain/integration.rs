//! Integrations: an org's connection to its buckets through one IAM role, and the draft an admin
//! sends to create or replace one. Request bodies are read by the DTOs in [`dto`], so that every
//! rejection names the field (`scope.buckets[2]`) and says how to fix it.

pub mod dto;

use crate::domain::arn::RoleArn;
use crate::domain::input::Rejection;
use crate::domain::region::{Partition, Region};
use crate::domain::scope::{Scope, Scoped};
use dto::{AccessDraftDto, IntegrationDraftDto, ScopeDto};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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
    /// The latest conclusive probe of the role's trust policy ([`crate::aws::trust`]).
    pub external_id_proof: Option<crate::domain::external_id::ExternalIdProof>,
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

impl IntegrationDraft {
    /// A digest of everything the draft would store: two drafts with the same fingerprint make
    /// the same integration (an idempotent create's retry must send the same one).
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for part in [self.name.as_str(), self.role_arn.as_str(), self.region.as_str(), &self.scope.key()] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        for bucket in self.scope.buckets() {
            hasher.update(bucket.as_str().as_bytes());
            hasher.update([0]);
        }
        hasher.update([u8::from(self.versioning)]);
        hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses a create or replace body. Every problem names its field.
    pub fn from_json(body: &Value) -> Result<Self, Rejection> {
        IntegrationDraftDto::from_json(body).and_then(Self::try_from)
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
    pub fn from_json(body: &Value) -> Result<Self, Rejection> {
        AccessDraftDto::from_json(body).and_then(Self::try_from)
    }
}

/// Parses `{"type": "default", "buckets": [...]}` or `{"type": "bucket", "bucket", "prefix"?}`:
/// a body's scope, or a stored one.
pub fn parse_scope(value: &Value) -> Result<Scope, Rejection> {
    ScopeDto::from_json(value).and_then(Scope::try_from)
}
