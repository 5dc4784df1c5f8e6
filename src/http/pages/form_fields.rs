//! The hosted form's boxes, built from two tables (`TEXT_FIELDS`,
//! `SELECT_FIELDS`) in page order, then filled with what the family typed
//! and the errors found. A site changes labels and hides fields; it never
//! changes the table, so every site's form has the same names, input types
//! and autocomplete hints (what browsers and screen readers rely on).

use super::{ConsentBox, ErrorItem, ExtraInput, SelectField, SelectOption, TextField};
use crate::config::SiteSettings;
use crate::domain::{FieldErrors, FundingType, KNOWN_SERVICES, RawSubmission, label_for};

/// One text box as the form defines it, before a site relabels it.
struct TextSpec {
    name: &'static str,
    label: &'static str,
    input_type: &'static str,
    autocomplete: &'static str,
    required: bool,
    multiline: bool,
}

/// The text boxes, in page order. `first_name` and `last_name` come first:
/// [`split_name`] relies on it.
const TEXT_FIELDS: [TextSpec; 5] = [
    TextSpec {
        name: "first_name",
        label: "First name",
        input_type: "text",
        autocomplete: "given-name",
        required: true,
        multiline: false,
    },
    TextSpec {
        name: "last_name",
        label: "Last name",
        input_type: "text",
        autocomplete: "family-name",
        required: true,
        multiline: false,
    },
    TextSpec {
        name: "email",
        label: "Email address",
        input_type: "email",
        autocomplete: "email",
        required: false,
        multiline: false,
    },
    TextSpec {
        name: "phone",
        label: "Phone number",
        input_type: "tel",
        autocomplete: "tel",
        required: false,
        multiline: false,
    },
    TextSpec {
        name: "care_requirements",
        label: "How can the home help?",
        input_type: "text",
        autocomplete: "off",
        required: false,
        multiline: true,
    },
];

/// One `<select>`: its name, its label before a site relabels it, and its
/// (value, label) options for a site.
struct SelectSpec {
    name: &'static str,
    label: &'static str,
    options: fn(&SiteSettings) -> Vec<(String, String)>,
}

/// The selects, in page order (after the text boxes).
const SELECT_FIELDS: [SelectSpec; 3] = [
    SelectSpec {
        name: "enquiring_for_self",
        label: "Who is the care for?",
        options: for_self_choices,
    },
    SelectSpec {
        name: "service",
        label: "Kind of care",
        options: service_choices,
    },
    SelectSpec {
        name: "funding_type",
        label: "How will care be paid for?",
        options: funding_choices,
    },
];

/// What the family typed and the errors found, read by field name.
pub(super) struct Answers<'a> {
    pub typed: Option<&'a RawSubmission>,
    pub errors: &'a FieldErrors,
}

impl Answers<'_> {
    fn value(&self, name: &str) -> String {
        (self.typed)
            .and_then(|t| t.first(name))
            .unwrap_or_default()
            .to_owned()
    }

    /// The first message for `name`; empty when it has none.
    fn error(&self, name: &str) -> String {
        (self.errors.get(name))
            .and_then(|m| m.first())
            .cloned()
            .unwrap_or_default()
    }

    fn chosen(&self, name: &str, option: &str) -> bool {
        self.value(name).eq_ignore_ascii_case(option)
    }
}

/// The site's label for `name`, or the form's own.
pub(super) fn label(site: &SiteSettings, name: &str, default: &str) -> String {
    site.label(name).unwrap_or(default).to_owned()
}

/// The text boxes the page shows, filled in.
pub(super) fn text_fields(site: &SiteSettings, answers: &Answers<'_>) -> Vec<TextField> {
    let contact = site.shows("email") && site.shows("phone");
    let mut fields: Vec<TextField> = (TEXT_FIELDS.iter())
        .map(|spec| TextField {
            name: spec.name,
            label: label(site, spec.name, spec.label),
            input_type: spec.input_type,
            autocomplete: spec.autocomplete,
            // Email or phone: the one left when the site hides the other
            // is the family's only way to be answered.
            required: spec.required
                || (spec.name == "email" && !site.shows("phone"))
                || (spec.name == "phone" && !site.shows("email")),
            multiline: spec.multiline,
            hint: match spec.name {
                "email" | "phone" if contact => "Give an email address, a phone number or both.",
                _ => "",
            },
            value: answers.value(spec.name),
            error: answers.error(spec.name),
        })
        .collect();
    if let Some(field) = fields.iter_mut().find(|f| f.name == "care_requirements") {
        field.value = message(answers.typed);
        if field.error.is_empty() {
            field.error = answers.error("message");
        }
    }
    split_name(&mut fields, answers);
    // A field the site hides is still shown when the family answered it
    // (a site's own form may ask it): otherwise the answer would be lost,
    // or its error could not be corrected.
    fields.retain(|f| site.shows(f.name) || !f.value.is_empty() || !f.error.is_empty());
    fields
}

