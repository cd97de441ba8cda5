#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests against the local AWS emulator.
