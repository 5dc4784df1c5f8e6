//! What the FHIR sandbox keeps of each accepted bundle POST: the bundle as
//! received, what each entry came to (a resource created, or an existing one
//! its `ifNoneExist` found) and the answer it got. A re-send is a record of
//! its own, so what it created is there to see.
//!
//! A bundle holds personal data, so the record's `Debug` output is redacted.

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::store::Outcome;

/// The server ids one bundle's entries came to: created by it, or found by
/// their `ifNoneExist`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceIds {
    pub patient: String,
    pub related_person: String,
    pub service_request: String,
    pub appointment: Option<String>,
}

impl ResourceIds {
    pub(super) fn of(outcomes: &[Outcome]) -> ResourceIds {
        let mut ids = ResourceIds {
            patient: String::new(),
            related_person: String::new(),
            service_request: String::new(),
            appointment: None,
        };
        for outcome in outcomes {
            let id = outcome.id.clone();
            match outcome.resource_type.as_str() {
                "Patient" => ids.patient = id,
                "RelatedPerson" => ids.related_person = id,
                "ServiceRequest" => ids.service_request = id,
                _ => ids.appointment = Some(id),
            }
        }
        ids
    }
}

/// One bundle POST accepted by the bundle endpoint.
#[derive(Clone, Serialize)]
pub struct AcceptedBundle {
    /// `ServiceRequest.identifier[0].value`: the relay's enquiry id.
    pub identifier: String,
    pub ids: ResourceIds,
    /// Each entry's outcome, in the bundle's order.
    pub entries: Vec<Outcome>,
    /// An earlier accepted bundle had the same ServiceRequest identifier:
    /// this is a re-send, and whatever it created is a duplicate.
    pub repeat: bool,
    pub site_id: String,
    pub api_version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// The Bundle exactly as received.
    pub bundle: Value,
    /// The `transaction-response` Bundle it was answered with.
    pub response: Value,
}

impl AcceptedBundle {
    /// How many of its entries created a resource.
    pub fn created(&self) -> usize {
        self.entries.iter().filter(|entry| entry.created).count()
    }

    /// The first resource of `resource_type` in the bundle.
    pub fn resource(&self, resource_type: &str) -> Option<&Value> {
        self.bundle["entry"]
            .as_array()?
            .iter()
            .map(|entry| &entry["resource"])
            .find(|resource| resource["resourceType"] == resource_type)
    }

    /// Who wrote: the RelatedPerson's first name, as text or given + family.
    pub fn requester_name(&self) -> String {
        self.resource("RelatedPerson")
            .map(|person| human_name(&person["name"][0]))
            .unwrap_or_default()
    }

    /// When the enquiry was written (`ServiceRequest.authoredOn`).
    pub fn authored_on(&self) -> String {
        self.resource("ServiceRequest")
            .and_then(|request| request["authoredOn"].as_str())
            .unwrap_or_default()
            .to_owned()
    }
}

/// A FHIR `HumanName` as one line.
fn human_name(name: &Value) -> String {
    if let Some(text) = name["text"].as_str() {
        return text.to_owned();
    }
    let mut parts: Vec<&str> = name["given"]
        .as_array()
        .map(|given| given.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(family) = name["family"].as_str() {
        parts.push(family);
    }
    parts.join(" ")
}

impl std::fmt::Debug for AcceptedBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptedBundle")
            .field("identifier", &self.identifier)
            .field("ids", &self.ids)
            .field("site_id", &self.site_id)
            .field("received_at", &self.received_at)
            .field("entries", &self.entries)
            .field("repeat", &self.repeat)
            .field("bundle", &"[redacted]")
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted() -> AcceptedBundle {
        AcceptedBundle {
            identifier: "enquiry-1".into(),
            ids: ResourceIds {
                patient: "1".into(),
                related_person: "2".into(),
                service_request: "3".into(),
                appointment: None,
            },
            entries: Vec::new(),
            repeat: false,
            site_id: "site".into(),
            api_version: "1".into(),
            received_at: OffsetDateTime::UNIX_EPOCH,
            bundle: super::super::seed::example_bundle("enquiry-1"),
            response: Value::Null,
        }
    }

    #[test]
    fn the_requester_is_named_from_given_and_family() {
        let record = accepted();
        assert_eq!(record.requester_name(), "Ada Example");
        assert_eq!(record.authored_on(), "2026-01-05T09:30:00Z");
    }

    #[test]
    fn debug_of_a_record_hides_the_bundle() {
        let shown = format!("{:?}", accepted());
        assert!(shown.contains("enquiry-1"));
        assert!(!shown.contains("Ada"));
        assert!(!shown.contains("example.com"));
    }
}
