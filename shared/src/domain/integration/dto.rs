//! The request bodies as serde reads them, and their conversion into the domain's drafts.
//!
//! serde decides which keys an object may have (`deny_unknown_fields`) and, through
//! serde_path_to_error, which key broke that rule (`scope.bukcet`). `TryFrom` then takes the
//! fields in a fixed order and, for each, decides whether it is missing, reads its JSON type and
//! runs the domain's parser. A rejection is built from where serde failed, never from serde's
//! error text, so clients read the codes, fields and messages they always have, and in the same
//! order when a body has several faults.
//!
//! Every field is an `Option`: `null` counts as absent, and a missing field is reported with a
//! hint about what to send.

use super::{
    Access, AccessDraft, AwsRole, IntegrationDraft, S3Compatible, KIND_AWS_ROLE, KIND_S3_COMPATIBLE,
    MAX_NAME_CHARS,
};
use crate::domain::arn::{KmsKeyArn, RoleArn, MAX_KMS_KEYS};
use crate::domain::bucket::BucketName;
use crate::domain::input::{InputError, Rejection};
use crate::domain::region::{Partition, Region};
use crate::domain::s3_compatible::{
    AccessKeyId, AddressingStyle, SecretAccessKey, SecretInput, StoreEndpoint, StoreRegion,
};
use crate::domain::scope::{KeyPrefix, Scope, MAX_DEFAULT_BUCKETS};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_path_to_error::Segment;
use std::marker::PhantomData;

/// The body of `POST /integrations` and `PUT /integrations/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationDraftDto {
    name: Option<Deferred<String>>,
    kind: Option<Deferred<String>>,
    role_arn: Option<Deferred<String>>,
    region: Option<Deferred<String>>,
    kms_key_arns: Option<Deferred<Vec<Deferred<String>>>>,
    endpoint: Option<Deferred<String>>,
    addressing_style: Option<Deferred<String>>,
    access_key_id: Option<Deferred<String>>,
    secret_access_key: Option<Deferred<String>>,
    scope: Option<Deferred<ScopeDto>>,
    versioning: Option<Deferred<bool>>,
    version: Option<Deferred<u64>>,
    // Fields of the stored shape, which a client may send back unchanged on replace: ignored.
    #[serde(rename = "id")]
    _id: Option<IgnoredAny>,
    #[serde(rename = "created_at")]
    _created_at: Option<IgnoredAny>,
    #[serde(rename = "updated_at")]
    _updated_at: Option<IgnoredAny>,
    #[serde(rename = "status")]
    _status: Option<IgnoredAny>,
    #[serde(rename = "history")]
    _history: Option<IgnoredAny>,
    #[serde(rename = "policies")]
    _policies: Option<IgnoredAny>,
    #[serde(rename = "external_id_proof")]
    _external_id_proof: Option<IgnoredAny>,
    #[serde(rename = "secret_set")]
    _secret_set: Option<IgnoredAny>,
}

/// The body of `POST /policies/access`: a draft scope, before it is saved.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessDraftDto {
    scope: Option<Deferred<ScopeDto>>,
    versioning: Option<Deferred<bool>>,
    region: Option<Deferred<String>>,
    kms_key_arns: Option<Deferred<Vec<Deferred<String>>>>,
}

/// A scope, tagged by `type`: `{"type": "default", "buckets"}` or
/// `{"type": "bucket", "bucket", "prefix"?}`.
#[derive(Debug)]
pub enum ScopeDto {
    Default(DefaultScopeDto),
    Bucket(BucketScopeDto),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultScopeDto {
    /// Read by [`ScopeDto::from_json`] already.
    #[serde(rename = "type")]
    _kind: Option<IgnoredAny>,
    buckets: Option<Deferred<Vec<Deferred<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketScopeDto {
    /// Read by [`ScopeDto::from_json`] already.
    #[serde(rename = "type")]
    _kind: Option<IgnoredAny>,
    bucket: Option<Deferred<String>>,
    prefix: Option<Deferred<String>>,
}

/// The tag alone; the scope's other keys are left for the variant to judge.
#[derive(Debug, Deserialize)]
struct ScopeTag {
    #[serde(rename = "type")]
    kind: Option<Deferred<String>>,
}

/// A field's JSON, read as a `T` when `TryFrom` reaches the field rather than when serde meets
/// it. serde reads an object in the body's key order; clients have always had a body's faults
/// reported in the order the fields are checked (a missing name before a wrong `versioning`), and
/// a list's length checked before its items' types.
#[derive(Debug)]
struct Deferred<T> {
    value: Value,
    _type: PhantomData<T>,
}

impl<'de, T> Deserialize<'de> for Deferred<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(|value| Self { value, _type: PhantomData })
    }
}

