//! S3-compatible stores' secret access keys at rest: sealed with a KMS key before they are
//! written, opened only by the functions that sign or validate with them.
//!
//! Direct KMS encryption (a secret is at most 128 bytes, well under KMS's 4 KB): one `Encrypt` per
//! save, one `Decrypt` per integration version and warm Lambda instance (callers cache what they
//! open). The encryption context binds each ciphertext to its org, so a ciphertext copied into
//! another org's item does not open there; KMS logs the context in CloudTrail, and the template's
//! key policy grants the functions the key only with `purpose` set to [`PURPOSE`].
//!
//! Two implementations of [`SecretSealer`]: [`KmsSealer`] (production; moto's KMS locally) and
//! [`MemorySealer`] (feature `testkit`: AES-256-GCM under a random per-instance key, the org as
//! associated data). One contract suite (`tests/api/secrets_contract.rs`) holds both to the same
//! behaviour.

use crate::domain::org::OrgId;
use crate::domain::s3_compatible::{SealedSecret, SecretAccessKey};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The encryption context's `purpose`: what the ciphertext is, for the key policy and CloudTrail.
pub const PURPOSE: &str = "s3-compatible-secret";

/// Why a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// KMS did not answer (in time): a retry may work.
    #[error("KMS is unavailable: {0}")]
    Unavailable(String),
    /// KMS refused, or the ciphertext does not open with this org's context: not retried.
    #[error("the secret could not be opened or sealed: {0}")]
    Refused(String),
}

pub type SecretFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SecretError>> + Send + 'a>>;

/// Seals and opens S3-compatible secrets, bound to their org.
pub trait SecretSealer: Send + Sync + std::fmt::Debug {
    fn seal<'a>(&'a self, org: &'a OrgId, secret: &'a SecretAccessKey) -> SecretFuture<'a, SealedSecret>;
    fn open<'a>(&'a self, org: &'a OrgId, sealed: &'a SealedSecret) -> SecretFuture<'a, SecretAccessKey>;
}

pub type SharedSealer = Arc<dyn SecretSealer>;

fn context(org: &OrgId) -> [(&'static str, String); 2] {
    [("purpose", PURPOSE.to_owned()), ("org_id", org.as_str().to_owned())]
}

/// Sealing with AWS KMS.
#[derive(Debug, Clone)]
pub struct KmsSealer {
    kms: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsSealer {
    /// `key_id`: the key's ARN, id or alias (`SECRETS_KMS_KEY_ID`).
    pub fn new(kms: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self { kms, key_id: key_id.into() }
    }

    /// A KMS client with the same bounds as the store's calls ([`crate::aws::limits::kms_client`]).
    pub fn client(sdk: &aws_config::SdkConfig) -> aws_sdk_kms::Client {
        crate::aws::limits::kms_client(sdk)
    }

    /// Creates a symmetric key and returns its ARN: what the dev server does when no key is
    /// configured (the template creates the key on AWS).
    pub async fn create_key(kms: &aws_sdk_kms::Client, description: &str) -> Result<String, SecretError> {
        let created = kms.create_key().description(description).send().await.map_err(classify)?;
        created
            .key_metadata()
            .and_then(|m| m.arn())
            .map(str::to_owned)
            .ok_or_else(|| SecretError::Refused("CreateKey answered without a key ARN".into()))
    }
}

fn classify<E>(error: aws_sdk_kms::error::SdkError<E, aws_smithy_runtime_api::http::Response>) -> SecretError
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_kms::error::{DisplayErrorContext, SdkError};
    let detail = format!("{}", DisplayErrorContext(&error));
    match &error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            let retryable = matches!(
                code,
                "KMSInternalException"
                    | "DependencyTimeoutException"
                    | "ThrottlingException"
                    | "KeyUnavailableException"
            ) || service.raw().status().is_server_error();
            if retryable {
                SecretError::Unavailable(detail)
            } else {
                SecretError::Refused(detail)
            }
        }
        _ => SecretError::Unavailable(detail),
    }
}

