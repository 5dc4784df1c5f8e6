//! The answers partner webhooks get, in the shapes HelpAround documents,
//! and the metric each one counts towards.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tracing::warn;

use super::{PARTNER, PARTNER_WEBHOOKS};
use crate::partners::helparound::Refusal;
use crate::storage::{EnquiryId, StoreError};

/// `200 {"success": true, "data": {supportProgramId, patientId, externalId}}`.
pub(super) fn success(program: &str, patient: &str, id: &EnquiryId) -> Response {
    Json(json!({
        "success": true,
        "data": {"supportProgramId": program, "patientId": patient, "externalId": id.as_str()},
    }))
    .into_response()
}

pub(super) fn refused(route: &str, site: &str, refusal: &Refusal) -> Response {
    count(route, site, "refused");
    answer(
        StatusCode::BAD_REQUEST,
        &refusal.message,
        refusal.patient_id.as_deref(),
    )
}

/// The database could not take it: 503, so the partner sends it again.
pub(super) fn unavailable(
    route: &str,
    site: &str,
    e: &StoreError,
    patient: Option<&str>,
) -> Response {
    count(route, site, "unavailable");
    warn!(partner = PARTNER, route, error = %e, "partner webhook not stored: the database is unavailable; the partner is asked to send it again");
    answer(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily unable to store the event; send it again in a minute",
        patient,
    )
}

/// The partner's error shape: `{"errorMessage": …, "data": {"patientId": …}}`.
pub(super) fn answer(status: StatusCode, message: &str, patient: Option<&str>) -> Response {
    let data = match patient {
        Some(id) => json!({"patientId": id}),
        None => Value::Object(Default::default()),
    };
    (status, Json(json!({"errorMessage": message, "data": data}))).into_response()
}

/// `site` is a configured slug or [`super::UNKNOWN_SITE`], never a slug as sent.
pub(super) fn count(route: &str, site: &str, outcome: &'static str) {
    metrics::counter!(PARTNER_WEBHOOKS, "partner" => PARTNER, "route" => route.to_owned(), "site" => site.to_owned(), "outcome" => outcome)
        .increment(1);
}
