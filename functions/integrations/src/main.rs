use integrations::audit_retention_days;
use lambda_http::{run, service_fn};
use shared::api::config::{allow_loopback_endpoints, or_exit, secrets_key_id, ApiConfig, ProcessEnv};
use shared::aws::endpoint_guard::EndpointPolicy;
use shared::aws::secrets::KmsSealer;
use shared::aws::store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::api::telemetry::init();
    let config = or_exit(ApiConfig::from_env(&ProcessEnv));
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = std::sync::Arc::new(
        DynamoStore::new(shared::aws::limits::dynamodb_client(&aws), config.table_name.clone())
            .with_audit_retention_days(or_exit(audit_retention_days(&ProcessEnv))),
    );
    let secrets = KmsSealer::new(KmsSealer::client(&aws), or_exit(secrets_key_id(&ProcessEnv)));
    let endpoints = EndpointPolicy { allow_loopback_http: or_exit(allow_loopback_endpoints(&ProcessEnv)) };
    let state = integrations::State::new(store, config, std::sync::Arc::new(secrets), endpoints);
    run(service_fn(|req| integrations::handle(&state, req))).await
}
