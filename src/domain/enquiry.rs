//! `Enquiry`: a checked care enquiry, and the parser that builds one from a
//! raw submission, collecting every field's problem at once.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::email::EmailAddress;
use super::extra_field::{ExtraField, collect_extra_fields, group_extra_fields};
use super::field_errors::FieldErrors;
use super::free_text::FreeText;
use super::funding_type::FundingType;
use super::names::{NameFields, parse_names};
use super::person_name::PersonName;
use super::phone::PhoneNumber;
use super::service::Service;
use super::submission::RawSubmission;
use super::yes_no::parse_yes_no;

/// The family's fields as a form posts them (`name` being the one-box
/// spelling of first and last name; `message`, another spelling of
/// `care_requirements`, is left out): what a site's field may be mapped
/// onto, and what a honeypot must never be called.
pub const FORM_FIELDS: &[&str] = &[
    "name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "care_requirements",
    "service",
    "funding_type",
    "enquiring_for_self",
    "consent",
];

/// Names the parser reads itself; `name` only when the form used it (see
/// [`NameFields`]), otherwise it is kept as an extra field.
const OWN_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "email",
    "phone",
    "care_requirements",
    "message",
    "service",
    "funding_type",
    "enquiring_for_self",
    "consent",
];

/// What a site allows and requires of a submission.
#[derive(Clone, Copy, Debug, Default)]
pub struct IntakeRules<'a> {
    /// Service values the site offers; empty means the built-in `KNOWN_SERVICES`.
    pub allowed_services: &'a [String],
    pub require_consent: bool,
    /// Field names that are neither parsed nor appended (the honeypot, CAPTCHA
    /// widget fields). Names starting with `_` are always treated this way.
    pub ignored_fields: &'a [String],
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Enquiry {
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub email: Option<EmailAddress>,
    pub phone: Option<PhoneNumber>,
    pub care_requirements: Option<FreeText>,
    pub service: Option<Service>,
    pub funding_type: Option<FundingType>,
    pub enquiring_for_self: Option<bool>,
    pub consent: bool,
    pub extra_fields: Vec<ExtraField>,
}

impl Enquiry {
    pub fn parse(raw: &RawSubmission, rules: &IntakeRules) -> Result<Enquiry, FieldErrors> {
        let raw = visible_fields(raw, rules);
        let mut errors = FieldErrors::default();

        let names = parse_names(&raw, &mut errors);
        let email = optional(&raw, "email", &mut errors, EmailAddress::parse);
        let phone = optional(&raw, "phone", &mut errors, PhoneNumber::parse);
        if raw.first("email").is_none() && raw.first("phone").is_none() {
            let message = "Give an email address or a phone number so the home can reply";
            errors.add("email", message);
            errors.add("phone", message);
        }
        let care_requirements = parse_message(&raw, &mut errors);
        let service = optional(&raw, "service", &mut errors, |value| {
            Service::parse(value, rules.allowed_services)
        });
        let funding_type = optional(&raw, "funding_type", &mut errors, FundingType::parse);
        let enquiring_for_self = optional(&raw, "enquiring_for_self", &mut errors, |value| {
            parse_yes_no(value)
                .ok_or_else(|| "Choose whether the care is for you or for someone else".to_owned())
        });
        let consent = raw.first("consent").and_then(parse_yes_no) == Some(true);
        if rules.require_consent && !consent {
            errors.add("consent", "Tick the consent box, then send the form again");
        }

        let extra_fields = collect_extra_fields(&extra_answers(&raw), &mut errors);

        match names {
            Some((first_name, last_name)) if errors.is_empty() => Ok(Enquiry {
                first_name,
                last_name,
                email,
                phone,
                care_requirements,
                service,
                funding_type,
                enquiring_for_self,
                consent,
                extra_fields,
            }),
            _ => Err(errors),
        }
    }

    /// The extra fields of `raw` as (name, value) pairs, exactly as `parse`
    /// would append them (a repeated name's values joined by ", "), so a form
    /// shown again can carry each under its own name: sent back, it becomes
    /// the same labelled line once, never twice.
    pub fn extra_inputs(raw: &RawSubmission, rules: &IntakeRules) -> Vec<(String, String)> {
        let raw = extra_answers(&visible_fields(raw, rules));
        group_extra_fields(&raw)
            .into_iter()
            .map(|(name, values)| (name.to_owned(), values.join(", ")))
            .collect()
    }

