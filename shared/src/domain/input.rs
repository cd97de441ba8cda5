//! The error every parser in this crate returns: what kind of input was wrong, and a message
//! that names the offending value and says how to fix it.

use std::fmt;

/// Which rule an input broke. Each kind has a stable `SNAKE_UPPER` code clients can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputErrorKind {
    InvalidBucketName,
    DirectoryBucket,
    InvalidRoleArn,
    InvalidRegion,
    PartitionMismatch,
    InvalidLocator,
    UnsupportedLocator,
    InvalidPrefix,
    InvalidOrigin,
    InvalidKmsKeyArn,
    InvalidEndpoint,
    InvalidAccessKey,
    InvalidSecretKey,
    InvalidStoreRegion,
}

impl InputErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidBucketName => "INVALID_BUCKET_NAME",
            Self::DirectoryBucket => "DIRECTORY_BUCKET_UNSUPPORTED",
            Self::InvalidRoleArn => "INVALID_ROLE_ARN",
            Self::InvalidRegion => "INVALID_REGION",
            Self::PartitionMismatch => "PARTITION_MISMATCH",
            Self::InvalidLocator => "INVALID_LOCATOR",
            Self::UnsupportedLocator => "UNSUPPORTED_LOCATOR",
            Self::InvalidPrefix => "INVALID_PREFIX",
            Self::InvalidOrigin => "INVALID_ORIGIN",
            Self::InvalidKmsKeyArn => "INVALID_KMS_KEY_ARN",
            Self::InvalidEndpoint => "INVALID_ENDPOINT",
            Self::InvalidAccessKey => "INVALID_ACCESS_KEY_ID",
            Self::InvalidSecretKey => "INVALID_SECRET_ACCESS_KEY",
            Self::InvalidStoreRegion => "INVALID_REGION",
        }
    }
}

/// A rejected input. The message is written for the person who typed the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InputError {
    pub kind: InputErrorKind,
    pub message: String,
}

impl InputError {
    pub fn new(kind: InputErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Shortens a user-supplied value for an error message so that a megabyte of junk does not
/// come back in a response body or a log line.
pub(crate) fn quoted(value: &str) -> String {
    const MAX: usize = 80;
    if value.len() <= MAX {
        return format!("{value:?}");
    }
    let mut end = MAX;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}… ({} bytes)", &value[..end], value.len())
}

/// A request the domain refuses as it stands: a stable `SNAKE_UPPER` code, the field it is about
/// (if one), and a sentence that says what to change. The API edge answers it as a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    pub code: &'static str,
    pub field: Option<String>,
    pub message: String,
}

impl Rejection {
    pub fn new(code: &'static str, field: Option<&str>, message: impl Into<String>) -> Self {
        Self { code, field: field.map(str::to_owned), message: message.into() }
    }

    /// A value of `field` that broke a rule: its code and message, placed on the field.
    pub fn input(field: &str, error: InputError) -> Self {
        Self { code: error.kind.code(), field: Some(field.to_owned()), message: error.message }
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }
}
