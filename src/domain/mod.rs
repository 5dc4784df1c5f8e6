//! Domain types: what a raw form submission is parsed into.
//!
//! Pure code (no I/O, no async, no HTTP). Every checked value is a newtype with
//! private fields that can only be built by `parse`, and that is parsed again
//! when read back from storage (`#[serde(try_from = "String")]`), so nothing
//! past this boundary holds an unchecked string. Types holding personal data
//! have a `Debug` that redacts it; `Display`/`as_str` give the real value for
//! sending to CareHQ.

mod carehq_id;
mod email;
mod enquiry;
mod extra_field;
mod field_errors;
mod free_text;
mod funding_type;
mod names;
mod origin;
mod person_name;
mod phone;
mod service;
mod spam_verdict;
mod stored_enquiry;
mod submission;
mod yes_no;

#[cfg(test)]
mod tests;

pub use carehq_id::CareHqId;
pub use email::EmailAddress;
pub use enquiry::{Enquiry, FORM_FIELDS, IntakeRules};
pub use extra_field::{ExtraField, MAX_EXTRA_FIELDS, label_for};
pub use field_errors::FieldErrors;
pub use free_text::FreeText;
pub use funding_type::FundingType;
pub use origin::Origin;
pub use person_name::PersonName;
pub use phone::{PhoneNumber, national_digits};
pub use service::{KNOWN_SERVICES, Service};
pub use spam_verdict::SpamVerdict;
pub use stored_enquiry::StoredEnquiry;
pub use submission::RawSubmission;
// For the property test of the intake (`http::submission_props`).
#[cfg(test)]
pub(crate) use yes_no::parse_yes_no;
