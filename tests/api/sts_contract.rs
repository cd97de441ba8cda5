//! The STS contract: what `AssumeRole` answers for each kind of trust policy, asked of the
//! IAM-enforcing emulator through `StsAssumer` and of the in-memory `MemoryAssumer`, so that
//! handler tests on the in-memory one prove what they would prove against STS. One scenario,
//! written once over [`Roles`], runs on both.

use crate::helpers::*;
use crate::moto::{MotoProcess, CUSTOMER_ACCOUNT};
use shared::aws::credentials::{AssumeFailure, Assumer, MemoryAssumer, RoleTrust, StsAssumer};
use shared::domain::org::OrgId;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const SESSION: Duration = Duration::from_secs(900);
const ORG_EXTERNAL_ID: &str = "acme-0123456789abcdef";

/// Customer roles, as the test arranges them, and the platform's way to assume them.
trait Roles {
    async fn role(&self, name: &str, trust: RoleTrust) -> String;
    async fn retrust(&self, name: &str, trust: RoleTrust);
    /// From now on every call is judged (the emulator is set up unauthenticated, then enforces).
    async fn enforce(&self);
    fn assumer(&self) -> Arc<dyn Assumer>;
}

struct Emulator {
    moto: MotoProcess,
    platform_arn: String,
    assumer: Arc<dyn Assumer>,
}

impl Emulator {
    async fn start() -> Self {
        let moto = MotoProcess::start().await;
        let user = moto.create_user_allowed_to_assume_roles("platform").await;
        let sts = platform_sts_client(&moto.url, &user.access_key_id, &user.secret_access_key).await;
        Self { moto, platform_arn: user.arn, assumer: Arc::new(StsAssumer::new(sts, SESSION)) }
    }

    fn trust_policy(&self, trust: &RoleTrust) -> String {
        let statement = match trust {
            RoleTrust::ExternalId(id) => serde_json::json!({
                "Effect": "Allow", "Principal": {"AWS": self.platform_arn}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": id}}
            }),
            RoleTrust::AnyExternalId => serde_json::json!({
                "Effect": "Allow", "Principal": {"AWS": self.platform_arn}, "Action": "sts:AssumeRole"
            }),
            RoleTrust::OtherPrincipal => serde_json::json!({
                "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"
            }),
        };
        serde_json::json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
    }
}

impl Roles for Emulator {
    async fn role(&self, name: &str, trust: RoleTrust) -> String {
        let access = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        self.moto.create_role(name, &self.trust_policy(&trust), access).await
    }

    async fn enforce(&self) {
        self.moto.enforce_now().await;
    }

    async fn retrust(&self, name: &str, trust: RoleTrust) {
        self.moto.update_trust(CUSTOMER_ACCOUNT, name, &self.trust_policy(&trust)).await;
    }

    fn assumer(&self) -> Arc<dyn Assumer> {
        self.assumer.clone()
    }
}

struct InMemory(Arc<MemoryAssumer>);

fn arn_of(name: &str) -> String {
    format!("arn:aws:iam::{CUSTOMER_ACCOUNT}:role/{name}")
}

impl Roles for InMemory {
    async fn role(&self, name: &str, trust: RoleTrust) -> String {
        self.0.put_role(&arn_of(name), trust);
        arn_of(name)
    }

    async fn retrust(&self, name: &str, trust: RoleTrust) {
        self.0.put_role(&arn_of(name), trust);
    }

    async fn enforce(&self) {}

    fn assumer(&self) -> Arc<dyn Assumer> {
        self.0.clone()
    }
}

#[tokio::test]
async fn the_emulators_sts_answers_each_trust_policy_as_the_contract_says() {
    assume_role_answers_each_trust_policy(&Emulator::start().await).await;
}

#[tokio::test]
async fn the_in_memory_sts_answers_each_trust_policy_as_the_contract_says() {
    assume_role_answers_each_trust_policy(&InMemory(Arc::new(MemoryAssumer::new(SESSION)))).await;
}

async fn assume_role_answers_each_trust_policy(roles: &impl Roles) {
    let org = OrgId::parse("acme").expect("org");
    let assumer = roles.assumer();
    let assume = |role: String, external_id: Option<&'static str>| {
        let (assumer, org) = (assumer.clone(), org.clone());
        async move { assumer.assume(&org, &role, external_id).await }
    };
    let denied = |result: &Result<_, AssumeFailure>| matches!(result, Err(AssumeFailure::Denied(_)));

    let enforcing = roles.role("enforcing", RoleTrust::ExternalId(ORG_EXTERNAL_ID.into())).await;
    let open = roles.role("open", RoleTrust::AnyExternalId).await;
    let foreign = roles.role("foreign", RoleTrust::OtherPrincipal).await;
    roles.enforce().await;

    let asked = SystemTime::now();
    let credentials =
        assume(enforcing.clone(), Some(ORG_EXTERNAL_ID)).await.expect("the org's external ID is admitted");
    assert!(
        !credentials.signing.access_key_id.is_empty() && !credentials.signing.secret_access_key.is_empty()
    );
    assert!(
        credentials.signing.session_token.as_deref().is_some_and(|t| !t.is_empty()),
        "temporary credentials"
    );
    assert!(credentials.expires_at > asked, "they outlive the call");
    assert!(
        credentials.expires_at <= asked + SESSION + Duration::from_secs(60),
        "and last the session asked for"
    );
    let other = assume(enforcing.clone(), Some("another-orgs-external-id")).await;
    assert!(denied(&other), "another external ID: {other:?}");
    let none = assume(enforcing.clone(), None).await;
    assert!(denied(&none), "no external ID: {none:?}");

    assert!(
        assume(open.clone(), Some("probe-random-value")).await.is_ok(),
        "a role without the condition admits any"
    );
    assert!(assume(open, None).await.is_ok(), "and none");

    let refused = assume(foreign, Some(ORG_EXTERNAL_ID)).await;
    assert!(denied(&refused), "a role trusting someone else: {refused:?}");

    let missing = assume(arn_of("never-created"), Some(ORG_EXTERNAL_ID)).await;
    assert!(denied(&missing), "a role that does not exist: {missing:?}");

    roles.retrust("enforcing", RoleTrust::ExternalId("acme-rotated-external-id".into())).await;
    let old = assume(enforcing.clone(), Some(ORG_EXTERNAL_ID)).await;
    assert!(denied(&old), "after the trust policy changed, the old external ID: {old:?}");
    assert!(
        assume(enforcing.clone(), Some("acme-rotated-external-id")).await.is_ok(),
        "the new one is admitted"
    );
    roles.retrust("enforcing", RoleTrust::OtherPrincipal).await;
    let revoked = assume(enforcing, Some("acme-rotated-external-id")).await;
    assert!(denied(&revoked), "trust revoked: {revoked:?}");
}
