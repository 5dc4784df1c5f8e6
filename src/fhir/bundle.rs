//! An enquiry as a FHIR R4 `transaction` Bundle (docs/design.md, "FHIR
//! destination"): the `Patient` (the person needing care: named from the
//! form when the family enquires for themselves, else left unnamed), the
//! `RelatedPerson` who wrote (with telecom), the `ServiceRequest` (status
//! `active`, intent `proposal`, the message as its note) and, when a visit
//! was booked, an `Appointment`. All times are UTC.
//!
//! A re-send after a lost answer (a timeout, a broken body) must not create
//! anything twice, and in a transaction a conditional create covers only
//! its own entry. So every resource carries an identifier under our system
//! fixed by the enquiry id and its role (the ServiceRequest's is the enquiry
//! id itself, as it has been since the first release), and every entry is
//! created only if no resource of its type has that identifier
//! (`ifNoneExist`). The same enquiry always makes the same Bundle: its
//! `fullUrl`s derive from the enquiry id too.
//!
//! Healthcode's conventions (docs/design.md, "FHIR destination") say nothing
//! about conditional creates; they are plain FHIR R4 (http.html "conditional
//! create", transaction processing rules).

use serde_json::{Value, json};

use crate::domain::Enquiry;

/// The identifier system of every resource we create: the enquiry id on the
/// ServiceRequest, the enquiry id and the role (`ID/patient`,
/// `ID/related-person`, `ID/appointment`) on the others.
pub const IDENTIFIER_SYSTEM: &str = "urn:enquiry-relay:enquiry";

/// A booked visit, in Unix ms (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VisitTimes {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// The Bundle for enquiry `id`, received at `received_ms` (Unix ms).
pub fn bundle(enquiry: &Enquiry, id: &str, received_ms: i64, visit: Option<VisitTimes>) -> Value {
    let url = |role: Role| format!("urn:uuid:{}", derived_uuid(id, role.name()));
    let (patient_url, writer_url) = (url(Role::Patient), url(Role::RelatedPerson));
    let writer_name = json!([{
        "family": enquiry.last_name.as_str(),
        "given": [enquiry.first_name.as_str()],
    }]);
    let for_self = enquiry.enquiring_for_self == Some(true);
    let mut patient = json!({
        "resourceType": "Patient",
        "identifier": identifier(id, Role::Patient),
    });
    if for_self {
        patient["name"] = writer_name.clone();
    }
    let mut telecom = Vec::new();
    if let Some(phone) = &enquiry.phone {
        telecom.push(json!({"system": "phone", "value": phone.as_str()}));
    }
    if let Some(email) = &enquiry.email {
        telecom.push(json!({"system": "email", "value": email.as_str()}));
    }
    let relationship = match for_self {
        true => ("ONESELF", "self"),
        false => ("FAMMEMB", "family member"),
    };
    let writer = json!({
        "resourceType": "RelatedPerson",
        "identifier": identifier(id, Role::RelatedPerson),
        "patient": {"reference": patient_url},
        "relationship": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
            "code": relationship.0,
            "display": relationship.1,
        }]}],
        "name": writer_name,
        "telecom": telecom,
    });
    let mut request = json!({
        "resourceType": "ServiceRequest",
        "identifier": identifier(id, Role::ServiceRequest),
        "status": "active",
        "intent": "proposal",
        "subject": {"reference": patient_url},
        "requester": {"reference": writer_url},
        "authoredOn": utc(received_ms),
        "note": notes(enquiry),
    });
    if let Some(service) = &enquiry.service {
        request["code"] = json!({"text": service.label().unwrap_or(service.as_str())});
    }
    let mut entries = vec![
        entry(id, Role::Patient, patient),
        entry(id, Role::RelatedPerson, writer),
        entry(id, Role::ServiceRequest, request),
    ];
    if let Some(visit) = visit {
        let appointment = json!({
            "resourceType": "Appointment",
            "identifier": identifier(id, Role::Appointment),
            "status": "proposed",
            "start": utc(visit.start_ms),
            "end": utc(visit.end_ms),
            "basedOn": [{"reference": url(Role::ServiceRequest)}],
            "participant": [{"actor": {"reference": writer_url}, "status": "accepted"}],
        });
        entries.push(entry(id, Role::Appointment, appointment));
    }
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

/// What a resource is to the enquiry; one of each per Bundle at most.
#[derive(Clone, Copy)]
enum Role {
    Patient,
    RelatedPerson,
    ServiceRequest,
    Appointment,
}

