//! Locators: how the platform names a file. `s3://bucket/key` or `s3://bucket/key?versionId=V`
//! are presigned; `https://...` URLs pass through unchanged; every other scheme is unsupported.
//!
//! The key is raw UTF-8 exactly as stored in S3 (not percent-encoded): it may contain spaces,
//! `+`, `%`, `#`, `?`, `//` and any unicode. Only a trailing `?versionId=<id>` is a version.

use crate::domain::bucket::BucketName;
use crate::domain::input::{quoted, InputError, InputErrorKind};
use std::fmt;

/// The longest locator accepted: bucket (63) + key (1,024) + version (1,024) and syntax fit well
/// inside; an `https://` URL may use all of it.
pub const MAX_LOCATOR_LEN: usize = 8192;
pub const MAX_KEY_BYTES: usize = 1024;
pub const MAX_VERSION_ID_BYTES: usize = 1024;
const VERSION_MARKER: &str = "?versionId=";

/// An S3 object key: 1 to 1,024 bytes of UTF-8 with no control characters and no `.` or `..`
/// path segment (browsers rewrite those, so the URL would fetch another object).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

/// An S3 version ID: 1 to 1,024 bytes of URL-safe ASCII.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VersionId(String);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Locator {
    pub bucket: BucketName,
    pub key: ObjectKey,
    pub version_id: Option<VersionId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Locator {
    S3(S3Locator),
    /// An `https://` URL, returned unchanged by presign.
    Https(String),
}

fn invalid(locator: &str, why: impl fmt::Display) -> InputError {
    InputError::new(InputErrorKind::InvalidLocator, format!("Locator {} is invalid: {why}", quoted(locator)))
}

impl ObjectKey {
    pub fn parse(value: &str) -> Result<Self, String> {
        if value.is_empty() {
            return Err("the object key is empty; write s3://bucket/key".to_owned());
        }
        if value.len() > MAX_KEY_BYTES {
            return Err(format!("the object key has {} bytes; S3 keys have at most 1024", value.len()));
        }
        if let Some(c) = value.chars().find(|c| c.is_control()) {
            return Err(format!(
                "the object key contains the control character {c:?}; pass the key as plain text"
            ));
        }
        if value.split('/').any(|segment| segment == "." || segment == "..") {
            return Err("the object key has a \".\" or \"..\" path segment; browsers rewrite those, so \
                 a presigned URL for it would fetch a different object. Rename the object."
                .to_owned());
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl VersionId {
    pub fn parse(value: &str) -> Result<Self, String> {
        if value.is_empty() {
            return Err("the versionId is empty; remove \"?versionId=\" or give the version".to_owned());
        }
        if value.len() > MAX_VERSION_ID_BYTES {
            return Err(format!("the versionId has {} bytes; S3 version IDs have at most 1024", value.len()));
        }
        if let Some(c) = value.chars().find(|c| !is_version_char(*c)) {
            return Err(format!("the versionId contains {c:?}, which S3 version IDs never contain"));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_version_char(c: char) -> bool {
    c.is_ascii_graphic() && !matches!(c, '?' | '&' | '#' | '/' | '%')
}

impl Locator {
    pub fn parse(value: &str) -> Result<Self, InputError> {
        if value.len() > MAX_LOCATOR_LEN {
            return Err(invalid(value, format!("it is longer than {MAX_LOCATOR_LEN} bytes")));
        }
        if let Some(rest) = value.strip_prefix("s3://") {
            return S3Locator::parse_after_scheme(value, rest).map(Locator::S3);
        }
        if strip_scheme(value, "s3://").is_some() {
            return Err(invalid(value, "write the scheme in lowercase: s3://bucket/key"));
        }
        if let Some(rest) = strip_scheme(value, "https://") {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            if host.is_empty() {
                return Err(invalid(value, "the URL has no host"));
            }
            if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid(
                    value,
                    "URLs cannot contain spaces or control characters; percent-encode them",
                ));
            }
            return Ok(Locator::Https(value.to_owned()));
        }
        if let Some((scheme, _)) = value.split_once("://") {
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)) {
                return Err(InputError::new(
                    InputErrorKind::UnsupportedLocator,
                    format!(
                        "Locator {} uses the scheme {:?}; only s3:// locators and https:// URLs are supported",
                        quoted(value),
                        scheme
                    ),
                ));
            }
        }
        Err(invalid(value, "it must look like s3://bucket/key or https://host/path"))
    }
}

fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let head = value.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme).then(|| &value[scheme.len()..])
}

