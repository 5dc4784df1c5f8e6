//! The `destination:NAME` outbox step of a FHIR destination: the enquiry
//! (and its booked visit) as a transaction Bundle, sent by that
//! destination's lane, with its own state, retries, pause and failure. A
//! failure here never touches the CareHQ steps, nor they this one.
//!
//! What an answer means: 2xx delivered; a 401 after the token was renewed,
//! a 403, or a token the SSO server refuses pauses the lane (credentials or
//! site id), as a 401 pauses a CareHQ account; 400/422 (the server's
//! `OperationOutcome`, kept in the attempt's hint: it can quote the family)
//! fails the step for staff; 404 re-reads the discovery documents and
//! retries; 429 waits a moment without spending an attempt; 5xx, 408 and
//! broken connections retry on the schedule.

use std::time::{Duration, Instant};

use serde_json::Value;
use tracing::{error, info, warn};

use super::lane::Lane;
use super::outcome::{Delivered, millis, record, retry_or_give_up, unless_lease_fits};
use super::shared::Shared;
use super::stored::{Stored, stored_enquiry};
use crate::fhir::{FhirClient, FhirError, VisitTimes, bundle};
use crate::storage::{
    AttemptOutcome, AttemptRecord, ClaimedDelivery, StoreError, Transition, now_ms,
};

/// A visit's length when the site's visit settings are gone from the config.
const DEFAULT_VISIT: Duration = Duration::from_secs(30 * 60);

/// Send one claimed destination step and record the outcome.
pub(super) async fn send(
    shared: &Shared,
    (lane, client): (&Lane, &FhirClient),
    row: &ClaimedDelivery,
    probe: bool,
) -> Result<Delivered, StoreError> {
    let started_at = now_ms();
    let clock = Instant::now();
    let bundle = match compose(shared, row).await? {
        Ok(bundle) => bundle,
        Err(problem) => {
            error!(delivery_id = %row.id, enquiry_id = %row.enquiry_id, destination = %lane.account, problem = %problem, "not sent to the destination");
            let attempt = AttemptRecord {
                error: Some(problem.clone()),
                ..AttemptRecord::new(AttemptOutcome::Failed, started_at)
            };
            let failed = Transition::Failed {
                ambiguous: false,
                error: problem,
            };
            return record(shared, row, &attempt, &failed, Delivered::Failed).await;
        }
    };
    // Discovery, a token and the POST may each take the timeout.
    let timeout = shared.settings.carehq.timeout;
    if let Some(deferred) = unless_lease_fits(shared, row, timeout, started_at).await {
        return deferred;
    }
    let sent = client.send_bundle(&bundle).await;
    let duration_ms = clock.elapsed().as_millis() as i64;
    let e = match sent {
        Ok(reply) => {
            let remote_id = created_id(&reply.body);
            info!(delivery_id = %row.id, enquiry_id = %row.enquiry_id, destination = %lane.account, duration_ms, "enquiry delivered to the destination");
            let attempt = AttemptRecord {
                duration_ms,
                http_status: Some(reply.status),
                ..AttemptRecord::new(AttemptOutcome::Synced, started_at)
            };
            let recorded = record(
                shared,
                row,
                &attempt,
                &Transition::Synced { remote_id },
                Delivered::Synced,
            )
            .await?;
            if (probe || lane.paused_seen()) && recorded == Delivered::Synced {
                info!(destination = %lane.account, "the destination answered normally again; delivery resumed");
                lane.set_paused_seen(false);
            }
            return Ok(recorded);
        }
        Err(e) => e,
    };
    let summary = e.summary();
    let hint = match &e {
        FhirError::Status { outcome, .. } if !outcome.is_empty() => Some(outcome.clone()),
        _ => None,
    };
    let base = |outcome| AttemptRecord {
        duration_ms,
        http_status: e.http_status(),
        hint: hint.clone(),
        error: Some(summary.clone()),
        ..AttemptRecord::new(outcome, started_at)
    };
    match judge(&e) {
        Judged::Pause => {
            let reason = format!(
                "{summary}: the destination refused the credentials or the site id; check the [[destinations]] entry named \"{}\" (client_id, client_secret, site_id)",
                lane.account.trim_start_matches("destination:")
            );
            error!(delivery_id = %row.id, destination = %lane.account, http_status = e.http_status(), "delivery to the destination paused");
            (shared.store)
                .pause_delivery(&lane.account, &reason, e.http_status(), Some(&row.id))
                .await?;
            lane.set_paused_seen(true);
            let again = Transition::Retry {
                retry_in_ms: 0,
                spend_attempt: false,
                ambiguous: false,
                error: reason,
            };
            record(
                shared,
                row,
                &base(AttemptOutcome::Paused),
                &again,
                Delivered::Deferred,
            )
            .await
        }
        Judged::Fail => {
            if probe {
                // The server judged the Bundle itself: the credentials work.
                shared.store.resume_delivery(&lane.account).await?;
                lane.set_paused_seen(false);
            }
            error!(delivery_id = %row.id, enquiry_id = %row.enquiry_id, destination = %lane.account, http_status = e.http_status(), "the destination refused this enquiry; marked failed for staff");
            let failed = Transition::Failed {
                ambiguous: false,
                error: summary.clone(),
            };
            record(
                shared,
                row,
                &base(AttemptOutcome::Failed),
                &failed,
                Delivered::Failed,
            )
            .await
        }
        Judged::Delay => {
            warn!(delivery_id = %row.id, destination = %lane.account, "the destination asked us to slow down (429); waiting without spending an attempt");
            let again = Transition::Retry {
                retry_in_ms: millis(RATE_LIMIT_DELAY),
                spend_attempt: false,
                ambiguous: false,
                error: summary.clone(),
            };
            record(
                shared,
                row,
                &base(AttemptOutcome::RateLimited),
                &again,
                Delivered::Deferred,
            )
            .await
        }
        Judged::Retry => {
            if probe {
                // No verdict on the pause: probe again after the interval.
                shared.store.restart_pause_clock(&lane.account).await?;
            }
            let what = format!("delivery to {}", lane.account);
            retry_or_give_up(
                shared,
                row,
                base,
                (summary.clone(), e.is_ambiguous()),
                &what,
            )
            .await
        }
    }
}

