//! Tests of the warg backend against a real `warg-server`, started in process for each test
//! (memory data store, namespaces `test`, `demo`, `example`, `wasi`).

mod faults;
mod publish;
mod storage;
mod support;
mod tls;
