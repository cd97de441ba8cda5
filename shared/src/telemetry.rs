//! Logging for every binary: JSON lines on Lambda (CloudWatch), readable text elsewhere. Level from
//! `RUST_LOG` (default `info`). Request bodies, headers and credentials are never logged.

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = if on_lambda {
        builder.json().without_time().with_ansi(false).try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
}
