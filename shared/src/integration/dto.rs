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

use super::{AccessDraft, IntegrationDraft, MAX_NAME_CHARS};
use crate::arn::RoleArn;
use crate::bucket::BucketName;
use crate::error::ApiError;
use crate::input::InputError;
use crate::region::{Partition, Region};
use crate::scope::{KeyPrefix, Scope, MAX_DEFAULT_BUCKETS};
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
    role_arn: Option<Deferred<String>>,
    region: Option<Deferred<String>>,
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
}

/// The body of `POST /policies/access`: a draft scope, before it is saved.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessDraftDto {
    scope: Option<Deferred<ScopeDto>>,
    versioning: Option<Deferred<bool>>,
    region: Option<Deferred<String>>,
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
    fn read(self, field: &str, expected: &str) -> Result<T, ApiError> {
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
    misplaced: fn(key: &str) -> Option<ApiError>,
    /// The rejection of a value that is not an object at all.
    not_object: fn() -> ApiError,
}

const INTEGRATION: Shape = Shape {
    at: "",
    allowed: &["name", "role_arn", "region", "scope", "versioning", "version"],
    misplaced: never_misplaced,
    not_object: || {
        ApiError::bad_request(
            "INVALID_BODY",
            None,
            "The body must be a JSON object with name, role_arn, region, scope and versioning.",
        )
    },
};

const ACCESS: Shape = Shape {
    at: "",
    allowed: &["scope", "versioning", "region"],
    misplaced: never_misplaced,
    not_object: || {
        ApiError::bad_request(
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
            ApiError::bad_request(
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
            ApiError::bad_request(
                "INVALID_SCOPE",
                Some("scope.buckets"),
                "A bucket scope names one bucket in \"bucket\"; use {\"type\": \"default\", \
                 \"buckets\": [...]} to permit several.",
            )
        })
    },
    not_object: scope_not_object,
};

fn never_misplaced(_: &str) -> Option<ApiError> {
    None
}

fn scope_not_object() -> ApiError {
    wrong_type("scope", "an object such as {\"type\": \"bucket\", \"bucket\": \"my-bucket\"}")
}

impl Shape {
    fn read<T: DeserializeOwned>(&self, value: &Value) -> Result<T, ApiError> {
        // serde would also read a struct from an array, field by field.
        if !value.is_object() {
            return Err((self.not_object)());
        }
        serde_path_to_error::deserialize(value).map_err(|e| self.reject(e))
    }

    /// The rejection of a key serde refused: only where it failed matters; its wording is for
    /// Rust programmers.
    fn reject(&self, error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
        match error.path().iter().next() {
            Some(Segment::Map { key }) if !self.allowed.contains(&key.as_str()) => {
                (self.misplaced)(key).unwrap_or_else(|| unknown(&format!("{}{key}", self.at), self.allowed))
            }
            // The fields are `Deferred` or ignored: serde has nothing else to refuse. If it does,
            // that is a bug here; the cause goes to the log.
            _ => ApiError::internal(error),
        }
    }
}

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

impl IntegrationDraftDto {
    pub fn from_json(body: &Value) -> Result<Self, ApiError> {
        INTEGRATION.read(body)
    }
}

impl AccessDraftDto {
    pub fn from_json(body: &Value) -> Result<Self, ApiError> {
        ACCESS.read(body)
    }
}

impl ScopeDto {
    /// Reads the tag, then the fields of the scope it names. Not `#[serde(tag = "type")]`: serde
    /// buffers a tagged enum's content before it picks the variant, and serde_path_to_error
    /// loses the path into that buffer (an unknown key would be `scope`, not `scope.bukcet`); a
    /// derived tag would also take a variant's index (`"type": 1`) for its name.
    pub fn from_json(value: &Value) -> Result<Self, ApiError> {
        let tag: ScopeTag = SCOPE_TAG.read(value)?;
        let kind = tag.kind.ok_or_else(|| missing("scope.type", "\"default\" or \"bucket\""))?;
        match kind.read("scope.type", "a string")?.as_str() {
            "default" => DEFAULT_SCOPE.read(value).map(Self::Default),
            "bucket" => BUCKET_SCOPE.read(value).map(Self::Bucket),
            other => Err(ApiError::bad_request(
                "INVALID_SCOPE",
                Some("scope.type"),
                format!("Scope type {other:?} is not known; use \"default\" or \"bucket\"."),
            )),
        }
    }
}