impl S3Locator {
    pub fn parse(value: &str) -> Result<Self, InputError> {
        match Locator::parse(value)? {
            Locator::S3(locator) => Ok(locator),
            Locator::Https(_) => Err(invalid(value, "expected an s3:// locator")),
        }
    }

    fn parse_after_scheme(whole: &str, rest: &str) -> Result<Self, InputError> {
        let Some((bucket, key_and_version)) = rest.split_once('/') else {
            let why = if rest.is_empty() {
                "it has no bucket or key"
            } else {
                "it names a bucket but no object key"
            };
            return Err(invalid(whole, format!("{why}; write s3://bucket/key")));
        };
        let bucket = BucketName::parse(bucket).map_err(|e| invalid(whole, e.message))?;
        let (key, version_id) = split_version(key_and_version).map_err(|e| invalid(whole, e))?;
        let key = ObjectKey::parse(key).map_err(|e| invalid(whole, e))?;
        Ok(Self { bucket, key, version_id })
    }
}

/// Splits a trailing `?versionId=<id>` off the key. A `?versionId=` followed by something that
/// cannot be a version ID (a `/`, say) is part of the key.
fn split_version(key_and_version: &str) -> Result<(&str, Option<VersionId>), String> {
    match key_and_version.rfind(VERSION_MARKER) {
        Some(at) => {
            let candidate = &key_and_version[at + VERSION_MARKER.len()..];
            if candidate.is_empty() {
                return Err("the versionId is empty; remove \"?versionId=\" or give the version".to_owned());
            }
            if !candidate.chars().all(is_version_char) {
                return Ok((key_and_version, None));
            }
            Ok((&key_and_version[..at], Some(VersionId::parse(candidate)?)))
        }
        None => Ok((key_and_version, None)),
    }
}

impl fmt::Display for S3Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key.0)?;
        if let Some(version) = &self.version_id {
            write!(f, "{VERSION_MARKER}{}", version.0)?;
        }
        Ok(())
    }
}

impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Locator::S3(l) => l.fmt(f),
            Locator::Https(url) => f.write_str(url),
        }
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectKey({:?})", self.0)
    }
}

impl fmt::Debug for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VersionId({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(value: &str) -> S3Locator {
        S3Locator::parse(value).unwrap()
    }

    #[test]
    fn a_key_keeps_spaces_plus_percent_hash_question_and_double_slashes() {
        let l = s3("s3://bucket-a/dir//a b+c%20#d?e ünï.jpg");
        assert_eq!(l.key.as_str(), "dir//a b+c%20#d?e ünï.jpg");
        assert_eq!(l.version_id, None);
    }

    #[test]
    fn only_a_trailing_version_id_is_a_version() {
        let l = s3("s3://bucket-a/k?versionId=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY");
        assert_eq!(l.key.as_str(), "k");
        assert_eq!(l.version_id.as_ref().map(VersionId::as_str), Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"));
        let l = s3("s3://bucket-a/a?versionId=x/b.jpg");
        assert_eq!(l.key.as_str(), "a?versionId=x/b.jpg");
        assert_eq!(l.version_id, None);
    }

    #[test]
    fn https_urls_pass_through_unchanged() {
        let url = "https://cdn.example.com/a%20b.jpg?x=1";
        assert_eq!(Locator::parse(url), Ok(Locator::Https(url.to_owned())));
    }
}
