//! The `validate` binary: `POST /integrations/{id}/validate` behind API Gateway (validate one
//! integration now). The schedule has its own binary, `validate-schedule`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::api::telemetry::init();
    let state = shared::api::config::or_exit(validate::state_from_process_env().await);
    lambda_http::run(lambda_http::service_fn(|req| async {
        Ok::<_, std::convert::Infallible>(validate::handle_http(&state, req).await)
    }))
    .await
}
