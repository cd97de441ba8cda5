//! The template's IAM, run for real: presign and validate work with exactly the rights
//! `template.yaml` gives their execution roles, and nothing more, in an IAM-enforcing moto.
//!
//! The roles are made from the template itself: `PlatformRole` (presign's execution role, the one
//! principal every customer trust policy names) and `ValidateRole`, each with the statements of
//! its inline policies, intrinsics resolved for the stack [`STACK`] in the platform's account.
//! Lambda's part (assuming an execution role for each invocation) is played by an IAM user
//! `lambda`; moto cannot evaluate a `Service` principal statement, so the test's `PlatformRole`
//! trust names that user and `ValidateRole`, as the template names `lambda.amazonaws.com` and
//! `ValidateRole`. The customer's role and bucket live in the customer's account, with the trust
//! and access policies the API renders.

use crate::helpers::*;
use crate::moto::{IamUser, MotoProcess, CUSTOMER_ACCOUNT, PLATFORM_ACCOUNT};
use crate::platform::bounded;
use serde_json::{json, Value};
use shared::aws::store::{DynamoStore as Store, IntegrationStore, LeaseOutcome, ScanCursor};
use shared::domain::integration::{CheckResult, IntegrationDraft, Status};
use shared::domain::org::OrgId;
use shared::domain::presign::{CustomEndpoint, S3Endpoint};
use std::collections::HashMap;

const STACK: &str = "s3-integrations";
const ORG: &str = "acme";

/// `template.yaml`'s resource `name`.
fn template_resource(name: &str) -> serde_yaml::Value {
    let path = format!("{}/../template.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let template: serde_yaml::Value = serde_yaml::from_str(&text).expect("template.yaml is YAML");
    template["Resources"][name].clone()
}

/// A template value as JSON, with `!Sub`, `!GetAtt` and `!Ref` resolved from `names`. An
/// intrinsic or a name the test does not know fails the test: nothing is silently dropped.
fn resolve(value: &serde_yaml::Value, names: &HashMap<&str, String>) -> Value {
    use serde_yaml::Value as Y;
    let lookup =
        |name: &str| names.get(name).cloned().unwrap_or_else(|| panic!("the test cannot resolve {name}"));
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => json!(b),
        Y::Number(n) => serde_json::to_value(n).expect("a number"),
        Y::String(s) => json!(s),
        Y::Sequence(items) => Value::Array(items.iter().map(|v| resolve(v, names)).collect()),
        Y::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.as_str().expect("string keys").to_owned(), resolve(v, names)))
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let text = tagged.value.as_str().unwrap_or_else(|| panic!("unsupported intrinsic {tagged:?}"));
            match tagged.tag.to_string().trim_start_matches('!') {
                "GetAtt" | "Ref" => json!(lookup(text)),
                "Sub" => {
                    let mut out = String::new();
                    let mut rest = text;
                    while let Some(start) = rest.find("${") {
                        let end = start + rest[start..].find('}').expect("a closed ${...}");
                        out.push_str(&rest[..start]);
                        out.push_str(&lookup(&rest[start + 2..end]));
                        rest = &rest[end + 1..];
                    }
                    out.push_str(rest);
                    json!(out)
                }
                other => panic!("unsupported intrinsic !{other}"),
            }
        }
    }
}

/// Every statement of the role's inline policies, resolved, as one policy document.
fn inline_policies_of(role: &str, names: &HashMap<&str, String>) -> Value {
    let resource = template_resource(role);
    let policies = resolve(&resource["Properties"]["Policies"], names);
    let statements: Vec<Value> = policies
        .as_array()
        .unwrap_or_else(|| panic!("{role} has inline policies"))
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().expect("statements").clone())
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn role_name_of(role: &str, names: &HashMap<&str, String>) -> String {
    resolve(&template_resource(role)["Properties"]["RoleName"], names).as_str().expect("RoleName").to_owned()
}

/// SDK settings for the enforcing moto, signed with `credentials`, trying each call once.
async fn sdk_as(endpoint: &str, credentials: aws_sdk_sts::config::Credentials) -> aws_config::SdkConfig {
    let config = sdk_config_with(endpoint, credentials).await;
    config.to_builder().retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1)).build()
}

