//! The edge: what a Lambda function or the dev server needs around the domain. API Gateway v2
//! events in and responses out ([`gateway`], re-exported here), the routes, the caller's claims,
//! the process configuration read once at start-up, and the one error map
//! ([`error::ApiError`]): domain and AWS errors become a status, a stable code and a JSON body
//! here and nowhere else.
//!
//! May use `crate::domain` and `crate::aws`; nothing below may use it.

pub mod auth;
pub mod config;
pub mod error;
#[cfg(feature = "lambda")]
pub mod gateway;
pub mod metrics;
pub mod routes;
#[cfg(feature = "lambda")]
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;

#[cfg(feature = "lambda")]
pub use gateway::*;
