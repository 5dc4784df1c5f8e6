//! Edit and resend: a failed enquiry that CareHQ refused (400) naming
//! fields the family typed can have exactly those fields corrected by
//! staff and is then sent again. Each corrected value passes the same
//! checks as the form's; the family's original is kept beside the
//! correction and the edit is audited (field names only).

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use super::actions::authorised;
use super::error::StaffError;
use super::words::{arg_errors_in_words, field_name};
use crate::domain::{EmailAddress, FreeText, PersonName, PhoneNumber, StoredEnquiry};
use crate::http::state::AppState;
use crate::storage::{
    Actor, Correction, DeliveryStatus, EditOutcome, EnquiryId, Step, Store, StoreError,
};

/// Fields of the stored enquiry that are also CareHQ parameters of the same
/// name, and so can be what CareHQ refused. Anything else it names (the
/// home's location, a group) is a setting, fixed in the configuration.
const EDITABLE: [&str; 5] = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "care_requirements",
];

/// The prefix of an edited field's input name (`field_email`).
pub const FIELD_PREFIX: &str = "field_";

/// One field staff may correct, as the edit form shows it.
pub struct EditField {
    pub input: String,
    pub label: String,
    pub value: String,
    /// CareHQ's reason, in words.
    pub reason: String,
    pub multiline: bool,
}

