//! [`Assumer`] in process memory: the customer roles and their trust policies as STS would judge
//! them, for handler tests that run without an emulator. Not a mock: it answers from the role's
//! trust the way STS does (no role, another principal, or a missing or wrong external ID is a
//! denial; a role without the condition admits any external ID), and it can go dark like an STS
//! outage. The STS contract suite (`tests/api/sts_contract.rs`) holds it to the emulator's answers.

use super::{AssumeFailure, AssumeFuture, Assumer, TempCredentials};
use crate::domain::org::OrgId;
use crate::domain::presign::SigningCredentials;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// What a role's trust policy says about the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleTrust {
    /// Trusts the platform on the condition `sts:ExternalId` equals this.
    ExternalId(String),
    /// Trusts the platform with no external-ID condition: it would serve any org.
    AnyExternalId,
    /// Trusts someone else: the platform is refused.
    OtherPrincipal,
}

#[derive(Debug)]
pub struct MemoryAssumer {
    roles: Mutex<HashMap<String, RoleTrust>>,
    session: Duration,
    calls: AtomicU64,
    unavailable: AtomicBool,
}

impl MemoryAssumer {
    /// Credentials it issues last `session` (STS's `DurationSeconds`).
    pub fn new(session: Duration) -> Self {
        Self {
            roles: Mutex::new(HashMap::new()),
            session,
            calls: AtomicU64::new(0),
            unavailable: AtomicBool::new(false),
        }
    }

    fn roles(&self) -> MutexGuard<'_, HashMap<String, RoleTrust>> {
        self.roles.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Creates the role, or replaces its trust policy (trust granted, widened or revoked).
    pub fn put_role(&self, role_arn: &str, trust: RoleTrust) {
        self.roles().insert(role_arn.to_owned(), trust);
    }

    pub fn delete_role(&self, role_arn: &str) {
        self.roles().remove(role_arn);
    }

    /// While set, every call fails the way an STS outage does (the platform's problem).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// How many `AssumeRole` calls it answered.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    fn answer(
        &self,
        role_arn: &str,
        external_id: Option<&str>,
        n: u64,
    ) -> Result<TempCredentials, AssumeFailure> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(AssumeFailure::Unavailable(
                "ServiceUnavailable: STS did not answer (in-memory outage)".into(),
            ));
        }
        let admitted = match self.roles().get(role_arn) {
            Some(RoleTrust::ExternalId(required)) => external_id == Some(required.as_str()),
            Some(RoleTrust::AnyExternalId) => true,
            Some(RoleTrust::OtherPrincipal) | None => false,
        };
        if !admitted {
            return Err(AssumeFailure::Denied(format!(
                "AccessDenied: the platform is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            )));
        }
        Ok(TempCredentials {
            signing: SigningCredentials {
                access_key_id: format!("ASIAMEMORY{n:010}"),
                secret_access_key: format!("memory-secret-{n:030}"),
                session_token: Some(format!("memory-session-token-{n}")),
            },
            expires_at: SystemTime::now() + self.session,
        })
    }
}

impl Assumer for MemoryAssumer {
    fn assume<'a>(
        &'a self,
        _org: &'a OrgId,
        role_arn: &'a str,
        external_id: Option<&'a str>,
    ) -> AssumeFuture<'a> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Box::pin(std::future::ready(self.answer(role_arn, external_id, n)))
    }
}
