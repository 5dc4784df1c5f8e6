//! `GET /staff/enquiries/{id}`: one enquiry — what the family wrote, each
//! delivery step with every attempt and CareHQ's reasons in words, the
//! actions that apply to it, and the audit trail.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::error::StaffError;
use super::pages::{AttemptLine, AuditLine, DetailPage, Nav, StepView};
use super::session;
use super::words::{
    arg_errors_in_words, field_name, http_status_words, outcome_words, state_words, status_words,
    step_name, when,
};
use crate::http::state::AppState;
use crate::storage::{DeliveryStatus, DeliveryView, EnquiryState, Store, StoreError};

/// `?done=`: what the action just taken did (a word, never personal data).
#[derive(Deserialize, Default)]
pub struct DetailQuery {
    #[serde(default)]
    done: String,
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<DetailQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, StaffError> {
    let signed_in = session::signed_in(&state, &headers).await?;
    const NOT_FOUND: &str =
        "There is no enquiry with this Id. Open Enquiries from the menu to find it.";
    let Some(enquiry) = state.store.enquiry(&id).await? else {
        return Err(StaffError::NotFound(NOT_FOUND.into()));
    };
    // Another account's enquiry is answered as a missing one.
    signed_in.may_see(&enquiry.site, NOT_FOUND)?;
    let deliveries = state.store.deliveries_of(&id).await?;
    let mut steps = Vec::new();
    for delivery in &deliveries {
        steps.push(step_view(&state.store, delivery).await?);
    }
    let audit = state
        .store
        .audit_of(&id)
        .await?
        .into_iter()
        .map(|a| AuditLine {
            when: when(a.at),
            actor: a.actor,
            action: a.action,
            reason: a.reason.unwrap_or_default(),
            detail: a.detail.unwrap_or_default(),
        })
        .collect();
    let partner_events = (state.store.partner_events_of(&id).await?.into_iter())
        .map(|e| match e.action {
            Some(action) => format!("{}: {} ({action})", when(e.sent_at), e.event_name),
            None => format!(
                "{}: {} (received {})",
                when(e.sent_at),
                e.event_name,
                when(e.received_at)
            ),
        })
        .collect();
    let overall = overall_state(&deliveries);
    let next = deliveries
        .iter()
        .filter(|d| d.status == DeliveryStatus::Pending)
        .map(|d| d.next_attempt_at)
        .min();
    let has = |s: DeliveryStatus| deliveries.iter().any(|d| d.status == s);
    let notice = match query.ok().map(|q| q.0.done).as_deref() {
        Some("retried") => {
            "Sent again: the failed steps are waiting for their next attempt, due now."
        }
        Some("released") => "Released: it is waiting for its next attempt, due now.",
        Some("edited") => {
            "Corrected and sent again: the failed steps are waiting for their next attempt, due now."
        }
        Some("deleted") => "Deleted: its details are removed and it will not be sent.",
        Some("nothing") => {
            "Nothing to do: it was no longer failed or held (someone else may have acted)."
        }
        _ => "",
    };
    let edit_fields =
        super::edit::editable_fields(&state.store, &id, enquiry.payload.as_deref()).await?;
    let originals = match state.store.original_payload(&id).await? {
        Some(original) => corrected_fields(&original, enquiry.payload.as_deref()),
        None => Vec::new(),
    };
    let page = DetailPage {
        edit_fields,
        originals,
        nav: Nav {
            csrf: signed_in.session.csrf_token,
            label: signed_in.session.label,
        },
        action_base: format!("/staff/enquiries/{}", enquiry.id),
        site: state
            .settings
            .site(&enquiry.site)
            .map_or_else(|| enquiry.site.clone(), |s| s.name.clone()),
        received: when(enquiry.received_at),
        state: state_words(overall, next),
        fields: family_wrote(enquiry.payload.as_deref()),
        scrubbed: match enquiry.scrubbed_at {
            Some(at) => format!(
                "The details were removed on {} (deleted, or kept no longer than the retention period).",
                when(at)
            ),
            None => "No details are stored.".into(),
        },
        steps,
        audit,
        partner_events,
        can_retry: has(DeliveryStatus::Failed),
        can_release: has(DeliveryStatus::Held),
        can_delete: enquiry.payload.is_some() && !has(DeliveryStatus::Sending),
        notice: notice.into(),
        id: enquiry.id,
    };
    let html = page
        .render()
        .map_err(|e| StaffError::Internal(format!("detail page: {e}")))?;
    Ok(Html(html).into_response())
}

/// The enquiry's state over its steps, as the list computes it.
fn overall_state(deliveries: &[DeliveryView]) -> EnquiryState {
    let has = |s: DeliveryStatus| deliveries.iter().any(|d| d.status == s);
    if has(DeliveryStatus::Failed) {
        EnquiryState::Failed
    } else if has(DeliveryStatus::Held) {
        EnquiryState::Held
    } else if has(DeliveryStatus::Pending)
        || has(DeliveryStatus::Sending)
        || has(DeliveryStatus::Waiting)
    {
        EnquiryState::Waiting
    } else if has(DeliveryStatus::Expired) {
        EnquiryState::Closed
    } else {
        EnquiryState::Sent
    }
}

async fn step_view(store: &Store, delivery: &DeliveryView) -> Result<StepView, StoreError> {
    let attempts = store
        .attempts_of(&delivery.id)
        .await?
        .into_iter()
        .map(|a| AttemptLine {
            when: when(a.started_at),
            outcome: outcome_words(&a.outcome).into(),
            duration_ms: a.duration_ms,
            http: a
                .http_status
                .map(|s| format!("HTTP {s}: {}", http_status_words(s)))
                .unwrap_or_default(),
            hint: a.hint.unwrap_or_default(),
            arg_errors: a
                .arg_errors
                .as_deref()
                .map(arg_errors_in_words)
                .unwrap_or_default(),
            error: a.error.unwrap_or_default(),
        })
        .collect();
    Ok(StepView {
        name: step_name(delivery.step).into(),
        status: status_words(delivery.status, delivery.next_attempt_at),
        remote_id: delivery.remote_id.clone().unwrap_or_default(),
        last_error: delivery.last_error.clone().unwrap_or_default(),
        attempts,
    })
}

/// (label, original text) of each answer that differs from the current one.
fn corrected_fields(original: &str, current: Option<&str>) -> Vec<(String, String)> {
    let now = family_wrote(current);
    family_wrote(Some(original))
        .into_iter()
        .filter(|field| !now.contains(field))
        .collect()
}

/// The stored enquiry's answers as (label, text), in the order stored.
fn family_wrote(payload: Option<&str>) -> Vec<(String, String)> {
    let Some(payload) = payload else {
        return Vec::new();
    };
    match serde_json::from_str::<Value>(payload) {
        Ok(Value::Object(fields)) => fields
            .into_iter()
            .filter_map(|(key, value)| {
                let text = match value {
                    Value::Null => return None,
                    Value::String(s) => s,
                    Value::Bool(true) => "yes".into(),
                    Value::Bool(false) => "no".into(),
                    Value::Array(items) if items.is_empty() => return None,
                    other => other.to_string(),
                };
                Some((field_name(&key), text))
            })
            .collect(),
        _ => vec![("Stored text".into(), payload.to_owned())],
    }
}