impl<T: DeserializeOwned> Deferred<T> {
    /// The value as a `T`, or INVALID_TYPE naming `field` and what it must be.
    fn read(self, field: &str, expected: &str) -> Result<T, Rejection> {
        T::deserialize(&self.value).map_err(|_| wrong_type(field, expected))
    }
}

const SCOPE_HINT: &str =
    "{\"type\": \"default\", \"buckets\": [...]} or {\"type\": \"bucket\", \"bucket\": \"...\"}";
const VERSION_EXPECTED: &str = "the integer version you last read (1 or more)";

/// How serde's rejections of one JSON object's keys read to clients.
struct Shape {
    /// The object's place in the body, put before each field it names.
    at: &'static str,
    /// The fields an UNKNOWN_FIELD message lists.
    allowed: &'static [&'static str],
    /// The rejection of a key that is not the object's, when it has a more helpful one than
    /// UNKNOWN_FIELD (a key of the other kind of scope).
    misplaced: fn(key: &str) -> Option<Rejection>,
    /// The rejection of a value that is not an object at all.
    not_object: fn() -> Rejection,
}

const INTEGRATION: Shape = Shape {
    at: "",
    allowed: &[
        "name",
        "kind",
        "role_arn",
        "region",
        "kms_key_arns",
        "endpoint",
        "addressing_style",
        "access_key_id",
        "secret_access_key",
        "scope",
        "versioning",
        "version",
    ],
    misplaced: never_misplaced,
    not_object: || {
        Rejection::new(
            "INVALID_BODY",
            None,
            "The body must be a JSON object with name, role_arn, region, scope and versioning.",
        )
    },
};

const ACCESS: Shape = Shape {
    at: "",
    allowed: &["scope", "versioning", "region", "kms_key_arns"],
    misplaced: never_misplaced,
    not_object: || {
        Rejection::new(
            "INVALID_BODY",
            None,
            "The body must be a JSON object with \"scope\" and optionally \"versioning\" and \"region\".",
        )
    },
};

const SCOPE_TAG: Shape =
    Shape { at: "scope.", allowed: &["type"], misplaced: never_misplaced, not_object: scope_not_object };

const DEFAULT_SCOPE: Shape = Shape {
    at: "scope.",
    allowed: &["type", "buckets"],
    misplaced: |key| {
        matches!(key, "prefix" | "bucket").then(|| {
            Rejection::new(
                "INVALID_SCOPE",
                Some(&format!("scope.{key}")),
                format!(
                    "A default scope serves whole buckets and takes no {key:?}; use \
                     {{\"type\": \"bucket\", \"bucket\": ..., \"prefix\": ...}} for one bucket or prefix."
                ),
            )
        })
    },
    not_object: scope_not_object,
};

const BUCKET_SCOPE: Shape = Shape {
    at: "scope.",
    allowed: &["type", "bucket", "prefix"],
    misplaced: |key| {
        (key == "buckets").then(|| {
            Rejection::new(
                "INVALID_SCOPE",
                Some("scope.buckets"),
                "A bucket scope names one bucket in \"bucket\"; use {\"type\": \"default\", \
                 \"buckets\": [...]} to permit several.",
            )
        })
    },
    not_object: scope_not_object,
};

fn never_misplaced(_: &str) -> Option<Rejection> {
    None
}

fn scope_not_object() -> Rejection {
    wrong_type("scope", "an object such as {\"type\": \"bucket\", \"bucket\": \"my-bucket\"}")
}

impl Shape {
    fn read<T: DeserializeOwned>(&self, value: &Value) -> Result<T, Rejection> {
        // serde would also read a struct from an array, field by field.
        if !value.is_object() {
            return Err((self.not_object)());
        }
        serde_path_to_error::deserialize(value).map_err(|e| self.reject(e))
    }

    /// The rejection of a key serde refused: only where it failed matters; its wording is for
    /// Rust programmers.
    fn reject(&self, error: serde_path_to_error::Error<serde_json::Error>) -> Rejection {
        match error.path().iter().next() {
            Some(Segment::Map { key }) if !self.allowed.contains(&key.as_str()) => {
                (self.misplaced)(key).unwrap_or_else(|| unknown(&format!("{}{key}", self.at), self.allowed))
            }
            // The fields are `Deferred` or ignored: serde has nothing else to refuse. Should it,
            // the client still learns where.
            _ => Rejection::new(
                "INVALID_BODY",
                None,
                format!(
                    "The body could not be read at {}; send the fields the API reference lists.",
                    error.path()
                ),
            ),
        }
    }
}

