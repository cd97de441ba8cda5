//! Reading a function's configuration from its environment, failing fast with a message that
//! names the variable and says what it should hold.

use crate::api::auth::ClaimNames;
use crate::domain::lifetime::UrlLifetime;
use crate::domain::policy::AppOrigin;
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "environment variable {}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Where the variables come from; the process environment in production, a map in tests.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

#[derive(Debug, Clone, Copy)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Env for std::collections::HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned().filter(|v| !v.trim().is_empty())
    }
}

pub fn required(env: &dyn Env, variable: &'static str, what: &str) -> Result<String, ConfigError> {
    env.var(variable)
        .ok_or_else(|| ConfigError { variable, message: format!("is not set; it must hold {what}") })
}

pub fn optional(env: &dyn Env, variable: &str, default: &str) -> String {
    env.var(variable).unwrap_or_else(|| default.to_owned())
}

pub fn number<T: std::str::FromStr>(
    env: &dyn Env,
    variable: &'static str,
    default: T,
    valid: impl Fn(&T) -> bool,
    what: &str,
) -> Result<T, ConfigError> {
    match env.var(variable) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<T>()
            .ok()
            .filter(|v| valid(v))
            .ok_or_else(|| ConfigError { variable, message: format!("{raw:?} is not {what}") }),
    }
}

pub fn claim_names(env: &dyn Env) -> ClaimNames {
    ClaimNames {
        org: optional(env, "ORG_CLAIM", "org_id"),
        role: optional(env, "ROLE_CLAIM", "role"),
        admin_value: optional(env, "ADMIN_ROLE_VALUE", "admin"),
    }
}

pub fn app_origins(env: &dyn Env) -> Result<Vec<AppOrigin>, ConfigError> {
    let raw =
        required(env, "APP_ORIGINS", "the app's browser origins, comma-separated (https://app.example.com)")?;
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|origin| {
            AppOrigin::parse(origin).map_err(|e| ConfigError { variable: "APP_ORIGINS", message: e.message })
        })
        .collect()
}

/// The platform principal: the IAM role (or, in emulators, user) every trust policy names.
pub fn platform_principal(env: &dyn Env) -> Result<String, ConfigError> {
    let raw =
        required(env, "PLATFORM_PRINCIPAL_ARN", "the ARN of the platform role that assumes customer roles")?;
    let parts: Vec<&str> = raw.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && crate::domain::region::Partition::parse(parts[1]).is_some()
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && (parts[5].starts_with("role/") || parts[5].starts_with("user/") || parts[5] == "root");
    if ok {
        Ok(raw)
    } else {
        Err(ConfigError {
            variable: "PLATFORM_PRINCIPAL_ARN",
            message: format!("{raw:?} is not an IAM role or user ARN (arn:aws:iam::123456789012:role/name)"),
        })
    }
}

/// `SECRETS_KMS_KEY_ID`: the KMS key (ARN, id or alias) that seals S3-compatible stores' secret
/// access keys (`crate::aws::secrets`).
pub fn secrets_key_id(env: &dyn Env) -> Result<String, ConfigError> {
    let key = required(
        env,
        "SECRETS_KMS_KEY_ID",
        "the KMS key that seals S3-compatible stores' secret access keys (its ARN, id or alias/name)",
    )?;
    let ok = key.len() <= 2048 && key.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(ConfigError {
            variable: "SECRETS_KMS_KEY_ID",
            message: "must be a KMS key ARN, key id or alias (printable, no spaces)".to_owned(),
        });
    }
    Ok(key)
}

/// `ALLOW_LOOPBACK_ENDPOINTS` (`true` or `false`, no default): whether S3-compatible endpoints on
/// loopback addresses, over plain http too, may be saved and called. Only the local dev server
/// says `true` (its demo store listens on 127.0.0.1); a deployment says `false`.
pub fn allow_loopback_endpoints(env: &dyn Env) -> Result<bool, ConfigError> {
    let what =
        "true or false: whether S3-compatible endpoints on loopback addresses (and plain http there) are \
                allowed; false in a deployment";
    match required(env, "ALLOW_LOOPBACK_ENDPOINTS", what)?.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(ConfigError {
            variable: "ALLOW_LOOPBACK_ENDPOINTS",
            message: format!("{other:?} is not true or false; it must be {what}"),
        }),
    }
}

/// The account and partition of an already-checked `PLATFORM_PRINCIPAL_ARN`.
pub fn platform_identity(principal: &str) -> Result<crate::aws::trust::PlatformIdentity, ConfigError> {
    crate::aws::trust::PlatformIdentity::from_principal(principal).ok_or_else(|| ConfigError {
        variable: "PLATFORM_PRINCIPAL_ARN",
        message: format!("{principal:?} names no account and partition"),
    })
}

