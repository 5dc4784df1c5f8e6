//! One enquiry's page (`staff/detail.html`): what the family wrote, each
//! delivery step with its attempts in words, the actions that apply, the
//! audit trail and what a partner sent. Built from what the handler read.

use askama::Template;
use serde_json::Value;

use super::Nav;
use crate::http::routes::staff::edit::EditField;
use crate::http::routes::staff::words::{
    arg_errors_in_words, field_name, http_status_words, outcome_words, state_words, status_words,
    step_name, when,
};
use crate::storage::{
    AttemptView, AuditEntry, DeliveryStatus, DeliveryView, EnquiryRecord, EnquiryState,
    PartnerEventView,
};

pub struct AttemptLine {
    pub when: String,
    pub outcome: String,
    pub duration_ms: i64,
    pub http: String,
    pub hint: String,
    pub arg_errors: Vec<(String, String)>,
    pub error: String,
}

pub struct StepView {
    pub name: String,
    pub status: String,
    pub remote_id: String,
    pub last_error: String,
    pub attempts: Vec<AttemptLine>,
}

pub struct AuditLine {
    pub when: String,
    pub actor: String,
    pub action: String,
    pub reason: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "staff/detail.html")]
pub struct DetailPage {
    pub nav: Nav,
    pub id: String,
    pub action_base: String,
    pub site: String,
    /// Which way it came in (hosted form, site form, webhook, partner).
    pub came_in: String,
    pub received: String,
    pub state: String,
    /// (label, value) of what the family wrote; empty once scrubbed.
    pub fields: Vec<(String, String)>,
    pub scrubbed: String,
    pub steps: Vec<StepView>,
    pub audit: Vec<AuditLine>,
    /// What a partner sent about it (an enrollment, then user actions), in words.
    pub partner_events: Vec<String>,
    pub can_retry: bool,
    pub can_release: bool,
    pub can_delete: bool,
    /// The fields CareHQ refused that staff may correct; empty: no edit form.
    pub edit_fields: Vec<EditField>,
    /// (label, what the family first wrote) of each field staff corrected.
    pub originals: Vec<(String, String)>,
    pub notice: String,
}

/// What the detail page shows, as read from the store.
pub struct DetailRecord {
    pub enquiry: EnquiryRecord,
    /// The home's name (its slug when it is no longer configured).
    pub site: String,
    /// Each delivery step with its attempts, in order.
    pub steps: Vec<(DeliveryView, Vec<AttemptView>)>,
    pub audit: Vec<AuditEntry>,
    pub partner_events: Vec<PartnerEventView>,
    pub edit_fields: Vec<EditField>,
    /// What the family first wrote, when staff corrected it since.
    pub original: Option<String>,
}

impl DetailPage {
    /// `done`: the `?done=` word of the action just taken, said back.
    pub fn new(record: DetailRecord, nav: Nav, done: &str) -> DetailPage {
        let DetailRecord { enquiry, .. } = &record;
        let deliveries: Vec<&DeliveryView> = record.steps.iter().map(|(d, _)| d).collect();
        let has = |s: DeliveryStatus| deliveries.iter().any(|d| d.status == s);
        let next = (deliveries.iter())
            .filter(|d| d.status == DeliveryStatus::Pending)
            .map(|d| d.next_attempt_at)
            .min();
        let payload = enquiry.payload.as_deref();
        DetailPage {
            nav,
            action_base: format!("/staff/enquiries/{}", enquiry.id),
            received: when(enquiry.received_at),
            state: state_words(overall_state(&deliveries), next),
            fields: family_wrote(payload),
            originals: (record.original.as_deref())
                .map_or_else(Vec::new, |original| corrected_fields(original, payload)),
            scrubbed: match enquiry.scrubbed_at {
                Some(at) => format!(
                    "The details were removed on {} (deleted, or kept no longer than the retention period).",
                    when(at)
                ),
                None => "No details are stored.".into(),
            },
            can_retry: has(DeliveryStatus::Failed),
            can_release: has(DeliveryStatus::Held),
            can_delete: payload.is_some() && !has(DeliveryStatus::Sending),
            notice: notice(done).into(),
            steps: (record.steps.iter())
                .map(|(d, a)| StepView::new(d, a))
                .collect(),
            audit: record.audit.into_iter().map(AuditLine::of).collect(),
            partner_events: (record.partner_events.iter()).map(partner_event).collect(),
            edit_fields: record.edit_fields,
            site: record.site,
            came_in: record.enquiry.came_in().to_owned(),
            id: record.enquiry.id,
        }
    }
}

impl StepView {
    fn new(delivery: &DeliveryView, attempts: &[AttemptView]) -> StepView {
        StepView {
            name: step_name(delivery.step).into(),
            status: status_words(delivery.status, delivery.next_attempt_at),
            remote_id: delivery.remote_id.clone().unwrap_or_default(),
            last_error: delivery.last_error.clone().unwrap_or_default(),
            attempts: attempts.iter().map(AttemptLine::of).collect(),
        }
    }
}

impl AttemptLine {
    fn of(a: &AttemptView) -> AttemptLine {
        AttemptLine {
            when: when(a.started_at),
            outcome: outcome_words(&a.outcome).into(),
            duration_ms: a.duration_ms,
            http: (a.http_status)
                .map(|s| format!("HTTP {s}: {}", http_status_words(s)))
                .unwrap_or_default(),
            hint: a.hint.clone().unwrap_or_default(),
            arg_errors: (a.arg_errors.as_deref())
                .map(arg_errors_in_words)
                .unwrap_or_default(),
            error: a.error.clone().unwrap_or_default(),
        }
    }
}

impl AuditLine {
    fn of(a: AuditEntry) -> AuditLine {
        AuditLine {
            when: when(a.at),
            actor: a.actor,
            action: a.action,
            reason: a.reason.unwrap_or_default(),
            detail: a.detail.unwrap_or_default(),
        }
    }
}

/// A partner's event in one line: when it was sent, what, and the action
/// it carried or when it arrived.
fn partner_event(e: &PartnerEventView) -> String {
    match &e.action {
        Some(action) => format!("{}: {} ({action})", when(e.sent_at), e.event_name),
        None => format!(
            "{}: {} (received {})",
            when(e.sent_at),
            e.event_name,
            when(e.received_at)
        ),
    }
}

/// What the action just taken did, from its `?done=` word.
fn notice(done: &str) -> &'static str {
    match done {
        "retried" => "Sent again: the failed steps are waiting for their next attempt, due now.",
        "released" => "Released: it is waiting for its next attempt, due now.",
        "edited" => {
            "Corrected and sent again: the failed steps are waiting for their next attempt, due now."
        }
        "deleted" => "Deleted: its details are removed and it will not be sent.",
        "nothing" => {
            "Nothing to do: it was no longer failed or held (someone else may have acted)."
        }
        _ => "",
    }
}

/// The enquiry's state over its steps, as the list computes it.
fn overall_state(deliveries: &[&DeliveryView]) -> EnquiryState {
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
