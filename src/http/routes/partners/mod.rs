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

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header::RETRY_AFTER};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use crate::config::{PartnerAuth, SiteSettings};
use crate::domain::{Enquiry, IntakeRules};
use crate::http::access_log::mark_shed;
use crate::http::keyed_digest::{self, Purpose};
use crate::http::peer::PeerAddr;
use crate::http::state::AppState;
use crate::partners::helparound::{
    self, Action, ENROLLMENT_EVENT, Enrollment, PartnerSubmission, Refusal,
};
use crate::partners::webhook_auth::{self, AuthRefusal, SignedHeaders};
use crate::spam::{self, SpamVerdict, subscriber};
use crate::storage::{
    ActionOutcome, EnquiryId, InsertOutcome, NewEnquiry, PartnerEventKey, StoreError, now_ms,
};

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
    match store(&state, site, &submission, payload, fingerprint).await {
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

/// The site, if it takes this partner and the request proves it is the
/// partner, and the raw body (signatures are over the bytes as received).
/// Whatever can be judged without the body is judged before reading it.
async fn admitted<'s>(
    state: &'s AppState,
    slug: &str,
    peer: IpAddr,
    headers: &HeaderMap,
    body: Body,
    route: &'static str,
) -> Result<(&'s SiteSettings, bytes::Bytes), Response> {
    let server = &state.settings.server;
    let client = subscriber(spam::client_ip(
        peer,
        headers,
        &server.trusted_proxies,
        server.client_ip_header,
    ));
    let site = state.settings.site(slug);
    let label = site.map_or(UNKNOWN_SITE, |s| s.slug.as_str());
    // An address shut out for its refusals is answered from memory.
    if let Err(wait) = state
        .partner_throttle
        .attempt(client, Instant::now(), false)
    {
        count(route, label, "throttled");
        return Err(throttled(wait));
    }
    let refuse = |refusal: AuthRefusal, reason: &'static str| {
        count(route, label, "unauthorized");
        // Counted towards the address's limit; a refusal that reaches it
        // is still answered 401, the next ones 429.
        let _ = (state.partner_throttle).attempt(client, Instant::now(), true);
        // Why, for the operator, at debug: the metric counts refusals, and
        // a flood must not become log lines (nor the address a record).
        debug!(
            site = label,
            partner = PARTNER,
            reason,
            "partner webhook refused"
        );
        // The partner hears only "unauthorized", so a prober learns nothing
        // of which sites exist or take the partner.
        mark_shed(answer(StatusCode::UNAUTHORIZED, refusal.message(), None))
    };
    let (Some(site), Some(auth)) = (site, site.and_then(|s| s.partners.helparound.as_ref())) else {
        let reason = match site {
            None => "no such site",
            Some(_) => "the site does not take this partner ([sites.partners.helparound])",
        };
        return Err(refuse(AuthRefusal::Wrong, reason));
    };
    let now = now_ms() / 1000;
    let signed = SignedHeaders {
        id: header(headers, "webhook-id"),
        timestamp: header(headers, "webhook-timestamp"),
        signature: header(headers, "webhook-signature"),
    };
    if let Err(refusal) = before_the_body(auth, headers, &signed, now) {
        return Err(refuse(refusal, refusal.as_str()));
    }
    let limit = server.body_limit;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        count(route, &site.slug, "refused");
        return Err(answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request is larger than {limit} bytes; send the event alone"),
            None,
        ));
    };
    if let (None, Some(secret)) = (&auth.token, &auth.signing_secret) {
        let keys: Vec<Vec<u8>> = webhook_auth::signing_key(secret).into_iter().collect();
        if let Err(refusal) = webhook_auth::check_signature(&signed, &bytes, &keys, now) {
            return Err(refuse(refusal, refusal.as_str()));
        }
    }
    Ok((site, bytes))
}

/// The credentials as far as they can be judged without the body: the
/// bearer token whole; of a signature, its headers and its time.
fn before_the_body(
    auth: &PartnerAuth,
    headers: &HeaderMap,
    signed: &SignedHeaders<'_>,
    now: i64,
) -> Result<(), AuthRefusal> {
    match (&auth.token, &auth.signing_secret) {
        (Some(token), _) => webhook_auth::check_bearer(header(headers, "authorization"), token),
        (None, Some(_)) => webhook_auth::check_signed_headers(signed, now),
        (None, None) => Err(AuthRefusal::Wrong),
    }
}