enum Judged {
    Pause,
    Fail,
    Retry,
    /// Too many requests: wait a moment without spending an attempt.
    Delay,
}

/// How long a 429 holds the step back.
const RATE_LIMIT_DELAY: Duration = Duration::from_secs(5);

fn judge(e: &FhirError) -> Judged {
    match e {
        FhirError::Status { status: 429, .. } => Judged::Delay,
        FhirError::Status {
            status: 401 | 403, ..
        }
        | FhirError::Token(_) => Judged::Pause,
        FhirError::Status {
            status: 400 | 409 | 410 | 412 | 415 | 422,
            ..
        }
        | FhirError::Prepare(_) => Judged::Fail,
        _ => Judged::Retry,
    }
}

/// The Bundle for this row's enquiry. The inner `Err` is a permanent
/// problem with the row: a message for staff, free of personal data.
async fn compose(
    shared: &Shared,
    row: &ClaimedDelivery,
) -> Result<Result<Value, String>, StoreError> {
    let id = row.enquiry_id.as_str();
    let Stored {
        site: slug,
        enquiry,
    } = match stored_enquiry(shared, row).await? {
        Ok(stored) => stored,
        Err(problem) => return Ok(Err(problem)),
    };
    let received_at = shared.store.enquiry_received_at(id).await?.unwrap_or(0);
    let length = (shared.settings.site(&slug))
        .and_then(|site| site.visits())
        .map_or(DEFAULT_VISIT, |visits| visits.slot_length);
    let visit = shared
        .store
        .visit_request(id)
        .await?
        .map(|visit| VisitTimes {
            start_ms: visit.slot_at,
            end_ms: visit.slot_at.saturating_add(millis(length)),
        });
    Ok(Ok(bundle(&enquiry, id, received_at, visit)))
}

/// The created ServiceRequest's id from a `transaction-response` (its
/// `location`, `ServiceRequest/ID/_history/1`).
fn created_id(body: &Value) -> Option<String> {
    (body.get("entry")?.as_array()?.iter())
        .filter_map(|entry| entry.pointer("/response/location")?.as_str())
        .find(|location| location.starts_with("ServiceRequest/"))
        .map(|location| location.split('/').take(2).collect::<Vec<_>>().join("/"))
}
