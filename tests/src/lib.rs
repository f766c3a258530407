//! End-to-end tests of the wreg workspace.
//!
//! `tests/tidy.rs` checks the workspace itself (package metadata, light dependency trees,
//! documented crates). The end-to-end tests against a real CNCF `distribution` registry and
//! an in-process `warg-server`, and the support code that starts those servers, arrive with
//! the backends they exercise.