fn user_keys(user: &IamUser) -> aws_sdk_sts::config::Credentials {
    keys(&user.access_key_id, &user.secret_access_key, None)
}

/// What Lambda does for an invocation: the execution role's session credentials.
async fn session_of(
    moto: &MotoProcess,
    lambda: &IamUser,
    role_arn: &str,
) -> aws_sdk_sts::config::Credentials {
    let sts = aws_sdk_sts::Client::new(&sdk_as(&moto.url, user_keys(lambda)).await);
    let out =
        bounded("AssumeRole", sts.assume_role().role_arn(role_arn).role_session_name("invocation").send())
            .await
            .unwrap_or_else(|e| panic!("assume {role_arn}: {e:?}"));
    let c = out.credentials.expect("credentials");
    aws_sdk_sts::config::Credentials::new(
        c.access_key_id,
        c.secret_access_key,
        Some(c.session_token),
        None,
        "role",
    )
}

/// The template's two execution roles, a customer's role and bucket, and one org's integration in
/// a table of the enforcing moto (enforcing from the end of [`Deployment::start`]).
struct Deployment {
    moto: MotoProcess,
    lambda: IamUser,
    platform_role: String,
    validate_role: String,
    table: String,
    customer_role: String,
    bucket: String,
    external_id: shared::domain::external_id::ExternalId,
    integration_id: String,
}

