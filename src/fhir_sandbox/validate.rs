//! Structural validation of a received Bundle against what docs/design.md
//! ("FHIR destination") says the relay sends: a `transaction` of one
//! Patient, one RelatedPerson (with telecom, `patient` → the Patient, as R4
//! requires), one ServiceRequest and at most one Appointment,
//! cross-referenced by `fullUrl` (`urn:uuid:…`) inside the bundle, every
//! time in UTC.
//!
//! Identifiers are checked on every resource that has them. An entry's
//! `ifNoneExist` must be a search the sandbox can run (one `identifier`
//! parameter) and must find the resource the entry creates, as HAPI FHIR
//! also insists: a search that never finds its own resource lets every
//! re-send create another copy. An entry without one is valid, and is
//! created again on every send.
//!
//! Every problem found is reported, each with its FHIRPath, so one answer
//! tells a client all it must fix. Diagnostics never quote a sent value
//! except codes (`status`, `intent`…), which are not personal.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::errors::Issue;
use super::identifier::{Identifier, IdentifierSearch};

const TELECOM_SYSTEMS: &[&str] = &["phone", "fax", "email", "pager", "url", "sms", "other"];
const APPOINTMENT_STATUSES: &[&str] = &[
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
];
const PARTICIPANT_STATUSES: &[&str] = &["accepted", "declined", "tentative", "needs-action"];
/// Resource types an enquiry bundle may hold, and how many of each.
const EXPECTED: &[(&str, usize, usize)] = &[
    ("Patient", 1, 1),
    ("RelatedPerson", 1, 1),
    ("ServiceRequest", 1, 1),
    ("Appointment", 0, 1),
];

/// The resource types of an enquiry bundle, in the order they are listed.
pub const RESOURCE_TYPES: &[&str] = &["Patient", "RelatedPerson", "ServiceRequest", "Appointment"];

/// What the bundle endpoint needs from a valid bundle.
#[derive(Debug, PartialEq, Eq)]
pub struct Checked {
    /// The entries, in the bundle's order.
    pub entries: Vec<CheckedEntry>,
    /// `ServiceRequest.identifier[0].value`: the enquiry's id.
    pub identifier: String,
}

#[cfg(test)]
impl Checked {
    /// Each entry's resource type, in the bundle's order.
    pub fn types(&self) -> Vec<&str> {
        self.entries
            .iter()
            .map(|entry| entry.resource_type.as_str())
            .collect()
    }
}

/// What the store needs of one entry.
#[derive(Debug, PartialEq, Eq)]
pub struct CheckedEntry {
    pub resource_type: String,
    /// The resource's identifiers, each with a value.
    pub identifiers: Vec<Identifier>,
    /// `request.ifNoneExist`: created only if this finds nothing.
    pub if_none_exist: Option<IdentifierSearch>,
}

