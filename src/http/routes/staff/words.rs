//! How the console says things: times, states, delivery steps and attempt
//! outcomes, and CareHQ's `hint` and `arg_errors` in words staff understand.

use serde_json::Value;

use crate::storage::{DeliveryStatus, EnquiryState, Step};

/// Unix ms → "2026-12-02 09:14 UTC".
pub use crate::values::format_utc_minute as when;

/// The state's name, as staff see it everywhere.
pub fn state_name(state: EnquiryState) -> &'static str {
    match state {
        EnquiryState::Sent => "Sent",
        EnquiryState::Waiting => "Waiting",
        EnquiryState::Failed => "Failed",
        EnquiryState::Held => "Held",
        EnquiryState::Closed => "Not sent (deleted or expired)",
    }
}

/// "Waiting (next attempt 2026-12-02 09:14 UTC)" and the like.
pub fn state_words(state: EnquiryState, next_attempt_at: Option<i64>) -> String {
    match (state, next_attempt_at) {
        (EnquiryState::Waiting, Some(at)) => format!("Waiting (next attempt {})", when(at)),
        _ => state_name(state).to_owned(),
    }
}

pub fn step_name(step: Step) -> &'static str {
    match step {
        Step::Enquiry => "Care enquiry to CareHQ",
        Step::HomeVisit => "Home visit to CareHQ",
        Step::FallbackEmail => "Email to the home (CareHQ was late)",
        Step::Destination => "Copy to another system (FHIR)",
    }
}

pub fn status_words(status: DeliveryStatus, next_attempt_at: i64) -> String {
    match status {
        DeliveryStatus::Synced => "Sent".into(),
        DeliveryStatus::Pending => format!("Waiting (next attempt {})", when(next_attempt_at)),
        DeliveryStatus::Sending => "Waiting (being sent now)".into(),
        DeliveryStatus::Waiting => "Waiting (sent once the care enquiry is in CareHQ)".into(),
        DeliveryStatus::Failed => "Failed".into(),
        DeliveryStatus::Held => "Held (a person must check it before it is sent)".into(),
        DeliveryStatus::Expired => "Not sent (deleted, or held too long)".into(),
    }
}

pub fn outcome_words(outcome: &str) -> &'static str {
    match outcome {
        "synced" => "accepted by CareHQ",
        "retry" => "failed; tried again later",
        "ambiguous" => "no clear answer (it may have arrived); tried again later",
        "failed" => "refused by CareHQ; not tried again",
        "rate_limited" => "CareHQ asked us to slow down; tried again later",
        "paused" => "CareHQ refused the credentials; delivery paused",
        "deferred" => "not sent yet; tried again shortly",
        "not_needed" => "not sent: no longer needed (CareHQ already had the enquiry)",
        _ => "other",
    }
}

/// A CareHQ parameter's name as staff know it.
pub fn field_name(parameter: &str) -> String {
    match parameter {
        "first_name" => "First name".into(),
        "last_name" => "Last name".into(),
        "email" => "Email address".into(),
        "phone" => "Phone number".into(),
        "mobile" => "Mobile number".into(),
        "care_requirements" => "Message (care needed)".into(),
        "dob" => "Date of birth".into(),
        "funding_type" => "Funding".into(),
        "service" => "Type of care".into(),
        "consent" => "Agreed to the home's consent statement".into(),
        "enquiring_for_self" => "Enquiring for themselves".into(),
        "extra_fields" => "Other answers".into(),
        "location" => {
            "The home's CareHQ location (a setting of the service, not an answer of the family)"
                .into()
        }
        "referrer" | "sales_channel" => format!(
            "The home's CareHQ {} (a setting of the service)",
            parameter.replace('_', " ")
        ),
        other => other.replace('_', " "),
    }
}

/// CareHQ's `arg_errors` (`{"email": ["Not a valid email address…"]}`) as
/// (what, why) lines; empty when the text is not that shape.
pub fn arg_errors_in_words(arg_errors: &str) -> Vec<(String, String)> {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(arg_errors) else {
        return Vec::new();
    };
    fields
        .iter()
        .map(|(name, why)| {
            let why = match why {
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(" "),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (field_name(name), why)
        })
        .collect()
}

/// What an HTTP status from CareHQ means for staff.
pub fn http_status_words(status: i64) -> &'static str {
    match status {
        400 => "CareHQ refused the enquiry's details",
        401 | 403 => "CareHQ refused our credentials",
        404 => "CareHQ does not know something the enquiry refers to",
        429 => "CareHQ asked us to slow down",
        500..=599 => "CareHQ had a problem of its own",
        _ => "CareHQ answered unexpectedly",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arg_errors_are_named_in_words() {
        let lines =
            arg_errors_in_words(r#"{"email": ["Not a valid email address."], "dob": "Bad date"}"#);
        assert_eq!(
            lines,
            vec![
                (
                    "Email address".to_owned(),
                    "Not a valid email address.".to_owned()
                ),
                ("Date of birth".to_owned(), "Bad date".to_owned()),
            ]
        );
        assert!(arg_errors_in_words("not json").is_empty());
    }

    #[test]
    fn waiting_says_when_next() {
        assert_eq!(
            state_words(EnquiryState::Waiting, Some(0)),
            "Waiting (next attempt 1970-01-01 00:00 UTC)"
        );
        assert_eq!(state_words(EnquiryState::Failed, Some(0)), "Failed");
    }
}