impl Role {
    /// Part of the derived `fullUrl` and identifier. Never change one: a
    /// re-send after an upgrade must find what the old version created.
    fn name(self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::RelatedPerson => "related-person",
            Role::ServiceRequest => "service-request",
            Role::Appointment => "appointment",
        }
    }

    fn resource_type(self) -> &'static str {
        match self {
            Role::Patient => "Patient",
            Role::RelatedPerson => "RelatedPerson",
            Role::ServiceRequest => "ServiceRequest",
            Role::Appointment => "Appointment",
        }
    }
}

/// The identifier value of enquiry `id`'s resource in `role`. The
/// ServiceRequest keeps the bare enquiry id it was always sent with, so
/// ServiceRequests created before the other roles had identifiers are still
/// found on a re-send. Enquiry ids are UUIDs, so the value needs no escaping
/// in the `ifNoneExist` query.
fn identifier_value(id: &str, role: Role) -> String {
    match role {
        Role::ServiceRequest => id.to_owned(),
        other => format!("{id}/{}", other.name()),
    }
}

fn identifier(id: &str, role: Role) -> Value {
    json!([{"system": IDENTIFIER_SYSTEM, "value": identifier_value(id, role)}])
}

/// One transaction entry: `resource`, created by POST only if no resource
/// of its type already has its identifier.
fn entry(id: &str, role: Role, resource: Value) -> Value {
    let query = format!(
        "identifier={IDENTIFIER_SYSTEM}|{}",
        identifier_value(id, role)
    );
    json!({
        "fullUrl": format!("urn:uuid:{}", derived_uuid(id, role.name())),
        "resource": resource,
        "request": {"method": "POST", "url": role.resource_type(), "ifNoneExist": query},
    })
}

/// The family's message and the rest of their answers, as notes.
fn notes(enquiry: &Enquiry) -> Vec<Value> {
    let mut notes = Vec::new();
    if let Some(message) = &enquiry.care_requirements {
        notes.push(json!({"text": message.as_str()}));
    }
    let mut answers: Vec<String> = Vec::new();
    if let Some(funding) = enquiry.funding_type {
        answers.push(format!("Funding: {}", funding.label()));
    }
    for extra in &enquiry.extra_fields {
        answers.push(format!("{}: {}", extra.label, extra.value.as_str()));
    }
    if !answers.is_empty() {
        notes.push(json!({"text": answers.join("\n")}));
    }
    // The message is optional on the form, a note is not on the request.
    if notes.is_empty() {
        notes.push(json!({"text": "The family wrote no message."}));
    }
    notes
}