/// The bundle, checked; or the status and every issue found (400: not a
/// Bundle at all; 422: a Bundle that breaks the rules above).
pub fn check_bundle(bundle: &Value) -> Result<Checked, (StatusCode, Vec<Issue>)> {
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err((
            StatusCode::BAD_REQUEST,
            vec![Issue::error(
                "structure",
                "Bundle",
                "The body must be a FHIR R4 Bundle resource (resourceType \"Bundle\").",
            )],
        ));
    }
    let mut check = Checker::default();
    match bundle.get("type").and_then(Value::as_str) {
        Some("transaction") => {}
        Some(other) => check.issue(
            "value",
            "Bundle.type",
            format!(
                "Bundle.type is \"{}\"; it must be \"transaction\".",
                code(other)
            ),
        ),
        None => check.issue(
            "required",
            "Bundle.type",
            "Bundle.type is missing; it must be \"transaction\".",
        ),
    }
    let entries = match bundle.get("entry").and_then(Value::as_array) {
        Some(entries) if !entries.is_empty() => entries,
        _ => {
            check.issue(
                "required",
                "Bundle.entry",
                "Bundle.entry is missing or empty; send the Patient, RelatedPerson, ServiceRequest and (with a visit) Appointment.",
            );
            return Err((StatusCode::UNPROCESSABLE_ENTITY, check.issues));
        }
    };

    let (types, searches) = check.entries(entries);
    check.counts(&types);
    let mut identifier = None;
    let mut checked = Vec::with_capacity(entries.len());
    let described = entries.iter().zip(types).zip(searches).enumerate();
    for (i, ((entry, resource_type), if_none_exist)) in described {
        let resource = &entry["resource"];
        let at = format!("Bundle.entry[{i}].resource");
        match resource_type.as_str() {
            "RelatedPerson" => check.related_person(resource, &at),
            "ServiceRequest" => check.service_request(resource, &at),
            "Appointment" => check.appointment(resource, &at),
            _ => {}
        }
        let identifiers = check.identifiers(resource, &at);
        if resource_type == "ServiceRequest" {
            identifier = check.enquiry_identifier(resource, &identifiers, &at);
        }
        if let Some(search) = &if_none_exist
            && !search.matches_any(&identifiers)
        {
            check.issue(
                "invalid",
                &format!("Bundle.entry[{i}].request.ifNoneExist"),
                "The resource has no identifier this ifNoneExist finds, so it can never find what the entry creates and every re-send creates another. Give the resource that identifier.",
            );
        }
        check.unresolved_references(resource, &at);
        checked.push(CheckedEntry {
            resource_type,
            identifiers,
            if_none_exist,
        });
    }

    match identifier {
        Some(identifier) if check.issues.is_empty() => Ok(Checked {
            entries: checked,
            identifier,
        }),
        _ => Err((StatusCode::UNPROCESSABLE_ENTITY, check.issues)),
    }
}

#[derive(Default)]
struct Checker {
    issues: Vec<Issue>,
    /// fullUrl → resource type, for resolving references.
    full_urls: HashMap<String, String>,
}

impl Checker {
    fn issue(&mut self, code: &'static str, expression: &str, diagnostics: impl Into<String>) {
        self.issues
            .push(Issue::error(code, expression, diagnostics));
    }

    /// Checks each entry's fullUrl, resource and request; returns the
    /// resource types ("" where there is none) and the `ifNoneExist`
    /// searches.
    fn entries(&mut self, entries: &[Value]) -> (Vec<String>, Vec<Option<IdentifierSearch>>) {
        let mut types = Vec::with_capacity(entries.len());
        let mut searches = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let at = format!("Bundle.entry[{i}]");
            let kind = entry["resource"]["resourceType"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if kind.is_empty() {
                self.issue(
                    "required",
                    &format!("{at}.resource"),
                    "The entry has no resource (an object with a resourceType).",
                );
            }
            match entry.get("fullUrl").and_then(Value::as_str) {
                None => self.issue(
                    "required",
                    &format!("{at}.fullUrl"),
                    "fullUrl is missing; give each entry a urn:uuid: fullUrl so the others can reference it.",
                ),
                Some(url) if !is_urn_uuid(url) => self.issue(
                    "invalid",
                    &format!("{at}.fullUrl"),
                    "fullUrl must be urn:uuid: followed by a lowercase UUID (8-4-4-4-12 hex).",
                ),
                Some(url) => {
                    if self
                        .full_urls
                        .insert(url.to_owned(), kind.clone())
                        .is_some()
                    {
                        self.issue(
                            "duplicate",
                            &format!("{at}.fullUrl"),
                            "This fullUrl is used by an earlier entry; each entry needs its own.",
                        );
                    }
                }
            }
            let method = entry["request"]["method"].as_str();
            let url = entry["request"]["url"].as_str();
            if method != Some("POST") {
                self.issue(
                    "value",
                    &format!("{at}.request.method"),
                    "request.method must be POST: a transaction creates each resource.",
                );
            }
            if !kind.is_empty() && url != Some(kind.as_str()) {
                self.issue(
                    "value",
                    &format!("{at}.request.url"),
                    format!("request.url must be the resource type, \"{kind}\"."),
                );
            }
            searches.push(self.if_none_exist(&entry["request"], &at));
            types.push(kind);
        }
        (types, searches)
    }

