use shared::api::config::ProcessEnv;
use std::sync::Arc;

#[tokio::main]
async fn main() {
    shared::api::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("token") {
        print_token(&args[1..])
    } else {
        serve().await
    };
    if let Err(e) = result {
        eprintln!("devserver: {e}");
        std::process::exit(1);
    }
}

async fn serve() -> Result<(), String> {
    let config = shared::api::config::or_exit(devserver::DevConfig::from_env(&ProcessEnv));
    // Bind first: a busy port should be the first thing reported, not a table timeout.
    let listener = tokio::net::TcpListener::bind(config.listen_addr).await.map_err(|e| {
        format!("cannot listen on {}: {e} (set LISTEN_ADDR to another address)", config.listen_addr)
    })?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = shared::aws::store::DynamoStore::new(
        shared::aws::limits::dynamodb_client(&aws),
        config.api.table_name.clone(),
    );
    store
        .ensure_table()
        .await
        .map_err(|e| format!("cannot create table {:?}: {}", store.table(), e.cause_chain()))?;
    let secrets = dev_secrets(&aws, &config.secrets_key_id).await?;
    let app =
        Arc::new(devserver::DevServer::new(Arc::new(store), &aws, platform_sts(&aws)?, secrets, &config));
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(
        url = %format!("http://{addr}"),
        secrets_key = %config.secrets_key_id,
        loopback_endpoints_allowed = config.endpoints.allow_loopback_http,
        "dev server listening"
    );
    devserver::serve(listener, app).await.map_err(|e| format!("the server stopped: {e}"))
}

/// The sealer of S3-compatible secrets. The dev default key ([`devserver::DEV_SECRETS_KEY_ALIAS`])
/// is created in the emulator's KMS on first start, as the table is; a configured key is used
/// as it is.
async fn dev_secrets(
    aws: &aws_config::SdkConfig,
    key_id: &str,
) -> Result<shared::aws::secrets::SharedSealer, String> {
    use shared::aws::secrets::KmsSealer;
    let kms = KmsSealer::client(aws);
    if key_id == devserver::DEV_SECRETS_KEY_ALIAS {
        let exists = kms.describe_key().key_id(key_id).send().await.is_ok();
        if !exists {
            let arn = KmsSealer::create_key(&kms, "s3-integrations dev server: seals S3-compatible secrets")
                .await
                .map_err(|e| {
                    format!("cannot create the secrets key in KMS: {e} (set SECRETS_KMS_KEY_ID to a key)")
                })?;
            kms.create_alias().alias_name(key_id).target_key_id(&arn).send().await.map_err(|e| {
                format!(
                    "cannot name the secrets key {key_id}: {}",
                    aws_sdk_kms::error::DisplayErrorContext(&e)
                )
            })?;
        }
    }
    Ok(Arc::new(KmsSealer::new(kms, key_id)))
}

/// `devserver token --org ORG --role admin|member [--ttl SECONDS]`, signed with DEV_JWT_SECRET.
fn print_token(args: &[String]) -> Result<(), String> {
    let secret = std::env::var("DEV_JWT_SECRET").map_err(|_| "DEV_JWT_SECRET is not set")?;
    if secret.len() < 16 {
        return Err("DEV_JWT_SECRET must be at least 16 characters (the server refuses shorter ones)".into());
    }
    let mut org = None;
    let mut role = "member".to_owned();
    let mut ttl = 86_400u64;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--org" => org = Some(value.clone()),
            "--role" if value == "admin" || value == "member" => role = value.clone(),
            "--role" => return Err(format!("--role must be admin or member, not {value:?}")),
            "--ttl" => ttl = value.parse().map_err(|_| "--ttl takes a number of seconds")?,
            other => return Err(format!("unknown flag {other}; use --org, --role, --ttl")),
        }
    }
    let org = org.ok_or("--org is required")?;
    shared::domain::org::OrgId::parse(&org).map_err(|why| format!("--org: {why}"))?;
    let token = devserver::mint_token(&secret, &org, &role, ttl);
    if token.is_empty() {
        return Err("could not sign the token".into());
    }
    println!("{token}");
    Ok(())
}

/// STS as the platform principal. Locally the emulator's `platform` user plays the platform role:
/// PLATFORM_AWS_ACCESS_KEY_ID / PLATFORM_AWS_SECRET_ACCESS_KEY name its keys; otherwise the
/// default credential chain (the Lambda's role in AWS).
fn platform_sts(aws: &aws_config::SdkConfig) -> Result<aws_sdk_sts::Client, String> {
    let mut config = aws.clone();
    match (
        std::env::var("PLATFORM_AWS_ACCESS_KEY_ID").ok(),
        std::env::var("PLATFORM_AWS_SECRET_ACCESS_KEY").ok(),
    ) {
        (Some(id), Some(secret)) => {
            let provider = aws_sdk_sts::config::Credentials::new(id, secret, None, None, "platform");
            config = config
                .into_builder()
                .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(provider))
                .build();
        }
        (None, None) => {}
        _ => {
            return Err(
                "set both PLATFORM_AWS_ACCESS_KEY_ID and PLATFORM_AWS_SECRET_ACCESS_KEY, or neither".into()
            )
        }
    }
    Ok(shared::aws::credentials::sts_client(&config))
}
