#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests: the dev server (the same handlers the Lambdas run) over real HTTP, against
//! the local AWS emulator. One binary; each test gets a fresh table and its own orgs.

mod audit;
mod bad_input;
mod delivery;
mod events;
mod explain;
mod faults;
mod fuzz;
mod helpers;
mod integrations;
mod isolation;
mod kms;
mod least_privilege;
mod links;
mod moto;
mod platform;
mod presign;
mod rotation;
mod routes;
mod s3_compatible;
#[path = "../../shared/tests/support/s3s_fs.rs"]
mod s3s_fs;
mod secrets_contract;
mod statuses;
mod store_contract;
mod sts_contract;
mod validation;
mod web;