/// 429 for an address shut out for its refusals, with when to try again.
fn throttled(wait: Duration) -> Response {
    let secs = wait.as_secs().max(1);
    let mut response = answer(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "too many unauthorized requests from this address; send again in {secs} seconds with the bearer token or the webhook signature agreed with this service's operator"
        ),
        None,
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(secs));
    mark_shed(response)
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The enquiry the enrollment stands for, checked as a form post would be.
fn checked(
    site: &SiteSettings,
    submission: &PartnerSubmission,
    enrollment: &Enrollment,
) -> Result<Enquiry, Refusal> {
    let rules = IntakeRules {
        allowed_services: &site.services,
        require_consent: false,
        ignored_fields: &[],
    };
    Enquiry::parse(&submission.raw, &rules).map_err(|errors| {
        let fields: Vec<String> = errors
            .iter()
            .map(|(field, messages)| format!("{field}: {}", messages.join("; ")))
            .collect();
        Refusal {
            message: format!(
                "the enrollment cannot become a care enquiry: {}",
                fields.join("; ")
            ),
            patient_id: Some(enrollment.patient.id.clone()),
        }
    })
}

/// What storing an enrollment came to.
enum Stored {
    /// The id answered and the outcome counted (`stored`, `held`, `repeat`).
    Answered(EnquiryId, &'static str),
    /// The event was stored before with other details: nothing stored now.
    Changed,
}

/// Store the enquiry with its event and its fingerprint (what it said).
async fn store(
    state: &AppState,
    site: &SiteSettings,
    submission: &PartnerSubmission,
    payload: String,
    fingerprint: String,
) -> Result<Stored, StoreError> {
    let id = EnquiryId::generate();
    let key = &submission.key;
    let new = NewEnquiry {
        id: id.clone(),
        site: site.slug.clone(),
        payload,
        spam_verdict: SpamVerdict::Partner.as_str().into(),
        idempotency_key: None,
        fingerprint: Some(fingerprint),
        held: submission.held,
        consent: None,
        partner_event: Some(PartnerEventKey {
            partner: PARTNER.into(),
            program_id: key.support_program_id.clone(),
            patient_id: key.patient_id.clone(),
            event_name: key.event_name.clone(),
            sent_at_ms: key.sent_at_ms,
        }),
        destinations: site.also_send_to.clone(),
    };
    Ok(match state.store.insert_enquiry(new).await? {
        InsertOutcome::Created if submission.held => Stored::Answered(id, "held"),
        InsertOutcome::Created => Stored::Answered(id, "stored"),
        InsertOutcome::Duplicate { enquiry_id } => Stored::Answered(enquiry_id, "repeat"),
        // No idempotency key is sent: only the event's own key conflicts.
        InsertOutcome::Conflict => Stored::Changed,
    })
}

fn action_key(action: &Action) -> PartnerEventKey {
    PartnerEventKey {
        partner: PARTNER.into(),
        program_id: action.support_program_id.clone(),
        patient_id: action.patient_id.clone(),
        event_name: action.event_name.clone(),
        sent_at_ms: (action.sent_at.unix_timestamp_nanos() / 1_000_000) as i64,
    }
}

/// `200 {"success": true, "data": {supportProgramId, patientId, externalId}}`.
fn success(program: &str, patient: &str, id: &EnquiryId) -> Response {
    Json(json!({
        "success": true,
        "data": {"supportProgramId": program, "patientId": patient, "externalId": id.as_str()},
    }))
    .into_response()
}

fn refused(route: &str, site: &str, refusal: &Refusal) -> Response {
    count(route, site, "refused");
    answer(
        StatusCode::BAD_REQUEST,
        &refusal.message,
        refusal.patient_id.as_deref(),
    )
}

/// The database could not take it: 503, so the partner sends it again.
fn unavailable(route: &str, site: &str, e: &StoreError, patient: Option<&str>) -> Response {
    count(route, site, "unavailable");
    warn!(partner = PARTNER, route, error = %e, "partner webhook not stored: the database is unavailable; the partner is asked to send it again");
    answer(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily unable to store the event; send it again in a minute",
        patient,
    )
}

/// The partner's error shape: `{"errorMessage": …, "data": {"patientId": …}}`.
fn answer(status: StatusCode, message: &str, patient: Option<&str>) -> Response {
    let data = match patient {
        Some(id) => json!({"patientId": id}),
        None => Value::Object(Default::default()),
    };
    (status, Json(json!({"errorMessage": message, "data": data}))).into_response()
}

/// `site` is a configured slug or [`UNKNOWN_SITE`], never a slug as sent.
fn count(route: &str, site: &str, outcome: &'static str) {
    metrics::counter!(PARTNER_WEBHOOKS, "partner" => PARTNER, "route" => route.to_owned(), "site" => site.to_owned(), "outcome" => outcome)
        .increment(1);
}
