//! Which name fields a form used, and turning them into first and last name.
//!
//! CareHQ wants `first_name` and `last_name`; many site forms have one `name`
//! box. Errors go on the box the family actually sees.

use super::field_errors::FieldErrors;
use super::person_name::PersonName;
use super::submission::RawSubmission;

const FIRST_AND_LAST: &str = "Enter your first and last name";

/// How the form asked for the name, decided from the fields it posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NameFields {
    /// `first_name` / `last_name` (also assumed when no name field was posted).
    Separate,
    /// A single `name` box, split at the first space.
    Single,
}

impl NameFields {
    /// `Single` when the form posted a `name` field (even blank) and left
    /// both `first_name` and `last_name` blank or out.
    pub(crate) fn of(raw: &RawSubmission) -> Self {
        if raw.first("first_name").is_none()
            && raw.first("last_name").is_none()
            && raw.has_field("name")
        {
            Self::Single
        } else {
            Self::Separate
        }
    }
}

/// The first and last name, or `None` with the reasons added to `errors`.
pub(crate) fn parse_names(
    raw: &RawSubmission,
    errors: &mut FieldErrors,
) -> Option<(PersonName, PersonName)> {
    match NameFields::of(raw) {
        NameFields::Single => split_name(raw.first("name"), errors),
        NameFields::Separate => {
            let first = one_name(raw, "first_name", "Enter your first name", errors);
            let last = one_name(raw, "last_name", "Enter your last name", errors);
            Some((first?, last?))
        }
    }
}

fn one_name(
    raw: &RawSubmission,
    field: &str,
    missing: &str,
    errors: &mut FieldErrors,
) -> Option<PersonName> {
    let Some(value) = raw.first(field) else {
        errors.add(field, missing);
        return None;
    };
    PersonName::parse(value)
        .map_err(|message| errors.add(field, message))
        .ok()
}

/// First word → first name, the rest → last name ("Mary Ann Smith" gives
/// "Mary" / "Ann Smith"). Guessing is needed either way; this is the guess the
/// old plugin made, but a single word is refused rather than sent with a `*`.
fn split_name(value: Option<&str>, errors: &mut FieldErrors) -> Option<(PersonName, PersonName)> {
    let mut words = value.unwrap_or_default().split_whitespace();
    let (Some(first), rest) = (words.next(), words.collect::<Vec<_>>().join(" ")) else {
        errors.add("name", FIRST_AND_LAST);
        return None;
    };
    if rest.is_empty() {
        errors.add("name", FIRST_AND_LAST);
        return None;
    }
    let first = PersonName::parse(first).map_err(|message| errors.add("name", message));
    let last = PersonName::parse(&rest).map_err(|message| errors.add("name", message));
    Some((first.ok()?, last.ok()?))
}
