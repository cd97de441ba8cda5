//! The S3 integrations domain, shared by every Lambda function and the dev server.
//!
//! This crate owns the rules that need no AWS call: parsing locators, bucket names, role ARNs
//! and regions into types that cannot be invalid; matching a locator to the integration whose
//! scope covers it; rendering the access, trust and CORS policies an admin pastes into AWS; and
//! the SigV4 query-string presigner. Everything here is reachable from tests without Lambda or AWS.

#[cfg(feature = "lambda")]
pub mod api;
pub mod arn;
pub mod auth;
pub mod bucket;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod error;
pub mod input;
pub mod integration;
pub mod lifetime;
pub mod locator;
pub mod policy;
pub mod presign;
pub mod region;
pub mod routes;
pub mod scope;
pub mod store;
#[cfg(feature = "lambda")]
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod trust;
#[cfg(feature = "validation")]
pub mod validation;

pub use arn::RoleArn;
pub use bucket::BucketName;
pub use input::{InputError, InputErrorKind};
pub use locator::{Locator, ObjectKey, S3Locator, VersionId};
pub use region::{Partition, Region};
pub use scope::{KeyPrefix, Scope};