    /// The entry's `ifNoneExist`, when it has one the sandbox can run.
    fn if_none_exist(&mut self, request: &Value, at: &str) -> Option<IdentifierSearch> {
        let query = request.get("ifNoneExist")?;
        let search = query.as_str().and_then(IdentifierSearch::if_none_exist);
        if search.is_none() {
            self.issue(
                "not-supported",
                &format!("{at}.request.ifNoneExist"),
                "ifNoneExist must be one identifier search, identifier=<system>|<value>: the only conditional create this sandbox runs.",
            );
        }
        search
    }

    /// One Patient, one RelatedPerson, one ServiceRequest, at most one
    /// Appointment, nothing else.
    fn counts(&mut self, types: &[String]) {
        for (i, kind) in types.iter().enumerate() {
            if !kind.is_empty() && !EXPECTED.iter().any(|(name, _, _)| name == kind) {
                self.issue(
                    "not-supported",
                    &format!("Bundle.entry[{i}].resource.resourceType"),
                    format!(
                        "{} is not part of an enquiry bundle; send only Patient, RelatedPerson, ServiceRequest and Appointment.",
                        code(kind)
                    ),
                );
            }
        }
        for (name, least, most) in EXPECTED {
            let n = types.iter().filter(|kind| kind == name).count();
            if n < *least {
                self.issue(
                    "required",
                    "Bundle.entry",
                    format!("The bundle has no {name} entry; it needs one."),
                );
            } else if n > *most {
                self.issue(
                    "invalid",
                    "Bundle.entry",
                    format!("The bundle has {n} {name} entries; send at most {most} (one enquiry per bundle)."),
                );
            }
        }
    }

    fn related_person(&mut self, person: &Value, at: &str) {
        self.reference(person, at, "patient", "Patient");
        let telecom = person.get("telecom").and_then(Value::as_array);
        match telecom {
            Some(points) if !points.is_empty() => {
                for (i, point) in points.iter().enumerate() {
                    let here = format!("{at}.telecom[{i}]");
                    let system = point["system"].as_str();
                    if !system.is_some_and(|s| TELECOM_SYSTEMS.contains(&s)) {
                        self.issue(
                            "code-invalid",
                            &format!("{here}.system"),
                            format!("telecom.system must be one of {}.", TELECOM_SYSTEMS.join(", ")),
                        );
                    }
                    if point["value"].as_str().is_none_or(|v| v.trim().is_empty()) {
                        self.issue(
                            "required",
                            &format!("{here}.value"),
                            "telecom.value is missing or empty.",
                        );
                    }
                }
            }
            _ => self.issue(
                "required",
                &format!("{at}.telecom"),
                "The RelatedPerson has no telecom; the family member who wrote must be reachable (email or phone).",
            ),
        }
    }

    fn service_request(&mut self, request: &Value, at: &str) {
        self.code_is(request, at, "status", "active");
        self.code_is(request, at, "intent", "proposal");
        self.reference(request, at, "subject", "Patient");
        self.reference(request, at, "requester", "RelatedPerson");
        self.utc(request, at, "authoredOn");
        match request.get("note").and_then(Value::as_array) {
            Some(notes) if !notes.is_empty() => {
                for (i, note) in notes.iter().enumerate() {
                    if note["text"].as_str().is_none_or(|t| t.trim().is_empty()) {
                        self.issue(
                            "required",
                            &format!("{at}.note[{i}].text"),
                            "note.text is missing or empty.",
                        );
                    }
                }
            }
            _ => self.issue(
                "required",
                &format!("{at}.note"),
                "The ServiceRequest has no note; the family's message goes in note[0].text.",
            ),
        }
    }

    /// The resource's identifiers that have a value; each one checked.
    fn identifiers(&mut self, resource: &Value, at: &str) -> Vec<Identifier> {
        let Some(listed) = resource.get("identifier") else {
            return Vec::new();
        };
        let Some(listed) = listed.as_array() else {
            self.issue(
                "structure",
                &format!("{at}.identifier"),
                "identifier must be an array of Identifier objects.",
            );
            return Vec::new();
        };
        let mut identifiers = Vec::with_capacity(listed.len());
        for (i, identifier) in listed.iter().enumerate() {
            match identifier["value"]
                .as_str()
                .filter(|v| !v.trim().is_empty())
            {
                Some(value) => identifiers.push(Identifier {
                    system: identifier["system"].as_str().map(str::to_owned),
                    value: value.to_owned(),
                }),
                None => self.issue(
                    "required",
                    &format!("{at}.identifier[{i}].value"),
                    "identifier.value is missing or empty.",
                ),
            }
            if identifier.get("system").is_some_and(|s| !s.is_string()) {
                self.issue(
                    "invalid",
                    &format!("{at}.identifier[{i}].system"),
                    "identifier.system must be a URI string.",
                );
            }
        }
        identifiers
    }

