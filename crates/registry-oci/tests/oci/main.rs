//! Tests of the OCI backend against a real CNCF distribution registry (`docker-registry`),
//! started once for this test binary.

mod auth;
mod container;
mod faults;
mod hostile;
mod identity;
mod interop;
mod lenient;
mod list;
mod oras;
mod proxy;
mod publish;
mod referrers;
mod referrers_api;
mod remembered;
mod support;
mod tls;