fn missing(field: &str, hint: &str) -> Rejection {
    Rejection::new("MISSING_FIELD", Some(field), format!("The field {field:?} is required: {hint}."))
}

fn wrong_type(field: &str, expected: &str) -> Rejection {
    Rejection::new("INVALID_TYPE", Some(field), format!("The field {field:?} must be {expected}."))
}

fn unknown(field: &str, allowed: &[&str]) -> Rejection {
    Rejection::new(
        "UNKNOWN_FIELD",
        Some(field),
        format!(
            "The field {field:?} is not recognised; the allowed fields are {allowed:?}. Check its spelling."
        ),
    )
}

fn input(field: &str) -> impl FnOnce(InputError) -> Rejection + '_ {
    move |e| Rejection::input(field, e)
}

impl IntegrationDraftDto {
    pub fn from_json(body: &Value) -> Result<Self, Rejection> {
        INTEGRATION.read(body)
    }
}

impl AccessDraftDto {
    pub fn from_json(body: &Value) -> Result<Self, Rejection> {
        ACCESS.read(body)
    }
}

impl ScopeDto {
    /// Reads the tag, then the fields of the scope it names. Not `#[serde(tag = "type")]`: serde
    /// buffers a tagged enum's content before it picks the variant, and serde_path_to_error
    /// loses the path into that buffer (an unknown key would be `scope`, not `scope.bukcet`); a
    /// derived tag would also take a variant's index (`"type": 1`) for its name.
    pub fn from_json(value: &Value) -> Result<Self, Rejection> {
        let tag: ScopeTag = SCOPE_TAG.read(value)?;
        let kind = tag.kind.ok_or_else(|| missing("scope.type", "\"default\" or \"bucket\""))?;
        match kind.read("scope.type", "a string")?.as_str() {
            "default" => DEFAULT_SCOPE.read(value).map(Self::Default),
            "bucket" => BUCKET_SCOPE.read(value).map(Self::Bucket),
            other => Err(Rejection::new(
                "INVALID_SCOPE",
                Some("scope.type"),
                format!("Scope type {other:?} is not known; use \"default\" or \"bucket\"."),
            )),
        }
    }
}

/// The name trimmed; not empty, not too long, plain text.
fn display_name(raw: &str) -> Result<String, Rejection> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Rejection::new(
            "INVALID_NAME",
            Some("name"),
            "The name is empty; give the integration a name.",
        ));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(Rejection::new(
            "FIELD_TOO_LONG",
            Some("name"),
            format!("The name has {chars} characters; use at most {MAX_NAME_CHARS}."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Rejection::new(
            "INVALID_NAME",
            Some("name"),
            "The name contains a control character (such as a newline); use plain text.",
        ));
    }
    Ok(name.to_owned())
}

fn scope(scope: Option<Deferred<ScopeDto>>) -> Result<Scope, Rejection> {
    let scope = scope.ok_or_else(|| missing("scope", SCOPE_HINT))?;
    Scope::try_from(ScopeDto::from_json(&scope.value)?)
}

fn versioning(versioning: Option<Deferred<bool>>) -> Result<bool, Rejection> {
    versioning.map_or(Ok(false), |v| v.read("versioning", "true or false"))
}

/// Refuses a field that belongs to the other kind of integration, naming the kind it is for.
fn not_for_kind(field: &str, present: bool, kind: &str, belongs_to: &str) -> Result<(), Rejection> {
    if !present {
        return Ok(());
    }
    Err(Rejection::new(
        "FIELD_NOT_FOR_KIND",
        Some(field),
        format!(
            "The field {field:?} belongs to {belongs_to} integrations, and this one is {kind:?}. Drop it, or send \
             \"kind\": {belongs_to:?} if that is the kind you mean."
        ),
    ))
}

fn string_field(value: Option<Deferred<String>>, field: &str, hint: &str) -> Result<String, Rejection> {
    value.ok_or_else(|| missing(field, hint))?.read(field, "a string")
}

