//! Recording a delivery's outcome under its lease, whatever the lane sent
//! (CareHQ or email): the write retried while the lease lasts, and what the
//! worker's bookkeeping is told.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tracing::warn;

use super::shared::Shared;
use crate::storage::{AttemptOutcome, AttemptRecord, ClaimedDelivery, StoreError, Transition};

/// The part of a lease kept for recording an outcome after CareHQ answers:
/// a send starts only while `carehq.timeout` plus this much of the lease is
/// left. (`sync.lease` must exceed `carehq.timeout` by this and 2 s more for
/// the claim-to-send preparation: `config::LEASE_MIN_MARGIN`.)
pub const RECORD_TIME: Duration = Duration::from_secs(3);
/// Write retries stop this long before the lease ends: a write still running
/// then may land after another claim took the row (it is then refused by
/// the lease token, so nothing is overwritten).
const RECORD_STOP_BEFORE_END: Duration = Duration::from_millis(500);

/// What happened to one delivery, for the worker's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Synced,
    Retrying,
    Failed,
    /// Not sent: rate limit or pause. No attempt spent.
    Deferred,
    /// Our lease was taken over (we ran past it); the other worker owns the row.
    LeaseLost,
}

/// A send must be able to finish, and its outcome be recorded, inside the
/// lease; otherwise another claim could send the row again meanwhile. When
/// a send of up to `timeout` would not fit any more (only a slow
/// preparation, a database that kept us waiting, gets here), the row is put
/// back, due at once, without spending an attempt: `Some` of that outcome.
pub(super) async fn unless_lease_fits(
    shared: &Shared,
    row: &ClaimedDelivery,
    timeout: Duration,
    started_at: i64,
) -> Option<Result<Delivered, StoreError>> {
    if Instant::now() + timeout + RECORD_TIME < row.lease_deadline {
        return None;
    }
    warn!(delivery_id = %row.id, "too little of the lease left to send safely; sending again shortly");
    let attempt = AttemptRecord {
        error: Some("not sent: the lease was nearly over".into()),
        ..AttemptRecord::new(AttemptOutcome::Deferred, started_at)
    };
    let transition = Transition::Retry {
        retry_in_ms: 0,
        spend_attempt: false,
        ambiguous: false,
        error: "not sent: the lease was nearly over".into(),
    };
    Some(record(shared, row, &attempt, &transition, Delivered::Deferred).await)
}

/// A send that may work later: retried after the schedule's next delay,
/// or, when the schedule is spent, failed for staff. `attempt` makes the
/// attempt's record from its outcome; `summary` is our own words for it
/// (no personal data: it is logged). `what` names the send in the log.
pub(super) async fn retry_or_give_up(
    shared: &Shared,
    row: &ClaimedDelivery,
    attempt: impl Fn(AttemptOutcome) -> AttemptRecord,
    (summary, ambiguous): (String, bool),
    what: &str,
) -> Result<Delivered, StoreError> {
    let spent = row.attempts + 1;
    let schedule = &shared.settings.sync.retry_schedule;
    let Some(delay) = super::backoff::retry_delay(schedule, spent, super::backoff::unit_random())
    else {
        tracing::error!(delivery_id = %row.id, enquiry_id = %row.enquiry_id, attempts = spent, error = %summary, "{what}: retry schedule spent; marked failed for staff");
        let failed = Transition::Failed {
            ambiguous,
            error: format!("gave up after {spent} attempts: {summary}"),
        };
        return record(
            shared,
            row,
            &attempt(AttemptOutcome::Failed),
            &failed,
            Delivered::Failed,
        )
        .await;
    };
    warn!(delivery_id = %row.id, attempt = spent, ambiguous, retry_in_ms = delay.as_millis() as u64, error = %summary, "{what}: will be retried");
    let outcome = match ambiguous {
        true => AttemptOutcome::Ambiguous,
        false => AttemptOutcome::Retry,
    };
    let again = Transition::Retry {
        retry_in_ms: millis(delay),
        spend_attempt: true,
        ambiguous,
        error: summary,
    };
    record(shared, row, &attempt(outcome), &again, Delivered::Retrying).await
}

/// Record the outcome under this claim's lease token. A write that fails
/// (a failover, the pool's acquire timeout, a lock held by another process)
/// is tried again with backoff while the lease lasts: an outcome left
/// unrecorded, above all a success, would have the row sent again when the
/// lease ends. The first failure is logged here, the last by `deliver`.
pub(super) async fn record(
    shared: &Shared,
    row: &ClaimedDelivery,
    attempt: &AttemptRecord,
    transition: &Transition,
    outcome: Delivered,
) -> Result<Delivered, StoreError> {
    metrics::counter!(crate::ops::metrics::ATTEMPTS, "outcome" => attempt.outcome.as_str())
        .increment(1);
    let mut wait = Duration::from_millis(50);
    let mut failures = 0u32;
    loop {
        match shared.store.record_outcome(row, attempt, transition).await {
            Ok(true) => return Ok(outcome),
            Ok(false) if failures == 0 => {
                warn!(delivery_id = %row.id, "lease lost before the outcome was recorded; another claim owns the row");
                return Ok(Delivered::LeaseLost);
            }
            // An earlier try may have committed although its answer was lost.
            Ok(false) => {
                warn!(delivery_id = %row.id, "outcome not recorded by this try: an earlier try landed, or the lease was lost");
                return Ok(Delivered::LeaseLost);
            }
            Err(e) => {
                if Instant::now() + wait + RECORD_STOP_BEFORE_END >= row.lease_deadline {
                    return Err(e);
                }
                failures += 1;
                shared.outcome_write_retries.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(crate::ops::metrics::OUTCOME_WRITE_RETRIES).increment(1);
                if failures == 1 {
                    warn!(delivery_id = %row.id, error = %e, "could not record the delivery outcome; trying again while the lease lasts");
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(1));
            }
        }
    }
}

pub(super) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}
