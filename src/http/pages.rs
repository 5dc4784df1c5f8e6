//! HTML pages rendered with askama: the enquiry form (fresh or with errors and
//! the values typed), the thank-you page and the error page.

use askama::Template;

use crate::config::SiteSettings;
use crate::domain::{FieldErrors, FundingType, KNOWN_SERVICES, RawSubmission};

#[derive(Template)]
#[template(path = "form.html")]
pub struct FormPage {
    pub site_name: String,
    pub action: String,
    pub idempotency_key: String,
    pub has_errors: bool,
    pub errors: Vec<ErrorItem>,
    pub text_fields: Vec<TextField>,
    pub select_fields: Vec<SelectField>,
    /// The signed time token `_t`; set by the caller (it needs the key).
    pub time_token: String,
    /// Name of the hidden field only bots fill in.
    pub honeypot_field: String,
    /// The visit booking block (`http::visit_fields`), already rendered; empty
    /// when the site does not book visits.
    pub visit_fields: String,
}

pub struct ErrorItem {
    pub field: String,
    pub message: String,
}

pub struct TextField {
    pub name: &'static str,
    pub label: &'static str,
    pub input_type: &'static str,
    pub autocomplete: &'static str,
    pub required: bool,
    pub multiline: bool,
    pub value: String,
    pub error: String,
}

pub struct SelectField {
    pub name: &'static str,
    pub label: &'static str,
    pub options: Vec<SelectOption>,
    pub error: String,
}

pub struct SelectOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "thanks.html")]
pub struct ThanksPage<'a> {
    pub site_name: &'a str,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

impl FormPage {
    /// The form for `site`, filled with what was typed and the errors found.
    pub fn new(
        site: &SiteSettings,
        typed: Option<&RawSubmission>,
        errors: &FieldErrors,
        idempotency_key: String,
    ) -> FormPage {
        let value = |name: &str| {
            typed
                .and_then(|t| t.first(name))
                .unwrap_or_default()
                .to_owned()
        };
        let error = |name: &str| {
            errors
                .get(name)
                .and_then(|m| m.first())
                .cloned()
                .unwrap_or_default()
        };
        let text = |name, label, input_type, autocomplete, required, multiline| TextField {
            name,
            label,
            input_type,
            autocomplete,
            required,
            multiline,
            value: value(name),
            error: error(name),
        };
        let mut text_fields = vec![
            text(
                "first_name",
                "First name",
                "text",
                "given-name",
                true,
                false,
            ),
            text("last_name", "Last name", "text", "family-name", true, false),
            text("email", "Email address", "email", "email", false, false),
            text("phone", "Phone number", "tel", "tel", false, false),
            text(
                "care_requirements",
                "How can the home help?",
                "text",
                "off",
                false,
                true,
            ),
        ];
        // A submission that used the single `name` field shows its error on first name.
        if let Some(message) = errors.get("name").and_then(|m| m.first()) {
            text_fields[0].error = message.clone();
            text_fields[0].value = value("name");
        }
        let chosen = |name: &str, option: &str| value(name).eq_ignore_ascii_case(option);
        let services: Vec<SelectOption> = service_choices(site)
            .into_iter()
            .map(|(v, l)| SelectOption {
                selected: chosen("service", &v),
                value: v,
                label: l,
            })
            .collect();
        let funding = FundingType::ALL
            .iter()
            .map(|f| SelectOption {
                value: f.as_str().into(),
                label: f.label().into(),
                selected: chosen("funding_type", f.as_str()),
            })
            .collect();
        let for_self = [("true", "Me"), ("false", "Someone else")]
            .iter()
            .map(|(v, l)| SelectOption {
                value: (*v).into(),
                label: (*l).into(),
                selected: chosen("enquiring_for_self", v),
            })
            .collect();
        let select_fields = vec![
            SelectField {
                name: "enquiring_for_self",
                label: "Who is the care for?",
                options: for_self,
                error: error("enquiring_for_self"),
            },
            SelectField {
                name: "service",
                label: "Kind of care",
                options: services,
                error: error("service"),
            },
            SelectField {
                name: "funding_type",
                label: "How will care be paid for?",
                options: funding,
                error: error("funding_type"),
            },
        ];
        let errors: Vec<ErrorItem> = errors
            .iter()
            .map(|(field, messages)| ErrorItem {
                field: if field == "name" {
                    "first_name".into()
                } else {
                    field.to_owned()
                },
                message: messages.first().cloned().unwrap_or_default(),
            })
            .collect();
        FormPage {
            site_name: site.name.clone(),
            action: format!("/forms/{}", site.slug),
            idempotency_key,
            has_errors: !errors.is_empty(),
            errors,
            text_fields,
            select_fields,
            time_token: String::new(),
            honeypot_field: site.honeypot_field.clone(),
            visit_fields: String::new(),
        }
    }
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
