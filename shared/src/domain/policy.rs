//! The three JSON documents an admin pastes into AWS: the access policy (what the role may
//! read), the trust policy (who may assume the role, and only with the org's external ID) and the
//! bucket CORS configuration (which browser origins may fetch). Field order is fixed by the types,
//! so the same input always renders byte-identical JSON.

use crate::domain::arn::KmsKeyArn;
use crate::domain::external_id::{ExternalId, ExternalIds};
use crate::domain::input::{quoted, InputError, InputErrorKind};
use crate::domain::integration::Integration;
use crate::domain::region::Partition;
use crate::domain::scope::Scope;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// An IAM policy document, rendered in the order the AWS console shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyDocument {
    #[serde(rename = "Version")]
    pub version: &'static str,
    #[serde(rename = "Statement")]
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    #[serde(rename = "Sid")]
    pub sid: &'static str,
    #[serde(rename = "Effect")]
    pub effect: &'static str,
    #[serde(rename = "Principal", skip_serializing_if = "Option::is_none")]
    pub principal: Option<BTreeMap<&'static str, String>>,
    #[serde(rename = "Action")]
    pub action: OneOrMany,
    #[serde(rename = "Resource", skip_serializing_if = "Option::is_none")]
    pub resource: Option<OneOrMany>,
    #[serde(rename = "Condition", skip_serializing_if = "Option::is_none")]
    pub condition: Option<BTreeMap<&'static str, BTreeMap<&'static str, OneOrMany>>>,
}

/// IAM accepts a string or a list; a single value renders as a string, as the console does.
#[derive(Debug, Clone, PartialEq)]
pub struct OneOrMany(pub Vec<String>);

impl Serialize for OneOrMany {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

fn many<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> OneOrMany {
    OneOrMany(items.into_iter().map(Into::into).collect())
}

/// `text` as IAM reads it literally in a `Resource` or a `StringLike` value: `*`, `?` and `$` as
/// IAM's escapes `${*}`, `${?}`, `${$}`. Prefixes refuse these characters on save
/// ([`crate::domain::scope::KeyPrefix::parse`]); this keeps a prefix stored before that rule from
/// widening the policy.
pub fn iam_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '*' | '?' | '$' => {
                out.push_str("${");
                out.push(c);
                out.push('}');
            }
            other => out.push(other),
        }
    }
    out
}

/// The policy the customer attaches to the role: read objects in the scope (and their versions
/// when file versioning is on), and list the bucket so that a missing object reads as 404, not 403.
///
/// With KMS keys (SSE-KMS buckets) it also grants `kms:Decrypt` on exactly those keys, and only
/// when S3 asks KMS on the role's behalf (`kms:ViaService` = S3 in each key's region): the role
/// cannot decrypt anything through KMS directly.
pub fn access_policy(
    partition: Partition,
    scope: &Scope,
    versioning: bool,
    kms_key_arns: &[KmsKeyArn],
) -> PolicyDocument {
    let p = partition.as_str();
    let object_prefix = scope.prefix().map_or(String::new(), |prefix| iam_literal(prefix.as_str()));
    let objects = many(scope.buckets().iter().map(|b| format!("arn:{p}:s3:::{b}/{object_prefix}*")));
    let buckets = many(scope.buckets().iter().map(|b| format!("arn:{p}:s3:::{b}")));
    let mut actions = vec!["s3:GetObject"];
    if versioning {
        actions.push("s3:GetObjectVersion");
    }
    let list_condition = scope.prefix().map(|prefix| {
        BTreeMap::from([(
            "StringLike",
            BTreeMap::from([("s3:prefix", many([format!("{}*", iam_literal(prefix.as_str()))]))]),
        )])
    });
    let mut document = PolicyDocument {
        version: "2012-10-17",
        statements: vec![
            Statement {
                sid: "ReadObjects",
                effect: "Allow",
                principal: None,
                action: many(actions),
                resource: Some(objects),
                condition: None,
            },
            Statement {
                sid: "ListBucketSoMissingObjectsReturn404",
                effect: "Allow",
                principal: None,
                action: many(["s3:ListBucket"]),
                resource: Some(buckets),
                condition: list_condition,
            },
        ],
    };
    if !kms_key_arns.is_empty() {
        let mut services: Vec<String> = kms_key_arns
            .iter()
            .map(|key| format!("s3.{}.{}", key.region(), key.region().partition().dns_suffix()))
            .collect();
        services.sort();
        services.dedup();
        document.statements.push(Statement {
            sid: "DecryptObjectsWithKms",
            effect: "Allow",
            principal: None,
            action: many(["kms:Decrypt"]),
            resource: Some(many(kms_key_arns.iter().map(|key| key.as_str().to_owned()))),
            condition: Some(BTreeMap::from([(
                "StringEquals",
                BTreeMap::from([("kms:ViaService", many(services))]),
            )])),
        });
    }
    document
}

/// The trust policy: only the platform's principal may assume the role, and only when it
/// presents the org's external ID (protection against the confused deputy).
pub fn trust_policy(platform_principal_arn: &str, external_id: &ExternalId) -> PolicyDocument {
    trust_policy_honouring(platform_principal_arn, &[external_id])
}

/// The trust policy naming every ID in `external_ids` (during a rotation's overlap: the current ID
/// and the previous one, `StringEquals sts:ExternalId: [current, previous]`).
pub fn trust_policy_honouring(platform_principal_arn: &str, external_ids: &[&ExternalId]) -> PolicyDocument {
    PolicyDocument {
        version: "2012-10-17",
        statements: vec![Statement {
            sid: "AllowPlatformWithOrgExternalId",
            effect: "Allow",
            principal: Some(BTreeMap::from([("AWS", platform_principal_arn.to_owned())])),
            action: many(["sts:AssumeRole"]),
            resource: None,
            condition: Some(BTreeMap::from([(
                "StringEquals",
                BTreeMap::from([("sts:ExternalId", many(external_ids.iter().map(|id| id.as_str())))]),
            )])),
        }],
    }
}

