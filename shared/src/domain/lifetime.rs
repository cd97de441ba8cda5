//! How long a presigned URL lives: every bound on it, in one place.
//!
//! - **SigV4's cap**: a presigned URL is valid for at most seven days ([`SIGV4_MAX_SECS`]).
//! - **The credentials**: a URL signed with temporary credentials dies with them, so the cache
//!   asks for sessions of [`SESSION`] (role chaining's cap) and a credential signs only while it
//!   outlives the URL by [`CREDENTIAL_MARGIN`] (clock skew, request time).
//! - **The deployment** (read by `crate::api::config::url_lifetime`): `PRESIGN_MAX_EXPIRES_IN` must leave that
//!   margin inside a session; `PRESIGN_DEFAULT_EXPIRES_IN` is at most the maximum.
//! - **The request** ([`UrlLifetime::requested`]): `expires_in` from 1 to the maximum, else the default.
//! - **The signing** ([`UrlLifetime::effective`]): what was asked, cut to what the credentials
//!   still cover, never under one second.

use crate::domain::input::Rejection;
use std::time::{Duration, SystemTime};

/// The longest validity SigV4 allows for a presigned URL: seven days.
pub const SIGV4_MAX_SECS: u32 = 604_800;
/// The longest a stable link (`crate::domain::link`) may be made to last: its URL is re-signed on
/// every use, so SigV4's cap does not bind it; key rotation does (an old key stays until its links
/// expire).
pub const MAX_LINK_SECS: u32 = 30 * 86_400;
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
    /// Bounds the deployment chose (`crate::api::config::url_lifetime` reads and checks them):
    /// `None` unless 1 <= default <= max <= SigV4's cap.
    pub fn new(default_secs: u32, max_secs: u32) -> Option<Self> {
        (1 <= default_secs && default_secs <= max_secs && max_secs <= SIGV4_MAX_SECS)
            .then_some(Self { default_secs, max_secs })
    }

    /// Bounds for stable links: `None` unless 1 <= default <= max, and max is from SigV4's cap
    /// (seven days, the least a link may be allowed to last) to [`MAX_LINK_SECS`].
    pub fn for_links(default_secs: u32, max_secs: u32) -> Option<Self> {
        (1 <= default_secs
            && default_secs <= max_secs
            && (SIGV4_MAX_SECS..=MAX_LINK_SECS).contains(&max_secs))
        .then_some(Self { default_secs, max_secs })
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
    pub fn requested(&self, expires_in: Option<&serde_json::Value>) -> Result<u32, Rejection> {
        match expires_in {
            None | Some(serde_json::Value::Null) => Ok(self.default_secs),
            Some(v) => v
                .as_u64()
                .filter(|s| (1..=u64::from(self.max_secs)).contains(s))
                .map(|s| s as u32)
                .ok_or_else(|| {
                    Rejection::new(
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

    #[test]
    fn a_request_gets_the_default_or_what_it_asks_within_the_maximum() {
        let lifetime = UrlLifetime::new(900, 3000).unwrap();
        assert_eq!(lifetime.requested(None).unwrap(), 900);
        assert_eq!(lifetime.requested(Some(&json!(null))).unwrap(), 900);
        assert_eq!(lifetime.requested(Some(&json!(1))).unwrap(), 1);
        assert_eq!(lifetime.requested(Some(&json!(3000))).unwrap(), 3000);
        for bad in [json!(0), json!(3001), json!(-5), json!(1.5), json!("900")] {
            let e = lifetime.requested(Some(&bad)).unwrap_err();
            assert_eq!(e.code(), "INVALID_EXPIRES_IN", "{bad}");
            assert!(e.message().contains("from 1 to 3000"), "{bad}: {}", e.message());
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
