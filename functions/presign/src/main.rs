use lambda_http::{run, service_fn};
use shared::config::ProcessEnv;
use shared::credentials::{sts_client, CredentialCache};
use shared::store::Store;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = shared::config::or_exit(presign::PresignConfig::from_env(&ProcessEnv));
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&aws), config.table_name.clone());
    let credentials = CredentialCache::new(sts_client(&aws), config.credentials.clone());
    let state = presign::State::new(store, credentials, config);
    run(service_fn(|req| presign::handle(&state, req))).await
}