/// The deployment's bounds on a URL's life: `PRESIGN_MAX_EXPIRES_IN` (default 3,000 s) and
/// `PRESIGN_DEFAULT_EXPIRES_IN` (default 900 s, or the maximum if lower), checked against
/// credentials of `session` that sign only while they outlive the URL by `margin`.
pub fn url_lifetime(env: &dyn Env, session: Duration, margin: Duration) -> Result<UrlLifetime, ConfigError> {
    let longest = UrlLifetime::longest_for(session, margin);
    let max_secs = number(
        env,
        "PRESIGN_MAX_EXPIRES_IN",
        3000u32.min(longest),
        |v| *v >= 60 && *v <= longest,
        &format!(
            "a number of seconds from 60 to {longest} (credentials live at most {} s, and sign only while \
             they outlive the URL by {} s)",
            session.as_secs(),
            margin.as_secs()
        ),
    )?;
    let default_secs = number(
        env,
        "PRESIGN_DEFAULT_EXPIRES_IN",
        900u32.min(max_secs),
        |v| *v >= 1 && *v <= max_secs,
        "a number of seconds from 1 to PRESIGN_MAX_EXPIRES_IN",
    )?;
    UrlLifetime::new(default_secs, max_secs).ok_or_else(|| ConfigError {
        variable: "PRESIGN_DEFAULT_EXPIRES_IN",
        message: "must be from 1 to PRESIGN_MAX_EXPIRES_IN".to_owned(),
    })
}

/// Where the stable-link signing keys come from.
#[derive(Debug, Clone)]
pub enum LinkKeySource {
    /// `LINK_SIGNING_KEYS`: the keys' JSON itself (the dev server; its default is random per start).
    Inline(crate::domain::link::LinkKeys),
    /// `LINK_SIGNING_KEYS_SECRET_ID`: a Secrets Manager secret holding that JSON (a deployment).
    SecretsManager(String),
}

/// Stable links: their keys, how long a link may last, and how long the URL it redirects to lives.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    pub keys: LinkKeySource,
    /// `LINK_DEFAULT_SECONDS` (1 day) and `LINK_MAX_SECONDS` (7 days; up to 30).
    pub lifetime: UrlLifetime,
    /// `LINK_URL_SECONDS` (900): the life of each presigned URL a link redirects to.
    pub url_secs: u32,
}

pub fn link_settings(
    env: &dyn Env,
    session: Duration,
    margin: Duration,
) -> Result<LinkSettings, ConfigError> {
    use crate::domain::lifetime::{MAX_LINK_SECS, SIGV4_MAX_SECS};
    let keys = match (env.var("LINK_SIGNING_KEYS"), env.var("LINK_SIGNING_KEYS_SECRET_ID")) {
        (Some(json), _) => LinkKeySource::Inline(
            crate::domain::link::LinkKeys::from_json(&json)
                .map_err(|message| ConfigError { variable: "LINK_SIGNING_KEYS", message })?,
        ),
        (None, Some(secret)) => LinkKeySource::SecretsManager(secret),
        (None, None) => {
            return Err(ConfigError {
                variable: "LINK_SIGNING_KEYS_SECRET_ID",
                message: "is not set; it must hold the Secrets Manager secret (ARN or name) with the stable-link \
                          signing keys, {\"current\": \"k1\", \"k1\": \"<random>\"} (or set LINK_SIGNING_KEYS to that JSON)"
                    .to_owned(),
            })
        }
    };
    let max_secs = number(
        env,
        "LINK_MAX_SECONDS",
        SIGV4_MAX_SECS,
        |v| (SIGV4_MAX_SECS..=MAX_LINK_SECS).contains(v),
        &format!("a number of seconds from {SIGV4_MAX_SECS} (7 days) to {MAX_LINK_SECS} (30 days)"),
    )?;
    let default_secs = number(
        env,
        "LINK_DEFAULT_SECONDS",
        86_400u32,
        |v| *v >= 60 && *v <= max_secs,
        "a number of seconds from 60 to LINK_MAX_SECONDS",
    )?;
    let longest = UrlLifetime::longest_for(session, margin);
    let url_secs = number(
        env,
        "LINK_URL_SECONDS",
        900u32.min(longest),
        |v| *v >= 1 && *v <= longest,
        &format!(
            "a number of seconds from 1 to {longest}: the life of the presigned URL a link redirects to"
        ),
    )?;
    let lifetime = UrlLifetime::for_links(default_secs, max_secs).ok_or_else(|| ConfigError {
        variable: "LINK_DEFAULT_SECONDS",
        message: "must be from 60 to LINK_MAX_SECONDS".to_owned(),
    })?;
    Ok(LinkSettings { keys, lifetime, url_secs })
}

/// `AUDIT_RETENTION_DAYS`: how long the audit records a function writes are kept (TTL), 365 days
/// unless set; anything but a whole number of days from 1 to 3650 stops the function at start,
/// naming the variable.
pub fn audit_retention_days(env: &dyn Env) -> Result<u32, ConfigError> {
    use crate::domain::audit::{
        DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS, RETENTION_RULE, RETENTION_VARIABLE,
    };
    number(
        env,
        RETENTION_VARIABLE,
        DEFAULT_RETENTION_DAYS,
        |days| (1..=MAX_RETENTION_DAYS).contains(days),
        RETENTION_RULE,
    )
}

