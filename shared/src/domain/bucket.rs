//! S3 bucket names, checked against every rule S3 documents for general purpose buckets.

use crate::domain::input::{quoted, InputError, InputErrorKind};
use std::fmt;

/// A valid general purpose bucket name. It is safe in a hostname and in an ARN.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BucketName(String);

const RESERVED_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_SUFFIXES: &[&str] = &["-s3alias", "--ol-s3", ".mrap", "--table-s3"];

fn invalid(value: &str, why: &str) -> InputError {
    InputError::new(
        InputErrorKind::InvalidBucketName,
        format!("{} is not a valid S3 bucket name: {why}.", quoted(value)),
    )
}

impl BucketName {
    pub fn parse(value: &str) -> Result<Self, InputError> {
        if value.ends_with("--x-s3") {
            return Err(InputError::new(
                InputErrorKind::DirectoryBucket,
                format!(
                    "{} is an S3 Express One Zone directory bucket; those use a different authentication \
                     scheme and cannot be connected. Use a general purpose bucket.",
                    quoted(value)
                ),
            ));
        }
        let len = value.len();
        if !(3..=63).contains(&len) {
            return Err(invalid(value, &format!("it has {len} characters; use 3 to 63")));
        }
        if let Some(c) =
            value.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
        {
            let why = if c.is_ascii_uppercase() {
                "it contains uppercase letters; bucket names are lowercase".to_owned()
            } else {
                format!("it contains {c:?}; use only lowercase letters, digits, '.' and '-'")
            };
            return Err(invalid(value, &why));
        }
        let bytes = value.as_bytes();
        let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !edge_ok(bytes[0]) || !edge_ok(bytes[len - 1]) {
            return Err(invalid(value, "it must begin and end with a letter or digit"));
        }
        if value.contains("..") {
            return Err(invalid(value, "it contains two adjacent periods"));
        }
        if value.contains(".-") || value.contains("-.") {
            return Err(invalid(value, "a period cannot be next to a hyphen"));
        }
        if looks_like_ipv4(value) {
            return Err(invalid(value, "it is formatted as an IP address"));
        }
        if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| value.starts_with(*p)) {
            return Err(invalid(value, &format!("the prefix {prefix:?} is reserved by AWS")));
        }
        if let Some(suffix) = RESERVED_SUFFIXES.iter().find(|s| value.ends_with(*s)) {
            return Err(invalid(value, &format!("the suffix {suffix:?} is reserved by AWS")));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Buckets with dots cannot use virtual-hosted HTTPS URLs: the wildcard certificate of
    /// `*.s3.<region>.amazonaws.com` matches one label only.
    pub fn needs_path_style(&self) -> bool {
        self.0.contains('.')
    }
}

fn looks_like_ipv4(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BucketName({})", self.0)
    }
}

impl AsRef<str> for BucketName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for BucketName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for BucketName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        BucketName::parse(&raw).map_err(serde::de::Error::custom)
    }
}
