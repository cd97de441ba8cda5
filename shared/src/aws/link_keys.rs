//! The stable-link signing keys of a running function ([`Keyring`]): given inline (the dev
//! server), or read from a Secrets Manager secret at start and again while the function runs, so
//! that a rotation reaches every warm instance without a deploy.
//!
//! Rotation (README, "Stable links"): add a key to the secret and make it `current`; keep the old
//! one until the links it issued have expired (`LINK_MAX_SECONDS`), then remove it. An instance
//! re-reads the secret every [`REFRESH`], and at once (at most every [`UNKNOWN_KEY_RELOAD`]) when a
//! token names a key it does not hold, so a link issued by an instance that has already seen the
//! new key opens everywhere. A failed re-read keeps the keys last read.

use crate::domain::link::{Link, LinkError, LinkKeys};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How often a warm instance re-reads the secret.
pub const REFRESH: Duration = Duration::from_secs(300);
/// The least time between two re-reads caused by tokens under unknown key ids (a stream of forged
/// key ids costs at most one Secrets Manager call per this period).
pub const UNKNOWN_KEY_RELOAD: Duration = Duration::from_secs(30);

/// Why the keys could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("cannot read the link signing keys from Secrets Manager secret {secret}: {detail}")]
    Unreadable { secret: String, detail: String },
    #[error("the Secrets Manager secret {secret} does not hold link signing keys: {detail}")]
    Malformed { secret: String, detail: String },
}

#[derive(Debug)]
enum Source {
    Fixed,
    SecretsManager { client: aws_sdk_secretsmanager::Client, secret: String },
}

#[derive(Debug)]
pub struct Keyring {
    source: Source,
    keys: RwLock<Arc<LinkKeys>>,
    /// When the keys were last read, and when a re-read was last attempted.
    loaded_at: Mutex<(Instant, Instant)>,
    reload: tokio::sync::Mutex<()>,
}

impl Keyring {
    /// Keys that never change while the process runs.
    pub fn fixed(keys: LinkKeys) -> Self {
        Self::with(Source::Fixed, keys)
    }

    /// Reads the secret once; a function must not start without its keys.
    pub async fn from_secret(
        client: aws_sdk_secretsmanager::Client,
        secret: impl Into<String>,
    ) -> Result<Self, KeyringError> {
        let secret = secret.into();
        let keys = read(&client, &secret).await?;
        Ok(Self::with(Source::SecretsManager { client, secret }, keys))
    }

    /// The Secrets Manager client, bounded like the function's other calls on the request path.
    pub fn client(sdk: &aws_config::SdkConfig) -> aws_sdk_secretsmanager::Client {
        crate::aws::limits::secrets_manager_client(sdk)
    }

    fn with(source: Source, keys: LinkKeys) -> Self {
        let now = Instant::now();
        // The first unknown key id may re-read at once: a rotation can land just after a start.
        let attempted = now.checked_sub(UNKNOWN_KEY_RELOAD).unwrap_or(now);
        Self {
            source,
            keys: RwLock::new(Arc::new(keys)),
            loaded_at: Mutex::new((now, attempted)),
            reload: tokio::sync::Mutex::new(()),
        }
    }

    /// The keys to issue links with: re-read first when they are older than [`REFRESH`].
    pub async fn current(&self) -> Arc<LinkKeys> {
        let stale = self.loaded_at.lock().map(|at| at.0.elapsed() >= REFRESH).unwrap_or(true);
        if stale {
            self.reload(REFRESH).await;
        }
        self.snapshot()
    }

    /// The link a token grants at `now` (Unix seconds). A token under a key id not held makes one
    /// re-read (rate-limited) before it is refused.
    pub async fn open(&self, token: &str, now: u64) -> Result<Link, LinkError> {
        match self.snapshot().open(token, now) {
            Err(LinkError::UnknownKey) => {
                self.reload(UNKNOWN_KEY_RELOAD).await;
                self.snapshot().open(token, now)
            }
            opened => opened,
        }
    }

    fn snapshot(&self) -> Arc<LinkKeys> {
        match self.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the secret unless a re-read was attempted less than `not_within` ago (one at a
    /// time; the others wait for it and use what it read).
    async fn reload(&self, not_within: Duration) {
        let Source::SecretsManager { client, secret } = &self.source else {
            return;
        };
        let _one_at_a_time = self.reload.lock().await;
        let attempted = self.loaded_at.lock().map(|at| at.1).unwrap_or_else(|p| p.into_inner().1);
        if attempted.elapsed() < not_within {
            return;
        }
        let now = Instant::now();
        match read(client, secret).await {
            Ok(keys) => {
                if let Ok(mut current) = self.keys.write() {
                    *current = Arc::new(keys);
                }
                if let Ok(mut at) = self.loaded_at.lock() {
                    *at = (now, now);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "kept the link signing keys last read");
                if let Ok(mut at) = self.loaded_at.lock() {
                    at.1 = now;
                }
            }
        }
    }
}

async fn read(client: &aws_sdk_secretsmanager::Client, secret: &str) -> Result<LinkKeys, KeyringError> {
    let answer =
        client.get_secret_value().secret_id(secret).send().await.map_err(|e| KeyringError::Unreadable {
            secret: secret.to_owned(),
            detail: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
        })?;
    let text = answer.secret_string().ok_or_else(|| KeyringError::Malformed {
        secret: secret.to_owned(),
        detail: "it has no SecretString".to_owned(),
    })?;
    LinkKeys::from_json(text).map_err(|detail| KeyringError::Malformed { secret: secret.to_owned(), detail })
}
