//! An enrollment as the form post it stands for, so it is checked, stored
//! and delivered exactly like one. The caregiver, when given, is the
//! enquirer (`enquiring_for_self = no`), else the patient is; the patient,
//! the address, the preferred language and contact, the time to call and
//! the consents travel as labelled lines in `care_requirements`. Gender,
//! date of birth, insurance and signature are left out: the home needs
//! none of them to call back (data minimisation).

use time::OffsetDateTime;
use time::macros::format_description;

use super::payload::{Enrollment, Patient};
use crate::domain::RawSubmission;

/// The consent whose refusal means the enrollment may not be passed on as
/// it stands: stored as `held` for a person to look at.
const SHARE_PHI: &str = "sharePHI";
/// Longest last name we make up for a caregiver named in one word.
const MAX_MADE_UP_LAST_NAME: usize = 80;

/// What identifies one webhook event: a repeat with the same key is the same
/// event (the partner retries), whatever else it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventKey {
    pub support_program_id: String,
    pub patient_id: String,
    pub event_name: String,
    /// `sendDate` in Unix ms: two spellings of one instant are one event.
    pub sent_at_ms: i64,
}

/// An enrollment as a submission, with what decides how it is stored.
pub struct PartnerSubmission {
    pub raw: RawSubmission,
    /// `sharePHI` was refused: a person decides whether it goes to CareHQ.
    pub held: bool,
    pub key: EventKey,
}

pub fn submission(enrollment: &Enrollment) -> PartnerSubmission {
    let patient = &enrollment.patient;
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
            pairs.push((name.to_owned(), value));
        }
    };
    let patient_name = format!("{} {}", patient.first_name, patient.last_name);
    match &patient.caregiver {
        Some(caregiver) => {
            let (first, last) = caregiver_names(&caregiver.name, &patient_name);
            add("first_name", Some(first));
            add("last_name", Some(last));
            // Without a way to reach the caregiver, the patient's is the way back.
            let own_contact = caregiver.email.is_some() || caregiver.phone.is_some();
            add(
                "email",
                if own_contact {
                    caregiver.email.clone()
                } else {
                    patient.email.clone()
                },
            );
            add(
                "phone",
                if own_contact {
                    caregiver.phone.clone()
                } else {
                    Some(patient.phone.clone())
                },
            );
            add("enquiring_for_self", Some("no".into()));
            add("caregiver_relationship", caregiver.relationship.clone());
            add("patient", Some(patient_name));
            add("patient_phone", Some(patient.phone.clone()));
            add("patient_email", patient.email.clone());
        }
        None => {
            add("first_name", Some(patient.first_name.clone()));
            add("last_name", Some(patient.last_name.clone()));
            add("email", patient.email.clone());
            add("phone", Some(patient.phone.clone()));
            add("enquiring_for_self", Some("yes".into()));
        }
    }
    add("address", address(patient));
    add("preferred_language", patient.preferred_language.clone());
    add("preferred_contact", patient.contact_method.clone());
    add("best_time_to_call", patient.call_time.clone());
    for consent in &patient.consents {
        let answer = if consent.value { "given" } else { "refused" };
        let when = consent
            .at
            .map(|at| format!(" {}", utc(at)))
            .unwrap_or_default();
        add(
            &format!("consent_{}", consent.name),
            Some(format!("{answer}{when}")),
        );
    }
    add(
        "HelpAround",
        Some(format!(
            "enrollment sent {} (support programme {}, patient {})",
            utc(enrollment.sent_at),
            enrollment.support_program_id,
            patient.id
        )),
    );
    PartnerSubmission {
        raw: RawSubmission::new(pairs),
        held: patient
            .consents
            .iter()
            .any(|c| c.name == SHARE_PHI && !c.value),
        key: EventKey {
            support_program_id: enrollment.support_program_id.clone(),
            patient_id: patient.id.clone(),
            event_name: enrollment.event_name.clone(),
            sent_at_ms: (enrollment.sent_at.unix_timestamp_nanos() / 1_000_000) as i64,
        },
    }
}

/// The caregiver's one `name` as first and last name: the first word, then
/// the rest. CareHQ needs both; for a name of one word the last name says
/// whose caregiver this is rather than guessing a surname.
fn caregiver_names(name: &str, patient_name: &str) -> (String, String) {
    let mut words = name.split_whitespace();
    let first = words.next().unwrap_or_default().to_owned();
    let rest = words.collect::<Vec<_>>().join(" ");
    if !rest.is_empty() {
        return (first, rest);
    }
    let made_up = format!("(caregiver of {patient_name})");
    if made_up.chars().count() <= MAX_MADE_UP_LAST_NAME {
        (first, made_up)
    } else {
        (first, "(caregiver)".to_owned())
    }
}