/// `kms_key_arns`: at most [`MAX_KMS_KEYS`] KMS key ARNs, each in `region` when one is known (else
/// in `partition`), none twice.
fn kms_key_arns(
    keys: Option<Deferred<Vec<Deferred<String>>>>,
    partition: Partition,
    region: Option<Region>,
) -> Result<Vec<KmsKeyArn>, Rejection> {
    let Some(keys) = keys else { return Ok(Vec::new()) };
    let keys = keys.read("kms_key_arns", "a list of KMS key ARNs")?;
    if keys.len() > MAX_KMS_KEYS {
        return Err(Rejection::new(
            "TOO_MANY_KMS_KEYS",
            Some("kms_key_arns"),
            format!(
                "The integration lists {} KMS keys; at most {MAX_KMS_KEYS} are allowed. List the keys the buckets' \
                 objects are encrypted with.",
                keys.len()
            ),
        ));
    }
    let mut parsed: Vec<KmsKeyArn> = Vec::with_capacity(keys.len());
    for (i, key) in keys.into_iter().enumerate() {
        let field = format!("kms_key_arns[{i}]");
        let text = key.read(&field, "a string")?;
        let key = match region {
            Some(region) => KmsKeyArn::parse_for_region(&text, region),
            None => KmsKeyArn::parse(&text),
        }
        .map_err(input(&field))?;
        if key.region().partition() != partition {
            return Err(Rejection::new(
                "PARTITION_MISMATCH",
                Some(&field),
                format!(
                    "The KMS key {key} is in partition {:?} but the policy is for {:?}; use a key from the buckets' \
                     partition.",
                    key.region().partition().as_str(),
                    partition.as_str()
                ),
            ));
        }
        if parsed.contains(&key) {
            return Err(Rejection::new(
                "DUPLICATE_KMS_KEY",
                Some(&field),
                format!("The KMS key {key} is listed twice; list each key once."),
            ));
        }
        parsed.push(key);
    }
    Ok(parsed)
}

impl TryFrom<IntegrationDraftDto> for IntegrationDraft<SecretInput> {
    type Error = Rejection;

    fn try_from(dto: IntegrationDraftDto) -> Result<Self, Rejection> {
        let name = dto.name.ok_or_else(|| missing("name", "a display name such as \"Production images\""))?;
        let name = display_name(&name.read("name", "a string")?)?;
        let kind = match dto.kind {
            None => KIND_AWS_ROLE.to_owned(),
            Some(kind) => kind.read("kind", "\"aws_role\" or \"s3_compatible\"")?,
        };
        let access = match kind.as_str() {
            KIND_AWS_ROLE => {
                for (field, present) in [
                    ("endpoint", dto.endpoint.is_some()),
                    ("addressing_style", dto.addressing_style.is_some()),
                    ("access_key_id", dto.access_key_id.is_some()),
                    ("secret_access_key", dto.secret_access_key.is_some()),
                ] {
                    not_for_kind(field, present, KIND_AWS_ROLE, KIND_S3_COMPATIBLE)?;
                }
                let region = string_field(dto.region, "region", "the bucket's region, such as \"us-east-1\"")?;
                let region = Region::parse(&region).map_err(input("region"))?;
                let role_arn = string_field(
                    dto.role_arn,
                    "role_arn",
                    "the ARN of the role you created, such as \"arn:aws:iam::123456789012:role/platform-read\"",
                )?;
                let role_arn = RoleArn::parse(&role_arn).map_err(input("role_arn"))?;
                role_arn.check_partition(region).map_err(input("role_arn"))?;
                let kms_key_arns = kms_key_arns(dto.kms_key_arns, region.partition(), Some(region))?;
                Access::AwsRole(AwsRole { role_arn, region, kms_key_arns })
            }
            KIND_S3_COMPATIBLE => {
                not_for_kind("role_arn", dto.role_arn.is_some(), KIND_S3_COMPATIBLE, KIND_AWS_ROLE)?;
                not_for_kind("kms_key_arns", dto.kms_key_arns.is_some(), KIND_S3_COMPATIBLE, KIND_AWS_ROLE)?;
                let endpoint = string_field(
                    dto.endpoint,
                    "endpoint",
                    "the store's S3 API address, such as \"https://minio.example.com:9000\"",
                )?;
                let endpoint = StoreEndpoint::parse(&endpoint).map_err(input("endpoint"))?;
                let access_key_id = string_field(
                    dto.access_key_id,
                    "access_key_id",
                    "the access key ID of a key the store issued for the platform",
                )?;
                let access_key_id = AccessKeyId::parse(&access_key_id).map_err(input("access_key_id"))?;
                let secret = match dto.secret_access_key {
                    None => SecretInput::Keep,
                    Some(secret) => {
                        let secret = secret.read("secret_access_key", "a string")?;
                        SecretInput::New(SecretAccessKey::parse(&secret).map_err(input("secret_access_key"))?)
                    }
                };
                let region = match dto.region {
                    None => StoreRegion::default_region(),
                    Some(region) => {
                        StoreRegion::parse(&region.read("region", "a string")?).map_err(input("region"))?
                    }
                };
                let addressing_style = match dto.addressing_style {
                    None => AddressingStyle::Path,
                    Some(style) => {
                        let style = style.read("addressing_style", "\"path\" or \"virtual\"")?;
                        AddressingStyle::parse(&style).map_err(|message| {
                            Rejection::new("INVALID_ADDRESSING_STYLE", Some("addressing_style"), message)
                        })?
                    }
                };
                Access::S3Compatible(S3Compatible { endpoint, addressing_style, region, access_key_id, secret })
            }
            other => {
                return Err(Rejection::new(
                    "INVALID_KIND",
                    Some("kind"),
                    format!(
                        "Integration kind {} is not known; use \"aws_role\" (an IAM role in your AWS account, the \
                         default) or \"s3_compatible\" (an S3-compatible store reached with access keys).",
                        crate::domain::input::quoted(other)
                    ),
                ))
            }
        };
        let scope = scope(dto.scope)?;
        let versioning = versioning(dto.versioning)?;
        let version = match dto.version {
            None => None,
            Some(version) => match version.read("version", VERSION_EXPECTED)? {
                0 => return Err(wrong_type("version", VERSION_EXPECTED)),
                version => Some(version),
            },
        };
        Ok(Self { name, access, scope, versioning, version })
    }
}

