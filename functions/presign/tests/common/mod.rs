//! The presign configuration the handler tests, the EMF test and the benchmark build their state
//! from: the settings `main.rs` reads, with placeholders where the memory store, sealer and STS
//! stand in for AWS, and fixed stable-link keys.

use std::collections::HashMap;

/// The stable-link signing keys of every presign test and of the benchmark.
pub const LINK_KEYS: &str = r#"{"current": "t1", "t1": "a-test-link-signing-key-of-32-bytes-or-more"}"#;

/// The configuration presign starts with, plus `settings` (`LINK_*`, cache or other settings of
/// the caller's own, which win).
pub fn config(settings: &[(&str, &str)]) -> presign::PresignConfig {
    let mut env: HashMap<String, String> = [
        ("TABLE_NAME", "unused-by-the-memory-store"),
        ("PLATFORM_PRINCIPAL_ARN", "arn:aws:iam::123456789012:role/platform"),
        ("SECRETS_KMS_KEY_ID", "unused-by-the-memory-sealer"),
        ("LINK_SIGNING_KEYS", LINK_KEYS),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.extend(settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    match presign::PresignConfig::from_env(&env) {
        Ok(config) => config,
        Err(e) => panic!("the test configuration: {e}"),
    }
}
