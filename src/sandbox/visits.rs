//! Home visits (docs/carehq-api.md, "Home visits"): create, list, retrieve, update while
//! pending, cancel and complete. A visit belongs to an enquiry the sandbox created.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Json};
use serde_json::Value;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use super::Sandbox;
use super::error::SandboxError;
use super::faults::answer_created;
use super::gate::Params;
use super::params::{Checker, LIST_PARAMS, ListQuery};
use super::records::{HomeVisit, VisitStatus, carehq_date_time, parse_carehq_date_time};
use super::state::is_carehq_id;
// CareHQ's vocabulary, written once for the relay's config and this fake.
use crate::values::{VISIT_HOSTS, VISIT_TYPES};

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
/// The document lists assigned_to, date_time, host, notes and suppress_email;
/// visit_type is kept from before (the sandbox applied it already).
const UPDATE_PARAMS: &[&str] = &[
    "assigned_to",
    "date_time",
    "host",
    "visit_type",
    "notes",
    "suppress_email",
];
/// The list filters the home-visits document lists, beside the list parameters.
const LIST_FILTERS: &[&str] = &[
    "filters-anonymized",
    "filters-assigned_to",
    "filters-cancelled",
    "filters-care_enquiry",
    "filters-completed",
    "filters-end_date",
    "filters-ids",
    "filters-location",
    "filters-modified_after",
    "filters-modified_before",
    "filters-q",
    "filters-start_date",
    "filters-visit_type",
];
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
        let host = check.enumerated("host", VISIT_HOSTS);
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
    check.reject_unknown(&[LIST_PARAMS, LIST_FILTERS].concat());
    let query = ListQuery::read(&mut check, ATTRIBUTES);
    let filter = VisitFilter::read(&mut check);
    check.finish()?;
    let items = sandbox
        .state()
        .visits
        .iter()
        .filter(|v| filter.keeps(v))
        .map(HomeVisit::api_object)
        .collect();
    Ok(Json(query.envelope(items)))
}

/// `GET /v1/home-visits` filters; every one given must hold.
struct VisitFilter<'a> {
    anonymized: Option<bool>,
    cancelled: Option<bool>,
    completed: Option<bool>,
    assigned_to: Vec<&'a str>,
    care_enquiry: Vec<&'a str>,
    ids: Vec<&'a str>,
    location: Vec<&'a str>,
    start_date: Option<Date>,
    end_date: Option<Date>,
    modified_after: Option<PrimitiveDateTime>,
    modified_before: Option<PrimitiveDateTime>,
    q: Option<String>,
    visit_type: Option<&'a str>,
}

impl<'a> VisitFilter<'a> {
    fn read(check: &mut Checker<'a>) -> VisitFilter<'a> {
        VisitFilter {
            anonymized: yes_no(check, "filters-anonymized"),
            cancelled: yes_no(check, "filters-cancelled"),
            completed: yes_no(check, "filters-completed"),
            assigned_to: ids(check, "filters-assigned_to", "user"),
            care_enquiry: ids(check, "filters-care_enquiry", "care enquiry"),
            ids: ids(check, "filters-ids", "home visit"),
            location: ids(check, "filters-location", "location"),
            start_date: date(check, "filters-start_date"),
            end_date: date(check, "filters-end_date"),
            modified_after: modified(check, "filters-modified_after"),
            modified_before: modified(check, "filters-modified_before"),
            q: check
                .one("filters-q")
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(str::to_lowercase),
            visit_type: check.enumerated("filters-visit_type", VISIT_TYPES),
        }
    }

    fn keeps(&self, visit: &HomeVisit) -> bool {
        let flag = |wanted: Option<bool>, value: &Option<String>| {
            wanted.is_none_or(|w| w == value.is_some())
        };
        let listed = |list: &[&str], value: Option<&str>| {
            list.is_empty() || value.is_some_and(|v| list.contains(&v))
        };
        let day = parse_carehq_date_time(&visit.date_time).map(|d| d.date());
        let modified = parse_carehq_date_time(&visit.modified);
        flag(self.anonymized, &visit.anonymized)
            && flag(self.cancelled, &visit.cancelled)
            && flag(self.completed, &visit.completed)
            && listed(&self.assigned_to, visit.assigned_to.as_deref())
            && listed(&self.care_enquiry, Some(&visit.care_enquiry))
            && listed(&self.ids, Some(&visit.id))
            && listed(&self.location, Some(&visit.location))
            && self
                .start_date
                .is_none_or(|start| day.is_some_and(|d| d >= start))
            && self
                .end_date
                .is_none_or(|end| day.is_some_and(|d| d <= end))
            && self
                .modified_after
                .is_none_or(|after| modified.is_some_and(|m| m > after))
            && self
                .modified_before
                .is_none_or(|before| modified.is_some_and(|m| m < before))
            && self
                .q
                .as_ref()
                .is_none_or(|q| visit.notes.to_lowercase().contains(q.as_str()))
            && self
                .visit_type
                .is_none_or(|t| visit.visit_type.as_deref() == Some(t))
    }
}

/// `yes` or `no` (the document's own example sends `filters-cancelled=no`).
fn yes_no(check: &mut Checker<'_>, name: &str) -> Option<bool> {
    match check.one(name)? {
        "yes" => Some(true),
        "no" => Some(false),
        other => {
            check.error(
                name,
                format!("'{other}' is not valid; send yes or no (leave it out for both)."),
            );
            None
        }
    }
}

/// A list of Ids (repeat the parameter for several).
fn ids<'a>(check: &mut Checker<'a>, name: &str, what: &str) -> Vec<&'a str> {
    let values = check.many(name);
    if values.iter().any(|id| !is_carehq_id(id)) {
        check.error(
            name,
            format!(
                "Each value must be a {what} Id (24 lowercase hex characters); repeat the parameter for several."
            ),
        );
    }
    values
}

fn date(check: &mut Checker<'_>, name: &str) -> Option<Date> {
    let value = check.one(name)?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match Date::parse(value, format) {
        Ok(d) => Some(d),
        Err(_) => {
            check.error(
                name,
                "Not a valid date; send YYYY-MM-DD, e.g. 2025-03-01 (inclusive).",
            );
            None
        }
    }
}

fn modified(check: &mut Checker<'_>, name: &str) -> Option<PrimitiveDateTime> {
    let value = check.one(name)?;
    let parsed = parse_carehq_date_time(value);
    if parsed.is_none() {
        check.error(
            name,
            "Not a valid date and time; send YYYY-MM-DD HH:MM:SS, e.g. 2025-03-01 14:30:00.",
        );
    }
    parsed
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
            let host = check.enumerated("host", VISIT_HOSTS);
            let visit_type = check.enumerated("visit_type", VISIT_TYPES);
            let notes = check.one("notes");
            let assigned_to = check.id("assigned_to");
            let suppress_email = check.boolean("suppress_email").unwrap_or(false);
            if check.has_errors() {
                return Ok(());
            }
            if let Some(v) = assigned_to {
                visit.assigned_to = Some(v.to_owned());
            }
            if date_time.is_some() {
                // CareHQ emails the new time unless suppressed (home-visits document).
                visit.confirmation_emailed = !suppress_email;
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
