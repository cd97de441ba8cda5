use lambda_http::{run, service_fn};
use shared::api::config::{ApiConfig, ProcessEnv};
use shared::aws::store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::api::telemetry::init();
    let config = shared::api::config::or_exit(ApiConfig::from_env(&ProcessEnv));
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // Rotation steps are audited.
    let retention = shared::api::config::or_exit(shared::api::config::audit_retention_days(&ProcessEnv));
    let store = std::sync::Arc::new(
        DynamoStore::new(shared::aws::limits::dynamodb_client(&aws), config.table_name.clone())
            .with_audit_retention_days(retention),
    );
    let state = policies::State::new(store, config);
    run(service_fn(|req| policies::handle(&state, req))).await
}
