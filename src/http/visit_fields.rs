//! The hosted form's visit block: the open slots and the allowed visit types
//! as `<select>`s (no JavaScript needed), rendered on its own so the form
//! template only places it (`{{ visit_fields|safe }}`).

use askama::Template;
use tracing::warn;

use crate::config::SiteSettings;
use crate::domain::{FieldErrors, RawSubmission};
use crate::http::pages::SelectOption;
use crate::storage::Store;
use crate::visits::request::type_label;
use crate::visits::{VISIT_DATE_TIME, VISIT_TYPE, open_slots};

#[derive(Template)]
#[template(path = "visit_fields.html")]
struct VisitFields {
    days: Vec<SlotDay>,
    types: Vec<SelectOption>,
    slot_error: String,
    type_error: String,
}

/// One day's open slots: an `<optgroup>` named by the day, each option by its
/// time alone. Half the bytes of repeating the date in every option, which
/// keeps a home with long visiting hours under the page-weight budget, and a
/// screen reader announces the group.
struct SlotDay {
    label: String,
    slots: Vec<SelectOption>,
}

/// The block's HTML for `site`, or an empty string when the site does not
/// book visits. If the slots cannot be read the form is shown without the
/// block: the family can still send the enquiry.
pub async fn visit_fields(
    store: &Store,
    site: &SiteSettings,
    typed: Option<&RawSubmission>,
    errors: &FieldErrors,
) -> String {
    let Some(settings) = site.visits() else {
        return String::new();
    };
    let open = match open_slots(store, &site.slug, settings, jiff::Timestamp::now()).await {
        Ok(open) => open,
        Err(e) => {
            warn!(site = %site.slug, error = %e, "visit slots could not be read; form shown without them");
            return String::new();
        }
    };
    let typed_value = |name: &str| typed.and_then(|t| t.first(name)).unwrap_or_default();
    let first_error = |name: &str| {
        errors
            .get(name)
            .and_then(|m| m.first())
            .cloned()
            .unwrap_or_default()
    };
    let mut days: Vec<SlotDay> = Vec::new();
    for o in &open {
        let value = o.slot.value();
        let option = SelectOption {
            selected: typed_value(VISIT_DATE_TIME) == value,
            label: o.slot.time_label(),
            value,
        };
        let day = o.slot.day_label();
        match days.last_mut() {
            Some(last) if last.label == day => last.slots.push(option),
            _ => days.push(SlotDay {
                label: day,
                slots: vec![option],
            }),
        }
    }
    let types = settings
        .visit_types
        .iter()
        .map(|t| SelectOption {
            value: t.clone(),
            label: capitalised(type_label(t)),
            selected: typed_value(VISIT_TYPE) == t,
        })
        .collect();
    let block = VisitFields {
        days,
        types,
        slot_error: first_error(VISIT_DATE_TIME),
        type_error: first_error(VISIT_TYPE),
    };
    block.render().unwrap_or_else(|e| {
        warn!(error = %e, "the visit block could not be rendered; form shown without it");
        String::new()
    })
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