/// Unix ms as an RFC 3339 instant in UTC (`…Z`).
fn utc(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// A UUID fixed by the enquiry id and the resource's role, so a re-sent
/// Bundle is the same Bundle. (SHA-256 of both, shaped as a version 8 UUID:
/// the layout RFC 9562 leaves to the application.)
fn derived_uuid(id: &str, role: &str) -> uuid::Uuid {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(format!("enquiry-relay/{role}/{id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IntakeRules, RawSubmission};

    fn enquiry(pairs: &[(&str, &str)]) -> Enquiry {
        let raw = RawSubmission::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        let rules = IntakeRules {
            allowed_services: &[],
            require_consent: false,
            ignored_fields: &[],
        };
        Enquiry::parse(&raw, &rules).expect("a valid enquiry")
    }

    fn resource<'a>(bundle: &'a Value, kind: &str) -> &'a Value {
        (bundle["entry"].as_array().unwrap().iter())
            .map(|e| &e["resource"])
            .find(|r| r["resourceType"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {bundle}"))
    }

    #[test]
    fn a_family_members_enquiry_names_the_writer_not_the_patient() {
        let e = enquiry(&[
            ("first_name", "Zoë"),
            ("last_name", "O'Brien"),
            ("email", "zoe@example.com"),
            ("phone", "01632 960123"),
            ("enquiring_for_self", "false"),
            ("care_requirements", "Respite care from March"),
        ]);
        let b = bundle(&e, "0190c0de-0000-7000-8000-000000000001", 0, None);
        assert_eq!(
            (b["resourceType"].as_str(), b["type"].as_str()),
            (Some("Bundle"), Some("transaction"))
        );
        assert!(resource(&b, "Patient").get("name").is_none(), "{b}");
        let writer = resource(&b, "RelatedPerson");
        assert_eq!(writer["name"][0]["family"], "O'Brien");
        assert_eq!(writer["telecom"].as_array().unwrap().len(), 2);
        let request = resource(&b, "ServiceRequest");
        assert_eq!(
            (request["status"].as_str(), request["intent"].as_str()),
            (Some("active"), Some("proposal"))
        );
        assert_eq!(request["authoredOn"], "1970-01-01T00:00:00Z");
        assert_eq!(request["note"][0]["text"], "Respite care from March");
        assert_eq!(
            request["identifier"][0]["value"],
            "0190c0de-0000-7000-8000-000000000001"
        );
        // References resolve inside the bundle.
        let urls: Vec<&str> = (b["entry"].as_array().unwrap().iter())
            .map(|e| e["fullUrl"].as_str().unwrap())
            .collect();
        assert!(urls.contains(&request["subject"]["reference"].as_str().unwrap()));
        assert!(urls.contains(&request["requester"]["reference"].as_str().unwrap()));
        assert!(b.to_string().find("Appointment").is_none());
    }

    #[test]
    fn a_self_enquiry_names_the_patient_and_a_visit_is_an_appointment() {
        let e = enquiry(&[
            ("first_name", "Sam"),
            ("last_name", "Taylor"),
            ("phone", "01632 960123"),
            ("enquiring_for_self", "true"),
        ]);
        let visit = VisitTimes {
            start_ms: 1_774_861_200_000,
            end_ms: 1_774_863_000_000,
        };
        let b = bundle(&e, "id-1", 1_774_000_000_000, Some(visit));
        assert_eq!(resource(&b, "Patient")["name"][0]["given"][0], "Sam");
        let note = &resource(&b, "ServiceRequest")["note"][0]["text"];
        assert_eq!(
            note, "The family wrote no message.",
            "a request always has a note"
        );
        let appointment = resource(&b, "Appointment");
        assert_eq!(appointment["start"], "2026-03-30T09:00:00Z");
        assert_eq!(appointment["end"], "2026-03-30T09:30:00Z");
        assert!(
            appointment["participant"][0]["actor"]["reference"]
                .as_str()
                .is_some()
        );
    }

    /// T3-2: in a FHIR transaction a conditional create covers its own entry
    /// only, so every entry needs one (or a PUT to a fixed id), else a
    /// re-send after a lost answer creates that resource again. Each query
    /// must name an identifier the resource itself carries, or the server
    /// never finds the first copy.
    #[test]
    fn every_entry_is_created_only_if_none_exists() {
        let e = enquiry(&[
            ("first_name", "Sam"),
            ("last_name", "Taylor"),
            ("phone", "01632 960123"),
            ("enquiring_for_self", "false"),
        ]);
        let visit = VisitTimes {
            start_ms: 1_774_861_200_000,
            end_ms: 1_774_863_000_000,
        };
        let b = bundle(&e, "id-1", 5, Some(visit));
        let entries = b["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 4);
        let mut queries = Vec::new();
        for entry in entries {
            let kind = entry["resource"]["resourceType"].as_str().unwrap();
            let request = &entry["request"];
            if request["method"] == "PUT" {
                continue;
            }
            assert_eq!(request["method"], "POST", "{kind}");
            let query = request["ifNoneExist"]
                .as_str()
                .unwrap_or_else(|| panic!("{kind} is created even when it exists"));
            let (system, value) = query
                .strip_prefix("identifier=")
                .and_then(|token| token.split_once('|'))
                .unwrap_or_else(|| panic!("{kind}: {query}"));
            let carried = (entry["resource"]["identifier"].as_array()).is_some_and(|ids| {
                ids.iter()
                    .any(|id| id["system"] == system && id["value"] == value)
            });
            assert!(carried, "{kind} does not carry the identifier of {query}");
            assert!(
                value.contains("id-1"),
                "{kind}: {query} is not the enquiry's"
            );
            queries.push(query.to_owned());
        }
        queries.sort();
        queries.dedup();
        assert_eq!(queries.len(), 4, "one identifier per resource: {queries:?}");
    }

    #[test]
    fn the_same_enquiry_makes_the_same_bundle_and_is_created_once() {
        let e = enquiry(&[
            ("first_name", "Sam"),
            ("last_name", "Taylor"),
            ("phone", "01632 960123"),
        ]);
        assert_eq!(bundle(&e, "id-1", 5, None), bundle(&e, "id-1", 5, None));
        assert_ne!(bundle(&e, "id-1", 5, None), bundle(&e, "id-2", 5, None));
        let b = bundle(&e, "id-1", 5, None);
        let create = (b["entry"].as_array().unwrap().iter())
            .find(|e| e["resource"]["resourceType"] == "ServiceRequest")
            .map(|e| e["request"]["ifNoneExist"].clone())
            .unwrap();
        assert_eq!(create, format!("identifier={IDENTIFIER_SYSTEM}|id-1"));
    }
}
