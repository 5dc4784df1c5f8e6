//! Home visits (carehq-api.md §6): create, list, retrieve, update while
//! pending, cancel and complete. A visit belongs to an enquiry the sandbox created.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Json};
use serde_json::Value;
use time::OffsetDateTime;

use super::Sandbox;
use super::error::SandboxError;
use super::faults::answer_created;
use super::gate::Params;
use super::params::{Checker, LIST_PARAMS, ListQuery};
use super::records::{HomeVisit, VisitStatus, carehq_date_time, parse_carehq_date_time};
use super::state::is_carehq_id;

pub const HOSTS: &[&str] = &[
    "manager",
    "deputy_manager",
    "administrator",
    "receptionist",
    "senior_carer",
    "carer",
    "customer_relations_adviser",
    "nurse",
    "other",
];
pub const VISIT_TYPES: &[&str] = &["in_person", "virtual"];

const CREATE_PARAMS: &[&str] = &[
    "care_enquiry",
    "date_time",
    "host",
    "visit_type",
    "notes",
    "assigned_to",
    "service_user_contact",
    "suppress_email",
];
const UPDATE_PARAMS: &[&str] = &["date_time", "host", "visit_type", "notes"];
const ATTRIBUTES: &[&str] = &[
    "_id",
    "anonymized",
    "assigned_to",
    "cancelled",
    "care_enquiry",
    "completed",
    "created",
    "date_time",
    "host",
    "location",
    "modified",
    "notes",
    "service_user_contact",
    "visit_type",
];

pub async fn create(
    State(sandbox): State<Sandbox>,
    Extension(Params(params)): Extension<Params>,
) -> Result<Response, SandboxError> {
    let now = OffsetDateTime::now_utc();
    let (visit, after) = {
        let mut state = sandbox.state();
        let mut check = Checker::new(&params);
        check.reject_unknown(CREATE_PARAMS);
        let mut location = None;
        let care_enquiry = check.required("care_enquiry");
        if let Some(enquiry) = care_enquiry {
            location = state
                .enquiries
                .iter()
                .find(|e| e.id == enquiry)
                .map(|e| e.field("location").unwrap_or_default().to_owned());
            if location.is_none() {
                check.error(
                    "care_enquiry",
                    "No care enquiry with this Id in the sandbox. Use the _id returned by PUT /v1/care-enquiries.",
                );
            }
        }
        let date_time = check
            .required("date_time")
            .and_then(|v| date_time(&mut check, v));
        let host = check.enumerated("host", HOSTS);
        let visit_type = check.enumerated("visit_type", VISIT_TYPES);
        let notes = check.one("notes").unwrap_or_default();
        let assigned_to = check.id("assigned_to");
        let service_user_contact = check.id("service_user_contact");
        let suppress_email = check.boolean("suppress_email").unwrap_or(false);
        check.finish()?;

        let stamp = carehq_date_time(now);
        let visit = HomeVisit {
            id: state.new_id(now.unix_timestamp()),
            created: stamp.clone(),
            modified: stamp,
            anonymized: None,
            assigned_to: assigned_to.map(str::to_owned),
            cancelled: None,
            completed: None,
            care_enquiry: care_enquiry.unwrap_or_default().to_owned(),
            date_time: date_time.unwrap_or_default(),
            host: host.map(str::to_owned),
            location: location.unwrap_or_default(),
            notes: notes.to_owned(),
            service_user_contact: service_user_contact.map(str::to_owned),
            visit_type: visit_type.map(str::to_owned),
            confirmation_emailed: !suppress_email,
        };
        state.visits.push(visit.clone());
        (visit, state.faults.take_after_create())
    };
    tracing::info!(visit_id = %visit.id, "sandbox: home visit created");
    Ok(answer_created(after, Value::Object(visit.api_object())).await)
}

pub async fn list(
    State(sandbox): State<Sandbox>,
    Extension(Params(params)): Extension<Params>,
) -> Result<Json<Value>, SandboxError> {
    let mut check = Checker::new(&params);
    check.reject_unknown(&[LIST_PARAMS, &["filters-care_enquiry"]].concat());
    let query = ListQuery::read(&mut check, ATTRIBUTES);
    let enquiries = check.many("filters-care_enquiry");
    if enquiries.iter().any(|id| !is_carehq_id(id)) {
        check.error(
            "filters-care_enquiry",
            "Each value must be a care enquiry Id (24 lowercase hex characters).",
        );
    }
    check.finish()?;
    let items = sandbox
        .state()
        .visits
        .iter()
        .filter(|v| enquiries.is_empty() || enquiries.contains(&v.care_enquiry.as_str()))
        .map(HomeVisit::api_object)
        .collect();
    Ok(Json(query.envelope(items)))
}

