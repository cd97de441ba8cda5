//! Logging for every binary: JSON lines on Lambda (CloudWatch), readable text elsewhere. The level
//! comes from `RUST_LOG` (`error`, `warn`, `info`, `debug` or `trace`; default `info`) — a plain
//! level rather than env-filter directives keeps the regex engine out of the Lambda binaries.
//! Request bodies, headers and credentials are never logged.

use tracing_subscriber::filter::LevelFilter;

pub fn init() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.trim().parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt().with_max_level(level).with_target(false);
    let _ = if on_lambda {
        builder.json().without_time().with_ansi(false).try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
}
