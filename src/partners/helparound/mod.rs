//! HelpAround (docs/partners.md): a patient enrollment platform that posts
//! an enrollment (`HelpAround.Patient.CompleteEnrollment`) and user actions
//! (`HelpAround.Patient.UserAction.ViewedTracker`) to a partner CRM.
//! `payload` reads exactly the fields the document lists; `mapping` turns an
//! enrollment into the submission a form would have posted.

mod mapping;
mod payload;

pub use mapping::{EventKey, PartnerSubmission, submission};
pub use payload::{
    ACTION_EVENT_PREFIX, Action, Consent, ENROLLMENT_EVENT, Enrollment, Patient, Refusal,
    parse_action, parse_enrollment,
};
