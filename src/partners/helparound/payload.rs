//! The two HelpAround webhooks as the document lists them, read leniently
//! where its own examples disagree with its tables: `patient` (and
//! `sourceName`, `eventName`) inside `event` or beside it, the consents as
//! `consents` or `consent`, the flat's number as `apt` or `apartment`.
//! Required fields are checked together so one refusal names all that are
//! missing. Insurance details and signature/image ids are read past, never
//! kept (data minimisation): nothing here holds them.

use serde::Deserialize;
use serde::de::IgnoredAny;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The enrollment event's name; the enrollment route takes no other.
pub const ENROLLMENT_EVENT: &str = "HelpAround.Patient.CompleteEnrollment";
/// User actions' names start with this (the document shows `ViewedTracker`).
pub const ACTION_EVENT_PREFIX: &str = "HelpAround.Patient.UserAction.";

/// Why a webhook was refused, in the partner's `400` shape: `errorMessage`,
/// and the patient's HelpAround id when it could be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub patient_id: Option<String>,
}

/// A completed enrollment. Holds personal data: no `Debug`.
pub struct Enrollment {
    pub support_program_id: String,
    /// `sendDate` as an instant (the dedupe key uses it, not its spelling).
    pub sent_at: OffsetDateTime,
    pub event_name: String,
    pub message: Option<String>,
    pub patient: Patient,
}

/// The patient and, when one enrolled them, their caregiver.
pub struct Patient {
    pub id: String,
    pub phone: String,
    pub first_name: String,
    pub last_name: String,
    pub dob: Option<OffsetDateTime>,
    pub gender: Option<String>,
    pub contact_method: Option<String>,
    pub preferred_language: Option<String>,
    pub email: Option<String>,
    pub call_time: Option<String>,
    pub caregiver: Option<Caregiver>,
    pub address: Option<Address>,
    pub consents: Vec<Consent>,
}

pub struct Caregiver {
    pub name: String,
    pub relationship: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

pub struct Address {
    pub street: Option<String>,
    pub apartment: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
}

/// One consent the patient gave or refused (`communication`, `sharePHI`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    pub name: String,
    pub value: bool,
    pub at: Option<OffsetDateTime>,
}

/// A user action (a tracker visit): recorded against the enrollment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    pub support_program_id: String,
    pub sent_at: OffsetDateTime,
    pub event_name: String,
    pub patient_id: String,
    /// `data.key` / `data.value`, e.g. `userAction` / `viewedTracker`.
    pub key: String,
    pub value: String,
}

