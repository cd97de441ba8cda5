use lambda_runtime::{run, service_fn, LambdaEvent};
use serde_json::Value;
use shared::config::{ApiConfig, ProcessEnv};
use shared::presign::S3Endpoint;
use shared::store::Store;
use shared::validation::Validator;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let config = shared::config::or_exit(validate::ValidateConfig::from_env(&ProcessEnv));
    let api = shared::config::or_exit(ApiConfig::from_env(&ProcessEnv));
    let endpoint = shared::config::or_exit(
        S3Endpoint::from_override(std::env::var("S3_ENDPOINT_URL").ok().as_deref())
            .map_err(|message| shared::config::ConfigError { variable: "S3_ENDPOINT_URL", message }),
    );
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // The table is written with this function's own role; customer roles are assumed as the
    // platform role, the one principal every customer's trust policy names (template.yaml says why).
    let store = Store::new(aws_sdk_dynamodb::Client::new(&aws), config.table_name.clone());
    let assumer = validate::assumer_as_platform(&aws, &api.platform_principal).await;
    let validator = Validator::new(aws.clone(), assumer, endpoint, api.platform_principal, api.app_origins);
    let state = validate::State { store, validator, config };
    run(service_fn(|event: LambdaEvent<Value>| async {
        Ok::<Value, lambda_runtime::Error>(validate::handle(&state, event.payload).await)
    }))
    .await
}
