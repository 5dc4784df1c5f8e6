//! `POST /partners/helparound/{site}/user-enrollment` and `…/user-action`:
//! HelpAround's webhooks (seed document 004), answered in the shapes it
//! documents. An enrollment is stored as an enquiry (the same table and
//! outbox as a form post, spam verdict `partner`) and answered 200 once it is
//! stored, not once CareHQ has it; a repeat of the same event gets the same
//! answer and stores nothing. A user action is recorded against the
//! enrollment. Unknown site, partner not enabled and bad credentials all get
//! the same 401: nothing tells a prober which sites exist.

use std::net::IpAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::config::SiteSettings;
use crate::domain::{Enquiry, IntakeRules};
use crate::http::peer::PeerAddr;
use crate::http::state::AppState;
use crate::partners::helparound::{
    self, Action, ENROLLMENT_EVENT, Enrollment, PartnerSubmission, Refusal,
};
use crate::partners::webhook_auth::{self, AuthRefusal, SignedHeaders};
use crate::spam::SpamVerdict;
use crate::storage::{
    ActionOutcome, EnquiryId, InsertOutcome, NewEnquiry, PartnerEventKey, StoreError, now_ms,
};

/// Webhooks by partner, route and outcome (`stored`, `repeat`, `held`,
/// `refused`, `unauthorized`, `unavailable`).
pub const PARTNER_WEBHOOKS: &str = "enquiry_relay_partner_webhooks_total";
const PARTNER: &str = "helparound";

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
        Err(refusal) => return refused("user-enrollment", &refusal),
    };
    let submission = helparound::submission(&enrollment);
    let enquiry = match checked(site, &submission, &enrollment) {
        Ok(enquiry) => enquiry,
        Err(refusal) => return refused("user-enrollment", &refusal),
    };
    let Ok(payload) = serde_json::to_string(&enquiry) else {
        count("user-enrollment", "refused");
        return answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the enquiry could not be encoded; this is a fault of ours: send it again later",
            Some(&enrollment.patient.id),
        );
    };
    match store(&state, site, &submission, payload).await {
        Ok((id, outcome)) => {
            count("user-enrollment", outcome);
            if outcome == "stored" {
                state.worker.wake();
            }
            info!(enquiry_id = %id, site = %site.slug, partner = PARTNER, outcome, "partner enrollment received");
            success(&enrollment.support_program_id, &enrollment.patient.id, &id)
        }
        Err(e) => unavailable("user-enrollment", &e, Some(&enrollment.patient.id)),
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
        Err(refusal) => return refused("user-action", &refusal),
    };
    let key = action_key(&action);
    let what = format!("{}={}", action.key, action.value);
    match (state.store)
        .record_partner_action(&site.slug, &key, ENROLLMENT_EVENT, &what)
        .await
    {
        Ok(ActionOutcome::Recorded { enquiry_id }) => {
            count("user-action", "stored");
            info!(enquiry_id = %enquiry_id, site = %site.slug, partner = PARTNER, "partner user action recorded");
            success(&action.support_program_id, &action.patient_id, &enquiry_id)
        }
        Ok(ActionOutcome::UnknownPatient) => refused(
            "user-action",
            &Refusal {
                message: format!(
                    "no enrollment of patient {} for this site: send the enrollment (user-enrollment) first",
                    action.patient_id
                ),
                patient_id: Some(action.patient_id.clone()),
            },
        ),
        Err(e) => unavailable("user-action", &e, Some(&action.patient_id)),
    }
}

/// The site, if it takes this partner and the request proves it is the
/// partner, and the raw body (signatures are over the bytes as received).
async fn admitted<'s>(
    state: &'s AppState,
    slug: &str,
    peer: IpAddr,
    headers: &HeaderMap,
    body: Body,
    route: &str,
) -> Result<(&'s SiteSettings, bytes::Bytes), Response> {
    let limit = state.settings.server.body_limit;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        count(route, "refused");
        return Err(answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request is larger than {limit} bytes; send the event alone"),
            None,
        ));
    };
    let site = state.settings.site(slug);
    let auth = site.and_then(|s| s.partners.helparound.as_ref());
    let verdict = match auth {
        None => Err(AuthRefusal::Wrong),
        Some(auth) => match (&auth.token, &auth.signing_secret) {
            (Some(token), _) => webhook_auth::check_bearer(header(headers, "authorization"), token),
            (None, Some(secret)) => {
                let keys: Vec<Vec<u8>> = webhook_auth::signing_key(secret).into_iter().collect();
                let signed = SignedHeaders {
                    id: header(headers, "webhook-id"),
                    timestamp: header(headers, "webhook-timestamp"),
                    signature: header(headers, "webhook-signature"),
                };
                webhook_auth::check_signature(&signed, &bytes, &keys, now_ms() / 1000)
            }
            (None, None) => Err(AuthRefusal::Wrong),
        },
    };
    let refusal = match (site, verdict) {
        (Some(site), Ok(())) => return Ok((site, bytes)),
        (None, Ok(())) => AuthRefusal::Wrong,
        (_, Err(refusal)) => refusal,
    };
    count(route, "unauthorized");
    // Why, for the operator; the partner hears only "unauthorized", so a
    // prober learns nothing of which sites exist or take the partner.
    let reason = match (site.is_some(), auth.is_some()) {
        (false, _) => "no such site",
        (true, false) => "the site does not take this partner ([sites.partners.helparound])",
        (true, true) => refusal.as_str(),
    };
    warn!(peer = %peer, site = slug, partner = PARTNER, reason, "partner webhook refused");
    Err(answer(StatusCode::UNAUTHORIZED, refusal.message(), None))
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

/// Store the enquiry with its event: the id answered and the outcome counted.
async fn store(
    state: &AppState,
    site: &SiteSettings,
    submission: &PartnerSubmission,
    payload: String,
) -> Result<(EnquiryId, &'static str), StoreError> {
    let id = EnquiryId::generate();
    let key = &submission.key;
    let new = NewEnquiry {
        id: id.clone(),
        site: site.slug.clone(),
        payload,
        spam_verdict: SpamVerdict::Partner.as_str().into(),
        idempotency_key: None,
        fingerprint: None,
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
        InsertOutcome::Created if submission.held => (id, "held"),
        InsertOutcome::Created => (id, "stored"),
        InsertOutcome::Duplicate { enquiry_id } => (enquiry_id, "repeat"),
        // Only an idempotency key can conflict, and none is sent: never
        // answer with an id that was not stored.
        InsertOutcome::Conflict => {
            return Err(StoreError::Corrupt(
                "a partner enrollment met an idempotency-key conflict".into(),
            ));
        }
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

fn refused(route: &str, refusal: &Refusal) -> Response {
    count(route, "refused");
    answer(
        StatusCode::BAD_REQUEST,
        &refusal.message,
        refusal.patient_id.as_deref(),
    )
}

/// The database could not take it: 503, so the partner sends it again.
fn unavailable(route: &str, e: &StoreError, patient: Option<&str>) -> Response {
    count(route, "unavailable");
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

fn count(route: &str, outcome: &'static str) {
    metrics::counter!(PARTNER_WEBHOOKS, "partner" => PARTNER, "route" => route.to_owned(), "outcome" => outcome)
        .increment(1);
}