#[derive(Deserialize)]
struct RawEnvelope {
    event: Option<RawEvent>,
    patient: Option<RawPatient>,
    #[serde(rename = "eventName")]
    event_name: Option<String>,
    #[serde(rename = "sourceName")]
    _source_name: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    message: Option<String>,
    support_program_id: Option<String>,
    send_date: Option<String>,
    patient: Option<RawPatient>,
    data: Option<RawData>,
    event_name: Option<String>,
    #[serde(rename = "status")]
    _status: Option<IgnoredAny>,
    #[serde(rename = "sourceName")]
    _source_name: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct RawData {
    key: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct RawPatient {
    id: Option<String>,
    #[serde(rename = "phoneNumber")]
    phone_number: Option<String>,
    #[serde(rename = "firstName")]
    first_name: Option<String>,
    #[serde(rename = "lastName")]
    last_name: Option<String>,
    dob: Option<i64>,
    gender: Option<String>,
    contact_method: Option<String>,
    pref_language: Option<String>,
    email: Option<String>,
    call_time: Option<String>,
    caregiver: Option<RawCaregiver>,
    address: Option<RawAddress>,
    #[serde(alias = "consent")]
    consents: Option<Vec<RawConsent>>,
    /// Read past: neither stored nor sent.
    #[serde(rename = "insurance")]
    _insurance: Option<IgnoredAny>,
    #[serde(rename = "signature")]
    _signature: Option<IgnoredAny>,
    #[serde(rename = "externalIds")]
    _external_ids: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct RawCaregiver {
    name: Option<String>,
    relationship: Option<String>,
    phone: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
struct RawAddress {
    street: Option<String>,
    #[serde(alias = "apt")]
    apartment: Option<String>,
    city: Option<String>,
    state: Option<String>,
    zip: Option<String>,
}

#[derive(Deserialize)]
struct RawConsent {
    name: Option<String>,
    value: Option<bool>,
    timestamp: Option<i64>,
}

/// Reads an enrollment; a refusal names every required field missing.
pub fn parse_enrollment(body: &[u8]) -> Result<Enrollment, Refusal> {
    let (event, patient, event_name) = envelope(body)?;
    let patient_id = patient.as_ref().and_then(|p| given(&p.id));
    let mut missing = Missing::default();
    let support_program_id = missing.need("event.supportProgramId", &event.support_program_id);
    let send_date = missing.need("event.sendDate", &event.send_date);
    let event_name = missing.need("event.eventName", &event_name);
    let patient = match patient {
        Some(p) => Some(read_patient(p, &mut missing)),
        None => {
            missing.names.push("event.patient");
            None
        }
    };
    let refuse = |message: String| Refusal {
        message,
        patient_id: patient_id.clone(),
    };
    missing.check().map_err(refuse)?;
    let (Some(support_program_id), Some(send_date), Some(event_name), Some(patient)) =
        (support_program_id, send_date, event_name, patient)
    else {
        return Err(refuse(
            "request has bad syntax: a required field is missing".into(),
        ));
    };
    if event_name != ENROLLMENT_EVENT {
        return Err(refuse(format!(
            "eventName is \"{event_name}\"; this address takes \"{ENROLLMENT_EVENT}\" (send user actions to user-action)"
        )));
    }
    Ok(Enrollment {
        support_program_id,
        sent_at: send_date_of(&send_date).map_err(refuse)?,
        event_name,
        message: given(&event.message),
        patient: patient.map_err(refuse)?,
    })
}

/// Reads a user action; a refusal names every required field missing.
pub fn parse_action(body: &[u8]) -> Result<Action, Refusal> {
    let (event, patient, event_name) = envelope(body)?;
    let patient_id = patient.as_ref().and_then(|p| given(&p.id));
    let mut missing = Missing::default();
    let support_program_id = missing.need("event.supportProgramId", &event.support_program_id);
    let send_date = missing.need("event.sendDate", &event.send_date);
    let event_name = missing.need("event.eventName", &event_name);
    let data = event.data.as_ref();
    let key = missing.need("event.data.key", &data.and_then(|d| d.key.clone()));
    let value = missing.need("event.data.value", &data.and_then(|d| d.value.clone()));
    let id = missing.need(
        "event.patient.id",
        &patient.as_ref().and_then(|p| p.id.clone()),
    );
    let phone = patient.as_ref().and_then(|p| p.phone_number.clone());
    missing.need("event.patient.phoneNumber", &phone);
    let refuse = |message: String| Refusal {
        message,
        patient_id: patient_id.clone(),
    };
    missing.check().map_err(refuse)?;
    let (
        Some(support_program_id),
        Some(send_date),
        Some(event_name),
        Some(key),
        Some(value),
        Some(patient_id),
    ) = (support_program_id, send_date, event_name, key, value, id)
    else {
        return Err(refuse(
            "request has bad syntax: a required field is missing".into(),
        ));
    };
    if !event_name.starts_with(ACTION_EVENT_PREFIX) {
        return Err(refuse(format!(
            "eventName is \"{event_name}\"; this address takes user actions (\"{ACTION_EVENT_PREFIX}…\"; send enrollments to user-enrollment)"
        )));
    }
    Ok(Action {
        support_program_id,
        sent_at: send_date_of(&send_date).map_err(refuse)?,
        event_name,
        patient_id,
        key,
        value,
    })
}

/// The event, its patient and event name, wherever the sender put them.
fn envelope(body: &[u8]) -> Result<(RawEvent, Option<RawPatient>, Option<String>), Refusal> {
    let envelope: RawEnvelope = serde_json::from_slice(body).map_err(|e| Refusal {
        message: format!(
            "request has bad syntax: {}; send the JSON object the HelpAround webhook documents",
            serde_error(&e)
        ),
        patient_id: None,
    })?;
    let Some(mut event) = envelope.event else {
        return Err(Refusal {
            message: "request has bad syntax: missing event".into(),
            patient_id: None,
        });
    };
    let patient = event.patient.take().or(envelope.patient);
    let event_name = event.event_name.take().or(envelope.event_name);
    Ok((event, patient, event_name))
}

/// serde's words without the input it quotes (a value may be personal data).
fn serde_error(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "the body could not be read",
        serde_json::error::Category::Syntax => "the body is not JSON",
        serde_json::error::Category::Eof => "the body ends too early",
        serde_json::error::Category::Data => "a field has the wrong type",
    };
    format!("{kind} (line {}, column {})", e.line(), e.column())
}

fn read_patient(p: RawPatient, missing: &mut Missing) -> Result<Patient, String> {
    let id = missing.need("event.patient.id", &p.id);
    let phone = missing.need("event.patient.phoneNumber", &p.phone_number);
    let first_name = missing.need("event.patient.firstName", &p.first_name);
    let last_name = missing.need("event.patient.lastName", &p.last_name);
    let consents = (p.consents.unwrap_or_default().into_iter().enumerate())
        .filter_map(|(i, c)| {
            let name = given(&c.name)?;
            Some(
                millis(
                    c.timestamp,
                    &format!("event.patient.consents[{i}].timestamp"),
                )
                .map(|at| Consent {
                    name,
                    value: c.value.unwrap_or(false),
                    at,
                }),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Patient {
        id: id.unwrap_or_default(),
        phone: phone.unwrap_or_default(),
        first_name: first_name.unwrap_or_default(),
        last_name: last_name.unwrap_or_default(),
        dob: millis(p.dob, "event.patient.dob")?,
        gender: given(&p.gender),
        contact_method: given(&p.contact_method),
        preferred_language: given(&p.pref_language),
        email: given(&p.email),
        call_time: given(&p.call_time),
        caregiver: p.caregiver.and_then(|c| {
            Some(Caregiver {
                name: given(&c.name)?,
                relationship: given(&c.relationship),
                phone: given(&c.phone),
                email: given(&c.email),
            })
        }),
        address: p.address.map(|a| Address {
            street: given(&a.street),
            apartment: given(&a.apartment),
            city: given(&a.city),
            state: given(&a.state),
            zip: given(&a.zip),
        }),
        consents,
    })
}

/// Required fields not given (absent, null or blank), in the order checked.
#[derive(Default)]
struct Missing {
    names: Vec<&'static str>,
}

impl Missing {
    fn need(&mut self, name: &'static str, value: &Option<String>) -> Option<String> {
        let value = given(value);
        if value.is_none() && !self.names.contains(&name) {
            self.names.push(name);
        }
        value
    }

    fn check(&self) -> Result<(), String> {
        match self.names.as_slice() {
            [] => Ok(()),
            names => Err(format!(
                "request has bad syntax: missing required field(s) {}",
                names.join(", ")
            )),
        }
    }
}

/// Trimmed, or `None` when absent or blank.
fn given(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `sendDate`: ISO 8601 in UTC as the document gives it
/// (`yyyy-mm-ddThh:mm:ss.sssZ`; its table writes a space after the `T`).
fn send_date_of(text: &str) -> Result<OffsetDateTime, String> {
    let tidy = text.replacen("T ", "T", 1);
    OffsetDateTime::parse(&tidy, &Rfc3339).map_err(|_| {
        format!(
            "event.sendDate \"{text}\" is not a date and time; send it as 2021-08-23T08:45:24.000Z"
        )
    })
}

/// A Unix time in milliseconds, as the document gives dob, consents and the signature.
fn millis(value: Option<i64>, field: &str) -> Result<Option<OffsetDateTime>, String> {
    let Some(ms) = value else {
        return Ok(None);
    };
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(Some)
        .map_err(|_| format!("{field} is not a Unix time in milliseconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document's enrollment example, verbatim.
    pub(crate) const ENROLLMENT_EXAMPLE: &str = include_str!("examples/enrollment.json");
    /// The document's user-action example with its stray brace removed: as
    /// printed it is not JSON, and it puts `patient`, `sourceName` and
    /// `eventName` beside `event`.
    const ACTION_EXAMPLE: &str = include_str!("examples/user_action.json");

    #[test]
    fn the_documents_enrollment_example_is_read() {
        let e = parse_enrollment(ENROLLMENT_EXAMPLE.as_bytes()).unwrap_or_else(|r| panic!("{r:?}"));
        assert_eq!(e.support_program_id, "78ef982b-00ea-39c2-a875-f549c40e92ad");
        assert_eq!(e.event_name, ENROLLMENT_EVENT);
        assert_eq!(e.sent_at.unix_timestamp(), 1_629_708_324);
        let p = &e.patient;
        assert_eq!(
            (p.id.as_str(), p.first_name.as_str(), p.last_name.as_str()),
            ("ha61236024160af", "John", "Doe")
        );
        assert_eq!(p.dob.map(|d| d.unix_timestamp()), Some(1_614_556_800));
        let caregiver = p.caregiver.as_ref().expect("a caregiver");
        assert_eq!(
            (caregiver.name.as_str(), caregiver.relationship.as_deref()),
            ("test", Some("Parent"))
        );
        assert_eq!(
            p.address.as_ref().and_then(|a| a.apartment.as_deref()),
            Some("12")
        );
        let names: Vec<(&str, bool)> = p
            .consents
            .iter()
            .map(|c| (c.name.as_str(), c.value))
            .collect();
        assert_eq!(names, [("communication", true), ("sharePHI", true)]);
    }

    #[test]
    fn the_documents_user_action_example_is_read_with_patient_beside_event() {
        let a = parse_action(ACTION_EXAMPLE.as_bytes()).unwrap_or_else(|r| panic!("{r:?}"));
        assert_eq!(a.patient_id, "ha61236024160af");
        assert_eq!(
            (a.key.as_str(), a.value.as_str()),
            ("userAction", "viewedTracker")
        );
        assert_eq!(a.event_name, "HelpAround.Patient.UserAction.ViewedTracker");
    }

    #[test]
    fn missing_required_fields_are_all_named() {
        let body = br#"{"event": {"sendDate": "2021-08-23T08:45:24.000Z",
            "patient": {"id": "ha1", "firstName": " ", "phoneNumber": "+441632960123"}}}"#;
        let refusal = parse_enrollment(body).err().expect("refused");
        assert_eq!(
            refusal.message,
            "request has bad syntax: missing required field(s) event.supportProgramId, event.eventName, event.patient.firstName, event.patient.lastName"
        );
        assert_eq!(refusal.patient_id.as_deref(), Some("ha1"));
    }

    #[test]
    fn wrong_types_and_dates_are_refused_without_quoting_the_body() {
        let body = br#"{"event": {"supportProgramId": "s", "sendDate": "yesterday", "eventName": "HelpAround.Patient.CompleteEnrollment",
            "patient": {"id": "ha1", "firstName": "Ann", "lastName": "Lee", "phoneNumber": "+441632960123"}}}"#;
        let refusal = parse_enrollment(body).err().expect("refused");
        assert!(
            refusal.message.contains("event.sendDate \"yesterday\""),
            "{refusal:?}"
        );
        let refusal = parse_enrollment(br#"{"event": {"patient": {"dob": "Ann Lee"}}}"#)
            .err()
            .expect("refused");
        assert!(
            refusal.message.contains("wrong type") && !refusal.message.contains("Ann"),
            "{refusal:?}"
        );
        let refusal = parse_enrollment(b"{not json").err().expect("refused");
        assert!(refusal.message.contains("not JSON"), "{refusal:?}");
    }

    #[test]
    fn each_route_takes_only_its_own_events() {
        let refusal = parse_enrollment(ACTION_EXAMPLE.as_bytes())
            .err()
            .expect("refused");
        assert!(
            refusal
                .message
                .contains("missing required field(s) event.patient.firstName"),
            "{refusal:?}"
        );
        let swapped = ENROLLMENT_EXAMPLE.replace(
            ENROLLMENT_EVENT,
            "HelpAround.Patient.UserAction.ViewedTracker",
        );
        let refusal = parse_enrollment(swapped.as_bytes()).err().expect("refused");
        assert!(
            refusal.message.contains("send user actions to user-action"),
            "{refusal:?}"
        );
    }
}
