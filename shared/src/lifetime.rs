//! How long a presigned URL lives: every bound on it, in one place.
//!
//! - **SigV4's cap**: a presigned URL is valid for at most seven days ([`SIGV4_MAX_SECS`]).
//! - **The credentials**: a URL signed with temporary credentials dies with them, so the cache
//!   asks for sessions of [`SESSION`] (role chaining's cap) and a credential signs only while it
//!   outlives the URL by [`CREDENTIAL_MARGIN`] (clock skew, request time).
//! - **The deployment** ([`UrlLifetime::from_env`]): `PRESIGN_MAX_EXPIRES_IN` must leave that
//!   margin inside a session; `PRESIGN_DEFAULT_EXPIRES_IN` is at most the maximum.
//! - **The request** ([`UrlLifetime::requested`]): `expires_in` from 1 to the maximum, else the default.
//! - **The signing** ([`UrlLifetime::effective`]): what was asked, cut to what the credentials
//!   still cover, never under one second.

use crate::config::{number, ConfigError, Env};
use crate::error::ApiError;
use std::time::{Duration, SystemTime};

/// The longest validity SigV4 allows for a presigned URL: seven days.
pub const SIGV4_MAX_SECS: u32 = 604_800;
/// The `DurationSeconds` the credential cache asks for: role chaining caps sessions at an hour.
pub const SESSION: Duration = Duration::from_secs(3600);
/// A credential signs only while it outlives the URL by this much.
pub const CREDENTIAL_MARGIN: Duration = Duration::from_secs(60);

/// The deployment's bounds on `expires_in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlLifetime {
    default_secs: u32,
    max_secs: u32,
}

impl UrlLifetime {
    /// `PRESIGN_MAX_EXPIRES_IN` (default 3,000 s) and `PRESIGN_DEFAULT_EXPIRES_IN` (default 900 s,
    /// or the maximum if lower), checked against sessions of `session` and a `margin`.
    pub fn from_env(env: &dyn Env, session: Duration, margin: Duration) -> Result<Self, ConfigError> {
        let longest = Self::longest_for(session, margin);
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
        Ok(Self { default_secs, max_secs })
    }

    /// The longest URL credentials of `session` can carry with `margin` to spare (and SigV4 allows).
    pub fn longest_for(session: Duration, margin: Duration) -> u32 {
        let secs = session.saturating_sub(margin).as_secs().saturating_sub(1);
        u32::try_from(secs).unwrap_or(u32::MAX).min(SIGV4_MAX_SECS)
    }

    pub fn default_secs(&self) -> u32 {
        self.default_secs
    }

    pub fn max_secs(&self) -> u32 {
        self.max_secs
    }

    /// The request's `expires_in` (absent or `null`: the default), or `INVALID_EXPIRES_IN` naming
    /// the range.
    pub fn requested(&self, expires_in: Option<&serde_json::Value>) -> Result<u32, ApiError> {
        match expires_in {
            None | Some(serde_json::Value::Null) => Ok(self.default_secs),
            Some(v) => v
                .as_u64()
                .filter(|s| (1..=u64::from(self.max_secs)).contains(s))
                .map(|s| s as u32)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "INVALID_EXPIRES_IN",
                        Some("expires_in"),
                        format!(
                            "\"expires_in\" must be a whole number of seconds from 1 to {}.",
                            self.max_secs
                        ),
                    )
                }),
        }
    }

    /// What a URL signed `now` for `requested` seconds may really carry, when its credentials sign
    /// only until `sign_until`: cut to that, at least one second, at most SigV4's cap.
    pub fn effective(requested: u32, now: SystemTime, sign_until: SystemTime) -> u32 {
        let covered = sign_until.duration_since(now).map(|d| d.as_secs()).unwrap_or(0);
        let secs = u64::from(requested).min(covered).max(1);
        u32::try_from(secs).unwrap_or(SIGV4_MAX_SECS).min(SIGV4_MAX_SECS)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn bounds(vars: &[(&str, &str)]) -> Result<UrlLifetime, ConfigError> {
        let env: HashMap<String, String> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        UrlLifetime::from_env(&env, SESSION, CREDENTIAL_MARGIN)
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

    #[test]
    fn a_request_gets_the_default_or_what_it_asks_within_the_maximum() {
        let lifetime = bounds(&[]).unwrap();
        assert_eq!(lifetime.requested(None).unwrap(), 900);
        assert_eq!(lifetime.requested(Some(&json!(null))).unwrap(), 900);
        assert_eq!(lifetime.requested(Some(&json!(1))).unwrap(), 1);
        assert_eq!(lifetime.requested(Some(&json!(3000))).unwrap(), 3000);
        for bad in [json!(0), json!(3001), json!(-5), json!(1.5), json!("900")] {
            let e = lifetime.requested(Some(&bad)).unwrap_err();
            assert_eq!(e.code(), "INVALID_EXPIRES_IN", "{bad}");
            assert!(e.public_message().contains("from 1 to 3000"), "{bad}: {}", e.public_message());
        }
    }

    #[test]
    fn a_url_is_cut_to_what_its_credentials_cover_and_never_under_a_second() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(UrlLifetime::effective(900, now, now + Duration::from_secs(3000)), 900);
        assert_eq!(UrlLifetime::effective(900, now, now + Duration::from_secs(120)), 120);
        assert_eq!(UrlLifetime::effective(900, now, now), 1);
        assert_eq!(UrlLifetime::effective(900, now, now - Duration::from_secs(5)), 1);
        assert_eq!(
            UrlLifetime::effective(u32::MAX, now, now + Duration::from_secs(10 * 86_400)),
            SIGV4_MAX_SECS
        );
    }
}
