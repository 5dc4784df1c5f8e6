//! The sync worker: delivers stored enquiries to CareHQ from the outbox.
//!
//! Woken at once after each commit, on `sync.poll_interval`, when the next
//! retry falls due, and at start-up. Rows are claimed with a lease, sent outside
//! any transaction, and their outcome recorded in one short write.

mod backoff;
mod classify;
mod deliver;
mod fallback_email;
mod fhir_step;
mod lane;
mod mailer;
mod outcome;
mod routing;
mod shared;
mod stored;
mod visit_step;
mod worker;

pub use backoff::retry_delay;
pub use classify::{Disposition, classify};
pub use lane::{FALLBACK_LANE, Lane};
pub use mailer::FallbackMailer;
pub use worker::{DrainReport, SyncWorker, WorkerHandle};