impl Deployment {
    async fn start() -> Self {
        let moto = MotoProcess::start().await;
        let table = format!("{STACK}-{}", ulid::Ulid::new().to_string().to_lowercase());
        let platform_role = format!("arn:aws:iam::{PLATFORM_ACCOUNT}:role/{STACK}-platform");
        let validate_role = format!("arn:aws:iam::{PLATFORM_ACCOUNT}:role/{STACK}-validate");
        // The template's SecretsKey, made before enforcement as CloudFormation would.
        let setup =
            sdk_as(&moto.url, aws_sdk_sts::config::Credentials::new("testing", "testing", None, None, "t"))
                .await;
        let kms = shared::aws::secrets::KmsSealer::client(&setup);
        let secrets_key =
            shared::aws::secrets::KmsSealer::create_key(&kms, "SecretsKey").await.expect("the secrets key");
        // The template's LinkSigningKeys, and a secret of the account that presign must not read.
        let secrets = aws_sdk_secretsmanager::Client::new(&setup);
        let mut link_keys = String::new();
        for name in ["LinkSigningKeys", "another-secret"] {
            let created = secrets
                .create_secret()
                .name(format!("{STACK}-{name}"))
                .secret_string(crate::helpers::TEST_LINK_KEYS)
                .send()
                .await
                .expect("a secret");
            if name == "LinkSigningKeys" {
                link_keys = created.arn().expect("its ARN").to_owned();
            }
        }
        let names: HashMap<&str, String> = [
            ("AWS::Partition", "aws".to_owned()),
            ("AWS::Region", "us-east-1".to_owned()),
            ("AWS::AccountId", PLATFORM_ACCOUNT.to_owned()),
            ("AWS::StackName", STACK.to_owned()),
            ("IntegrationsTable", table.clone()),
            ("IntegrationsTable.Arn", format!("arn:aws:dynamodb:us-east-1:{PLATFORM_ACCOUNT}:table/{table}")),
            ("ValidateRole.Arn", validate_role.clone()),
            ("PlatformRole.Arn", platform_role.clone()),
            ("SecretsKey.Arn", secrets_key.clone()),
            ("LinkSigningKeys", link_keys.clone()),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            format!("arn:aws:iam::{PLATFORM_ACCOUNT}:role/{}", role_name_of("PlatformRole", &names)),
            platform_role
        );
        assert_eq!(
            format!("arn:aws:iam::{PLATFORM_ACCOUNT}:role/{}", role_name_of("ValidateRole", &names)),
            validate_role
        );

        let anything = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]});
        let lambda = moto.create_user(PLATFORM_ACCOUNT, "lambda", &anything.to_string()).await;
        let trusting = |principals: Vec<&str>| {
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": principals}, "Action": "sts:AssumeRole"}]})
                .to_string()
        };
        let created = moto
            .create_role_in(
                PLATFORM_ACCOUNT,
                &format!("{STACK}-platform"),
                &trusting(vec![&lambda.arn, &validate_role]),
                &inline_policies_of("PlatformRole", &names).to_string(),
            )
            .await;
        assert_eq!(created, platform_role);
        let created = moto
            .create_role_in(
                PLATFORM_ACCOUNT,
                &format!("{STACK}-validate"),
                &trusting(vec![&lambda.arn]),
                &inline_policies_of("ValidateRole", &names).to_string(),
            )
            .await;
        assert_eq!(created, validate_role);
        // A role of the platform's own account that trusts the platform role (and `lambda`).
        moto.create_role_in(
            PLATFORM_ACCOUNT,
            "internal",
            &trusting(vec![&platform_role, &lambda.arn]),
            &anything.to_string(),
        )
        .await;

        // The table and one org's integration, written before enforcement (the integrations
        // function's part).
        let store = Store::new(aws_sdk_dynamodb::Client::new(&setup), table.clone());
        store.ensure_table().await.expect("create the table");
        let org = OrgId::parse(ORG).expect("org");
        let external_id = store.external_id(&org).await.expect("the org's external ID");

        // The customer's side, in the customer's account.
        let admin = moto.create_customer_admin().await;
        let s3 = s3_client_with(&moto.url, &admin.access_key_id, &admin.secret_access_key, None).await;
        let bucket = format!("customer-{}", ulid::Ulid::new().to_string().to_lowercase());
        bounded("CreateBucket", s3.create_bucket().bucket(&bucket).send()).await.expect("bucket");
        bounded("PutObject", s3.put_object().bucket(&bucket).key("a.txt").body(b"a".to_vec().into()).send())
            .await
            .expect("object");
        let scope = json!({"type": "bucket", "bucket": bucket});
        let draft = IntegrationDraft::role_from_json(&json!({
            "name": "Photos",
            "role_arn": format!("arn:aws:iam::{CUSTOMER_ACCOUNT}:role/platform-read"),
            "region": "us-east-1",
            "scope": scope,
            "versioning": false,
        }))
        .expect("draft");
        let access = shared::domain::policy::access_policy(shared::Partition::Aws, &draft.scope, false, &[]);
        let trust = shared::domain::policy::trust_policy(&platform_role, &external_id);
        let customer_role = moto
            .create_role(
                "platform-read",
                &shared::domain::policy::to_pretty_json(&trust),
                &shared::domain::policy::to_pretty_json(&access),
            )
            .await;
        let integration = store.create(&org, draft).await.expect("stored");
        moto.enforce_now().await;
        Self {
            moto,
            lambda,
            platform_role,
            validate_role,
            table,
            customer_role,
            bucket,
            external_id,
            integration_id: integration.id,
        }
    }

    /// The table as the holder of `credentials` reaches it.
    async fn store_as(&self, credentials: aws_sdk_sts::config::Credentials) -> Store {
        Store::new(
            aws_sdk_dynamodb::Client::new(&sdk_as(&self.moto.url, credentials).await),
            self.table.clone(),
        )
    }
}

fn org() -> OrgId {
    OrgId::parse(ORG).expect("org")
}

fn denied(result: Result<impl std::fmt::Debug, shared::aws::store::StoreError>, what: &str) {
    let error = result.expect_err(what);
    let chain = error.cause_chain();
    assert!(chain.contains("AccessDenied"), "{what}: refused by IAM, not by anything else: {chain}");
}