/// The fields CareHQ refused in the last attempt of the enquiry's failed
/// care-enquiry step, with their stored values; empty when nothing can be
/// corrected (not failed, not a 400 naming family fields, details removed).
pub async fn editable_fields(
    store: &Store,
    enquiry_id: &EnquiryId,
    payload: Option<&str>,
) -> Result<Vec<EditField>, StoreError> {
    let Some(Value::Object(stored)) = payload.and_then(|p| serde_json::from_str(p).ok()) else {
        return Ok(Vec::new());
    };
    let Some(failed) = store
        .deliveries_of(enquiry_id)
        .await?
        .into_iter()
        .find(|d| d.step == Step::Enquiry && d.status == DeliveryStatus::Failed)
    else {
        return Ok(Vec::new());
    };
    let Some(last) = store.attempts_of(&failed.id).await?.pop() else {
        return Ok(Vec::new());
    };
    let Some(Value::Object(refused)) = last
        .arg_errors
        .as_deref()
        .filter(|_| last.http_status == Some(400))
        .and_then(|a| serde_json::from_str(a).ok())
    else {
        return Ok(Vec::new());
    };
    let reasons = last
        .arg_errors
        .as_deref()
        .map(arg_errors_in_words)
        .unwrap_or_default();
    Ok(EDITABLE
        .iter()
        .filter(|name| refused.contains_key(**name))
        .map(|name| EditField {
            input: format!("{FIELD_PREFIX}{name}"),
            label: field_name(name),
            value: stored
                .get(*name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            reason: reasons
                .iter()
                .find(|(label, _)| *label == field_name(name))
                .map(|(_, why)| why.clone())
                .unwrap_or_default(),
            multiline: *name == "care_requirements",
        })
        .collect())
}

pub async fn edit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, StaffError> {
    let (signed_in, posted) = authorised(&state, &headers, form, |pairs| {
        pairs
            .iter()
            .find(|(k, _)| k == "csrf")
            .map_or("", |(_, v)| v.as_str())
    })
    .await?;
    const NOT_FOUND: &str = "There is no enquiry with this Id, so nothing was changed.";
    // Text that is no Id is answered as a missing enquiry, as before.
    let Ok(id) = id.parse::<EnquiryId>() else {
        return Err(StaffError::NotFound(NOT_FOUND.into()));
    };
    let Some(enquiry) = state.store.enquiry(&id).await? else {
        return Err(StaffError::NotFound(NOT_FOUND.into()));
    };
    // Another account's enquiry is answered as a missing one.
    signed_in.may_see(&enquiry.site, NOT_FOUND)?;
    let Some(read) = enquiry.payload else {
        return Err(StaffError::BadRequest(
            "This enquiry's details were removed, so there is nothing to correct.".into(),
        ));
    };
    let editable = editable_fields(&state.store, &id, Some(&read)).await?;
    if editable.is_empty() {
        return Err(StaffError::BadRequest(
            "Only a failed enquiry that CareHQ refused for details the family typed can be corrected. Reload its page to see what can be done.".into(),
        ));
    }
    let (corrected, fields) = correct(&read, &editable, &posted)?;
    let actor = Actor {
        label: &signed_in.session.label,
        reason: None,
    };
    let correction = Correction {
        read: &read,
        corrected: &corrected,
        fields: &fields,
    };
    match state.store.staff_edit(&id, &actor, &correction).await? {
        EditOutcome::Edited { .. } => {
            tracing::info!(enquiry_id = %id, label = %actor.label, fields = %fields.join(","), "staff console: enquiry corrected and sent again");
            Ok(Redirect::to(&format!("/staff/enquiries/{id}?done=edited")).into_response())
        }
        EditOutcome::Stale => Err(StaffError::BadRequest(
            "The enquiry changed while you were correcting it (someone else may have acted), so nothing was changed. Reload its page and correct it again if it still needs it.".into(),
        )),
    }
}

/// The stored enquiry with the posted corrections, checked as the form
/// checks them, and the names of the fields that changed.
fn correct(
    read: &str,
    editable: &[EditField],
    posted: &[(String, String)],
) -> Result<(String, Vec<String>), StaffError> {
    let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(read) else {
        return Err(StaffError::internal(
            "reading the stored enquiry",
            "it is not a JSON object",
        ));
    };
    let mut changed = Vec::new();
    for (key, value) in posted {
        let Some(name) = key.strip_prefix(FIELD_PREFIX) else {
            continue;
        };
        let Some(field) = editable.iter().find(|f| f.input == *key) else {
            return Err(StaffError::BadRequest(format!(
                "{} cannot be changed here: only the details CareHQ refused can be corrected.",
                field_name(name)
            )));
        };
        let value = value.trim();
        if value == field.value.trim() {
            continue;
        }
        let checked = check(name, value).map_err(|why| {
            StaffError::BadRequest(format!(
                "{}: {why}. Go back, correct it and send it again.",
                field.label
            ))
        })?;
        fields.insert(name.to_owned(), checked);
        changed.push(name.to_owned());
    }
    if changed.is_empty() {
        return Err(StaffError::BadRequest(
            "Nothing was corrected, so nothing was sent. Go back, change the details CareHQ refused, then send it again.".into(),
        ));
    }
    // The whole enquiry is parsed again, as the worker will before sending;
    // as a `StoredEnquiry`, so the consent version agreed to stays with it.
    let stored: StoredEnquiry = serde_json::from_value(Value::Object(fields)).map_err(|_| {
        StaffError::BadRequest(
            "The corrected enquiry is not complete (it needs a name and an email address or phone number). Go back and correct it.".into(),
        )
    })?;
    let corrected =
        serde_json::to_string(&stored).map_err(|e| StaffError::internal("corrected enquiry", e))?;
    Ok((corrected, changed))
}

/// One corrected value, checked by the form's own rules; an emptied email
/// or phone is removed.
fn check(name: &str, value: &str) -> Result<Value, String> {
    let json = |v: Result<Value, serde_json::Error>| v.map_err(|e| e.to_string());
    match name {
        "first_name" | "last_name" => json(serde_json::to_value(PersonName::parse(value)?)),
        "email" if value.is_empty() => Ok(Value::Null),
        "email" => json(serde_json::to_value(EmailAddress::parse(value)?)),
        "phone" if value.is_empty() => Ok(Value::Null),
        "phone" => json(serde_json::to_value(PhoneNumber::parse(value)?)),
        "care_requirements" => json(serde_json::to_value(FreeText::parse(value)?)),
        _ => Err("this detail cannot be corrected here".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email_field() -> EditField {
        EditField {
            input: "field_email".into(),
            label: "Email address".into(),
            value: "ann@example.com".into(),
            reason: String::new(),
            multiline: false,
        }
    }

    const STORED: &str = r#"{"first_name":"Ann","last_name":"Lee","email":"ann@example.com","consent":false,"extra_fields":[]}"#;

    fn post(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn only_the_refused_fields_change_and_each_is_checked() {
        let editable = [email_field()];
        let (corrected, fields) = correct(
            STORED,
            &editable,
            &post(&[("field_email", " ann@example.org ")]),
        )
        .unwrap();
        assert_eq!(fields, ["email"]);
        let value: Value = serde_json::from_str(&corrected).unwrap();
        assert_eq!(value["email"], "ann@example.org");
        assert_eq!(value["first_name"], "Ann");

        let other = correct(STORED, &editable, &post(&[("field_first_name", "Bea")]));
        assert!(matches!(other, Err(StaffError::BadRequest(_))));
        let bad = correct(STORED, &editable, &post(&[("field_email", "not an email")]));
        assert!(matches!(bad, Err(StaffError::BadRequest(m)) if m.starts_with("Email address: ")));
        let same = correct(
            STORED,
            &editable,
            &post(&[("field_email", "ann@example.com")]),
        );
        assert!(matches!(same, Err(StaffError::BadRequest(_))));
    }

    /// The consent statement's version the family agreed to is part of what
    /// is stored; correcting an email must not drop it.
    #[test]
    fn a_correction_keeps_the_consent_version_the_family_agreed_to() {
        let stored = r#"{"first_name":"Ann","last_name":"Lee","email":"ann@example.com","consent":true,"extra_fields":[],"consent_version":"2026-11"}"#;
        let (corrected, _) = correct(
            stored,
            &[email_field()],
            &post(&[("field_email", "ann@example.org")]),
        )
        .unwrap();
        let value: Value = serde_json::from_str(&corrected).unwrap();
        assert_eq!(value["email"], "ann@example.org");
        assert_eq!(value["consent_version"], "2026-11", "{corrected}");
    }
}