    /// The message plus one "Label: value" line per extra field, as sent in
    /// CareHQ's `care_requirements`. Not limited to 5000 characters: the
    /// parts are limited one by one, and cutting the sum would drop words.
    pub fn care_requirements_text(&self) -> Option<String> {
        let lines: Vec<String> = self
            .extra_fields
            .iter()
            .map(|field| format!("{}: {}", field.label, field.value))
            .collect();
        match (&self.care_requirements, lines.is_empty()) {
            (None, true) => None,
            (Some(message), true) => Some(message.to_string()),
            (None, false) => Some(lines.join("\n")),
            (Some(message), false) => Some(format!("{message}\n\n{}", lines.join("\n"))),
        }
    }
}

/// Whether `parse` reads a field itself (so it is no extra field): its own
/// names, and `name` when the form used the single name box.
fn own_field(raw: &RawSubmission) -> impl Fn(&str) -> bool {
    let single_name = NameFields::of(raw) == NameFields::Single;
    move |name| OWN_FIELDS.contains(&name) || (single_name && name == "name")
}

/// The answers the enquiry's own fields do not hold, to be appended as
/// labelled lines: every other field, and a second, different answer to one
/// of its own fields (two `phone` boxes, a `consent` checkbox whose value is
/// not a yes or no). The enquiry takes the first answer to each of its own
/// fields; without this the rest would vanish without a word.
fn extra_answers(raw: &RawSubmission) -> RawSubmission {
    let own = own_field(raw);
    RawSubmission::new(
        raw.pairs()
            .iter()
            .filter(|(name, value)| !(own(name) && held_by_enquiry(raw, name, value.trim())))
            .cloned()
            .collect(),
    )
}

/// Whether `parse` keeps `value` (trimmed) of its own field `name` itself.
fn held_by_enquiry(raw: &RawSubmission, name: &str, value: &str) -> bool {
    match name {
        // Every answer to the message is kept (see `parse_message`).
        "care_requirements" | "message" => true,
        // An unrecognised value leaves `consent` false: keep its words.
        "consent" => raw.first(name) == Some(value) && parse_yes_no(value).is_some(),
        // Blank is "not given"; the first answer is the field's value, and
        // the same answer again (a field posted twice) says nothing new.
        _ => value.is_empty() || raw.first(name) == Some(value),
    }
}

/// The submission without meta fields (`_k`, `_t`, …) and the site's ignored
/// fields, so neither can be parsed nor appended by mistake.
fn visible_fields(raw: &RawSubmission, rules: &IntakeRules) -> RawSubmission {
    RawSubmission::new(
        raw.pairs()
            .iter()
            .filter(|(name, _)| !name.starts_with('_') && !rules.ignored_fields.contains(name))
            .cloned()
            .collect(),
    )
}

/// Parses `field` when given; a refusal is recorded against `field`.
fn optional<T>(
    raw: &RawSubmission,
    field: &str,
    errors: &mut FieldErrors,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    let value = raw.first(field)?;
    parse(value)
        .map_err(|message| errors.add(field, message))
        .ok()
}

/// `care_requirements` and its alias `message`. Should a form post both, both
/// are kept (in the order posted) rather than one silently dropped.
fn parse_message(raw: &RawSubmission, errors: &mut FieldErrors) -> Option<FreeText> {
    let parts: Vec<&str> = raw
        .pairs()
        .iter()
        .filter(|(name, value)| {
            (name == "care_requirements" || name == "message") && !value.trim().is_empty()
        })
        .map(|(_, value)| value.as_str())
        .collect();
    if parts.is_empty() {
        return None;
    }
    let field = if raw.first("care_requirements").is_some() {
        "care_requirements"
    } else {
        "message"
    };
    FreeText::parse(&parts.join("\n\n"))
        .map_err(|message| errors.add(field, message))
        .ok()
}

/// Shows what kind of enquiry it is, never who it is about: names, contact
/// details and words are replaced by whether they were given.
impl fmt::Debug for Enquiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let given = |present: bool| if present { "<redacted>" } else { "<none>" };
        let labels: Vec<&str> = self.extra_fields.iter().map(|e| e.label.as_str()).collect();
        f.debug_struct("Enquiry")
            .field("first_name", &format_args!("<redacted>"))
            .field("last_name", &format_args!("<redacted>"))
            .field("email", &format_args!("{}", given(self.email.is_some())))
            .field("phone", &format_args!("{}", given(self.phone.is_some())))
            .field(
                "care_requirements",
                &format_args!("{}", given(self.care_requirements.is_some())),
            )
            .field("service", &self.service)
            .field("funding_type", &self.funding_type)
            .field("enquiring_for_self", &self.enquiring_for_self)
            .field("consent", &self.consent)
            .field("extra_field_labels", &labels)
            .finish()
    }
}
