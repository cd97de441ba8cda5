//! The S3 integrations service's library: every rule, and every part that talks to AWS or API
//! Gateway, shared by the Lambda functions and the dev server.
//!
//! It is three layers, one folder each; each may use the layers above it in this list, never the
//! ones below:
//!
//! - [`domain`]: the rules, with no I/O. Locators, bucket names, role ARNs, regions, scopes,
//!   integrations, the policy documents, URL lifetimes, external IDs and the SigV4 presigner.
//!   Parsers return types that cannot be invalid; errors are domain errors (`InputError`,
//!   `Rejection`), never HTTP statuses.
//! - [`aws`]: the AWS side, behind traits with in-memory twins: the integration store
//!   (DynamoDB), assuming customer roles (STS, with the warm credential cache), the trust
//!   boundary's probe and gate over that seam, and the live validation checks (S3). Its errors
//!   are its own (`StoreError`, `AssumeFailure`).
//! - [`api`]: the edge. API Gateway events in and responses out, routes, the caller's claims,
//!   process configuration, and the one error map ([`api::error::ApiError`]): the only place that
//!   names an HTTP status.
//!
//! `tests/layers.rs` holds the domain to this: it names no AWS, Lambda, HTTP or runtime crate
//! and nothing of `aws` or `api`.

pub mod api;
pub mod aws;
pub mod domain;

pub use domain::arn::RoleArn;
pub use domain::bucket::BucketName;
pub use domain::input::{InputError, InputErrorKind, Rejection};
pub use domain::locator::{Locator, ObjectKey, S3Locator, VersionId};
pub use domain::region::{Partition, Region};
pub use domain::scope::{KeyPrefix, Scope};

/// An error and its sources, `: `-separated, for a log line (never for the client).
pub fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}
