//! The trust boundary: which customer roles the platform may sign through.
//!
//! A role serves an org only when it demands that org's external ID. Otherwise any other customer
//! of the platform could save an integration naming the role and read its buckets (the confused
//! deputy). Rendering the external ID in the trust policy is advice; this module makes it a rule:
//!
//! - **The probe** ([`probe`]): `AssumeRole` on the role with a fresh random external ID that is
//!   not the org's. AWS must deny it. If it is granted, the role would serve anyone who names it
//!   ([`ProbeOutcome::NotEnforced`]). If STS does not answer, nothing is proven
//!   ([`ProbeOutcome::Inconclusive`]).
//! - **The proof** ([`ExternalIdProof`]): the probe's outcome recorded on the integration by
//!   validation (on demand right after save in the wizard, and on every scheduled run), for one
//!   role ARN, with its time. A proof younger than [`PROOF_MAX_AGE`] lets presign sign without
//!   probing; otherwise presign probes in process, once per credential lifetime, inside the same
//!   single flight that assumes the role (see [`crate::aws::credentials`]).
//! - **The gate** ([`gate`]): what presign does for one integration before any STS call.
//! - **The platform's own account** ([`PlatformIdentity`]): customer roles are never in it, and a
//!   deployment serves only its own partition.
//!
//! Validation's `EXTERNAL_ID_REQUIRED` check and presign's `EXTERNAL_ID_NOT_ENFORCED` error use
//! [`probe`] and [`not_enforced_message`]: they cannot disagree about a role.

use crate::aws::credentials::{AssumeFailure, Assumer};
use crate::domain::arn::RoleArn;
use crate::domain::external_id::ExternalId;
pub use crate::domain::external_id::{
    not_enforced_message, ExternalIdProof, EXTERNAL_ID_NOT_ENFORCED, PROOF_MAX_AGE,
};
use crate::domain::input::Rejection;
use crate::domain::integration::{CheckResult, Integration};
use crate::domain::org::OrgId;
use crate::domain::region::Partition;
use std::time::SystemTime;

/// The 400 code for saving a role in the platform's own account.
pub const ROLE_IN_PLATFORM_ACCOUNT: &str = "ROLE_IN_PLATFORM_ACCOUNT";
/// The 400 code for saving an integration in a partition this deployment has no principal in.
pub const PARTITION_NOT_SERVED: &str = "PARTITION_NOT_SERVED";

/// What one probe found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// STS refused the random external ID: the role demands a specific one.
    Enforced,
    /// STS granted the random external ID: the role would serve any org.
    NotEnforced,
    /// STS did not answer (throttling, timeout, 5xx): not a proof either way.
    Inconclusive(String),
}

/// `AssumeRole` with a fresh random external ID. One STS call; a denial here is the good outcome
/// (it shows in the customer's CloudTrail as one `AccessDenied`, which the README explains).
pub async fn probe(assumer: &dyn Assumer, org: &OrgId, role_arn: &str) -> ProbeOutcome {
    let random = match ExternalId::probe() {
        Ok(id) => id,
        Err(e) => return ProbeOutcome::Inconclusive(format!("no randomness for the probe: {e}")),
    };
    match assumer.assume(org, role_arn, Some(&random)).await {
        Ok(_) => ProbeOutcome::NotEnforced,
        Err(AssumeFailure::Denied(_)) => ProbeOutcome::Enforced,
        Err(AssumeFailure::NotEnforced) => ProbeOutcome::NotEnforced,
        Err(AssumeFailure::Unavailable(detail)) => ProbeOutcome::Inconclusive(detail),
    }
}

/// What presign does with an integration before touching STS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate<'a> {
    /// No STS call: every locator of the integration gets this error.
    Refuse { code: &'static str, message: String },
    /// Lease credentials with the org's external ID; `probe` when no current recorded proof
    /// stands in for the probe.
    Lease { external_id: &'a ExternalId, probe: bool },
}

/// The one decision about whether an `aws_role` integration may sign through `role` (its role),
/// and how much proof it still needs.
pub fn gate<'a>(
    integration: &Integration,
    role: &RoleArn,
    platform: &PlatformIdentity,
    external_id: Option<&'a ExternalId>,
    now: SystemTime,
) -> Gate<'a> {
    if let Err(e) = platform.admits(role) {
        return Gate::Refuse { code: e.code(), message: e.message };
    }
    let denied = |why: &str| {
        let failure = AssumeFailure::Denied(why.into());
        Gate::Refuse { code: failure.code(), message: failure.message(role.as_str(), external_id) }
    };
    // The latest validation (its status is reset whenever the configuration changes) found that
    // the role refuses the org's own external ID: trust was revoked. Outages are recorded as
    // warnings, so a failed ASSUME_ROLE is a denial.
    let revoked = integration.status.checks.iter().any(|c| {
        c.code == crate::domain::integration::check_codes::ASSUME_ROLE && c.result == CheckResult::Fail
    });
    if revoked {
        return denied("the latest validation was denied");
    }
    let proof = integration.external_id_proof.as_ref().filter(|p| p.is_current_for(role, now));
    if proof.is_some_and(|p| !p.enforced) {
        return Gate::Refuse {
            code: EXTERNAL_ID_NOT_ENFORCED,
            message: not_enforced_message(role.as_str(), external_id),
        };
    }
    match external_id {
        None => denied("the org has no external ID yet"),
        Some(external_id) => Gate::Lease { external_id, probe: proof.is_none() },
    }
}

