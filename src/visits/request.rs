//! The visit a family asked for: `visit_date_time` and `visit_type`, checked
//! against the site's visit settings. Whether the slot still has room is
//! decided when it is stored (`Store::insert_enquiry_with_visit`), in the same
//! transaction as the enquiry, so two families cannot both take the last place.

use jiff::Timestamp;
use jiff::civil::DateTime;

use super::slots::{Slot, SlotProblem, slot_at};
use crate::config::SiteSettings;
use crate::domain::{FieldErrors, RawSubmission};

pub const VISIT_DATE_TIME: &str = "visit_date_time";
pub const VISIT_TYPE: &str = "visit_type";

/// The message when a slot filled up between showing the form and posting it.
pub const SLOT_FULL: &str =
    "That visit time has just been booked by someone else; choose another time.";

/// A checked visit request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitChoice {
    pub slot: Slot,
    /// One of the site's allowed CareHQ visit types.
    pub visit_type: String,
}

/// `Ok(None)` when the family asked for no visit (`visit_date_time` absent or blank).
pub fn requested(
    raw: &RawSubmission,
    site: &SiteSettings,
    now: Timestamp,
) -> Result<Option<VisitChoice>, FieldErrors> {
    let date_time = raw
        .first(VISIT_DATE_TIME)
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let visit_type = raw
        .first(VISIT_TYPE)
        .map(str::trim)
        .filter(|v| !v.is_empty());
    // No time means no visit, whatever the type says: the hosted form always
    // posts its type select, also when "No visit for now" is chosen.
    let Some(date_time) = date_time else {
        return Ok(None);
    };
    let mut errors = FieldErrors::default();
    let Some(settings) = site.visits() else {
        errors.add(
            VISIT_DATE_TIME,
            "This home does not book visits online; ask about visiting in your message instead.",
        );
        return Err(errors);
    };
    let visit_type = match visit_type {
        None => settings.visit_types.first().cloned(),
        Some(t) if settings.visit_types.iter().any(|a| a == t) => Some(t.to_owned()),
        Some(_) => {
            errors.add(
                VISIT_TYPE,
                format!(
                    "Choose one of the visit types this home offers: {}.",
                    settings
                        .visit_types
                        .iter()
                        .map(|t| type_label(t))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            );
            None
        }
    };
    let slot = match parse_local(date_time) {
        None => {
            errors.add(
                VISIT_DATE_TIME,
                "Choose a visit time from the list, or write it as YYYY-MM-DDTHH:MM, e.g. 2026-03-30T14:00.",
            );
            None
        }
        Some(local) => match slot_at(settings, local, now) {
            Ok(slot) => Some(slot),
            Err(problem) => {
                errors.add(VISIT_DATE_TIME, message(problem, settings));
                None
            }
        },
    };
    match (slot, visit_type) {
        (Some(slot), Some(visit_type)) if errors.is_empty() => {
            Ok(Some(VisitChoice { slot, visit_type }))
        }
        _ => Err(errors),
    }
}

/// `YYYY-MM-DDTHH:MM[:SS]` or `YYYY-MM-DD HH:MM[:SS]`, the home's local time.
pub fn parse_local(text: &str) -> Option<DateTime> {
    if !(text.len() == 16 || text.len() == 19) || !text.is_ascii() {
        return None;
    }
    let (date, time) = (&text[..10], &text[11..]);
    if !matches!(text.as_bytes()[10], b'T' | b' ') {
        return None;
    }
    format!("{date}T{time}").parse::<DateTime>().ok()
}

/// How the hosted form and messages name a visit type.
pub fn type_label(visit_type: &str) -> &'static str {
    match visit_type {
        "virtual" => "video call",
        _ => "in person",
    }
}

fn message(problem: SlotProblem, settings: &crate::config::VisitSettings) -> String {
    match problem {
        SlotProblem::Closed => {
            "The home is closed to visitors that day; choose another day.".to_owned()
        }
        SlotProblem::OutsideHours => {
            "That time is outside visiting hours; choose a time from the list.".to_owned()
        }
        SlotProblem::NotOnBoundary => format!(
            "Visits start every {} minutes within visiting hours; choose a time from the list.",
            settings.slot_length.as_secs() / 60
        ),
        SlotProblem::Past => "That time has already passed; choose a later time.".to_owned(),
        SlotProblem::TooSoon => format!(
            "Visits need booking at least {} ahead; choose a later time.",
            crate::values::format_duration(settings.notice)
        ),
        SlotProblem::TooFar => format!(
            "Visits can be booked up to {} days ahead; choose an earlier date.",
            settings.days_ahead
        ),
    }
}