pub async fn retrieve(
    State(sandbox): State<Sandbox>,
    Path(id): Path<String>,
    Extension(Params(params)): Extension<Params>,
) -> Result<Json<Value>, SandboxError> {
    let state = sandbox.state();
    let visit = state
        .visits
        .iter()
        .find(|v| v.id == id)
        .ok_or_else(|| not_found(&id))?;
    let mut check = Checker::new(&params);
    check.reject_unknown(&[]);
    check.finish()?;
    Ok(Json(Value::Object(visit.api_object())))
}

pub async fn update(
    State(sandbox): State<Sandbox>,
    Path(id): Path<String>,
    Extension(Params(params)): Extension<Params>,
) -> Result<Json<Value>, SandboxError> {
    change(
        &sandbox,
        &id,
        &params,
        UPDATE_PARAMS,
        |visit, check, now| {
            refuse_unless_pending(visit, "updated")?;
            let date_time = check.one("date_time").and_then(|v| date_time(check, v));
            let host = check.enumerated("host", HOSTS);
            let visit_type = check.enumerated("visit_type", VISIT_TYPES);
            let notes = check.one("notes");
            if check.has_errors() {
                return Ok(());
            }
            if let Some(v) = date_time {
                visit.date_time = v;
            }
            if let Some(v) = host {
                visit.host = Some(v.to_owned());
            }
            if let Some(v) = visit_type {
                visit.visit_type = Some(v.to_owned());
            }
            if let Some(v) = notes {
                visit.notes = v.to_owned();
            }
            visit.modified = now.clone();
            Ok(())
        },
    )
}

pub async fn cancel(
    State(sandbox): State<Sandbox>,
    Path(id): Path<String>,
    Extension(Params(params)): Extension<Params>,
) -> Result<Json<Value>, SandboxError> {
    change(&sandbox, &id, &params, &[], |visit, _, now| {
        if visit.status() == VisitStatus::Cancelled {
            return Err(SandboxError::BadRequest(
                "This home visit is already cancelled; there is nothing to do.".to_owned(),
            ));
        }
        visit.cancelled = Some(now.clone());
        visit.modified = now.clone();
        Ok(())
    })
}

pub async fn complete(
    State(sandbox): State<Sandbox>,
    Path(id): Path<String>,
    Extension(Params(params)): Extension<Params>,
) -> Result<Json<Value>, SandboxError> {
    change(&sandbox, &id, &params, &[], |visit, _, now| {
        refuse_unless_pending(visit, "completed")?;
        visit.completed = Some(now.clone());
        visit.modified = now.clone();
        Ok(())
    })
}

/// Finds the visit (404 if unknown), refuses unknown parameters, runs `apply`
/// under the lock and answers with the visit as it now stands.
fn change(
    sandbox: &Sandbox,
    id: &str,
    params: &[(String, String)],
    known: &[&str],
    apply: impl FnOnce(&mut HomeVisit, &mut Checker<'_>, &String) -> Result<(), SandboxError>,
) -> Result<Json<Value>, SandboxError> {
    let now = carehq_date_time(OffsetDateTime::now_utc());
    let mut state = sandbox.state();
    let visit = state
        .visits
        .iter_mut()
        .find(|v| v.id == id)
        .ok_or_else(|| not_found(id))?;
    let mut check = Checker::new(params);
    check.reject_unknown(known);
    check.finish()?;
    apply(visit, &mut check, &now)?;
    check.finish()?;
    Ok(Json(Value::Object(visit.api_object())))
}

fn refuse_unless_pending(visit: &HomeVisit, action: &str) -> Result<(), SandboxError> {
    let status = match visit.status() {
        VisitStatus::Pending => return Ok(()),
        VisitStatus::Cancelled => "cancelled",
        VisitStatus::Completed => "completed",
    };
    Err(SandboxError::BadRequest(format!(
        "This home visit is {status}; only pending visits can be {action}. Book a new visit instead."
    )))
}

fn date_time(check: &mut Checker<'_>, value: &str) -> Option<String> {
    if parse_carehq_date_time(value).is_some() {
        Some(value.to_owned())
    } else {
        check.error(
            "date_time",
            "Not a valid date and time; send YYYY-MM-DD HH:MM:SS, e.g. 2025-03-01 14:30:00.",
        );
        None
    }
}

fn not_found(id: &str) -> SandboxError {
    let shown = if is_carehq_id(id) { id } else { "given" };
    SandboxError::NotFound(format!(
        "No home visit with the {shown} Id. Use the _id returned by PUT /v1/home-visits (GET /v1/home-visits lists them)."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attribute_list_matches_the_api_object() {
        let visit = HomeVisit {
            id: "a".repeat(24),
            created: String::new(),
            modified: String::new(),
            anonymized: None,
            assigned_to: None,
            cancelled: None,
            completed: None,
            care_enquiry: String::new(),
            date_time: String::new(),
            host: None,
            location: String::new(),
            notes: String::new(),
            service_user_contact: None,
            visit_type: None,
            confirmation_emailed: true,
        };
        let mut keys: Vec<String> = visit.api_object().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ATTRIBUTES);
    }
}