/// "12 test, test, AL 12345": the parts given, in postal order.
fn address(patient: &Patient) -> Option<String> {
    let a = patient.address.as_ref()?;
    let street = [a.apartment.as_deref(), a.street.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let region = [a.state.as_deref(), a.zip.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let parts: Vec<&str> = [
        street.as_str(),
        a.city.as_deref().unwrap_or(""),
        region.as_str(),
    ]
    .into_iter()
    .filter(|p| !p.is_empty())
    .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn utc(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Enquiry, IntakeRules};
    use crate::partners::helparound::parse_enrollment;

    const EXAMPLE: &str = include_str!("examples/enrollment.json");

    fn rules() -> IntakeRules<'static> {
        IntakeRules {
            allowed_services: &[],
            require_consent: false,
            ignored_fields: &[],
        }
    }

    fn enquiry_of(json: &str) -> (Enquiry, PartnerSubmission) {
        let enrollment = parse_enrollment(json.as_bytes()).unwrap_or_else(|r| panic!("{r:?}"));
        let submission = submission(&enrollment);
        let enquiry = Enquiry::parse(&submission.raw, &rules()).unwrap_or_else(|e| panic!("{e:?}"));
        (enquiry, submission)
    }

    #[test]
    fn the_caregiver_of_the_documents_example_is_the_enquirer() {
        let (enquiry, submission) = enquiry_of(EXAMPLE);
        assert_eq!(enquiry.first_name.as_str(), "test");
        assert_eq!(enquiry.last_name.as_str(), "(caregiver of John Doe)");
        assert_eq!(enquiry.enquiring_for_self, Some(false));
        assert_eq!(
            enquiry.email.as_ref().map(|e| e.as_str()),
            Some("test@gmail.com")
        );
        let text = enquiry.care_requirements_text().unwrap_or_default();
        for line in [
            "Caregiver relationship: Parent",
            "Patient: John Doe",
            "Patient phone: +12027953213",
            "Address: 12 test, test, AL 12345",
            "Preferred language: English",
            "Preferred contact: Phone",
            "Best time to call: Morning",
            "Consent communication: given 2021-03-01 00:00 UTC",
            "Consent sharePHI: given 2021-03-01 00:00 UTC",
            "HelpAround: enrollment sent 2021-08-23 08:45 UTC (support programme 78ef982b-00ea-39c2-a875-f549c40e92ad, patient ha61236024160af)",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line {line:?} in:\n{text}"
            );
        }
        for left_out in [
            "ds43",
            "7b20a933",
            "85219935",
            "male",
            "1614556800000",
            "test2",
        ] {
            assert!(!text.contains(left_out), "{left_out} was sent:\n{text}");
        }
        assert!(!submission.held);
        assert_eq!(submission.key.sent_at_ms, 1_629_708_324_000);
    }

    #[test]
    fn without_a_caregiver_the_patient_enquires_for_themself() {
        let json = EXAMPLE.replace("\"caregiver\"", "\"not_the_caregiver\"");
        let (enquiry, _) = enquiry_of(&json);
        assert_eq!(
            (enquiry.first_name.as_str(), enquiry.last_name.as_str()),
            ("John", "Doe")
        );
        assert_eq!(enquiry.enquiring_for_self, Some(true));
        assert_eq!(
            enquiry.phone.as_ref().map(|p| p.as_str()),
            Some("+12027953213")
        );
    }

    #[test]
    fn a_refused_share_phi_consent_holds_the_enquiry() {
        let json = EXAMPLE.replacen(
            "\"name\": \"sharePHI\",\n          \"value\": true",
            "\"name\": \"sharePHI\",\n          \"value\": false",
            1,
        );
        assert_ne!(json, EXAMPLE);
        let (enquiry, submission) = enquiry_of(&json);
        assert!(submission.held);
        let text = enquiry.care_requirements_text().unwrap_or_default();
        assert!(text.contains("Consent sharePHI: refused"), "{text}");
    }

    #[test]
    fn a_caregiver_with_a_full_name_keeps_it() {
        assert_eq!(
            caregiver_names("Mary Ann Smith", "John Doe"),
            ("Mary".to_owned(), "Ann Smith".to_owned())
        );
        let long = "x".repeat(100);
        assert_eq!(caregiver_names("Sam", &long).1, "(caregiver)");
    }
}
