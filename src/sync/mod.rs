//! The sync worker: delivers stored enquiries from the outbox to CareHQ and
//! to every other destination (the fallback email, FHIR destinations).
//!
//! Woken at once after each commit, on `sync.poll_interval`, when the next
//! retry falls due, and at start-up. Rows are claimed with a lease by their
//! lane (`lane`), sent outside any transaction through the one step runner
//! (`pipeline`), judged into a `verdict`, and recorded in one short write
//! (`record`). Each kind of destination is one sender module
//! (`carehq_step`, `email_step`, `fhir_step`, `unserved`).

mod backoff;
mod carehq_step;
mod email_step;
mod fhir_step;
mod lane;
mod pipeline;
mod record;
mod routing;
mod sender;
mod shared;
mod stored;
mod unserved;
mod verdict;
mod visit_step;
mod worker;

pub use backoff::retry_delay;
pub use email_step::fallback_mailer;
pub use lane::{FALLBACK_LANE, Lane, UNSERVED_LANE};
pub use worker::{DrainReport, SyncWorker, WorkerHandle};