/// What the HTTP functions (integrations, policies) need from their environment.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub table_name: String,
    pub platform_principal: String,
    pub app_origins: Vec<crate::domain::policy::AppOrigin>,
    pub claims: ClaimNames,
    /// The platform principal's account and partition: customer roles are never in that account,
    /// and the deployment serves that partition only.
    pub platform: crate::aws::trust::PlatformIdentity,
    /// How many integrations one org may have (`INTEGRATIONS_PER_ORG`, default 1,000).
    pub max_integrations: u32,
    /// How long a rotated-out external ID stays honoured (`EXTERNAL_ID_OVERLAP_DAYS`, default 30).
    pub external_id_overlap: Duration,
}

impl ApiConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let principal = platform_principal(env)?;
        Ok(Self {
            table_name: required(env, "TABLE_NAME", "the DynamoDB table of integrations")?,
            platform: platform_identity(&principal)?,
            platform_principal: principal,
            app_origins: app_origins(env)?,
            claims: claim_names(env),
            max_integrations: number(
                env,
                "INTEGRATIONS_PER_ORG",
                crate::aws::store::DEFAULT_MAX_INTEGRATIONS,
                |v| (1..=100_000).contains(v),
                "a whole number from 1 to 100000",
            )?,
            external_id_overlap: Duration::from_secs(
                86_400
                    * number(
                        env,
                        "EXTERNAL_ID_OVERLAP_DAYS",
                        30u64,
                        |v| (1..=365).contains(v),
                        "a whole number of days from 1 to 365: how long a rotated-out external ID stays honoured",
                    )?,
            ),
        })
    }
}

/// Start-up configuration errors end the process with a readable line naming the variable
/// (returning them from `main` would print Rust's debug format).
pub fn or_exit<T>(result: Result<T, ConfigError>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => {
            eprintln!("configuration error: {e}");
            tracing::error!(variable = e.variable, "configuration error: {e}");
            std::process::exit(2)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod url_lifetime_tests {
    use super::*;
    use crate::domain::lifetime::{CREDENTIAL_MARGIN, SESSION};
    use std::collections::HashMap;

    fn bounds(vars: &[(&str, &str)]) -> Result<UrlLifetime, ConfigError> {
        let env: HashMap<String, String> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        url_lifetime(&env, SESSION, CREDENTIAL_MARGIN)
    }

    #[test]
    fn the_deployment_defaults_are_900_s_within_3000_s() {
        let lifetime = bounds(&[]).unwrap();
        assert_eq!((lifetime.default_secs(), lifetime.max_secs()), (900, 3000));
    }

    #[test]
    fn a_maximum_that_would_outlive_the_credentials_fails_start_up_naming_the_variable() {
        assert_eq!(UrlLifetime::longest_for(SESSION, CREDENTIAL_MARGIN), 3539);
        assert!(bounds(&[("PRESIGN_MAX_EXPIRES_IN", "3539")]).is_ok());
        let e = bounds(&[("PRESIGN_MAX_EXPIRES_IN", "3540")]).unwrap_err();
        assert_eq!(e.variable, "PRESIGN_MAX_EXPIRES_IN");
        assert!(e.message.contains("3539"), "{}", e.message);
        let e =
            bounds(&[("PRESIGN_MAX_EXPIRES_IN", "600"), ("PRESIGN_DEFAULT_EXPIRES_IN", "900")]).unwrap_err();
        assert_eq!(e.variable, "PRESIGN_DEFAULT_EXPIRES_IN");
    }

    #[test]
    fn a_default_follows_a_lower_maximum() {
        let lifetime = bounds(&[("PRESIGN_MAX_EXPIRES_IN", "600")]).unwrap();
        assert_eq!(lifetime.default_secs(), 600);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod store_settings_tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> HashMap<String, String> {
        vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_function_without_the_secrets_key_or_the_loopback_setting_fails_start_up_naming_it() {
        assert_eq!(secrets_key_id(&env(&[])).unwrap_err().variable, "SECRETS_KMS_KEY_ID");
        assert_eq!(allow_loopback_endpoints(&env(&[])).unwrap_err().variable, "ALLOW_LOOPBACK_ENDPOINTS");
        let bad = allow_loopback_endpoints(&env(&[("ALLOW_LOOPBACK_ENDPOINTS", "yes")])).unwrap_err();
        assert!(bad.message.contains("true or false"), "{}", bad.message);
        let spaced = secrets_key_id(&env(&[("SECRETS_KMS_KEY_ID", "alias/has space")])).unwrap_err();
        assert_eq!(spaced.variable, "SECRETS_KMS_KEY_ID");
    }

    #[test]
    fn the_settings_a_deployment_gives_are_read_as_given() {
        let deployed = env(&[
            (
                "SECRETS_KMS_KEY_ID",
                "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            ),
            ("ALLOW_LOOPBACK_ENDPOINTS", "false"),
        ]);
        assert!(secrets_key_id(&deployed).unwrap().starts_with("arn:aws:kms:"));
        assert!(!allow_loopback_endpoints(&deployed).unwrap());
        assert!(allow_loopback_endpoints(&env(&[("ALLOW_LOOPBACK_ENDPOINTS", "true")])).unwrap());
    }
}
