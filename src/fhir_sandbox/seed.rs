//! Fixed credentials and site the FHIR sandbox starts with, and an example of
//! the bundle it accepts (the shape the relay sends: docs/design.md, "FHIR
//! destination").
//!
//! None of these are secrets: they are sandbox only. The example's people are
//! made up.

use serde_json::{Value, json};

/// The API Key Id (OAuth `client_id`) the sandbox accepts.
pub const CLIENT_ID: &str = "fhir-sandbox-client";
/// The API Key (OAuth `client_secret`). Not a secret: sandbox only.
pub const CLIENT_SECRET: &str = "fhir-sandbox-secret";
/// The `SU-SiteId` the bundle endpoint accepts.
pub const SITE_ID: &str = "sandbox-site-1";
/// The `HC-API-Version` the bundle endpoint accepts.
pub const API_VERSION: &str = "1";

/// Discovery keys besides `care-enquiries`: other Healthcode-like APIs, so a
/// client must look its own key up (values are paths under the base URL).
pub const EXTRA_APIS: &[(&str, &str)] = &[
    ("patients", "/fhir/r4/Patient"),
    ("practitioners", "/fhir/r4/Practitioner"),
];

const PATIENT: &str = "urn:uuid:0b0c6a4e-6f8e-4c43-9d0e-5d0a1c2b3a41";
const RELATED_PERSON: &str = "urn:uuid:1c1d7b5f-7a9f-4d54-8e1f-6e1b2d3c4b52";
const SERVICE_REQUEST: &str = "urn:uuid:2d2e8c6a-8bab-4e65-9f2a-7f2c3e4d5c63";
const APPOINTMENT: &str = "urn:uuid:3e3f9d7b-9cbc-4f76-8a3b-8a3d4f5e6d74";

/// The identifier system of the example's resources (the relay's).
const SYSTEM: &str = "urn:enquiry-relay:enquiry";

/// A valid `transaction` Bundle for the enquiry `identifier`, with an
/// Appointment (a booked visit). Remove entry 3 for an enquiry without one.
///
/// Each resource has an identifier derived from `identifier` and each entry
/// is created only if none has it (`ifNoneExist`), as the relay sends them,
/// so posting the example twice creates nothing the second time.
pub fn example_bundle(identifier: &str) -> Value {
    let of = |role: &str| match role {
        "" => identifier.to_owned(),
        role => format!("{identifier}/{role}"),
    };
    let condition = |role: &str| format!("identifier={SYSTEM}|{}", of(role));
    json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": PATIENT,
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": SYSTEM, "value": of("patient")}],
                    "name": [{"text": "unknown"}]
                },
                "request": {"method": "POST", "url": "Patient", "ifNoneExist": condition("patient")}
            },
            {
                "fullUrl": RELATED_PERSON,
                "resource": {
                    "resourceType": "RelatedPerson",
                    "identifier": [{"system": SYSTEM, "value": of("related-person")}],
                    "patient": {"reference": PATIENT},
                    "name": [{"given": ["Ada"], "family": "Example"}],
                    "telecom": [
                        {"system": "email", "value": "ada@example.com"},
                        {"system": "phone", "value": "01632 960000"}
                    ]
                },
                "request": {
                    "method": "POST",
                    "url": "RelatedPerson",
                    "ifNoneExist": condition("related-person")
                }
            },
            {
                "fullUrl": SERVICE_REQUEST,
                "resource": {
                    "resourceType": "ServiceRequest",
                    "identifier": [{"system": SYSTEM, "value": of("")}],
                    "status": "active",
                    "intent": "proposal",
                    "subject": {"reference": PATIENT},
                    "requester": {"reference": RELATED_PERSON},
                    "authoredOn": "2026-01-05T09:30:00Z",
                    "note": [{"text": "Looking for respite care for my father."}]
                },
                "request": {
                    "method": "POST",
                    "url": "ServiceRequest",
                    "ifNoneExist": condition("")
                }
            },
            {
                "fullUrl": APPOINTMENT,
                "resource": {
                    "resourceType": "Appointment",
                    "identifier": [{"system": SYSTEM, "value": of("appointment")}],
                    "status": "proposed",
                    "basedOn": [{"reference": SERVICE_REQUEST}],
                    "start": "2026-01-12T14:00:00Z",
                    "end": "2026-01-12T15:00:00+00:00",
                    "participant": [{
                        "actor": {"reference": RELATED_PERSON},
                        "status": "accepted"
                    }]
                },
                "request": {
                    "method": "POST",
                    "url": "Appointment",
                    "ifNoneExist": condition("appointment")
                }
            }
        ]
    })
}