    /// The ServiceRequest's first identifier value: the enquiry's id.
    fn enquiry_identifier(
        &mut self,
        request: &Value,
        identifiers: &[Identifier],
        at: &str,
    ) -> Option<String> {
        // One that is not an array was reported by `identifiers`.
        let listed = request.get("identifier");
        if listed.is_none_or(|listed| listed.as_array().is_some_and(Vec::is_empty)) {
            self.issue(
                "required",
                &format!("{at}.identifier"),
                "The ServiceRequest has no identifier; send the enquiry's id, so a re-send is recognised.",
            );
        }
        identifiers.first().map(|first| first.value.clone())
    }

    fn appointment(&mut self, appointment: &Value, at: &str) {
        match appointment.get("status").and_then(Value::as_str) {
            Some(status) if APPOINTMENT_STATUSES.contains(&status) => {}
            _ => self.issue(
                "code-invalid",
                &format!("{at}.status"),
                format!(
                    "Appointment.status is required, one of {}.",
                    APPOINTMENT_STATUSES.join(", ")
                ),
            ),
        }
        let start = self.utc(appointment, at, "start");
        let end = self.utc(appointment, at, "end");
        if let (Some(start), Some(end)) = (start, end)
            && end <= start
        {
            self.issue(
                "invariant",
                &format!("{at}.end"),
                "Appointment.end must be after its start.",
            );
        }
        if let Some(based_on) = appointment.get("basedOn").and_then(Value::as_array) {
            for (i, reference) in based_on.iter().enumerate() {
                self.reference(
                    reference,
                    &format!("{at}.basedOn[{i}]"),
                    "",
                    "ServiceRequest",
                );
            }
        }
        let participants = appointment.get("participant").and_then(Value::as_array);
        let Some(participants) = participants.filter(|p| !p.is_empty()) else {
            self.issue(
                "required",
                &format!("{at}.participant"),
                "The Appointment has no participant; the RelatedPerson who booked it is one.",
            );
            return;
        };
        let mut related_person = false;
        for (i, participant) in participants.iter().enumerate() {
            let here = format!("{at}.participant[{i}]");
            if !participant["status"]
                .as_str()
                .is_some_and(|s| PARTICIPANT_STATUSES.contains(&s))
            {
                self.issue(
                    "code-invalid",
                    &format!("{here}.status"),
                    format!(
                        "participant.status is required, one of {}.",
                        PARTICIPANT_STATUSES.join(", ")
                    ),
                );
            }
            let actor = participant["actor"]["reference"].as_str();
            if actor
                .and_then(|r| self.full_urls.get(r))
                .map(String::as_str)
                == Some("RelatedPerson")
            {
                related_person = true;
            }
        }
        if !related_person {
            self.issue(
                "required",
                &format!("{at}.participant"),
                "No participant's actor references the bundle's RelatedPerson (by its fullUrl).",
            );
        }
    }

    /// `resource[field]` (the resource itself when `field` is empty) is a
    /// Reference to the bundle's entry of type `target`. A `urn:uuid:` that
    /// resolves nowhere is left to `unresolved_references`.
    fn reference(&mut self, resource: &Value, at: &str, field: &str, target: &str) {
        let (value, here) = if field.is_empty() {
            (Some(resource), at.to_owned())
        } else {
            (resource.get(field), format!("{at}.{field}"))
        };
        let Some(value) = value else {
            self.issue(
                "required",
                &here,
                format!("{field} is missing; reference the bundle's {target} by its fullUrl."),
            );
            return;
        };
        match value.get("reference").and_then(Value::as_str) {
            Some(reference) if reference.starts_with("urn:uuid:") => {
                if let Some(kind) = self.full_urls.get(reference)
                    && kind != target
                {
                    let kind = kind.clone();
                    self.issue(
                        "invalid",
                        &format!("{here}.reference"),
                        format!(
                            "This references the bundle's {kind}; it must reference its {target}."
                        ),
                    );
                }
            }
            _ => self.issue(
                "invalid",
                &format!("{here}.reference"),
                format!(
                    "reference must be the fullUrl (urn:uuid:…) of the bundle's {target} entry."
                ),
            ),
        }
    }