#[tokio::test]
async fn presign_with_only_the_templates_rights_reads_the_table_and_signs_but_cannot_write_the_table() {
    let d = Deployment::start().await;
    let session = session_of(&d.moto, &d.lambda, &d.platform_role).await;
    let store = d.store_as(session.clone()).await;

    // The handler, with presign's rights only: Query + GetItem on the table, AssumeRole on the
    // customer's role (and its probe, which the customer's trust denies).
    let mut env = HashMap::new();
    env.insert("TABLE_NAME".to_owned(), d.table.clone());
    env.insert("S3_ENDPOINT_URL".to_owned(), d.moto.url.clone());
    env.insert("PLATFORM_PRINCIPAL_ARN".to_owned(), d.platform_role.clone());
    env.insert("SECRETS_KMS_KEY_ID".to_owned(), "unused-by-the-memory-sealer".to_owned());
    env.insert("LINK_SIGNING_KEYS".to_owned(), crate::helpers::TEST_LINK_KEYS.to_owned());
    let config = presign::PresignConfig::from_env(&env).expect("presign config");
    let sts = shared::aws::credentials::sts_client(&sdk_as(&d.moto.url, session.clone()).await);
    let cache = shared::aws::credentials::CredentialCache::new(sts, Default::default());
    let state = presign::State::new(store.shared(), cache, memory_sealer(), config);
    let locator = format!("s3://{}/a.txt", d.bucket);
    let request = presign_event(ORG, &[&locator]);
    let response = bounded("presign::handle", presign::handle(&state, request)).await.expect("never Err");
    let body = response_json(&response);
    assert_eq!(response.status(), 200, "{body:#}");
    let url = body["results"][0]["url"].as_str().unwrap_or_else(|| panic!("a URL: {body:#}"));
    assert!(url.contains(&format!("/{}/a.txt?", d.bucket)), "{url}");
    let stats = state.credentials().stats();
    assert_eq!(stats.probes.load(std::sync::atomic::Ordering::SeqCst), 1, "{stats:?}");

    // The link signing keys, and no other secret of the account.
    let secrets = shared::aws::link_keys::Keyring::client(&sdk_as(&d.moto.url, session.clone()).await);
    let keyring =
        shared::aws::link_keys::Keyring::from_secret(secrets.clone(), format!("{STACK}-LinkSigningKeys"))
            .await
            .expect("presign reads its link signing keys");
    assert_eq!(keyring.current().await.current_id(), "t1");
    let other =
        shared::aws::link_keys::Keyring::from_secret(secrets, format!("{STACK}-another-secret")).await;
    let other = other.expect_err("another secret of the account is not presign's to read").to_string();
    assert!(other.contains("AccessDenied") || other.contains("not authorized"), "{other}");

    // No write of any kind, and no Scan.
    let status = Status::unverified();
    denied(
        store
            .record_report(
                &org(),
                &shared::domain::audit::Actor::direct(),
                &d.integration_id,
                1,
                &status,
                None,
            )
            .await,
        "record a report",
    );
    let draft = IntegrationDraft::role_from_json(&json!({
        "name": "Injected", "role_arn": d.customer_role, "region": "us-east-1",
        "scope": {"type": "bucket", "bucket": "other-bucket"}, "versioning": false,
    }))
    .expect("draft");
    denied(store.create(&org(), draft).await, "create an integration");
    denied(
        store.delete(&org(), &shared::domain::audit::Actor::direct(), &d.integration_id, Some(1)).await,
        "delete an integration",
    );
    denied(store.scan_integrations(10, None).await.map(|_| ()), "scan the table");
    denied(store.external_id(&OrgId::parse("another-org").expect("org")).await, "mint an external ID");

    // Nothing changed, and a role in the platform's own account is never assumed, whatever its
    // trust says (the template's explicit Deny).
    let stored = store.get(&org(), &d.integration_id).await.expect("still readable");
    assert_eq!(stored.version, 1);
    let sts = aws_sdk_sts::Client::new(&sdk_as(&d.moto.url, session).await);
    let internal = format!("arn:aws:iam::{PLATFORM_ACCOUNT}:role/internal");
    let own =
        bounded("AssumeRole", sts.assume_role().role_arn(&internal).role_session_name("x").send()).await;
    let own = own.expect_err("the platform role may not assume roles of its own account");
    // moto's authorization refusal comes as an XML shape the SDK reads no code from; its status
    // and text say what it is.
    assert_eq!(own.raw_response().map(|r| r.status().as_u16()), Some(403), "{own:?}");
    assert!(format!("{own:?}").contains("not authorized to perform: sts:AssumeRole"), "{own:?}");
    // The role's trust would admit a caller whose identity policy allows it: the Deny refused.
    let lambda = aws_sdk_sts::Client::new(&sdk_as(&d.moto.url, user_keys(&d.lambda)).await);
    let trusted = lambda.assume_role().role_arn(&internal).role_session_name("x").send();
    assert!(bounded("AssumeRole", trusted).await.is_ok(), "the internal role's trust admits callers");
}

