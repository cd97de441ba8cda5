//! Integrations: an org's connection to its buckets, through one IAM role or an S3-compatible
//! store's access keys ([`Access`]), and the draft an admin
//! sends to create or replace one. Request bodies are read by the DTOs in [`dto`], so that every
//! rejection names the field (`scope.buckets[2]`) and says how to fix it.

pub mod dto;

use crate::domain::arn::{KmsKeyArn, RoleArn};
use crate::domain::input::Rejection;
use crate::domain::region::{Partition, Region};
use crate::domain::s3_compatible::{
    AccessKeyId, AddressingStyle, SealedSecret, SecretInput, StoreEndpoint, StoreRegion,
};
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
    /// The sampled object is SSE-KMS encrypted: is its key one the integration lists?
    pub const KMS_DECRYPT: &str = "KMS_DECRYPT";
    /// `s3_compatible`: the endpoint is one the platform may call, and it answers.
    pub const ENDPOINT_REACHABLE: &str = "ENDPOINT_REACHABLE";
    /// During an external-ID rotation: which of the org's IDs the role accepts.
    pub const EXTERNAL_ID_ROTATION: &str = "EXTERNAL_ID_ROTATION";
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

impl HealthState {
    /// Its name in reports, audit records and metrics (as serialized): `"healthy"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Unverified => "unverified",
            HealthState::Healthy => "healthy",
            HealthState::Degraded => "degraded",
            HealthState::Failing => "failing",
        }
    }
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

/// The most a report may take as stored JSON. A DynamoDB item holds 400 KB: the integration item
/// carries the latest report beside its configuration (a few KB even with 100 buckets), and each
/// history item one report, so this leaves a wide margin.
pub const MAX_REPORT_BYTES: usize = 128 * 1024;
/// A check's message is cut past this (messages quote bucket names, prefixes and AWS's words).
pub const MAX_CHECK_MESSAGE_BYTES: usize = 2000;

impl Status {
    pub fn unverified() -> Self {
        Self { state: HealthState::Unverified, checked_at: None, checks: Vec::new() }
    }

    /// The report as it is stored and shown: each message at most [`MAX_CHECK_MESSAGE_BYTES`],
    /// and the whole at most [`MAX_REPORT_BYTES`] however many buckets and origins the scope has.
    /// When the checks do not all fit, failures are kept first, then warnings, then passes, in
    /// their order; the rest are counted in one last `REPORT_TRUNCATED` check. The state is the
    /// state of every check, listed or not.
    pub fn bounded(mut self) -> Self {
        for check in &mut self.checks {
            cut(&mut check.message, MAX_CHECK_MESSAGE_BYTES);
            cut(&mut check.target, 300);
        }
        let size = |c: &Check| serde_json::to_vec(c).map_or(MAX_REPORT_BYTES, |v| v.len() + 1);
        let sizes: Vec<usize> = self.checks.iter().map(size).collect();
        if sizes.iter().sum::<usize>() + 200 <= MAX_REPORT_BYTES {
            return self;
        }
        // Room for the state, the time and the closing summary check.
        let mut room = MAX_REPORT_BYTES - 1200;
        let mut keep = vec![false; self.checks.len()];
        for severity in [CheckResult::Fail, CheckResult::Warn, CheckResult::Pass] {
            for (i, check) in self.checks.iter().enumerate() {
                if check.result == severity && sizes[i] <= room {
                    keep[i] = true;
                    room -= sizes[i];
                }
            }
        }
        let mut dropped = [0usize; 3];
        let mut kept = Vec::with_capacity(self.checks.len());
        for (check, keep) in self.checks.into_iter().zip(keep) {
            if keep {
                kept.push(check);
            } else {
                dropped[check.result as usize] += 1;
            }
        }
        let [pass, warn, fail] = dropped;
        kept.push(Check {
            code: "REPORT_TRUNCATED".to_owned(),
            target: "report".to_owned(),
            result: if fail > 0 {
                CheckResult::Fail
            } else if warn > 0 {
                CheckResult::Warn
            } else {
                CheckResult::Pass
            },
            message: format!(
                "{} more checks ({fail} failed, {warn} warned, {pass} passed) are not listed: a report is kept \
                 under {} KB. Failures are listed first; fix those and validate again, or split the scope into \
                 integrations with fewer buckets to see every check.",
                pass + warn + fail,
                MAX_REPORT_BYTES / 1024
            ),
        });
        self.checks = kept;
        self
    }
}

