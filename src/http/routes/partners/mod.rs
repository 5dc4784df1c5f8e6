//! `POST /partners/helparound/{site}/user-enrollment` and `…/user-action`:
//! HelpAround's webhooks (docs/partners.md), answered in the shapes it
//! documents. An enrollment is stored as an enquiry (the same table and
//! outbox as a form post, spam verdict `partner`) and answered 200 once it is
//! stored, not once CareHQ has it; a repeat of the same event gets the same
//! answer and stores nothing. A user action is recorded against the
//! enrollment. Unknown site, partner not enabled and bad credentials all get
//! the same 401: nothing tells a prober which sites exist.
//!
//! Refusals cost little: the credentials are judged before the body is read
//! (a signature's headers and time first, its bytes after), each refusal is
//! counted in the metric and logged at debug only, never with the client's
//! address, and is marked shed so its access line is at debug too. An
//! address with ten refusals in ten minutes is answered 429 from memory
//! until the window passes. A re-send of an enrollment's event (same key)
//! that says something else is answered 409, not as a repeat.
//!
//! This file owns the two handlers; `admission` judges the request,
//! `storing` turns the event into stored rows, `answers` speaks HelpAround's
//! shapes and counts each answer.

mod admission;
mod answers;
mod storing;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tracing::info;

use self::admission::admitted;
use self::answers::{answer, count, refused, success, unavailable};
use self::storing::{Stored, action_key, checked, store};
use crate::config::SiteSettings;
use crate::http::keyed_digest::{self, Purpose};
use crate::http::peer::PeerAddr;
use crate::http::state::AppState;
use crate::partners::helparound::{self, ENROLLMENT_EVENT, Enrollment, Refusal};
use crate::storage::{ActionOutcome, StoreError};

/// Webhooks by partner, route, site and outcome (`stored`, `repeat`,
/// `held`, `changed`, `refused`, `unauthorized`, `throttled`,
/// `unavailable`). The site is a configured slug, or `unknown` for any other
/// (a prober's made-up slugs never become series).
pub const PARTNER_WEBHOOKS: &str = "enquiry_relay_partner_webhooks_total";
const PARTNER: &str = "helparound";
/// The `site` label of webhooks to a slug that is not configured.
const UNKNOWN_SITE: &str = "unknown";

pub async fn enrollment(
    State(state): State<AppState>,
    Path(site): Path<String>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (site, body) = match admitted(&state, &site, peer, &headers, body, "user-enrollment").await
    {
        Ok(admitted) => admitted,
        Err(answer) => return answer,
    };
    let enrollment = match helparound::parse_enrollment(&body) {
        Ok(enrollment) => enrollment,
        Err(refusal) => return refused("user-enrollment", &site.slug, &refusal),
    };
    let submission = helparound::submission(&enrollment);
    let enquiry = match checked(site, &submission, &enrollment) {
        Ok(enquiry) => enquiry,
        Err(refusal) => return refused("user-enrollment", &site.slug, &refusal),
    };
    let Ok(payload) = serde_json::to_string(&enquiry) else {
        count("user-enrollment", &site.slug, "refused");
        return answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the enquiry could not be encoded; this is a fault of ours: send it again later",
            Some(&enrollment.patient.id),
        );
    };
    // What the enrollment says, as the enquiry it becomes: a re-send of the
    // same event must say the same to be answered as a repeat.
    let fingerprint = keyed_digest::digest(
        &state.settings,
        Purpose::PartnerEnrollment,
        payload.as_bytes(),
    );
    let stored = store(&state, site, &submission, payload, fingerprint).await;
    enrollment_answer(&state, site, &enrollment, stored)
}

/// The answer to an enrollment, by what storing it came to.
fn enrollment_answer(
    state: &AppState,
    site: &SiteSettings,
    enrollment: &Enrollment,
    stored: Result<Stored, StoreError>,
) -> Response {
    match stored {
        Ok(Stored::Changed) => {
            count("user-enrollment", &site.slug, "changed");
            info!(site = %site.slug, partner = PARTNER, "partner enrollment re-sent with other details; answered 409");
            answer(
                StatusCode::CONFLICT,
                "this event (same supportProgramId, patient, eventName and sendDate) was received before with other details; the first one is kept. Send a correction as a new event with its own sendDate, or ask this service's operator to correct the enquiry",
                Some(&enrollment.patient.id),
            )
        }
        Ok(Stored::Answered(id, outcome)) => {
            count("user-enrollment", &site.slug, outcome);
            if outcome == "stored" {
                state.worker.wake();
            }
            info!(enquiry_id = %id, site = %site.slug, partner = PARTNER, outcome, "partner enrollment received");
            success(&enrollment.support_program_id, &enrollment.patient.id, &id)
        }
        Err(e) => unavailable(
            "user-enrollment",
            &site.slug,
            &e,
            Some(&enrollment.patient.id),
        ),
    }
}

pub async fn action(
    State(state): State<AppState>,
    Path(site): Path<String>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (site, body) = match admitted(&state, &site, peer, &headers, body, "user-action").await {
        Ok(admitted) => admitted,
        Err(answer) => return answer,
    };
    let action = match helparound::parse_action(&body) {
        Ok(action) => action,
        Err(refusal) => return refused("user-action", &site.slug, &refusal),
    };
    let key = action_key(&action);
    let what = format!("{}={}", action.key, action.value);
    match (state.store)
        .record_partner_action(&site.slug, &key, ENROLLMENT_EVENT, &what)
        .await
    {
        Ok(ActionOutcome::Recorded { enquiry_id }) => {
            count("user-action", &site.slug, "stored");
            info!(enquiry_id = %enquiry_id, site = %site.slug, partner = PARTNER, "partner user action recorded");
            success(&action.support_program_id, &action.patient_id, &enquiry_id)
        }
        Ok(ActionOutcome::UnknownPatient) => refused(
            "user-action",
            &site.slug,
            &Refusal {
                message: format!(
                    "no enrollment of patient {} for this site: send the enrollment (user-enrollment) first",
                    action.patient_id
                ),
                patient_id: Some(action.patient_id.clone()),
            },
        ),
        Err(e) => unavailable("user-action", &site.slug, &e, Some(&action.patient_id)),
    }
}