#[tokio::test]
async fn validate_chains_into_the_platform_role_so_one_trust_policy_serves_both_functions_and_records_health()
{
    let d = Deployment::start().await;
    let session = session_of(&d.moto, &d.lambda, &d.validate_role).await;
    let as_validate = sdk_as(&d.moto.url, session.clone()).await;

    // validate's own role is not the principal the customer's trust names: it cannot get in directly.
    let direct = aws_sdk_sts::Client::new(&as_validate)
        .assume_role()
        .role_arn(&d.customer_role)
        .role_session_name("direct")
        .external_id(d.external_id.as_str())
        .send();
    assert!(bounded("AssumeRole", direct).await.is_err(), "the customer trusts the platform role only");

    // Through the platform role (validate's main.rs does exactly this), every role check passes.
    let assumer = validate::assumer_as_platform(&as_validate, &d.platform_role).await;
    let endpoint = S3Endpoint::Custom(CustomEndpoint::parse(&d.moto.url, false).expect("endpoint"));
    let origins = vec![shared::domain::policy::AppOrigin::parse(APP_ORIGIN).expect("origin")];
    let validator = shared::aws::validation::Validator::new(
        as_validate,
        assumer,
        endpoint,
        d.platform_role.clone(),
        origins,
    );
    let store = d.store_as(session).await;
    let integration = store.get(&org(), &d.integration_id).await.expect("validate reads the table");
    let report = bounded("validate", validator.validate(&org(), Some(&d.external_id), &integration)).await;
    let result_of = |code: &str| report.status.checks.iter().find(|c| c.code == code).map(|c| c.result);
    assert_eq!(result_of("ASSUME_ROLE"), Some(CheckResult::Pass), "{:#?}", report.status);
    assert_eq!(result_of("EXTERNAL_ID_REQUIRED"), Some(CheckResult::Pass), "{:#?}", report.status);
    assert_eq!(result_of("READ_ACCESS"), Some(CheckResult::Pass), "{:#?}", report.status);
    let proof = report.proof.clone().expect("the probe reached a conclusion");
    assert!(proof.enforced);

    // validate holds the writes it needs: the report and the proof are recorded.
    let recorded = store
        .record_report(
            &org(),
            &shared::domain::audit::Actor::direct(),
            &d.integration_id,
            1,
            &report.status,
            Some(&proof),
        )
        .await;
    assert!(recorded.expect("validate may record health"), "recorded");
    let stored = store.get(&org(), &d.integration_id).await.expect("read back");
    assert_eq!(stored.external_id_proof, Some(proof));
    assert_eq!(stored.version, 1, "recording health is not an edit");
    // ... and no more: it cannot delete integrations.
    denied(
        store.delete(&org(), &shared::domain::audit::Actor::direct(), &d.integration_id, Some(1)).await,
        "delete an integration",
    );

    // The on-demand lease and the schedule's resume cursor need nothing beyond that: a conditional
    // PutItem takes the lease, a conditional UpdateItem ends it, a PutItem records or clears the
    // cursor. No DeleteItem.
    let (now, ttl) = (std::time::SystemTime::now(), std::time::Duration::from_secs(30));
    let lease = match store.acquire_validation_lease(&org(), &d.integration_id, now, ttl).await {
        Ok(LeaseOutcome::Acquired(lease)) => lease,
        other => panic!("validate may take a validation lease: {other:?}"),
    };
    let again = store.acquire_validation_lease(&org(), &d.integration_id, now, ttl).await;
    assert!(matches!(again, Ok(LeaseOutcome::Held { .. })), "and is refused a second: {again:?}");
    assert!(store.release_validation_lease(&org(), &lease).await.expect("validate may end its lease"));
    let page = store.scan_integrations(10, None).await.expect("validate may scan");
    let cursor = ScanCursor::after(page.found.first().expect("the integration"));
    store.write_schedule_cursor(Some(&cursor)).await.expect("validate may record the resume cursor");
    assert_eq!(store.read_schedule_cursor().await.expect("and read it"), Some(cursor));
    store.write_schedule_cursor(None).await.expect("and clear it");
    assert_eq!(store.read_schedule_cursor().await.expect("read"), None);
}
