//! An enquiry as a FHIR R4 `transaction` Bundle (DESIGN.md "FHIR
//! destination"): the `Patient` (the person needing care: named from the
//! form when the family enquires for themselves, else left unnamed), the
//! `RelatedPerson` who wrote (with telecom), the `ServiceRequest` (status
//! `active`, intent `proposal`, the message as its note, our enquiry id as
//! its identifier) and, when a visit was booked, an `Appointment`. All times
//! are UTC. The same enquiry always makes the same Bundle (its `fullUrl`s
//! derive from the enquiry id), and the ServiceRequest is created only if
//! none has our identifier (`ifNoneExist`), so a re-send after a lost
//! answer does not create a second one.

use serde_json::{Value, json};

use crate::domain::Enquiry;

/// The identifier system our enquiry ids are given under.
pub const IDENTIFIER_SYSTEM: &str = "urn:enquiry-relay:enquiry";

/// A booked visit, in Unix ms (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VisitTimes {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// The Bundle for enquiry `id`, received at `received_ms` (Unix ms).
pub fn bundle(enquiry: &Enquiry, id: &str, received_ms: i64, visit: Option<VisitTimes>) -> Value {
    let url = |kind: &str| format!("urn:uuid:{}", derived_uuid(id, kind));
    let (patient_url, writer_url) = (url("patient"), url("related-person"));
    let writer_name = json!([{
        "family": enquiry.last_name.as_str(),
        "given": [enquiry.first_name.as_str()],
    }]);
    let for_self = enquiry.enquiring_for_self == Some(true);
    let mut patient = json!({"resourceType": "Patient"});
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
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": id}],
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
        entry(&patient_url, patient, "Patient", None),
        entry(&writer_url, writer, "RelatedPerson", None),
        entry(
            &url("service-request"),
            request,
            "ServiceRequest",
            Some(format!("identifier={IDENTIFIER_SYSTEM}|{id}")),
        ),
    ];
    if let Some(visit) = visit {
        let appointment = json!({
            "resourceType": "Appointment",
            "status": "proposed",
            "start": utc(visit.start_ms),
            "end": utc(visit.end_ms),
            "basedOn": [{"reference": url("service-request")}],
            "participant": [{"actor": {"reference": writer_url}, "status": "accepted"}],
        });
        entries.push(entry(&url("appointment"), appointment, "Appointment", None));
    }
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

/// One transaction entry: the resource, created by POST (only if none
/// matches `if_none_exist`, when given).
fn entry(full_url: &str, resource: Value, kind: &str, if_none_exist: Option<String>) -> Value {
    let mut request = json!({"method": "POST", "url": kind});
    if let Some(query) = if_none_exist {
        request["ifNoneExist"] = Value::from(query);
    }
    json!({"fullUrl": full_url, "resource": resource, "request": request})
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