/// A site's own form may have called the message `message` (or sent both
/// names, which the parser joins): the box shows all of it.
fn message(typed: Option<&RawSubmission>) -> String {
    typed.map_or_else(String::new, |t| {
        (t.pairs().iter())
            .filter(|(n, v)| (n == "care_requirements" || n == "message") && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    })
}

/// A submission that used the single `name` field shows its error on first
/// name; without an error, the name split as the parser splits it.
/// `fields` starts with first and last name ([`TEXT_FIELDS`]).
fn split_name(fields: &mut [TextField], answers: &Answers<'_>) {
    if let Some(message) = answers.errors.get("name").and_then(|m| m.first()) {
        fields[0].error = message.clone();
        fields[0].value = answers.value("name");
    } else if fields[0].value.is_empty() && fields[1].value.is_empty() {
        let name = answers.value("name");
        let mut words = name.split_whitespace();
        if let Some(first) = words.next() {
            fields[0].value = first.to_owned();
            fields[1].value = words.collect::<Vec<_>>().join(" ");
        }
    }
}

/// The selects the page shows, with the family's choice selected.
pub(super) fn select_fields(site: &SiteSettings, answers: &Answers<'_>) -> Vec<SelectField> {
    let mut fields: Vec<SelectField> = (SELECT_FIELDS.iter())
        .map(|spec| SelectField {
            name: spec.name,
            label: label(site, spec.name, spec.label),
            options: ((spec.options)(site).into_iter())
                .map(|(value, label)| SelectOption {
                    selected: answers.chosen(spec.name, &value),
                    value,
                    label,
                })
                .collect(),
            error: answers.error(spec.name),
        })
        .collect();
    // As for text boxes: a hidden select the family answered stays.
    fields.retain(|f| {
        site.shows(f.name) || f.options.iter().any(|o| o.selected) || !f.error.is_empty()
    });
    fields
}

/// Answers a site's own form asked for that the hosted form has no field
/// for, as boxes under their own names (see `FormPage::retyped` for why).
pub(super) fn extra_fields(
    extras: Vec<(String, String)>,
    answers: &Answers<'_>,
) -> Vec<ExtraInput> {
    (extras.into_iter().enumerate())
        .map(|(index, (name, value))| ExtraInput {
            id: format!("extra-{index}"),
            label: label_for(&name),
            multiline: value.contains('\n') || value.chars().count() > 80,
            error: answers.error(&name),
            name,
            value,
        })
        .collect()
}

/// The consent checkbox, when the site configured a statement and its version.
pub(super) fn consent_box(site: &SiteSettings, answers: &Answers<'_>) -> Option<ConsentBox> {
    let (Some(text), Some(version)) = (&site.consent_text, &site.consent_version) else {
        return None;
    };
    Some(ConsentBox {
        text: text.clone(),
        version: version.clone(),
        checked: (answers.typed)
            .and_then(|t| t.first("consent"))
            .is_some_and(|v| !v.is_empty()),
        error: answers.error("consent"),
    })
}

/// The summary above the form: one entry per message, in the order the
/// fields appear on the page, each linking to the box the family corrects.
pub(super) fn error_summary(
    errors: &FieldErrors,
    text_fields: &[TextField],
    select_fields: &[SelectField],
    extra_fields: &[ExtraInput],
) -> Vec<ErrorItem> {
    let order = |field: &str| {
        (text_fields.iter().map(|f| f.name))
            .chain(select_fields.iter().map(|f| f.name))
            .chain(extra_fields.iter().map(|f| f.id.as_str()))
            .chain(["consent"])
            .position(|f| f == field)
            .unwrap_or(usize::MAX)
    };
    let anchor = |field: &str| match field {
        "name" => "first_name".to_owned(),
        "message" => "care_requirements".to_owned(),
        _ => (extra_fields.iter())
            .find(|f| f.name == field)
            .map_or_else(|| field.to_owned(), |f| f.id.clone()),
    };
    let mut items: Vec<ErrorItem> = (errors.iter())
        .map(|(field, messages)| ErrorItem {
            field: anchor(field),
            message: messages.first().cloned().unwrap_or_default(),
        })
        .collect();
    items.sort_by_key(|e| order(&e.field));
    // "Email or phone" is reported on both fields; the summary says it once.
    items.dedup_by(|later, earlier| later.message == earlier.message);
    items
}

fn for_self_choices(_: &SiteSettings) -> Vec<(String, String)> {
    [("true", "Me"), ("false", "Someone else")]
        .iter()
        .map(|(v, l)| ((*v).into(), (*l).into()))
        .collect()
}

fn funding_choices(_: &SiteSettings) -> Vec<(String, String)> {
    (FundingType::ALL.iter())
        .map(|f| (f.as_str().into(), f.label().into()))
        .collect()
}

/// The kinds of care a site offers, with plain labels.
fn service_choices(site: &SiteSettings) -> Vec<(String, String)> {
    let label_of = |value: &str| {
        KNOWN_SERVICES
            .iter()
            .find(|(v, _)| *v == value)
            .map_or_else(|| value.replace('_', " "), |(_, l)| (*l).to_owned())
    };
    if site.services.is_empty() {
        KNOWN_SERVICES
            .iter()
            .map(|(v, l)| ((*v).to_owned(), (*l).to_owned()))
            .collect()
    } else {
        site.services
            .iter()
            .map(|v| (v.clone(), label_of(v)))
            .collect()
    }
}