/// The name trimmed; not empty, not too long, plain text.
fn display_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ApiError::bad_request(
            "INVALID_NAME",
            Some("name"),
            "The name is empty; give the integration a name.",
        ));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(ApiError::bad_request(
            "FIELD_TOO_LONG",
            Some("name"),
            format!("The name has {chars} characters; use at most {MAX_NAME_CHARS}."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "INVALID_NAME",
            Some("name"),
            "The name contains a control character (such as a newline); use plain text.",
        ));
    }
    Ok(name.to_owned())
}

fn scope(scope: Option<Deferred<ScopeDto>>) -> Result<Scope, ApiError> {
    let scope = scope.ok_or_else(|| missing("scope", SCOPE_HINT))?;
    Scope::try_from(ScopeDto::from_json(&scope.value)?)
}

fn versioning(versioning: Option<Deferred<bool>>) -> Result<bool, ApiError> {
    versioning.map_or(Ok(false), |v| v.read("versioning", "true or false"))
}

impl TryFrom<IntegrationDraftDto> for IntegrationDraft {
    type Error = ApiError;

    fn try_from(dto: IntegrationDraftDto) -> Result<Self, ApiError> {
        let name = dto.name.ok_or_else(|| missing("name", "a display name such as \"Production images\""))?;
        let name = display_name(&name.read("name", "a string")?)?;
        let region =
            dto.region.ok_or_else(|| missing("region", "the bucket's region, such as \"us-east-1\""))?;
        let region = Region::parse(&region.read("region", "a string")?).map_err(input("region"))?;
        let role_arn = dto.role_arn.ok_or_else(|| {
            missing(
                "role_arn",
                "the ARN of the role you created, such as \"arn:aws:iam::123456789012:role/platform-read\"",
            )
        })?;
        let role_arn = RoleArn::parse(&role_arn.read("role_arn", "a string")?).map_err(input("role_arn"))?;
        role_arn.check_partition(region).map_err(input("role_arn"))?;
        let scope = scope(dto.scope)?;
        let versioning = versioning(dto.versioning)?;
        let version = match dto.version {
            None => None,
            Some(version) => match version.read("version", VERSION_EXPECTED)? {
                0 => return Err(wrong_type("version", VERSION_EXPECTED)),
                version => Some(version),
            },
        };
        Ok(Self { name, role_arn, region, scope, versioning, version })
    }
}

impl TryFrom<AccessDraftDto> for AccessDraft {
    type Error = ApiError;

    fn try_from(dto: AccessDraftDto) -> Result<Self, ApiError> {
        let scope = scope(dto.scope)?;
        let versioning = versioning(dto.versioning)?;
        let partition = match dto.region {
            None => Partition::Aws,
            Some(region) => {
                let region = region.read("region", "a string such as \"us-east-1\"")?;
                Region::parse(&region).map_err(input("region"))?.partition()
            }
        };
        Ok(Self { scope, versioning, partition })
    }
}

impl TryFrom<ScopeDto> for Scope {
    type Error = ApiError;

    fn try_from(dto: ScopeDto) -> Result<Self, ApiError> {
        match dto {
            ScopeDto::Default(scope) => scope.try_into(),
            ScopeDto::Bucket(scope) => scope.try_into(),
        }
    }
}

impl TryFrom<DefaultScopeDto> for Scope {
    type Error = ApiError;

    /// Every bucket parsed, none twice, at most [`MAX_DEFAULT_BUCKETS`].
    fn try_from(dto: DefaultScopeDto) -> Result<Self, ApiError> {
        let buckets = dto
            .buckets
            .ok_or_else(|| missing("scope.buckets", "the list of buckets the platform may read"))?;
        let buckets = buckets.read("scope.buckets", "a list of bucket names")?;
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
        for (i, name) in buckets.into_iter().enumerate() {
            let path = format!("scope.buckets[{i}]");
            let name = name.read(&path, "a bucket name string")?;
            let bucket = BucketName::parse(&name).map_err(|e| ApiError::input(path.clone(), e))?;
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
}

impl TryFrom<BucketScopeDto> for Scope {
    type Error = ApiError;

    /// One bucket, or one prefix in it; an empty prefix is the whole bucket.
    fn try_from(dto: BucketScopeDto) -> Result<Self, ApiError> {
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
