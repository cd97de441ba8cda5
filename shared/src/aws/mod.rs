//! The AWS side, each part behind a trait with an in-memory implementation that one contract
//! suite holds to the emulator's behaviour:
//!
//! - [`store`]: integrations, scope locks, external IDs and reports (`IntegrationStore`:
//!   DynamoDB and memory), speaking [`store::StoreError`];
//! - [`credentials`]: assuming customer roles (`Assumer`: STS and memory) and the warm credential
//!   cache, speaking [`credentials::AssumeFailure`];
//! - [`secrets`]: S3-compatible stores' secret keys at rest (`SecretSealer`: KMS and memory);
//! - [`link_keys`]: the stable-link signing keys, inline or from Secrets Manager, re-read while warm;
//! - [`trust`]: the trust boundary over that seam (the probe, the recorded proof, the gate);
//! - [`endpoint_guard`] (feature `endpoint-guard`): which S3-compatible endpoints the platform
//!   may call (the SSRF guard);
//! - [`validation`] (feature `validation`): the live checks with the assumed role (S3, CORS).
//!
//! May use `crate::domain`. Must not import `crate::api`: no HTTP status or response is decided
//! here.

pub mod credentials;
#[cfg(feature = "endpoint-guard")]
pub mod endpoint_guard;
pub mod limits;
pub mod link_keys;
pub mod secrets;
pub mod store;
pub mod trust;
#[cfg(feature = "validation")]
pub mod validation;