/// Cuts `text` to at most `max` bytes at a character boundary, marking the cut.
fn cut(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push('…');
}

/// How the platform reaches an integration's buckets: through the customer's IAM role (STS
/// credentials, the org's external ID), or with an S3-compatible store's own access keys. `S` is
/// the form of the store's secret: [`SealedSecret`] once stored, [`SecretInput`] in a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Access<S = SealedSecret> {
    AwsRole(AwsRole),
    S3Compatible(S3Compatible<S>),
}

/// An `aws_role` integration: the role to assume, the region of its buckets, and the KMS keys its
/// SSE-KMS objects are encrypted with (the access policy grants `kms:Decrypt` on them).
#[derive(Debug, Clone, PartialEq)]
pub struct AwsRole {
    pub role_arn: RoleArn,
    pub region: Region,
    pub kms_key_arns: Vec<KmsKeyArn>,
}

/// An `s3_compatible` integration: where the store is, how it addresses buckets, the region it
/// signs for, and its access keys.
#[derive(Debug, Clone, PartialEq)]
pub struct S3Compatible<S = SealedSecret> {
    pub endpoint: StoreEndpoint,
    pub addressing_style: AddressingStyle,
    pub region: StoreRegion,
    pub access_key_id: AccessKeyId,
    pub secret: S,
}

/// The `kind` of an integration, as clients name it.
pub const KIND_AWS_ROLE: &str = "aws_role";
pub const KIND_S3_COMPATIBLE: &str = "s3_compatible";

impl<S> Access<S> {
    pub fn kind(&self) -> &'static str {
        match self {
            Access::AwsRole(_) => KIND_AWS_ROLE,
            Access::S3Compatible(_) => KIND_S3_COMPATIBLE,
        }
    }

    pub fn aws_role(&self) -> Option<&AwsRole> {
        match self {
            Access::AwsRole(role) => Some(role),
            Access::S3Compatible(_) => None,
        }
    }

    pub fn role_arn(&self) -> Option<&RoleArn> {
        self.aws_role().map(|role| &role.role_arn)
    }

    /// The same access with the store's secret in another form (`S3Compatible` only; an AWS role
    /// has no secret, and `secret` is not called).
    pub fn map_secret<T, E>(self, secret: impl FnOnce(S) -> Result<T, E>) -> Result<Access<T>, E> {
        Ok(match self {
            Access::AwsRole(role) => Access::AwsRole(role),
            Access::S3Compatible(store) => Access::S3Compatible(S3Compatible {
                endpoint: store.endpoint,
                addressing_style: store.addressing_style,
                region: store.region,
                access_key_id: store.access_key_id,
                secret: secret(store.secret)?,
            }),
        })
    }

    /// The fields of the public JSON shape that depend on the kind (the secret never among them).
    fn json_fields(&self, into: &mut serde_json::Map<String, Value>) {
        into.insert("kind".into(), json!(self.kind()));
        match self {
            Access::AwsRole(role) => {
                into.insert("role_arn".into(), json!(role.role_arn));
                into.insert("region".into(), json!(role.region));
                into.insert("kms_key_arns".into(), json!(role.kms_key_arns));
            }
            Access::S3Compatible(store) => {
                into.insert("endpoint".into(), json!(store.endpoint.as_str()));
                into.insert("addressing_style".into(), json!(store.addressing_style.as_str()));
                into.insert("region".into(), json!(store.region.as_str()));
                into.insert("access_key_id".into(), json!(store.access_key_id.as_str()));
                into.insert("secret_set".into(), json!(true));
            }
        }
    }

    /// Feeds what identifies the access into a fingerprint (never the secret).
    fn fingerprint_into(&self, hasher: &mut sha2::Sha256) {
        use sha2::Digest;
        let mut part = |text: &[u8]| {
            hasher.update(text);
            hasher.update([0]);
        };
        part(self.kind().as_bytes());
        match self {
            Access::AwsRole(role) => {
                part(role.role_arn.as_str().as_bytes());
                part(role.region.as_str().as_bytes());
                for key in &role.kms_key_arns {
                    part(key.as_str().as_bytes());
                }
            }
            Access::S3Compatible(store) => {
                part(store.endpoint.as_str().as_bytes());
                part(store.addressing_style.as_str().as_bytes());
                part(store.region.as_str().as_bytes());
                part(store.access_key_id.as_str().as_bytes());
            }
        }
    }
}

