//! Extra fields: whatever else the family filled in that CareHQ has no field
//! for ("How did you hear about us", "visit_date_time" for now). They travel as
//! labelled lines in `care_requirements`, so nothing they wrote is dropped.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::field_errors::FieldErrors;
use super::free_text::{FreeText, MAX_EXTRA_VALUE_CHARS};
use super::submission::RawSubmission;

/// More than this many is a script stuffing the form, not a family.
pub const MAX_EXTRA_FIELDS: usize = 20;
const MAX_LABEL_CHARS: usize = 60;

/// One labelled answer. `Debug` is safe: `FreeText` redacts the value, and
/// the label is made from the form's field name, not from what was typed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraField {
    pub label: String,
    pub value: FreeText,
}

/// The extra fields of `raw` (the answers the enquiry's own fields do not
/// hold) in the order first posted. Repeated names (checkbox groups, multi-selects) become
/// one field with the values joined by ", ".
pub(crate) fn collect_extra_fields(
    raw: &RawSubmission,
    errors: &mut FieldErrors,
) -> Vec<ExtraField> {
    let mut fields = Vec::new();
    for (index, (name, values)) in group_extra_fields(raw).into_iter().enumerate() {
        if index == MAX_EXTRA_FIELDS {
            errors.add(
                name,
                format!(
                    "Too many fields: remove some answers so there are at most {MAX_EXTRA_FIELDS} besides the enquiry"
                ),
            );
            break;
        }
        match FreeText::parse_with_limit(&values.join(", "), MAX_EXTRA_VALUE_CHARS) {
            Ok(value) => fields.push(ExtraField {
                label: label_for(name),
                value,
            }),
            Err(message) => errors.add(name, message),
        }
    }
    fields
}

/// The non-blank values of each extra field name, names in the order first
/// posted: what [`collect_extra_fields`] labels, and what a 422 page shows again.
pub(crate) fn group_extra_fields(raw: &RawSubmission) -> Vec<(&str, Vec<&str>)> {
    // One pass with an index, not a scan per name: a hostile post may carry
    // thousands of distinct names and must not cost quadratic time.
    let mut grouped: Vec<(&str, Vec<&str>)> = Vec::new();
    let mut position: HashMap<&str, usize> = HashMap::new();
    for (name, value) in raw.pairs() {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match position.get(name.as_str()) {
            Some(&at) => grouped[at].1.push(value),
            None => {
                position.insert(name, grouped.len());
                grouped.push((name, vec![value]));
            }
        }
    }
    grouped
}

/// `how_did_you_hear` → "How did you hear"; `rooms[]` → "Rooms".
pub fn label_for(name: &str) -> String {
    let name = name.strip_suffix("[]").unwrap_or(name);
    let spaced: String = name
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '_' || c == '-' { ' ' } else { c })
        .collect();
    let words = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = words.chars();
    let Some(initial) = chars.next() else {
        return "Other".to_owned();
    };
    initial
        .to_uppercase()
        .chain(chars)
        .take(MAX_LABEL_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_made_from_field_names() {
        let long = "x".repeat(80);
        let cases = [
            ("how_did_you_hear", "How did you hear"),
            ("visit-date-time", "Visit date time"),
            ("visit_date_time", "Visit date time"),
            ("Room", "Room"),
            ("rooms[]", "Rooms"),
            ("  __preferred__time  ", "Preferred time"),
            ("ëtage", "Ëtage"),
            ("input_5", "Input 5"),
            ("-", "Other"),
            ("", "Other"),
            (long.as_str(), &format!("X{}", "x".repeat(59))),
        ];
        for (name, want) in cases {
            assert_eq!(label_for(name), want, "{name:?}");
        }
    }
}
