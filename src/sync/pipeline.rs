//! The one step runner every lane's sends go through: prepare → rate-limit
//! and lease check → send (cut off before the lease ends) → verdict →
//! pause/resume → record. A lane's [`Sender`] supplies only how to prepare,
//! send and judge; what a verdict does is `verdict::plan`, the same for all.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use super::backoff::unit_random;
use super::lane::Lane;
use super::record::{Delivered, RECORD_TIME, record};
use super::sender::{Sender, Unsent};
use super::shared::{STOP_CLAIMING_AFTER, Shared};
use super::verdict::{Answer, Context, PauseEffect, Plan, Verdict, plan};
use crate::carehq::Permit;
use crate::storage::{AttemptRecord, ClaimedDelivery, StoreError, Transition, now_ms};

/// Deliver one claimed row through `sender` and record the outcome. Errors
/// are logged here, once; the row then stays leased and falls due again
/// when the lease ends.
pub(super) async fn deliver<S: Sender>(
    shared: &Shared,
    (lane, sender): (&Lane, &S),
    row: ClaimedDelivery,
    probe: bool,
    permit: Permit,
) -> Delivered {
    match run(shared, (lane, sender), &row, probe, permit).await {
        Ok(outcome) => {
            shared.record_failures.store(0, Ordering::Relaxed);
            outcome
        }
        Err(e) => {
            error!(delivery_id = %row.id, error = %crate::telemetry::chain(&e), "could not read or record the delivery; the row will be retried when its lease ends");
            let failures = shared.record_failures.fetch_add(1, Ordering::Relaxed) + 1;
            if failures == STOP_CLAIMING_AFTER {
                error!(
                    failures,
                    "outcome writes keep failing; claiming no more deliveries until the database takes writes again"
                );
            }
            Delivered::LeaseLost
        }
    }
}

async fn run<S: Sender>(
    shared: &Shared,
    (lane, sender): (&Lane, &S),
    row: &ClaimedDelivery,
    probe: bool,
    mut permit: Permit,
) -> Result<Delivered, StoreError> {
    let started_at = now_ms();
    let clock = Instant::now();
    let answer = match sender.prepare(shared, row).await {
        Err(Unsent::Store(e)) => return Err(e),
        Err(Unsent::Judged(answer)) => answer,
        Ok(ready) => match not_now(lane, row, shared.settings.carehq.timeout) {
            Some(answer) => answer,
            None => {
                permit.spend();
                let answer = send_within_lease(sender, ready, row).await;
                // The answer is read: this send no longer counts as in flight.
                drop(permit);
                answer
            }
        },
    };
    let duration_ms = clock.elapsed().as_millis() as i64;
    let summary = answer.summary.clone().unwrap_or_default();
    let at = Context {
        attempts: row.attempts,
        schedule: &shared.settings.sync.retry_schedule,
        random: unit_random(),
        probe,
    };
    let plan = plan(&answer.verdict, &summary, &at);
    log(lane, S::NAME, row, &answer, &plan);
    let attempt = AttemptRecord {
        started_at,
        duration_ms,
        outcome: plan.outcome,
        http_status: answer.http_status,
        hint: answer.hint,
        arg_errors: answer.arg_errors,
        error: answer.summary,
    };
    apply_pause(shared, lane, row, plan.pause, answer.http_status).await?;
    let recorded = record(shared, row, &attempt, &plan.transition).await?;
    if recorded == Delivered::Synced && (probe || lane.paused_seen()) {
        // Recording the success lifted the pause (same transaction).
        info!(lane = %lane.account, "{} answered normally again; delivery resumed", S::NAME);
        lane.set_paused_seen(false);
    }
    Ok(recorded)
}

/// Why the row is not sent now although it is ready: another send met the
/// lane's rate limit since the claim, or too little of the lease is left
/// for a send of `budget` (`carehq.timeout`, every sender's bound, which
/// `sync.lease` is checked against) to finish and be recorded (only a slow
/// preparation, a database that kept us waiting, gets here).
fn not_now(lane: &Lane, row: &ClaimedDelivery, budget: Duration) -> Option<Answer> {
    if let Some(wait) = lane.gate.closed_for(now_ms()) {
        let summary = "not sent: waiting for the destination's rate limit".to_owned();
        return Some(Answer::new(Verdict::RateLimited(wait), summary));
    }
    if Instant::now() + budget + RECORD_TIME < row.lease_deadline {
        return None;
    }
    let summary = "not sent: the lease was nearly over".to_owned();
    Some(Answer::new(Verdict::NotSent, summary))
}