/// A stored integration.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    pub id: String,
    pub name: String,
    pub access: Access,
    pub scope: Scope,
    pub versioning: bool,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
    pub status: Status,
    /// The latest conclusive probe of the role's trust policy ([`crate::aws::trust`]); `aws_role` only.
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
    /// The public JSON shape of an integration (README, API reference). Never the secret: an
    /// `s3_compatible` one says `"secret_set": true` instead.
    pub fn to_json(&self) -> Value {
        let mut fields = serde_json::Map::new();
        fields.insert("id".into(), json!(self.id));
        fields.insert("name".into(), json!(self.name));
        self.access.json_fields(&mut fields);
        fields.insert("scope".into(), scope_to_json(&self.scope));
        fields.insert("versioning".into(), json!(self.versioning));
        fields.insert("version".into(), json!(self.version));
        fields.insert("created_at".into(), json!(self.created_at));
        fields.insert("updated_at".into(), json!(self.updated_at));
        fields.insert("status".into(), json!(self.status));
        if self.access.aws_role().is_some() {
            fields.insert("external_id_proof".into(), json!(self.external_id_proof));
        }
        Value::Object(fields)
    }

    pub fn role_arn(&self) -> Option<&RoleArn> {
        self.access.role_arn()
    }
}

/// What an admin sends to create or replace an integration, after parsing (`S` =
/// [`SecretInput`]), and once its secret is sealed, what the store saves (`S` = [`SealedSecret`]).
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationDraft<S = SealedSecret> {
    pub name: String,
    pub access: Access<S>,
    pub scope: Scope,
    pub versioning: bool,
    /// The version the caller last read; required to replace (or sent as `If-Match`).
    pub version: Option<u64>,
}

impl IntegrationDraft<SecretInput> {
    /// Parses a create or replace body. Every problem names its field.
    pub fn from_json(body: &Value) -> Result<Self, Rejection> {
        IntegrationDraftDto::from_json(body).and_then(Self::try_from)
    }
}

impl<S> IntegrationDraft<S> {
    /// A digest of everything the draft would store: two drafts with the same fingerprint make
    /// the same integration (an idempotent create's retry must send the same one). Everything
    /// but the secret: the fingerprint is stored with the idempotency key, and a digest of a short
    /// secret could be guessed offline; a retry that changes only the secret gets the first
    /// create's integration, sealed with the first secret.
    pub fn fingerprint(&self) -> String {
        self.digest()
    }
}

impl IntegrationDraft {
    /// Parses an `aws_role` body straight into what the store saves (it has no secret to seal):
    /// for tools and tests that write integrations without the API. An `s3_compatible` body is
    /// refused: its secret must go through a sealer.
    pub fn role_from_json(body: &Value) -> Result<Self, Rejection> {
        IntegrationDraft::from_json(body)?.map_secret(|_| {
            Err(Rejection::new(
                "SECRET_NOT_SEALED",
                Some("kind"),
                "An s3_compatible integration's secret must be sealed before it is stored.",
            ))
        })
    }
}

impl<S> IntegrationDraft<S> {
    fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(self.name.as_bytes());
        hasher.update([0]);
        self.access.fingerprint_into(&mut hasher);
        hasher.update(self.scope.key().as_bytes());
        hasher.update([0]);
        for bucket in self.scope.buckets() {
            hasher.update(bucket.as_str().as_bytes());
            hasher.update([0]);
        }
        hasher.update([u8::from(self.versioning)]);
        hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The same draft with its secret in another form ([`Access::map_secret`]).
    pub fn map_secret<T, E>(self, secret: impl FnOnce(S) -> Result<T, E>) -> Result<IntegrationDraft<T>, E> {
        Ok(IntegrationDraft {
            name: self.name,
            access: self.access.map_secret(secret)?,
            scope: self.scope,
            versioning: self.versioning,
            version: self.version,
        })
    }
}

/// A draft scope an admin asks the access policy for, before saving (`POST /policies/access`).
#[derive(Debug, Clone, PartialEq)]
pub struct AccessDraft {
    pub scope: Scope,
    pub versioning: bool,
    /// From the optional `region`; `aws` without one.
    pub partition: Partition,
    /// From the optional `kms_key_arns`; each in `partition` (and in `region`, when one is sent).
    pub kms_key_arns: Vec<KmsKeyArn>,
}