    /// Every `reference` in `value` that is a `urn:uuid:` names an entry of the bundle.
    fn unresolved_references(&mut self, value: &Value, at: &str) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let here = format!("{at}.{key}");
                    if key == "reference"
                        && let Some(reference) = child.as_str()
                        && reference.starts_with("urn:uuid:")
                        && !self.full_urls.contains_key(reference)
                    {
                        self.issue(
                            "not-found",
                            &here,
                            "This urn:uuid: reference matches no entry's fullUrl in the bundle.",
                        );
                    }
                    self.unresolved_references(child, &here);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.unresolved_references(item, &format!("{at}[{i}]"));
                }
            }
            _ => {}
        }
    }

    fn code_is(&mut self, resource: &Value, at: &str, field: &str, wanted: &str) {
        match resource.get(field).and_then(Value::as_str) {
            Some(value) if value == wanted => {}
            Some(value) => self.issue(
                "value",
                &format!("{at}.{field}"),
                format!("{field} is \"{}\"; it must be \"{wanted}\".", code(value)),
            ),
            None => self.issue(
                "required",
                &format!("{at}.{field}"),
                format!("{field} is missing; it must be \"{wanted}\"."),
            ),
        }
    }

    /// `resource[field]` is a full date-time in UTC (Healthcode: all times UTC).
    fn utc(&mut self, resource: &Value, at: &str, field: &str) -> Option<OffsetDateTime> {
        let here = format!("{at}.{field}");
        let Some(text) = resource.get(field).and_then(Value::as_str) else {
            self.issue("required", &here, format!("{field} is missing."));
            return None;
        };
        let parsed = is_utc_date_time(text)
            .then(|| OffsetDateTime::parse(text, &Rfc3339).ok())
            .flatten();
        if parsed.is_none() {
            self.issue(
                "value",
                &here,
                format!("{field} must be a date-time in UTC, e.g. 2026-01-05T09:30:00Z (ending Z or +00:00)."),
            );
        }
        parsed
    }
}

/// `YYYY-MM-DDThh:mm:ss[.f]` ending `Z` or `+00:00`, as FHIR writes it.
fn is_utc_date_time(text: &str) -> bool {
    text.len() >= 20
        && text.as_bytes().get(10) == Some(&b'T')
        && (text.ends_with('Z') || text.ends_with("+00:00"))
}

