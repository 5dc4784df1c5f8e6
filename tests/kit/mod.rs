//! The one test kit, shared by the integration tests (`tests/api`, through
//! `helpers.rs`), `tests/official_client.rs` and the benchmarks
//! (`benches/common/service.rs`): a database for one run, the CareHQ sandbox
//! on port 0, the real `enquiry-relay` binary as a child process, loopback
//! ports and polling. Each user includes it with `#[path]` (the benches
//! already share their code that way), so it needs no crate of its own and
//! no change to `Cargo.toml`; each uses only part of it.
#![allow(dead_code, unused_imports)]

pub mod binary;
pub mod db;
pub mod net;
pub mod sandbox;

pub use binary::{BinaryApp, Stopped};
pub use db::{Db, TestDb};
pub use net::{eventually, free_port, http_client, unique_file};
pub use sandbox::TestSandbox;

/// The site every test and benchmark config defines first.
pub const SITE: &str = "upton-court";