/// The platform's own account and partition, from its principal's ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformIdentity {
    pub account_id: String,
    pub partition: Partition,
}

impl PlatformIdentity {
    /// From `PLATFORM_PRINCIPAL_ARN` (`arn:<partition>:iam::<account>:...`), already checked by
    /// [`crate::api::config::platform_principal`].
    pub fn from_principal(arn: &str) -> Option<Self> {
        let mut parts = arn.split(':');
        let (_arn, partition, _iam, _region, account) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        Some(Self { account_id: account.to_owned(), partition: Partition::parse(partition)? })
    }

    /// Whether a customer role may be saved and assumed by this deployment.
    pub fn admits(&self, role: &RoleArn) -> Result<(), Rejection> {
        if role.partition() != self.partition {
            return Err(Rejection::new(
                PARTITION_NOT_SERVED,
                Some("role_arn"),
                format!(
                    "This deployment serves the {ours} partition; role {role} and region are in the {theirs} \
                     partition, which needs the platform's {theirs} deployment (its own principal and endpoint). \
                     Use a role and region in {ours}, or connect through the {theirs} deployment.",
                    ours = self.partition,
                    theirs = role.partition(),
                ),
            ));
        }
        if role.account_id() == self.account_id {
            return Err(Rejection::new(
                ROLE_IN_PLATFORM_ACCOUNT,
                Some("role_arn"),
                format!(
                    "Role {role} is in the platform's own AWS account {}; the platform never assumes roles there. \
                     Create the role in your own AWS account and save its ARN.",
                    self.account_id
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn role(arn: &str) -> RoleArn {
        RoleArn::parse(arn).unwrap_or_else(|e| panic!("{arn}: {e}"))
    }

    #[test]
    fn the_platform_identity_comes_from_its_principal_arn() {
        let platform = PlatformIdentity::from_principal("arn:aws-cn:iam::123456789012:role/platform");
        assert_eq!(
            platform,
            Some(PlatformIdentity { account_id: "123456789012".into(), partition: Partition::AwsCn })
        );
    }

    #[test]
    fn a_role_in_the_platform_account_or_another_partition_is_refused_with_its_own_code() {
        let platform = PlatformIdentity { account_id: "123456789012".into(), partition: Partition::Aws };
        let own = platform.admits(&role("arn:aws:iam::123456789012:role/r")).map_err(|e| e.code());
        assert_eq!(own, Err(ROLE_IN_PLATFORM_ACCOUNT));
        let china = platform.admits(&role("arn:aws-cn:iam::210987654321:role/r")).map_err(|e| e.code());
        assert_eq!(china, Err(PARTITION_NOT_SERVED));
        assert!(platform.admits(&role("arn:aws:iam::210987654321:role/r")).is_ok());
    }

    #[test]
    fn a_partition_refusal_names_both_partitions() {
        let platform = PlatformIdentity { account_id: "123456789012".into(), partition: Partition::Aws };
        let err = platform.admits(&role("arn:aws-us-gov:iam::210987654321:role/r")).err();
        let message = err.map(|e| e.message().to_owned()).unwrap_or_default();
        assert!(message.contains("aws-us-gov") && message.contains("serves the aws partition"), "{message}");
    }

    #[test]
    fn a_proof_stands_only_for_its_role_and_only_while_young() {
        let now = SystemTime::now();
        let r = role("arn:aws:iam::210987654321:role/r");
        let proof = ExternalIdProof::new(&r, true, now - Duration::from_secs(60));
        assert!(proof.is_current_for(&r, now));
        assert!(!proof.is_current_for(&role("arn:aws:iam::210987654321:role/other"), now));
        let old = ExternalIdProof::new(&r, true, now - PROOF_MAX_AGE - Duration::from_secs(1));
        assert!(!old.is_current_for(&r, now));
    }

    #[test]
    fn the_not_enforced_message_names_the_condition_and_the_org_external_id() {
        let id = ExternalId::parse("0123456789abcdef0123").unwrap_or_else(|e| panic!("{e}"));
        let message = not_enforced_message("arn:aws:iam::210987654321:role/r", Some(&id));
        assert!(message.contains("\"sts:ExternalId\": \"0123456789abcdef0123\""), "{message}");
        assert!(message.contains("StringEquals"), "{message}");
    }
}