/// `urn:uuid:` + a lowercase 8-4-4-4-12 hex UUID (FHIR's `uuid` type).
fn is_urn_uuid(text: &str) -> bool {
    let Some(uuid) = text.strip_prefix("urn:uuid:") else {
        return false;
    };
    uuid.len() == 36
        && uuid.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

/// A code as it may be quoted back: short and plain, else not quoted.
fn code(text: &str) -> String {
    if text.len() <= 40 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        text.to_owned()
    } else {
        "(not a code)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::seed::example_bundle;
    use super::*;

    fn issues(bundle: &Value) -> Vec<Issue> {
        match check_bundle(bundle) {
            Ok(checked) => panic!("expected problems, got {checked:?}"),
            Err((_, issues)) => issues,
        }
    }

    /// The code of the issue found at FHIRPath `expression`, if any.
    fn code_at(found: &[Issue], expression: &str) -> Option<&'static str> {
        (found.iter())
            .find(|i| i.expression.iter().any(|x| x == expression))
            .map(|i| i.code)
    }

    fn expressions(bundle: &Value) -> Vec<String> {
        issues(bundle)
            .into_iter()
            .flat_map(|issue| issue.expression)
            .collect()
    }

    #[test]
    fn the_example_bundle_is_valid_with_and_without_an_appointment() {
        let checked = check_bundle(&example_bundle("enquiry-1")).unwrap();
        assert_eq!(checked.types(), RESOURCE_TYPES);
        assert_eq!(checked.identifier, "enquiry-1");

        let mut bundle = example_bundle("enquiry-2");
        bundle["entry"].as_array_mut().unwrap().pop();
        assert_eq!(check_bundle(&bundle).unwrap().types().len(), 3);
    }

    /// What the relay sends passes, every entry conditional on an
    /// identifier its resource carries.
    #[test]
    fn the_relays_own_bundle_is_valid_with_and_without_a_visit() {
        use crate::domain::{Enquiry, IntakeRules, RawSubmission};
        use crate::fhir::{VisitTimes, bundle};

        for for_self in ["true", "false"] {
            let raw = RawSubmission::new(
                [
                    ("first_name", "Sam"),
                    ("last_name", "Taylor"),
                    ("email", "sam@example.com"),
                    ("enquiring_for_self", for_self),
                ]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .to_vec(),
            );
            let rules = IntakeRules {
                allowed_services: &[],
                require_consent: false,
                ignored_fields: &[],
            };
            let enquiry = Enquiry::parse(&raw, &rules).unwrap();
            let visit = VisitTimes {
                start_ms: 1_774_861_200_000,
                end_ms: 1_774_863_000_000,
            };
            for visit in [None, Some(visit)] {
                let checked = check_bundle(&bundle(&enquiry, "e-1", 0, visit))
                    .unwrap_or_else(|(_, issues)| panic!("{issues:?}"));
                assert_eq!(checked.identifier, "e-1");
                assert!(
                    checked.entries.iter().all(|e| e.if_none_exist.is_some()),
                    "{checked:?}"
                );
            }
        }
    }

    #[test]
    fn an_if_none_exist_must_be_an_identifier_search_that_finds_its_own_resource() {
        let mut bundle = example_bundle("enquiry-1");
        bundle["entry"][0]["request"]["ifNoneExist"] = json!("name=Ada");
        bundle["entry"][1]["request"]["ifNoneExist"] = json!(7);
        bundle["entry"][3]["resource"]
            .as_object_mut()
            .unwrap()
            .remove("identifier");
        bundle["entry"][2]["resource"]["identifier"][0]["value"] = json!("enquiry-2");
        let found = issues(&bundle);
        let at = |e: &str| code_at(&found, e);
        assert_eq!(
            at("Bundle.entry[0].request.ifNoneExist"),
            Some("not-supported")
        );
        assert_eq!(
            at("Bundle.entry[1].request.ifNoneExist"),
            Some("not-supported")
        );
        assert_eq!(at("Bundle.entry[2].request.ifNoneExist"), Some("invalid"));
        assert_eq!(at("Bundle.entry[3].request.ifNoneExist"), Some("invalid"));
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found.iter().all(|i| !i.diagnostics.contains("Ada")));

        // Without ifNoneExist an entry is a plain create: valid, if unwise.
        let mut bundle = example_bundle("enquiry-1");
        for entry in bundle["entry"].as_array_mut().unwrap() {
            entry["request"]
                .as_object_mut()
                .unwrap()
                .remove("ifNoneExist");
        }
        let checked = check_bundle(&bundle).unwrap();
        assert!(checked.entries.iter().all(|e| e.if_none_exist.is_none()));
        assert_eq!(checked.entries[0].identifiers.len(), 1);
    }

    #[test]
    fn something_that_is_not_a_bundle_is_a_400() {
        let (status, issues) = check_bundle(&json!({"resourceType": "Patient"})).unwrap_err();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(issues[0].code, "structure");
    }

    #[test]
    fn every_problem_is_listed_with_its_path() {
        let mut bundle = example_bundle("enquiry-1");
        bundle["type"] = json!("batch");
        let request = &mut bundle["entry"][2]["resource"];
        request["status"] = json!("draft");
        request.as_object_mut().unwrap().remove("intent");
        request["authoredOn"] = json!("2026-01-05T09:30:00+01:00");
        request["subject"] = json!({"reference": "Patient/123"});
        request["note"] = json!([]);
        bundle["entry"][1]["resource"]
            .as_object_mut()
            .unwrap()
            .remove("telecom");
        bundle["entry"][3]["resource"]["end"] = json!("2026-01-12T13:00:00Z");

        let (status, _) = check_bundle(&bundle).unwrap_err();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let found = expressions(&bundle);
        for expected in [
            "Bundle.type",
            "Bundle.entry[2].resource.status",
            "Bundle.entry[2].resource.intent",
            "Bundle.entry[2].resource.authoredOn",
            "Bundle.entry[2].resource.subject.reference",
            "Bundle.entry[2].resource.note",
            "Bundle.entry[1].resource.telecom",
            "Bundle.entry[3].resource.end",
        ] {
            assert!(
                found.iter().any(|e| e == expected),
                "{expected} not in {found:?}"
            );
        }
        assert_eq!(found.len(), 8, "{found:?}");
    }

    #[test]
    fn references_must_resolve_inside_the_bundle_to_the_right_type() {
        let mut bundle = example_bundle("enquiry-1");
        let related = bundle["entry"][1]["fullUrl"].clone();
        bundle["entry"][2]["resource"]["subject"]["reference"] = related;
        bundle["entry"][2]["resource"]["requester"]["reference"] =
            json!("urn:uuid:99999999-9999-4999-8999-999999999999");
        let found = issues(&bundle);
        let at = |e: &str| code_at(&found, e);
        assert_eq!(
            at("Bundle.entry[2].resource.subject.reference"),
            Some("invalid")
        );
        assert_eq!(
            at("Bundle.entry[2].resource.requester.reference"),
            Some("not-found")
        );
        assert_eq!(found.len(), 2, "{found:?}");
    }

    #[test]
    fn entries_need_unique_uuid_full_urls_post_requests_and_known_types() {
        let mut bundle = example_bundle("enquiry-1");
        bundle["entry"][0]["fullUrl"] = json!("Patient/1");
        bundle["entry"][3]["fullUrl"] = bundle["entry"][2]["fullUrl"].clone();
        bundle["entry"][1]["request"]["method"] = json!("PUT");
        bundle["entry"].as_array_mut().unwrap().push(
            json!({"fullUrl": "urn:uuid:4f4a0e8c-adcd-4a87-9b4c-9b4e5a6f7e85",
                "resource": {"resourceType": "Observation"},
                "request": {"method": "POST", "url": "Observation"}}),
        );
        let found = expressions(&bundle);
        for expected in [
            "Bundle.entry[0].fullUrl",
            "Bundle.entry[3].fullUrl",
            "Bundle.entry[1].request.method",
            "Bundle.entry[4].resource.resourceType",
        ] {
            assert!(
                found.iter().any(|e| e == expected),
                "{expected} not in {found:?}"
            );
        }
    }

    #[test]
    fn a_missing_service_request_and_a_second_patient_are_named() {
        let mut bundle = example_bundle("enquiry-1");
        let entries = bundle["entry"].as_array_mut().unwrap();
        entries.truncate(2);
        let mut second = entries[0].clone();
        second["fullUrl"] = json!("urn:uuid:5a5b1f9d-bede-4b98-8c5d-ac5f6b7a8f96");
        entries.push(second);
        let diagnostics: Vec<String> = issues(&bundle).into_iter().map(|i| i.diagnostics).collect();
        assert!(
            diagnostics.iter().any(|d| d.contains("no ServiceRequest")),
            "{diagnostics:?}"
        );
        assert!(
            diagnostics.iter().any(|d| d.contains("2 Patient entries")),
            "{diagnostics:?}"
        );
    }

    #[test]
    fn utc_times_end_in_z_or_plus_zero() {
        assert!(is_utc_date_time("2026-01-05T09:30:00Z"));
        assert!(is_utc_date_time("2026-01-05T09:30:00.123+00:00"));
        assert!(!is_utc_date_time("2026-01-05T09:30:00-05:00"));
        assert!(!is_utc_date_time("2026-01-05"));
        assert!(!is_utc_date_time("2026-01-05 09:30:00Z"));
    }

    #[test]
    fn diagnostics_do_not_quote_sent_values() {
        let mut bundle = example_bundle("enquiry-1");
        bundle["entry"][2]["resource"]["status"] = json!("Ada Example ada@example.com");
        let found = issues(&bundle);
        assert!(
            found.iter().all(|i| !i.diagnostics.contains("Ada")),
            "{found:?}"
        );
    }
}
