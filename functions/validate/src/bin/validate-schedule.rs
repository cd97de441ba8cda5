//! The `validate-schedule` binary: the EventBridge schedule's target. Validates every integration
//! of every org and returns the run's summary.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{run, service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::api::telemetry::init();
    let state = shared::api::config::or_exit(validate::state_from_process_env().await);
    run(service_fn(|event: LambdaEvent<EventBridgeEvent>| async {
        Ok::<_, std::convert::Infallible>(validate::handle_schedule(&state, event.payload).await)
    }))
    .await
}
