//! The organization a request acts for: every stored item and every credential is keyed by it.

use std::fmt;

/// An org id from a verified token. It ends up in DynamoDB keys and in STS role session names,
/// so it is limited to 1-48 characters of `[A-Za-z0-9_.@=,+-]`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId(String);

pub const MAX_ORG_ID: usize = 48;

impl OrgId {
    pub fn parse(value: &str) -> Result<Self, String> {
        let ok = !value.is_empty()
            && value.len() <= MAX_ORG_ID
            && value.chars().all(|c| c.is_ascii_alphanumeric() || "_.@=,+-".contains(c));
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(format!("org id must be 1-{MAX_ORG_ID} characters of A-Za-z0-9_.@=,+-"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgId({})", self.0)
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
