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

use std::time::Duration;

use serde_json::Value;

use super::backoff::millis;
use super::sender::{Sender, Unsent};
use super::shared::Shared;
use super::stored::{Stored, configured_site, stored_enquiry};
use super::verdict::{Answer, Verdict};
use crate::fhir::{FhirClient, FhirError, VisitTimes, bundle};
use crate::storage::ClaimedDelivery;

/// A visit's length when the site's visit settings are gone from the config.
const DEFAULT_VISIT: Duration = Duration::from_secs(30 * 60);
/// How long a 429 holds the step back.
const RATE_LIMIT_DELAY: Duration = Duration::from_secs(5);

/// One `[[destinations]]` entry's sends.
pub(super) struct Fhir {
    pub client: FhirClient,
    /// The entry's name, as configured.
    pub name: String,
}

impl Sender for Fhir {
    type Ready = Value;
    /// Discovery, a token and the POST may each take `carehq.timeout`: the
    /// pipeline cuts the whole send off before the lease ends (every entry
    /// of the Bundle is conditional, so a re-send creates nothing twice).
    const NAME: &str = "the destination";

    async fn prepare(&self, shared: &Shared, row: &ClaimedDelivery) -> Result<Value, Unsent> {
        compose(shared, row, &self.name).await
    }

    async fn send(&self, bundle: Value, _row: &ClaimedDelivery) -> Answer {
        match self.client.send_bundle(&bundle).await {
            Ok(reply) => {
                let remote_id = created_id(&reply.body);
                let note = reply.body_lost.map(|lost| format!(
                    "the destination answered {} (stored) but the rest of its answer was lost ({lost}), so its ServiceRequest id is unknown",
                    reply.status
                ));
                Answer::new(Verdict::Delivered { remote_id }, note).status(Some(reply.status))
            }
            Err(e) => Answer {
                verdict: verdict(&e, &self.name),
                http_status: e.http_status(),
                summary: Some(e.summary()),
                hint: match e {
                    FhirError::Status { outcome, .. } if !outcome.is_empty() => Some(outcome),
                    _ => None,
                },
                arg_errors: None,
            },
        }
    }
}

fn verdict(e: &FhirError, name: &str) -> Verdict {
    match e {
        FhirError::Status { status: 429, .. } | FhirError::TokenUnavailable { status: 429 } => {
            Verdict::RateLimited(RATE_LIMIT_DELAY)
        }
        // An SSO outage says nothing of the credentials: nothing was sent,
        // the row waits for its next attempt and the destination is not
        // paused (nor anyone told to check its credentials).
        FhirError::TokenUnavailable { .. } => Verdict::Retry { ambiguous: false },
        FhirError::Status {
            status: 401 | 403, ..
        }
        | FhirError::Token(_) => Verdict::Pause(format!(
            "{}: the destination refused the credentials or the site id; check the [[destinations]] entry named \"{name}\" (client_id, client_secret, site_id)",
            e.summary()
        )),
        FhirError::Status {
            status: 400 | 409 | 410 | 412 | 415 | 422,
            ..
        }
        | FhirError::Prepare(_) => Verdict::Refused,
        _ => Verdict::Retry {
            ambiguous: e.is_ambiguous(),
        },
    }
}

/// The Bundle for this row's enquiry, or why it cannot be sent.
async fn compose(shared: &Shared, row: &ClaimedDelivery, name: &str) -> Result<Value, Unsent> {
    let id = &row.enquiry_id;
    let Stored { site, enquiry } = stored_enquiry(shared, row).await?;
    let settings = configured_site(shared, &site, "enquiry")?;
    if !settings.also_send_to.iter().any(|to| to == name) {
        return Err(Unsent::unsendable(format!(
            "site `{site}` no longer sends to destination \"{name}\" (also_send_to); nothing was sent. Add it back, then retry this enquiry"
        )));
    }
    let received_at = shared.store.enquiry_received_at(id).await?.unwrap_or(0);
    let length = settings
        .visits()
        .map_or(DEFAULT_VISIT, |visits| visits.slot_length);
    let visit = shared
        .store
        .visit_request(id)
        .await?
        .map(|visit| VisitTimes {
            start_ms: visit.slot_at,
            end_ms: visit.slot_at.saturating_add(millis(length)),
        });
    Ok(bundle(&enquiry, id.as_str(), received_at, visit))
}

/// The created ServiceRequest's id from a `transaction-response` (its
/// `location`, `ServiceRequest/ID/_history/1`).
fn created_id(body: &Value) -> Option<String> {
    (body.get("entry")?.as_array()?.iter())
        .filter_map(|entry| entry.pointer("/response/location")?.as_str())
        .find(|location| location.starts_with("ServiceRequest/"))
        .map(|location| location.split('/').take(2).collect::<Vec<_>>().join("/"))
}
