//! Who is calling: the org, role and subject the API Gateway JWT authorizer put in the request
//! context.
//! Claims arrive as strings; an array claim arrives flattened, e.g. `"[admin member]"`.

use crate::api::error::ApiError;
use crate::domain::org::OrgId;
use std::collections::HashMap;

/// Which claims carry the org and the role, and which role value means admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    pub org: String,
    pub role: String,
    pub admin_value: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self { org: "org_id".into(), role: "role".into(), admin_value: "admin".into() }
    }
}

/// The standard JWT claim naming the token's subject (RFC 7519), the same for every issuer.
pub const SUBJECT_CLAIM: &str = "sub";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Member,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub org: OrgId,
    pub role: Role,
    /// The token's `sub` claim, as sent: who to name in the audit trail ([`Caller::actor`]).
    /// Nothing is authorized by it.
    pub sub: Option<String>,
}

impl Caller {
    /// Reads the caller from the authorizer's claims. No org claim (or an unusable one) is 401.
    pub fn from_claims(claims: &HashMap<String, String>, names: &ClaimNames) -> Result<Self, ApiError> {
        let org = claims.get(&names.org).map(|s| s.trim()).filter(|s| !s.is_empty()).ok_or_else(|| {
            ApiError::Unauthorized(format!(
                "Your token has no {:?} claim, so we cannot tell which organization you belong to. \
                 Sign in again.",
                names.org
            ))
        })?;
        let org = OrgId::parse(org).map_err(|why| {
            ApiError::Unauthorized(format!("Your token's {:?} claim is unusable: {why}.", names.org))
        })?;
        let role = match claims.get(&names.role) {
            Some(value) if names_admin(value, &names.admin_value) => Role::Admin,
            _ => Role::Member,
        };
        Ok(Self { org, role, sub: claims.get(SUBJECT_CLAIM).cloned() })
    }

    /// Who the audit trail names for this caller's changes: the `sub`, or
    /// [`Actor::UNKNOWN`](crate::domain::audit::Actor::UNKNOWN) for a token without one.
    pub fn actor(&self) -> crate::domain::audit::Actor {
        crate::domain::audit::Actor::user(self.sub.as_deref())
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Member => Err(ApiError::Forbidden(
                "Only organization admins can manage integrations and policies. Ask an admin of your org."
                    .to_owned(),
            )),
        }
    }
}

/// Whether a role claim names `admin`, read in exactly one of three ways:
///
/// - a JSON array of strings (`["admin","member"]`, as some authorizers pass arrays): one element
///   equals `admin`;
/// - API Gateway's flattened array (`[admin member]`: brackets, single spaces between elements):
///   one element equals `admin`. Only a value that is all bracketed and has no empty element is
///   read so;
/// - anything else is one plain value, an admin only if it equals `admin` exactly: `"Support
///   admin"`, `"admin,member"`, `" admin"` and `"administrators"` are members.
///
/// Limit: API Gateway flattens `["Support admin"]` to `[Support admin]`, which cannot be told from
/// `["Support", "admin"]`. Where group names may contain spaces, choose an `ADMIN_ROLE_VALUE` that
/// no other group name holds as a word (README, Configuration).
fn names_admin(claim: &str, admin: &str) -> bool {
    if admin.is_empty() {
        return false;
    }
    if let Ok(values) = serde_json::from_str::<Vec<String>>(claim) {
        return values.iter().any(|v| v == admin);
    }
    if let Some(inner) = claim.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
        let elements: Vec<&str> = inner.split(' ').collect();
        if !elements.iter().any(|e| e.is_empty() || e.contains(['[', ']'])) {
            return elements.contains(&admin);
        }
        return false;
    }
    claim == admin
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(org: Option<&str>, role: Option<&str>) -> Result<Caller, ApiError> {
        let mut claims = HashMap::new();
        if let Some(org) = org {
            claims.insert("org_id".to_owned(), org.to_owned());
        }
        if let Some(role) = role {
            claims.insert("role".to_owned(), role.to_owned());
        }
        Caller::from_claims(&claims, &ClaimNames::default())
    }

    #[test]
    fn a_flattened_array_claim_containing_admin_is_an_admin() {
        assert_eq!(caller(Some("acme"), Some("[member admin]")).unwrap().role, Role::Admin);
        assert_eq!(caller(Some("acme"), Some("[\"admin\",\"member\"]")).unwrap().role, Role::Admin);
        assert_eq!(caller(Some("acme"), Some("admin")).unwrap().role, Role::Admin);
    }

    #[test]
    fn administrators_is_not_admin_and_no_role_is_a_member() {
        assert_eq!(caller(Some("acme"), Some("administrators")).unwrap().role, Role::Member);
        assert_eq!(caller(Some("acme"), Some("[member]")).unwrap().role, Role::Member);
        assert_eq!(caller(Some("acme"), None).unwrap().role, Role::Member);
    }

    #[test]
    fn a_plain_role_is_an_admin_only_when_it_is_exactly_the_admin_value() {
        for member in
            ["Support admin", "admin member", "admin,member", " admin", "admin ", "Admin", "\"admin\"", ""]
        {
            assert_eq!(caller(Some("acme"), Some(member)).unwrap().role, Role::Member, "{member:?}");
        }
    }

    #[test]
    fn a_malformed_array_is_nobodys_admin() {
        for member in
            ["[admin  member]", "[ admin]", "[admin ]", "[]", "[[admin]]", "[admin", "admin]", "[\"admin\""]
        {
            assert_eq!(caller(Some("acme"), Some(member)).unwrap().role, Role::Member, "{member:?}");
        }
        assert_eq!(caller(Some("acme"), Some("[admin]")).unwrap().role, Role::Admin);
        assert_eq!(caller(Some("acme"), Some("[\"Support admin\"]")).unwrap().role, Role::Member);
    }

    #[test]
    fn another_admin_value_is_matched_whole() {
        let names = ClaimNames { admin_value: "org-owner".into(), ..ClaimNames::default() };
        let role = |value: &str| {
            let claims = HashMap::from([
                ("org_id".to_owned(), "acme".to_owned()),
                ("role".to_owned(), value.to_owned()),
            ]);
            Caller::from_claims(&claims, &names).unwrap().role
        };
        assert_eq!(role("org-owner"), Role::Admin);
        assert_eq!(role("[member org-owner]"), Role::Admin);
        assert_eq!(role("admin"), Role::Member);
        assert_eq!(role("org-owner-2"), Role::Member);
    }

    #[test]
    fn the_subject_names_the_actor_and_a_token_without_one_is_the_unknown_actor() {
        let claims = |sub: Option<&str>| {
            let mut claims = HashMap::from([("org_id".to_owned(), "acme".to_owned())]);
            if let Some(sub) = sub {
                claims.insert("sub".to_owned(), sub.to_owned());
            }
            Caller::from_claims(&claims, &ClaimNames::default()).unwrap()
        };
        assert_eq!(claims(Some("user-1")).actor().id(), "user-1");
        assert_eq!(claims(None).actor().id(), crate::domain::audit::Actor::UNKNOWN);
    }

    #[test]
    fn no_org_claim_is_unauthorized() {
        assert_eq!(caller(None, Some("admin")).unwrap_err().status(), 401);
        assert_eq!(caller(Some("  "), Some("admin")).unwrap_err().status(), 401);
        assert_eq!(caller(Some("a/b"), Some("admin")).unwrap_err().status(), 401);
    }
}
