use shared::config::ProcessEnv;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    shared::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("token") {
        return print_token(&args[1..]);
    }
    let config = devserver::DevConfig::from_env(&ProcessEnv)?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = shared::store::Store::new(aws_sdk_dynamodb::Client::new(&aws), config.api.table_name.clone());
    store
        .ensure_table()
        .await
        .map_err(|e| format!("cannot create table {:?}: {}", store.table(), e.cause_chain()))?;
    let app = Arc::new(devserver::DevServer::new(store, platform_sts(&aws), &config));
    let listener = tokio::net::TcpListener::bind(config.listen_addr).await?;
    tracing::info!(url = %format!("http://{}", listener.local_addr()?), "dev server listening");
    devserver::serve(listener, app).await?;
    Ok(())
}

/// `devserver token --org ORG --role admin|member [--ttl SECONDS]`, signed with DEV_JWT_SECRET.
fn print_token(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("DEV_JWT_SECRET").map_err(|_| "DEV_JWT_SECRET is not set")?;
    let mut org = None;
    let mut role = "member".to_owned();
    let mut ttl = 86_400u64;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--org" => org = Some(value.clone()),
            "--role" => role = value.clone(),
            "--ttl" => ttl = value.parse().map_err(|_| "--ttl takes seconds")?,
            other => return Err(format!("unknown flag {other}; use --org, --role, --ttl").into()),
        }
    }
    let org = org.ok_or("--org is required")?;
    println!("{}", devserver::mint_token(&secret, &org, &role, ttl));
    Ok(())
}

/// STS as the platform principal. Locally the emulator's `platform` user plays the platform role:
/// PLATFORM_AWS_ACCESS_KEY_ID / PLATFORM_AWS_SECRET_ACCESS_KEY name its keys; otherwise the
/// default credential chain (the Lambda's role in AWS).
fn platform_sts(aws: &aws_config::SdkConfig) -> aws_sdk_sts::Client {
    let mut config = aws.clone();
    if let (Ok(id), Ok(secret)) =
        (std::env::var("PLATFORM_AWS_ACCESS_KEY_ID"), std::env::var("PLATFORM_AWS_SECRET_ACCESS_KEY"))
    {
        let provider = aws_sdk_sts::config::Credentials::new(id, secret, None, None, "platform");
        config = config
            .into_builder()
            .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(provider))
            .build();
    }
    shared::credentials::sts_client(&config)
}