impl AccessDraft {
    /// Parses `{"scope", "versioning"?, "region"?, "kms_key_arns"?}`. Every problem names its field.
    pub fn from_json(body: &Value) -> Result<Self, Rejection> {
        AccessDraftDto::from_json(body).and_then(Self::try_from)
    }
}

/// Parses `{"type": "default", "buckets": [...]}` or `{"type": "bucket", "bucket", "prefix"?}`:
/// a body's scope, or a stored one.
pub fn parse_scope(value: &Value) -> Result<Scope, Rejection> {
    ScopeDto::from_json(value).and_then(Scope::try_from)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod report_bound_tests {
    use super::*;

    fn check(code: &str, target: String, result: CheckResult, message: String) -> Check {
        Check { code: code.to_owned(), target, result, message }
    }

    /// A default scope at its limit of 100 buckets, 20 app origins, every message near its cap.
    fn the_largest_report() -> Status {
        let mut checks = Vec::new();
        for b in 0..100 {
            let target = format!("bucket:bucket-{b:03}-{}", "x".repeat(40));
            for (code, result) in [
                ("BUCKET_REGION", CheckResult::Pass),
                ("LIST_ACCESS", CheckResult::Pass),
                ("READ_ACCESS", if b % 10 == 0 { CheckResult::Fail } else { CheckResult::Warn }),
            ] {
                checks.push(check(code, target.clone(), result, "m".repeat(1900)));
            }
            for o in 0..20 {
                checks.push(check(
                    "CORS",
                    format!("origin:https://app-{o}.example.com"),
                    CheckResult::Pass,
                    "c".repeat(1900),
                ));
            }
        }
        Status { state: HealthState::Failing, checked_at: Some("2026-12-06T00:00:00Z".into()), checks }
    }

    #[test]
    fn the_largest_report_fits_in_a_dynamodb_item_with_its_failures_listed_first() {
        let report = the_largest_report();
        let failures = report.checks.iter().filter(|c| c.result == CheckResult::Fail).count();
        let total = report.checks.len();
        assert!(serde_json::to_vec(&report).unwrap().len() > 4_000_000, "the unbounded report would not fit");
        let bounded = report.bounded();
        let bytes = serde_json::to_vec(&bounded).unwrap().len();
        assert!(bytes <= MAX_REPORT_BYTES, "{bytes}");
        assert_eq!(bounded.state, HealthState::Failing, "the state counts every check");
        assert_eq!(
            bounded
                .checks
                .iter()
                .filter(|c| c.result == CheckResult::Fail && c.code != "REPORT_TRUNCATED")
                .count(),
            failures
        );
        let summary = bounded.checks.last().unwrap();
        assert_eq!((summary.code.as_str(), summary.result), ("REPORT_TRUNCATED", CheckResult::Warn));
        let listed = bounded.checks.len() - 1;
        assert!(
            summary.message.starts_with(&format!("{} more checks", total - listed)),
            "{}",
            summary.message
        );
    }

    #[test]
    fn a_report_that_fits_is_kept_as_it_is() {
        let report = Status {
            state: HealthState::Healthy,
            checked_at: None,
            checks: vec![check("ASSUME_ROLE", "role".into(), CheckResult::Pass, "ok".into())],
        };
        assert_eq!(report.clone().bounded(), report);
    }

    #[test]
    fn a_long_message_is_cut_at_a_character_boundary_and_marked() {
        let report = Status {
            state: HealthState::Failing,
            checked_at: None,
            checks: vec![check("READ_ACCESS", "bucket:b".into(), CheckResult::Fail, "é".repeat(5000))],
        };
        let message = &report.bounded().checks[0].message;
        assert!(message.len() <= MAX_CHECK_MESSAGE_BYTES && message.ends_with('…'), "{}", message.len());
    }
}

#[cfg(test)]
mod tests {
    use super::HealthState;

    #[test]
    fn a_health_state_s_name_is_its_serialized_name() {
        for state in
            [HealthState::Unverified, HealthState::Healthy, HealthState::Degraded, HealthState::Failing]
        {
            assert_eq!(serde_json::to_value(state).ok(), Some(serde_json::Value::from(state.as_str())));
        }
    }
}
