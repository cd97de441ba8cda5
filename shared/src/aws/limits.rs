//! How long each AWS call may take, all attempts included, so that a request always answers
//! inside its function's timeout with `SERVICE_UNAVAILABLE` rather than being cut off by Lambda.
//!
//! The API functions run for at most 15 s (`template.yaml`). A call that fails ends its request
//! (503), so the slow case is calls that each succeed just inside [`DYNAMODB_OPERATION`]. An
//! ordinary request makes at most three DynamoDB calls in a row (create: the external ID, its
//! first-use write, the transaction; replace: a read, then the transaction; presign: the org's
//! integrations and external ID, once per cache period) and one round of STS leases (concurrent,
//! one per integration): 3 x 3 s + `credentials`'s 5 s = 14 s. Create and delete also read the
//! org's integration counter first (and, once per org from before the counter, count and seed it).
//! An S3-compatible create or replace adds the SSRF guard's DNS lookup (at most 2 s) and one KMS
//! call (the same 3 s as a DynamoDB call; a replace that keeps its secret reads the integration
//! instead), and a replace reads the external ID for its answer's policies: 2 + 4 x 3 = 14 s.
//! Retries use the SDK's standard mode: exponential backoff with full jitter between attempts.

use std::time::Duration;

/// Connecting to DynamoDB or S3.
pub const CONNECT: Duration = Duration::from_millis(500);
/// One DynamoDB attempt: its calls answer in milliseconds when healthy.
pub const DYNAMODB_ATTEMPT: Duration = Duration::from_secs(1);
/// One DynamoDB call, every attempt and backoff included.
pub const DYNAMODB_OPERATION: Duration = Duration::from_secs(3);
/// Attempts per DynamoDB call (throttling, 5xx and timeouts are retried).
pub const DYNAMODB_ATTEMPTS: u32 = 3;
/// One S3 attempt of a validation check (a HEAD, a one-key list, a one-byte read). The whole
/// call, every attempt included, is the check's budget (`VALIDATION_CHECK_SECONDS`, default 5 s:
/// `shared::aws::validation::Budget`), so a check never outlasts it whatever S3 does.
pub const S3_ATTEMPT: Duration = Duration::from_secs(2);
/// Attempts per S3 call.
pub const S3_ATTEMPTS: u32 = 2;
/// What a `503 SERVICE_UNAVAILABLE` tells the client to wait before it tries again.
pub const RETRY_AFTER_SECS: u64 = 2;

/// A client of `$sdk` with a DynamoDB call's bounds (`DYNAMODB_ATTEMPTS` tries, each within
/// `DYNAMODB_ATTEMPT`, all within `DYNAMODB_OPERATION`): DynamoDB itself, and the calls that sit on
/// the same request paths (KMS on a save or a presign batch's first use of a store; Secrets
/// Manager when a presign instance re-reads its link keys). `$retry` replaces the standard retry
/// settings (`RetryConfig` is in scope for it).
macro_rules! request_path_client {
    ($sdk:ident, $config:expr) => {
        request_path_client!($sdk, $config, RetryConfig::standard().with_max_attempts(DYNAMODB_ATTEMPTS))
    };
    ($sdk:ident, $config:expr, $retry:expr) => {{
        use $sdk::config::{retry::RetryConfig, timeout::TimeoutConfig, Builder};
        let config = Builder::from($config)
            .retry_config($retry)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT)
                    .operation_attempt_timeout(DYNAMODB_ATTEMPT)
                    .operation_timeout(DYNAMODB_OPERATION)
                    .build(),
            )
            .build();
        $sdk::Client::from_conf(config)
    }};
}

/// The DynamoDB client every function uses: the limits above on top of `sdk`'s settings, with a
/// short first backoff: the standard first wait is a second, a third of the operation bound.
pub fn dynamodb_client(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    request_path_client!(
        aws_sdk_dynamodb,
        sdk,
        RetryConfig::standard()
            .with_max_attempts(DYNAMODB_ATTEMPTS)
            .with_initial_backoff(Duration::from_millis(50))
    )
}

/// The KMS client that seals and opens S3-compatible secrets.
pub fn kms_client(sdk: &aws_config::SdkConfig) -> aws_sdk_kms::Client {
    request_path_client!(aws_sdk_kms, sdk)
}

/// The Secrets Manager client that reads the stable-link signing keys.
pub fn secrets_manager_client(sdk: &aws_config::SdkConfig) -> aws_sdk_secretsmanager::Client {
    request_path_client!(aws_sdk_secretsmanager, sdk)
}
