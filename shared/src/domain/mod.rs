//! The rules, with no I/O: what a locator, a bucket name, a role ARN, a region, an org, a scope and
//! an integration are; which integration serves a locator; the access, trust and CORS documents;
//! how long a URL may live; the external ID; and SigV4 presigning.
//!
//! Must not import: any AWS SDK, Lambda, HTTP or async-runtime crate, nor `crate::aws` or
//! `crate::api` (`tests/layers.rs` checks every file of this folder). Errors here are
//! [`input::InputError`] (a value broke a rule) and [`input::Rejection`] (a request is refused,
//! with its code and field); the API edge decides their status.

pub mod arn;
pub mod audit;
pub mod bucket;
pub mod clock;
pub mod delivery;
pub mod external_id;
pub mod input;
pub mod integration;
pub mod lifetime;
pub mod link;
pub mod locator;
pub mod org;
pub mod policy;
pub mod presign;
pub mod region;
pub mod s3_compatible;
pub mod scope;
