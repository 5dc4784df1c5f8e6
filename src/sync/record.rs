//! Recording an attempt's outcome under its claim's lease, whatever the lane
//! sent, and what the worker's bookkeeping is told.
//!
//! A known success is never given up on: its write is tried again until it
//! lands (the row stays in this process's in-flight set meanwhile, so this
//! process does not claim it again), and if the lease ran out first it is
//! recorded all the same (`Store::record_late_success`), counted, because
//! another instance may have claimed and sent the row again by then. Any
//! other outcome is retried while the lease lasts; a row whose failure could
//! not be recorded is simply tried again when its lease ends.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tracing::warn;

use super::shared::Shared;
use crate::storage::{AttemptRecord, ClaimedDelivery, StoreError, Transition};

/// The part of a lease kept for recording an outcome after the destination
/// answers: a send starts only while its budget plus this much of the lease
/// is left, and is cut off when only this much is left. (`sync.lease` must
/// exceed `carehq.timeout` by this and 2 s more for the claim-to-send
/// preparation: `config::LEASE_MIN_MARGIN`.)
pub const RECORD_TIME: Duration = Duration::from_secs(3);
/// Retries of a failed outcome write other than a success stop this long
/// before the lease ends: a write still running then may land after another
/// claim took the row (it is then refused by the lease token).
const RECORD_STOP_BEFORE_END: Duration = Duration::from_millis(500);
/// The longest wait between two tries of an outcome write.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// What happened to one delivery, for the worker's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Synced,
    Retrying,
    Failed,
    /// Not sent: rate limit, pause or too little lease. No attempt spent.
    Deferred,
    /// Our lease was taken over (we ran past it); the other claim owns the row.
    LeaseLost,
}

impl Delivered {
    /// What a recorded transition means for the bookkeeping.
    pub fn of(transition: &Transition) -> Delivered {
        match transition {
            Transition::Synced { .. } => Delivered::Synced,
            Transition::Retry {
                spend_attempt: true,
                ..
            } => Delivered::Retrying,
            Transition::Retry { .. } => Delivered::Deferred,
            Transition::Failed { .. } => Delivered::Failed,
        }
    }
}

/// Record the outcome under this claim's lease token. A write that fails
/// (a failover, the pool's acquire timeout, a lock held by another process)
/// is tried again with backoff. The first failure is logged here, a final
/// one by the caller.
pub(super) async fn record(
    shared: &Shared,
    row: &ClaimedDelivery,
    attempt: &AttemptRecord,
    transition: &Transition,
) -> Result<Delivered, StoreError> {
    metrics::counter!(crate::ops::metrics::ATTEMPTS, "outcome" => attempt.outcome.as_str(), "account" => row.account.clone())
        .increment(1);
    let known_success = matches!(transition, Transition::Synced { .. });
    let mut wait = Duration::from_millis(50);
    let mut failures = 0u32;
    loop {
        let written = match shared.store.record_outcome(row, attempt, transition).await {
            // The lease was lost, but the destination has it: recorded all the same.
            Ok(false) if known_success => late_success(shared, row, attempt, transition).await,
            written => written,
        };
        match written {
            Ok(true) => return Ok(Delivered::of(transition)),
            Ok(false) => {
                // A failed try may have committed although its answer was lost.
                warn!(delivery_id = %row.id, "outcome not recorded: an earlier try landed, or another claim owns the row");
                return Ok(Delivered::LeaseLost);
            }
            Err(e) if !known_success && lease_over(row, wait) => return Err(e),
            Err(e) => {
                failures += 1;
                shared.outcome_write_retries.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(crate::ops::metrics::OUTCOME_WRITE_RETRIES).increment(1);
                if failures == 1 {
                    warn!(delivery_id = %row.id, error = %crate::telemetry::chain(&e), known_success, "could not record the delivery outcome; trying again");
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_WAIT);
            }
        }
    }
}

/// Whether the lease ends before another try after `wait` could land.
fn lease_over(row: &ClaimedDelivery, wait: Duration) -> bool {
    Instant::now() + wait + RECORD_STOP_BEFORE_END >= row.lease_deadline
}

/// The success's write once the lease is over: recorded whoever holds the
/// row now, and counted, since another claim may have sent it again.
async fn late_success(
    shared: &Shared,
    row: &ClaimedDelivery,
    attempt: &AttemptRecord,
    transition: &Transition,
) -> Result<bool, StoreError> {
    let Transition::Synced { remote_id } = transition else {
        return Ok(false);
    };
    let written = (shared.store)
        .record_late_success(row, attempt, remote_id.clone())
        .await?;
    if written {
        warn!(delivery_id = %row.id, "a success was recorded after its lease ran out; another instance may have sent it again meanwhile (counted)");
        metrics::counter!(crate::ops::metrics::LATE_SUCCESSES).increment(1);
    }
    Ok(written)
}