/// The send, cut off when only `RECORD_TIME` of the lease is left: a send
/// that outlived its lease could be claimed and sent again meanwhile. Cut
/// off, it may have arrived (ambiguous).
async fn send_within_lease<S: Sender>(
    sender: &S,
    ready: S::Ready,
    row: &ClaimedDelivery,
) -> Answer {
    let cut_off = row
        .lease_deadline
        .checked_sub(RECORD_TIME)
        .unwrap_or(row.lease_deadline);
    let sent = tokio::time::timeout_at(cut_off.into(), sender.send(ready, row)).await;
    sent.unwrap_or_else(|_| {
        let summary = format!(
            "{} gave no answer before the lease ran short; it may have arrived",
            S::NAME
        );
        Answer::new(Verdict::Retry { ambiguous: true }, summary)
    })
}

async fn apply_pause(
    shared: &Shared,
    lane: &Lane,
    row: &ClaimedDelivery,
    effect: PauseEffect,
    http_status: Option<u16>,
) -> Result<(), StoreError> {
    match effect {
        PauseEffect::None => {}
        PauseEffect::Pause(reason) => {
            // The row is named, so probes try other rows first: a key without
            // "Home visits > Create" refuses visits but may take enquiries.
            (shared.store)
                .pause_delivery(&lane.account, &reason, http_status, Some(&row.id))
                .await?;
            lane.set_paused_seen(true);
        }
        PauseEffect::Resume => {
            if shared.store.resume_delivery(&lane.account).await? {
                info!(lane = %lane.account, "the destination judged a probe; delivery resumed");
            }
            lane.set_paused_seen(false);
        }
        PauseEffect::RestartClock => shared.store.restart_pause_clock(&lane.account).await?,
    }
    Ok(())
}

/// One line per attempt, in our own words only (the destination's can
/// quote the family): ids, the step, the status and the summary.
fn log(lane: &Lane, to: &str, row: &ClaimedDelivery, answer: &Answer, plan: &Plan) {
    let (id, enquiry, step) = (&row.id, &row.enquiry_id, row.step.noun());
    let (status, lane) = (answer.http_status, &lane.account);
    let summary = answer.summary.as_deref().unwrap_or_default();
    match &answer.verdict {
        Verdict::Delivered { .. } if answer.summary.is_some() => {
            warn!(delivery_id = %id, enquiry_id = %enquiry, http_status = status, note = %summary, "{step} delivered to {to}, with a note")
        }
        Verdict::Delivered { .. } => {
            info!(delivery_id = %id, enquiry_id = %enquiry, lane = %lane, "{step} delivered to {to}")
        }
        Verdict::NotNeeded => {
            info!(delivery_id = %id, enquiry_id = %enquiry, reason = %summary, "{step} not needed any more; closed")
        }
        Verdict::RateLimited(_) | Verdict::NotSent => {
            warn!(delivery_id = %id, lane = %lane, reason = %summary, "{step} not sent now; trying again without spending an attempt")
        }
        Verdict::Pause(reason) => {
            error!(delivery_id = %id, lane = %lane, http_status = status, reason = %reason, "delivery to {to} paused")
        }
        Verdict::Retry { .. } if matches!(plan.transition, Transition::Failed { .. }) => {
            error!(delivery_id = %id, enquiry_id = %enquiry, lane = %lane, attempts = row.attempts + 1, http_status = status, error = %summary, "{step} to {to}: retry schedule spent; marked failed for staff")
        }
        Verdict::Retry { ambiguous } => {
            warn!(delivery_id = %id, lane = %lane, attempt = row.attempts + 1, http_status = status, ambiguous, error = %summary, "{step} to {to} will be retried")
        }
        Verdict::Refused | Verdict::Missing(_) | Verdict::Unsendable(_) => {
            let fields = field_names(answer.arg_errors.as_deref());
            error!(delivery_id = %id, enquiry_id = %enquiry, lane = %lane, http_status = status, fields = ?fields, error = %summary, "{step} to {to} failed; marked failed for staff")
        }
    }
}

/// The parameter names of CareHQ's `arg_errors`: safe to log, unlike the
/// messages, which can quote what the family typed.
fn field_names(arg_errors: Option<&str>) -> Vec<String> {
    let parsed = arg_errors.and_then(|text| serde_json::from_str(text).ok());
    match parsed {
        Some(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}