impl SecretSealer for KmsSealer {
    fn seal<'a>(&'a self, org: &'a OrgId, secret: &'a SecretAccessKey) -> SecretFuture<'a, SealedSecret> {
        Box::pin(async move {
            let mut encrypt = self
                .kms
                .encrypt()
                .key_id(&self.key_id)
                .plaintext(aws_sdk_kms::primitives::Blob::new(secret.expose().as_bytes()));
            for (key, value) in context(org) {
                encrypt = encrypt.encryption_context(key, value);
            }
            let out = encrypt.send().await.map_err(classify)?;
            let blob = out
                .ciphertext_blob()
                .ok_or_else(|| SecretError::Refused("Encrypt answered without a ciphertext".into()))?;
            Ok(SealedSecret::from_ciphertext(blob.as_ref().to_vec()))
        })
    }

    fn open<'a>(&'a self, org: &'a OrgId, sealed: &'a SealedSecret) -> SecretFuture<'a, SecretAccessKey> {
        Box::pin(async move {
            let mut decrypt = self
                .kms
                .decrypt()
                .key_id(&self.key_id)
                .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(sealed.ciphertext()));
            for (key, value) in context(org) {
                decrypt = decrypt.encryption_context(key, value);
            }
            let out = decrypt.send().await.map_err(classify)?;
            let plain = out
                .plaintext()
                .ok_or_else(|| SecretError::Refused("Decrypt answered without plaintext".into()))?;
            let text = std::str::from_utf8(plain.as_ref())
                .map_err(|_| SecretError::Refused("the opened secret is not text".into()))?;
            SecretAccessKey::parse(text)
                .map_err(|_| SecretError::Refused("the opened secret is malformed".into()))
        })
    }
}

#[cfg(feature = "testkit")]
pub use memory::MemorySealer;

#[cfg(feature = "testkit")]
mod memory {
    use super::*;
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use aes_gcm::{Aes256Gcm, Nonce};

    /// Sealing in process: AES-256-GCM under a key made when the sealer is, the encryption
    /// context as associated data. What one instance sealed only it opens, and only for the same
    /// org, as with KMS.
    pub struct MemorySealer {
        cipher: Aes256Gcm,
        /// Set to make every call fail as an unavailable KMS would.
        pub unavailable: std::sync::atomic::AtomicBool,
    }

    impl std::fmt::Debug for MemorySealer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("MemorySealer")
        }
    }

    impl Default for MemorySealer {
        fn default() -> Self {
            Self::new()
        }
    }

    impl MemorySealer {
        #[allow(clippy::expect_used)] // no randomness at all is not a state a test can run in
        pub fn new() -> Self {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).expect("the OS gives randomness");
            Self {
                cipher: Aes256Gcm::new(&key.into()),
                unavailable: std::sync::atomic::AtomicBool::new(false),
            }
        }

        fn associated(org: &OrgId) -> Vec<u8> {
            context(org)
                .iter()
                .flat_map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes(), b"\0"].concat())
                .collect()
        }

        fn check_available(&self) -> Result<(), SecretError> {
            if self.unavailable.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(SecretError::Unavailable("the memory sealer is set unavailable".into()));
            }
            Ok(())
        }
    }

    impl SecretSealer for MemorySealer {
        fn seal<'a>(&'a self, org: &'a OrgId, secret: &'a SecretAccessKey) -> SecretFuture<'a, SealedSecret> {
            Box::pin(async move {
                self.check_available()?;
                let mut nonce = [0u8; 12];
                getrandom::fill(&mut nonce).map_err(|e| SecretError::Unavailable(e.to_string()))?;
                let aad = Self::associated(org);
                let sealed = self
                    .cipher
                    .encrypt(
                        Nonce::from_slice(&nonce),
                        Payload { msg: secret.expose().as_bytes(), aad: &aad },
                    )
                    .map_err(|_| SecretError::Refused("sealing failed".into()))?;
                Ok(SealedSecret::from_ciphertext([nonce.as_slice(), &sealed].concat()))
            })
        }

        fn open<'a>(&'a self, org: &'a OrgId, sealed: &'a SealedSecret) -> SecretFuture<'a, SecretAccessKey> {
            Box::pin(async move {
                self.check_available()?;
                let bytes = sealed.ciphertext();
                if bytes.len() < 12 {
                    return Err(SecretError::Refused("the ciphertext is too short".into()));
                }
                let (nonce, body) = bytes.split_at(12);
                let aad = Self::associated(org);
                let plain =
                    self.cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: &aad }).map_err(
                        |_| SecretError::Refused("the ciphertext does not open for this org".into()),
                    )?;
                let text = String::from_utf8(plain).map_err(|_| SecretError::Refused("not text".into()))?;
                SecretAccessKey::parse(&text).map_err(|_| SecretError::Refused("malformed".into()))
            })
        }
    }
}
