// The runtime future over the handler is deep enough to need more than the default 128.
#![recursion_limit = "256"]

use lambda_http::request::LambdaRequest;
use lambda_runtime::{run, service_fn, LambdaEvent};
use shared::api::config::ProcessEnv;
use shared::aws::credentials::{sts_client, CredentialCache};
use shared::aws::secrets::KmsSealer;
use shared::aws::store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::api::telemetry::init();
    let config = shared::api::config::or_exit(presign::PresignConfig::from_env(&ProcessEnv));
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = std::sync::Arc::new(DynamoStore::new(
        shared::aws::limits::dynamodb_client(&aws),
        config.table_name.clone(),
    ));
    let credentials = CredentialCache::new(sts_client(&aws), config.credentials.clone());
    let secrets = KmsSealer::new(KmsSealer::client(&aws), config.secrets_key_id.clone());
    let link_keys = match &config.links.keys {
        shared::api::config::LinkKeySource::SecretsManager(secret) => {
            let client = shared::aws::link_keys::Keyring::client(&aws);
            match shared::aws::link_keys::Keyring::from_secret(client, secret.clone()).await {
                Ok(keyring) => Some(keyring),
                Err(e) => {
                    // Named like a configuration error: the function cannot serve links without them.
                    eprintln!("environment variable LINK_SIGNING_KEYS_SECRET_ID: {e}");
                    std::process::exit(1);
                }
            }
        }
        shared::api::config::LinkKeySource::Inline(_) => None,
    };
    let mut state = presign::State::new(store, credentials, std::sync::Arc::new(secrets), config);
    if let Some(keyring) = link_keys {
        state = state.with_keyring(keyring);
    }
    // lambda_runtime directly, not lambda_http::run: the handler writes the response envelope
    // itself, in one pass (the body is not escaped a second time).
    run(service_fn(|event: LambdaEvent<LambdaRequest>| async {
        let answer = presign::handle_event(&state, event.payload.into()).await;
        Ok::<_, std::convert::Infallible>(answer)
    }))
    .await
}