/// A browser origin of the app: `https://host[:port]`, or `http://` for localhost only.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppOrigin(String);

impl AppOrigin {
    pub fn parse(value: &str) -> Result<Self, InputError> {
        let invalid = |why: &str| {
            InputError::new(
                InputErrorKind::InvalidOrigin,
                format!("Origin {} is invalid: {why}.", quoted(value)),
            )
        };
        let trimmed = value.trim().trim_end_matches('/');
        let (scheme, rest) = trimmed
            .split_once("://")
            .ok_or_else(|| invalid("write it as https://host or https://host:port"))?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => match p.parse::<u16>() {
                Ok(port) if port > 0 && p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(port)),
                _ => return Err(invalid("the port must be a number from 1 to 65535")),
            },
            None => (rest, None),
        };
        if host.is_empty()
            || !host.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        {
            return Err(invalid("an origin is a scheme and a lowercase host name, with no path"));
        }
        let local = host == "localhost" || host == "127.0.0.1";
        match scheme {
            "https" => {}
            "http" if local => {}
            "http" => return Err(invalid("use https; plain http is allowed only for localhost")),
            _ => return Err(invalid("the scheme must be https")),
        }
        // Browsers leave a scheme's default port out of the Origin header, so must the rule.
        let canonical = match (scheme, port) {
            ("https", Some(443)) | ("http", Some(80)) | (_, None) => format!("{scheme}://{host}"),
            (_, Some(port)) => format!("{scheme}://{host}:{port}"),
        };
        Ok(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AppOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppOrigin({})", self.0)
    }
}

/// One rule of a bucket CORS configuration, as the S3 console's JSON editor takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorsRule {
    #[serde(rename = "AllowedHeaders")]
    pub allowed_headers: Vec<&'static str>,
    #[serde(rename = "AllowedMethods")]
    pub allowed_methods: Vec<&'static str>,
    #[serde(rename = "AllowedOrigins")]
    pub allowed_origins: Vec<String>,
    #[serde(rename = "ExposeHeaders")]
    pub expose_headers: Vec<&'static str>,
    #[serde(rename = "MaxAgeSeconds")]
    pub max_age_seconds: u32,
}

/// The CORS configuration that lets the app's origins GET (and range-read videos from) a bucket.
pub fn cors_configuration(origins: &[AppOrigin]) -> Vec<CorsRule> {
    let mut sorted: Vec<String> = origins.iter().map(|o| o.0.clone()).collect();
    sorted.sort();
    sorted.dedup();
    vec![CorsRule {
        allowed_headers: vec!["*"],
        allowed_methods: vec!["GET", "HEAD"],
        allowed_origins: sorted,
        expose_headers: vec!["Accept-Ranges", "Content-Length", "Content-Range", "Content-Type", "ETag"],
        max_age_seconds: 3000,
    }]
}

/// Pretty-printed JSON, ready to paste into the AWS console.
pub fn to_pretty_json<T: Serialize>(document: &T) -> String {
    // Serializing these types cannot fail: they hold only strings, numbers and maps with string keys.
    serde_json::to_string_pretty(document).unwrap_or_default()
}

/// The three documents for one saved integration, as the API returns them: each document as an
/// object (`policy` / `cors`) and as the exact text to paste (`text`).
///
/// An S3-compatible store has no IAM role, so only its CORS document applies.
pub fn rendered_policies(
    integration: &Integration,
    platform_principal_arn: &str,
    external_ids: &ExternalIds,
    origins: &[AppOrigin],
    now: std::time::SystemTime,
) -> serde_json::Value {
    match integration.access.aws_role() {
        Some(role) => serde_json::json!({
            "access": access_policy_response(role.region.partition(), &integration.scope, integration.versioning, &role.kms_key_arns),
            "trust": trust_policy_response(platform_principal_arn, external_ids, now),
            "cors": cors_response(origins),
        }),
        None => serde_json::json!({ "cors": cors_response(origins) }),
    }
}

pub fn access_policy_response(
    partition: Partition,
    scope: &Scope,
    versioning: bool,
    kms_key_arns: &[KmsKeyArn],
) -> serde_json::Value {
    let policy = access_policy(partition, scope, versioning, kms_key_arns);
    serde_json::json!({"policy": policy, "text": to_pretty_json(&policy)})
}

/// The trust policy as `GET /policies/trust` answers it: the document, its text, the current
/// external ID, and during a rotation which ID is the previous one and until when it is honoured.
pub fn trust_policy_response(
    platform_principal_arn: &str,
    external_ids: &ExternalIds,
    now: std::time::SystemTime,
) -> serde_json::Value {
    let policy = trust_policy_honouring(platform_principal_arn, &external_ids.honoured_at(now));
    let mut answer = serde_json::json!({
        "policy": policy,
        "text": to_pretty_json(&policy),
        "external_id": external_ids.current.as_str(),
        "principal": platform_principal_arn,
    });
    if let Some(rotation) = external_ids.overlap_at(now) {
        answer["rotation"] = serde_json::json!({
            "current_external_id": external_ids.current.as_str(),
            "previous_external_id": rotation.previous.as_str(),
            "started_at": crate::domain::clock::rfc3339(rotation.started_at),
            "previous_honoured_until": crate::domain::clock::rfc3339(rotation.until),
        });
    }
    answer
}

pub fn cors_response(origins: &[AppOrigin]) -> serde_json::Value {
    let cors = cors_configuration(origins);
    serde_json::json!({"cors": cors, "text": to_pretty_json(&cors)})
}
