//! Delivering one claimed outbox row and deciding what happens to it.

use std::sync::atomic::Ordering;
use std::time::Instant;

use tracing::{error, info, warn};

use super::backoff::{retry_delay, unit_random};
use super::classify::{Disposition, classify};
use super::lane::{Lane, Sender};
use super::outcome::{Delivered, millis, record, unless_lease_fits};
use super::routing::site_routing;
use super::shared::{STOP_CLAIMING_AFTER, Shared};
use super::stored::{Stored, stored_enquiry};
use super::visit_step::prepare_visit;
use crate::carehq::{CareHqClient, CareHqError, Permit, enquiry_params};
use crate::storage::{AttemptOutcome, AttemptRecord, ClaimedDelivery, Step, Transition, now_ms};

/// Send one claimed delivery and record the outcome. Errors are logged here,
/// once; the row stays leased and falls due again when the lease ends.
pub async fn deliver(
    shared: &Shared,
    lane: &Lane,
    row: ClaimedDelivery,
    probe: bool,
    permit: Permit,
) -> Delivered {
    let sent = match &lane.sender {
        Sender::CareHq(client) => try_deliver(shared, (lane, client), &row, probe, permit).await,
        Sender::Email(mailer) => super::fallback_email::send(shared, mailer, &row).await,
        Sender::Fhir(client) => super::fhir_step::send(shared, (lane, client), &row, probe).await,
    };
    match sent {
        Ok(outcome) => {
            shared.record_failures.store(0, Ordering::Relaxed);
            outcome
        }
        Err(e) => {
            error!(delivery_id = %row.id, error = %e, "could not record the delivery outcome; the row will be retried when its lease ends");
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

async fn try_deliver(
    shared: &Shared,
    (lane, client): (&Lane, &CareHqClient),
    row: &ClaimedDelivery,
    probe: bool,
    mut permit: Permit,
) -> Result<Delivered, crate::storage::StoreError> {
    let started_at = now_ms();
    let clock = Instant::now();
    let prepared = match row.step {
        Step::HomeVisit => prepare_visit(shared, row).await?,
        Step::Enquiry => prepare(shared, row).await?,
        // Claimed only by the email lane (its claim names its steps).
        // Claimed only by their own lanes (a claim names its steps).
        Step::FallbackEmail | Step::Destination => {
            Err("a step of another destination reached a CareHQ lane".to_owned())
        }
    };
    let params = match prepared {
        Ok(params) => params,
        Err(problem) => {
            error!(delivery_id = %row.id, enquiry_id = %row.enquiry_id, step = %row.step, problem = %problem, "delivery failed before sending");
            let attempt = AttemptRecord {
                error: Some(problem.clone()),
                ..AttemptRecord::new(AttemptOutcome::Failed, started_at)
            };
            let transition = Transition::Failed {
                ambiguous: false,
                error: problem,
            };
            return record(shared, row, &attempt, &transition, Delivered::Failed).await;
        }
    };
    // Another send may have met a 429 since this row was claimed. (The
    // permit holds this send's place in the window; an unspent one is given
    // back when it drops.)
    if let Some(wait) = lane.gate.closed_for(now_ms()) {
        let attempt = AttemptRecord {
            error: Some("held back by CareHQ's rate limit".into()),
            ..AttemptRecord::new(AttemptOutcome::RateLimited, started_at)
        };
        let transition = Transition::Retry {
            retry_in_ms: millis(wait),
            spend_attempt: false,
            ambiguous: false,
            error: "waiting for CareHQ's rate limit".into(),
        };
        return record(shared, row, &attempt, &transition, Delivered::Deferred).await;
    }
    let timeout = shared.settings.carehq.timeout;
    if let Some(deferred) = unless_lease_fits(shared, row, timeout, started_at).await {
        return deferred;
    }

    permit.spend();
    let result = match row.step {
        Step::HomeVisit => client.create_home_visit(&params).await,
        Step::Enquiry | Step::FallbackEmail | Step::Destination => {
            client.create_care_enquiry(&params).await
        }
    };
    // The answer is read (its headers are in the gate): this send no longer
    // counts as in flight.
    drop(permit);
    let duration_ms = clock.elapsed().as_millis() as i64;
    metrics::histogram!(crate::ops::metrics::CAREHQ_LATENCY).record(clock.elapsed().as_secs_f64());
    match result {
        Ok(reply) => {
            let remote_id = reply.id();
            let carehq_id = remote_id.as_deref().unwrap_or("(none returned)");
            let what = match row.step {
                Step::HomeVisit => "home visit",
                Step::Enquiry | Step::FallbackEmail | Step::Destination => "enquiry",
            };
            if let Some(lost) = &reply.body_lost {
                warn!(delivery_id = %row.id, enquiry_id = %row.enquiry_id, http_status = reply.status, error = %lost, duration_ms, "CareHQ accepted the {what} but its answer broke off; recorded as delivered, CareHQ's Id unknown");
            } else {
                info!(delivery_id = %row.id, enquiry_id = %row.enquiry_id, carehq_id, duration_ms, "{what} delivered to CareHQ");
            }
            let attempt = AttemptRecord {
                duration_ms,
                http_status: Some(reply.status),
                error: reply.body_lost.as_ref().map(|lost| {
                    format!(
                        "CareHQ answered {} (created) but the rest of its answer was lost ({lost}), so its Id is unknown; find the record in CareHQ by the family's name",
                        reply.status
                    )
                }),
                ..AttemptRecord::new(AttemptOutcome::Synced, started_at)
            };
            // CareHQ has it: record that first, before anything else can fail.
            let recorded = record(
                shared,
                row,
                &attempt,
                &Transition::Synced { remote_id },
                Delivered::Synced,
            )
            .await?;
            // Recording the success lifted any pause (same transaction).
            if (probe || lane.paused_seen()) && recorded == Delivered::Synced {
                info!(account = %lane.account, "CareHQ answered normally again; delivery resumed");
                lane.set_paused_seen(false);
            }
            Ok(recorded)
        }
        Err(e) => on_error(shared, lane, row, e, (started_at, duration_ms), probe).await,
    }
}

/// Load the stored enquiry and build CareHQ's parameters. The inner `Err` is a
/// permanent problem with this row (a message for staff, free of personal data).
async fn prepare(
    shared: &Shared,
    row: &ClaimedDelivery,
) -> Result<Result<Vec<(String, String)>, String>, crate::storage::StoreError> {
    let Stored { site, enquiry } = match stored_enquiry(shared, row).await? {
        Ok(stored) => stored,
        Err(problem) => return Ok(Err(problem)),
    };
    let site_slug = site;
    let Some(site) = shared.settings.site(&site_slug) else {
        return Ok(Err(format!(
            "site `{site_slug}` is no longer in the config; add it back, then retry this enquiry"
        )));
    };
    Ok(Ok(enquiry_params(&enquiry, &site_routing(site))))
}

/// `timing`: when the send started (Unix ms) and how long it took (ms).
async fn on_error(
    shared: &Shared,
    lane: &Lane,
    row: &ClaimedDelivery,
    e: CareHqError,
    timing: (i64, i64),
    probe: bool,
) -> Result<Delivered, crate::storage::StoreError> {
    let (started_at, duration_ms) = timing;
    let (hint, arg_errors) = match &e {
        CareHqError::Status {
            hint, arg_errors, ..
        } => (hint.clone(), arg_errors.as_ref().map(|v| v.to_string())),
        _ => (None, None),
    };
    let http_status = e.http_status();
    // Without CareHQ's hint, which can quote what the family typed: this text
    // is logged and kept beyond retention (the delivery's and the service's
    // last error, `/status`); the hint stays in the attempt's `hint` column,
    // which the retention scrub clears.
    let message = e.summary();
    let base = |outcome| AttemptRecord {
        started_at,
        duration_ms,
        outcome,
        http_status,
        hint: hint.clone(),
        arg_errors: arg_errors.clone(),
        error: Some(message.clone()),
    };
    let now = now_ms();
    let disposition = classify(&e);
    if probe {
        match disposition {
            // CareHQ judged the request itself: whatever caused the pause is gone.
            Disposition::Fail => resume(shared, lane).await?,
            // No verdict on the pause (CareHQ down or busy, or this row's own
            // Ids unknown): probe again after the interval, not at once.
            Disposition::Retry { .. } | Disposition::RateLimited | Disposition::NotFound => {
                shared.store.restart_pause_clock(&lane.account).await?
            }
            Disposition::Pause { .. } => {}
        }
    }
    match disposition {
        Disposition::Retry { ambiguous } => {
            let spent = row.attempts + 1;
            match retry_delay(&shared.settings.sync.retry_schedule, spent, unit_random()) {
                Some(delay) => {
                    warn!(delivery_id = %row.id, attempt = spent, http_status, ambiguous, retry_in_ms = delay.as_millis() as u64, error = %message, "CareHQ delivery will be retried");
                    let attempt = base(match ambiguous {
                        true => AttemptOutcome::Ambiguous,
                        false => AttemptOutcome::Retry,
                    });
                    let t = Transition::Retry {
                        retry_in_ms: millis(delay),
                        spend_attempt: true,
                        ambiguous,
                        error: message,
                    };
                    record(shared, row, &attempt, &t, Delivered::Retrying).await
                }
                None => {
                    error!(delivery_id = %row.id, enquiry_id = %row.enquiry_id, attempts = spent, error = %message, "retry schedule spent; enquiry marked failed for staff");
                    let attempt = base(AttemptOutcome::Failed);
                    let t = Transition::Failed {
                        ambiguous,
                        error: format!("gave up after {spent} attempts: {message}"),
                    };
                    record(shared, row, &attempt, &t, Delivered::Failed).await
                }
            }
        }
        Disposition::RateLimited => {
            let wait = lane.gate.wait(now).map_or(1_000, millis);
            warn!(delivery_id = %row.id, wait_ms = wait, "CareHQ rate limit reached; waiting without spending an attempt");
            let attempt = base(AttemptOutcome::RateLimited);
            let t = Transition::Retry {
                retry_in_ms: wait,
                spend_attempt: false,
                ambiguous: false,
                error: message,
            };
            record(shared, row, &attempt, &t, Delivered::Deferred).await
        }
        Disposition::Pause { reason } => {
            error!(delivery_id = %row.id, account = %lane.account, http_status, reason = %reason, "CareHQ delivery paused for this account");
            // The row is named, so probes try other rows first: a key without
            // "Home visits > Create" refuses visits but may take enquiries.
            shared
                .store
                .pause_delivery(&lane.account, &reason, http_status, Some(&row.id))
                .await?;
            lane.set_paused_seen(true);
            let attempt = base(AttemptOutcome::Paused);
            let t = Transition::Retry {
                retry_in_ms: 0,
                spend_attempt: false,
                ambiguous: false,
                error: reason,
            };
            record(shared, row, &attempt, &t, Delivered::Deferred).await
        }
        Disposition::NotFound => {
            let site = match shared
                .store
                .enquiry_payload(row.enquiry_id.as_str())
                .await?
            {
                Some((site, _)) => site,
                None => "(unknown)".to_owned(),
            };
            let reason = not_found_reason(row.step, &site, &message);
            error!(delivery_id = %row.id, enquiry_id = %row.enquiry_id, step = %row.step, site = %site, http_status, "CareHQ does not know an Id this delivery refers to (404); marked failed for staff, other deliveries go on");
            let attempt = base(AttemptOutcome::Failed);
            let t = Transition::Failed {
                ambiguous: false,
                error: reason,
            };
            record(shared, row, &attempt, &t, Delivered::Failed).await
        }
        Disposition::Fail => {
            // The hint can quote what the family typed: only field names at warn level.
            let fields: Vec<String> = match &e {
                CareHqError::Status {
                    arg_errors: Some(serde_json::Value::Object(m)),
                    ..
                } => m.keys().cloned().collect(),
                _ => Vec::new(),
            };
            error!(delivery_id = %row.id, enquiry_id = %row.enquiry_id, step = %row.step, http_status, fields = ?fields, "CareHQ refused this delivery; marked failed for staff");
            let attempt = base(AttemptOutcome::Failed);
            let t = Transition::Failed {
                ambiguous: false,
                error: message,
            };
            record(shared, row, &attempt, &t, Delivered::Failed).await
        }
    }
}

/// What staff are told about a 404, by step: what is missing and what to do.
fn not_found_reason(step: Step, site: &str, carehq_said: &str) -> String {
    match step {
        Step::HomeVisit => format!(
            "{carehq_said}. CareHQ no longer has this visit's care enquiry or site `{site}`'s location: \
             staff may have deleted the enquiry in CareHQ (as spam?). If the family is real, book the visit in CareHQ by hand"
        ),
        Step::Enquiry | Step::FallbackEmail | Step::Destination => format!(
            "{carehq_said}. CareHQ does not know site `{site}`'s location, referrer or sales_channel Id (deleted in CareHQ?) \
             or carehq.base_url is wrong. Check with `enquiry-relay check --remote`, fix the config, then \
             `enquiry-relay enquiries retry --failed`"
        ),
    }
}

async fn resume(shared: &Shared, lane: &Lane) -> Result<(), crate::storage::StoreError> {
    if shared.store.resume_delivery(&lane.account).await? {
        info!(account = %lane.account, "CareHQ answered normally again; delivery resumed");
    }
    lane.set_paused_seen(false);
    Ok(())
}