impl TryFrom<AccessDraftDto> for AccessDraft {
    type Error = Rejection;

    fn try_from(dto: AccessDraftDto) -> Result<Self, Rejection> {
        let scope = scope(dto.scope)?;
        let versioning = versioning(dto.versioning)?;
        let region = match dto.region {
            None => None,
            Some(region) => {
                let region = region.read("region", "a string such as \"us-east-1\"")?;
                Some(Region::parse(&region).map_err(input("region"))?)
            }
        };
        let partition = region.map_or(Partition::Aws, Region::partition);
        let kms_key_arns = kms_key_arns(dto.kms_key_arns, partition, region)?;
        Ok(Self { scope, versioning, partition, kms_key_arns })
    }
}

impl TryFrom<ScopeDto> for Scope {
    type Error = Rejection;

    fn try_from(dto: ScopeDto) -> Result<Self, Rejection> {
        match dto {
            ScopeDto::Default(scope) => scope.try_into(),
            ScopeDto::Bucket(scope) => scope.try_into(),
        }
    }
}

impl TryFrom<DefaultScopeDto> for Scope {
    type Error = Rejection;

    /// Every bucket parsed, none twice, at most [`MAX_DEFAULT_BUCKETS`].
    fn try_from(dto: DefaultScopeDto) -> Result<Self, Rejection> {
        let buckets = dto
            .buckets
            .ok_or_else(|| missing("scope.buckets", "the list of buckets the platform may read"))?;
        let buckets = buckets.read("scope.buckets", "a list of bucket names")?;
        if buckets.len() > MAX_DEFAULT_BUCKETS {
            return Err(Rejection::new(
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
        for (i, name) in buckets.into_iter().enumerate() {
            let path = format!("scope.buckets[{i}]");
            let name = name.read(&path, "a bucket name string")?;
            let bucket = BucketName::parse(&name).map_err(|e| Rejection::input(&path, e))?;
            if parsed.contains(&bucket) {
                return Err(Rejection::new(
                    "DUPLICATE_BUCKET",
                    Some(&path),
                    format!("Bucket {name:?} is listed twice; list each permitted bucket once."),
                ));
            }
            parsed.push(bucket);
        }
        Scope::default_for(parsed).map_err(input("scope.buckets"))
    }
}

impl TryFrom<BucketScopeDto> for Scope {
    type Error = Rejection;

    /// One bucket, or one prefix in it; an empty prefix is the whole bucket.
    fn try_from(dto: BucketScopeDto) -> Result<Self, Rejection> {
        let bucket = dto.bucket.ok_or_else(|| missing("scope.bucket", "the bucket's name"))?;
        let bucket =
            BucketName::parse(&bucket.read("scope.bucket", "a string")?).map_err(input("scope.bucket"))?;
        let prefix = match dto.prefix {
            None => None,
            Some(prefix) => Some(prefix.read("scope.prefix", "a key prefix string such as \"images/\"")?),
        };
        let prefix = match prefix.as_deref() {
            None | Some("") => None,
            Some(p) => Some(KeyPrefix::parse(p).map_err(input("scope.prefix"))?),
        };
        Ok(Scope::Bucket { bucket, prefix })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::domain::integration::{parse_scope, scope_to_json};
    use serde_json::json;

    fn body() -> Value {
        json!({
            "name": "Images",
            "role_arn": "arn:aws:iam::123456789012:role/platform-read",
            "region": "us-east-1",
            "scope": {"type": "bucket", "bucket": "bucket-a"},
            "versioning": false
        })
    }

    fn with(edit: impl FnOnce(&mut Value)) -> Value {
        let mut body = body();
        edit(&mut body);
        body
    }

    fn rejection(body: &Value) -> (String, Option<String>, String) {
        let e = IntegrationDraft::from_json(body).expect_err("rejected");
        (e.code().to_owned(), e.field().map(str::to_owned), e.message().to_owned())
    }

    fn code_and_field(body: &Value) -> (String, Option<String>) {
        let (code, field, _) = rejection(body);
        (code, field)
    }

    fn pair(code: &str, field: &str) -> (String, Option<String>) {
        (code.to_owned(), Some(field.to_owned()))
    }

    #[test]
    fn an_unknown_field_in_the_scope_is_named_with_its_path() {
        let (code, field, message) = rejection(&with(|b| b["scope"]["bukcet"] = json!("bucket-b")));
        assert_eq!((code.as_str(), field.as_deref()), ("UNKNOWN_FIELD", Some("scope.bukcet")));
        assert_eq!(
            message,
            "The field \"scope.bukcet\" is not recognised; the allowed fields are [\"type\", \"bucket\", \
             \"prefix\"]. Check its spelling."
        );
    }

    #[test]
    fn an_unknown_top_level_field_lists_the_fields_a_client_may_send_not_the_read_only_ones() {
        let (_, field, message) = rejection(&with(|b| b["nmae"] = json!("typo")));
        assert_eq!(field.as_deref(), Some("nmae"));
        assert!(
            message.contains(
                r#"["name", "kind", "role_arn", "region", "kms_key_arns", "endpoint", "addressing_style", "access_key_id", "secret_access_key", "scope", "versioning", "version"]"#
            ),
            "{message}"
        );
        assert!(!message.contains("created_at"), "{message}");
    }

    #[test]
    fn a_read_only_field_sent_back_on_replace_is_ignored() {
        let sent_back = with(|b| {
            for (key, value) in [
                ("id", json!("01ARZ3NDEKTSV4RRFFQ69G5FAV")),
                ("created_at", json!("2024-01-01T00:00:00Z")),
                ("updated_at", json!(null)),
                ("status", json!({"state": "healthy", "checks": []})),
                ("history", json!([1, "two"])),
                ("policies", json!({})),
                ("external_id_proof", json!(5)),
            ] {
                b[key] = value;
            }
        });
        assert_eq!(
            IntegrationDraft::from_json(&sent_back).unwrap(),
            IntegrationDraft::from_json(&body()).unwrap()
        );
    }

    #[test]
    fn a_read_only_field_is_unknown_to_the_access_draft() {
        let e = AccessDraft::from_json(&json!({"scope": body()["scope"], "id": "x"})).unwrap_err();
        assert_eq!((e.code(), e.field()), ("UNKNOWN_FIELD", Some("id")));
    }

    #[test]
    fn a_bucket_of_the_wrong_type_names_its_index() {
        let body = with(|b| b["scope"] = json!({"type": "default", "buckets": ["bucket-a", "bucket-b", 7]}));
        let (code, field, message) = rejection(&body);
        assert_eq!((code.as_str(), field.as_deref()), ("INVALID_TYPE", Some("scope.buckets[2]")));
        assert_eq!(message, "The field \"scope.buckets[2]\" must be a bucket name string.");
    }

    #[test]
    fn a_duplicate_bucket_is_named_by_its_second_index() {
        let body = with(|b| {
            b["scope"] = json!({"type": "default", "buckets": ["bucket-a", "bucket-b", "bucket-a"]})
        });
        assert_eq!(code_and_field(&body), pair("DUPLICATE_BUCKET", "scope.buckets[2]"));
    }

    #[test]
    fn each_field_of_the_wrong_type_says_what_it_must_be() {
        let cases = [
            (with(|b| b["name"] = json!(5)), "name", "a string"),
            (with(|b| b["role_arn"] = json!(42)), "role_arn", "a string"),
            (with(|b| b["region"] = json!(true)), "region", "a string"),
            (with(|b| b["versioning"] = json!("yes")), "versioning", "true or false"),
            (with(|b| b["version"] = json!("one")), "version", VERSION_EXPECTED),
            (with(|b| b["version"] = json!(1.5)), "version", VERSION_EXPECTED),
            (with(|b| b["version"] = json!(-1)), "version", VERSION_EXPECTED),
            (with(|b| b["version"] = json!(0)), "version", VERSION_EXPECTED),
            (
                with(|b| b["scope"] = json!("default")),
                "scope",
                "an object such as {\"type\": \"bucket\", \"bucket\": \"my-bucket\"}",
            ),
            (with(|b| b["scope"]["type"] = json!(1)), "scope.type", "a string"),
            (with(|b| b["scope"]["bucket"] = json!(["bucket-a"])), "scope.bucket", "a string"),
            (
                with(|b| b["scope"]["prefix"] = json!(3)),
                "scope.prefix",
                "a key prefix string such as \"images/\"",
            ),
            (
                with(|b| b["scope"] = json!({"type": "default", "buckets": "bucket-a"})),
                "scope.buckets",
                "a list of bucket names",
            ),
        ];
        for (body, field, expected) in cases {
            let (code, got, message) = rejection(&body);
            assert_eq!((code.as_str(), got.as_deref()), ("INVALID_TYPE", Some(field)), "{body}");
            assert_eq!(message, format!("The field {field:?} must be {expected}."));
        }
    }

    #[test]
    fn null_counts_as_absent() {
        let nulls = with(|b| {
            b["versioning"] = Value::Null;
            b["version"] = Value::Null;
            b["scope"]["prefix"] = Value::Null;
        });
        let draft = IntegrationDraft::from_json(&nulls).unwrap();
        assert_eq!((draft.versioning, draft.version, draft.scope.prefix()), (false, None, None));
        assert_eq!(code_and_field(&with(|b| b["name"] = Value::Null)), pair("MISSING_FIELD", "name"));
        assert_eq!(
            code_and_field(&with(|b| b["scope"]["type"] = Value::Null)),
            pair("MISSING_FIELD", "scope.type")
        );
    }

    #[test]
    fn a_missing_field_says_what_to_send() {
        let (code, field, message) =
            rejection(&with(|b| b.as_object_mut().unwrap().retain(|k, _| k != "role_arn")));
        assert_eq!((code.as_str(), field.as_deref()), ("MISSING_FIELD", Some("role_arn")));
        assert_eq!(
            message,
            "The field \"role_arn\" is required: the ARN of the role you created, such as \
             \"arn:aws:iam::123456789012:role/platform-read\"."
        );
    }

    #[test]
    fn a_key_of_the_other_kind_of_scope_is_a_scope_error_not_an_unknown_field() {
        let prefix_in_default =
            with(|b| b["scope"] = json!({"type": "default", "buckets": ["bucket-a"], "prefix": null}));
        assert_eq!(code_and_field(&prefix_in_default), pair("INVALID_SCOPE", "scope.prefix"));
        let buckets_in_bucket = with(|b| b["scope"]["buckets"] = json!(["bucket-b"]));
        assert_eq!(code_and_field(&buckets_in_bucket), pair("INVALID_SCOPE", "scope.buckets"));
    }

    #[test]
    fn a_body_that_is_not_an_object_is_an_invalid_body_even_an_array_as_long_as_the_fields() {
        for body in [json!(null), json!("Images"), json!([]), Value::Array(vec![Value::Null; 13])] {
            assert_eq!(IntegrationDraft::from_json(&body).unwrap_err().code(), "INVALID_BODY", "{body}");
            assert_eq!(AccessDraft::from_json(&body).unwrap_err().code(), "INVALID_BODY", "{body}");
        }
        let scope_as_array = parse_scope(&json!(["default", ["bucket-a"]])).unwrap_err();
        assert_eq!((scope_as_array.code(), scope_as_array.field()), ("INVALID_TYPE", Some("scope")));
    }

    #[test]
    fn a_scope_type_given_as_a_number_is_not_taken_for_a_variant_index() {
        let e = parse_scope(&json!({"type": 1, "bucket": "bucket-a"})).unwrap_err();
        assert_eq!((e.code(), e.field()), ("INVALID_TYPE", Some("scope.type")));
    }

    #[test]
    fn faults_are_reported_in_the_order_the_fields_are_checked_not_the_order_of_the_body() {
        // The later-checked fault comes first in each body.
        let cases = [
            (json!({"versioning": "yes", "name": ""}), pair("INVALID_NAME", "name")),
            (json!({"version": 0, "region": 5}), pair("MISSING_FIELD", "name")),
            (
                json!({"versioning": "yes", "name": "Images", "role_arn": body()["role_arn"],
                       "region": "us-east-1", "scope": {"type": "everything"}}),
                pair("INVALID_SCOPE", "scope.type"),
            ),
            (json!({"name": 5, "nmae": "typo"}), pair("UNKNOWN_FIELD", "nmae")),
            (
                with(|b| b["scope"] = json!({"prefix": 3, "type": "bucket", "bucket": "Bucket-A"})),
                pair("INVALID_BUCKET_NAME", "scope.bucket"),
            ),
            (
                with(|b| b["scope"] = json!({"type": "default", "buckets": [7], "regoin": "us-east-1"})),
                pair("UNKNOWN_FIELD", "scope.regoin"),
            ),
            (
                with(|b| b["scope"] = json!({"type": "default", "buckets": ["Bad_Bucket", 7]})),
                pair("INVALID_BUCKET_NAME", "scope.buckets[0]"),
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(code_and_field(&body), expected, "{body}");
        }
    }

    #[test]
    fn a_list_of_too_many_buckets_is_refused_before_its_items_are_read() {
        let mut items: Vec<Value> =
            (0..MAX_DEFAULT_BUCKETS).map(|i| json!(format!("bucket-{i:03}"))).collect();
        items.push(json!(7));
        let body = with(|b| b["scope"] = json!({"type": "default", "buckets": items}));
        assert_eq!(code_and_field(&body), pair("TOO_MANY_BUCKETS", "scope.buckets"));
    }

    #[test]
    fn the_name_is_trimmed_and_its_rules_apply_to_what_is_left() {
        let draft = IntegrationDraft::from_json(&with(|b| b["name"] = json!("  Images \t"))).unwrap();
        assert_eq!(draft.name, "Images");
        let long = with(|b| b["name"] = json!(format!(" {} ", "n".repeat(MAX_NAME_CHARS))));
        assert_eq!(IntegrationDraft::from_json(&long).unwrap().name.len(), MAX_NAME_CHARS);
        assert_eq!(code_and_field(&with(|b| b["name"] = json!(" \t "))), pair("INVALID_NAME", "name"));
    }

    #[test]
    fn a_stored_scope_reads_back_as_it_was_written() {
        for scope in [
            json!({"type": "default", "buckets": ["bucket-b", "bucket-a"]}),
            json!({"type": "bucket", "bucket": "bucket-a"}),
            json!({"type": "bucket", "bucket": "bucket-a", "prefix": "images/"}),
        ] {
            let parsed = parse_scope(&scope).unwrap();
            assert_eq!(parse_scope(&scope_to_json(&parsed)).unwrap(), parsed);
        }
    }

    #[test]
    fn serde_wording_never_reaches_the_client() {
        let scope = |s: Value| with(|b| b["scope"] = s);
        let bodies = [
            json!({}),
            json!({"name": {"nested": true}}),
            json!({"name": [1, 2]}),
            json!({"name": "A", "role_arn": null, "region": 1.5}),
            with(|b| b["version"] = serde_json::from_str("18446744073709551616").unwrap()),
            with(|b| b["version"] = json!(-3)),
            with(|b| b["versioning"] = json!(0)),
            with(|b| b["unknown"] = json!(1)),
            with(|b| b[""] = json!(1)),
            scope(json!({})),
            scope(json!({"type": []})),
            scope(json!({"type": "default"})),
            scope(json!({"type": "default", "buckets": {"a": 1}})),
            scope(json!({"type": "default", "buckets": [null]})),
            scope(json!({"type": "default", "buckets": [["bucket-a"]]})),
            scope(json!({"type": "default", "buckets": ["bucket-a"], "extra": 1})),
            scope(json!({"type": "bucket", "bucket": 1})),
            scope(json!({"type": "bucket", "bucket": "bucket-a", "prefix": false})),
            scope(json!({"type": "bucket", "bucket": "bucket-a", "prefix": {}})),
            scope(json!({"type": 0, "buckets": ["bucket-a"]})),
            scope(json!(["bucket", "bucket-a"])),
            json!([]),
            json!(7),
        ];
        let mut messages: Vec<String> =
            bodies.iter().map(|b| IntegrationDraft::from_json(b).unwrap_err().message().to_owned()).collect();
        for body in
            [json!({"scope": 1}), json!({"scope": {"type": "x"}, "region": []}), json!({"regoin": "x"})]
        {
            messages.push(AccessDraft::from_json(&body).unwrap_err().message().to_owned());
        }
        for message in &messages {
            for serde_phrase in [
                "invalid type:",
                "invalid value:",
                "invalid length",
                "expected `",
                "expected one of",
                "missing field `",
                "unknown field `",
                "unknown variant",
                "`",
            ] {
                assert!(!message.contains(serde_phrase), "{serde_phrase:?} in {message:?}");
            }
        }
    }
}
