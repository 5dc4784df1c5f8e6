//! `[sites.visits]`: a home's visit booking settings (visiting hours per
//! weekday, slot length, closed dates, time zone, host, types) and the checks
//! they must pass. Slots themselves are worked out in `crate::visits`.

use std::time::Duration;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde::de::{Deserializer, Error};

use super::error::{Problems, Refused};
use super::fields;
use crate::values::{ClosedDate, Host, VISIT_TYPES, VisitType, VisitWindow, Zone, format_duration};

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A site's checked visit settings (only present when `enabled = true`).
#[derive(Clone, Debug)]
pub struct VisitSettings {
    /// IANA name, e.g. `Europe/London`, as configured.
    pub time_zone_name: String,
    /// From jiff's bundled database, so DST rules do not depend on the host.
    pub time_zone: TimeZone,
    /// Monday first; each day's windows sorted and not overlapping.
    pub hours: [Vec<VisitWindow>; 7],
    pub slot_length: Duration,
    /// The last bookable date is today (in the home's zone) plus this many days.
    pub days_ahead: u32,
    pub closed_dates: Vec<Date>,
    /// The earliest bookable slot starts at least this long from now.
    pub notice: Duration,
    /// CareHQ host role sent with every visit.
    pub host: String,
    /// Visit types the family may choose, CareHQ's values.
    pub visit_types: Vec<String>,
    pub suppress_confirmation_email: bool,
    /// Visits one slot can take.
    pub capacity: u32,
}

fields::section! {
    /// `[sites.visits]` as written; `visits` checks the rules across keys.
    pub(super) struct VisitKeys {
        enabled: bool ["fields::boolean"] = false,
        time_zone: Zone ["fields::parsed"] = Zone::london(),
        monday: Vec<VisitWindow> ["fields::list"] = Vec::new(),
        tuesday: Vec<VisitWindow> ["fields::list"] = Vec::new(),
        wednesday: Vec<VisitWindow> ["fields::list"] = Vec::new(),
        thursday: Vec<VisitWindow> ["fields::list"] = Vec::new(),
        friday: Vec<VisitWindow> ["fields::list"] = Vec::new(),
        saturday: Vec<VisitWindow> ["fields::list"] = Vec::new(),
        sunday: Vec<VisitWindow> ["fields::list"] = Vec::new(),
        slot_length: Duration ["slot_length"] = Duration::from_secs(30 * 60),
        days_ahead: u32 ["fields::whole::<_, _, 0, 366>"] = 14,
        closed_dates: Vec<ClosedDate> ["fields::list"] = Vec::new(),
        notice: Duration ["fields::duration"] = Duration::from_secs(24 * 3600),
        host: Host ["fields::parsed"] = Host("manager"),
        visit_types: Vec<VisitType> ["fields::list"] = VISIT_TYPES.iter().map(|t| VisitType(t)).collect(),
        suppress_confirmation_email: bool ["fields::boolean"] = false,
        capacity: u32 ["fields::whole::<_, _, 1, 1000>"] = 1,
    }
}

/// `Some(None)` when visits are disabled (the keys are still checked),
/// `Some(Some(_))` when enabled and valid, `None` after a problem. Keys
/// serde refused hold defaults, which are not blamed.
pub(super) fn visits(
    i: usize,
    raw: VisitKeys,
    refused: &Refused,
    p: &mut Problems,
) -> Option<Option<VisitSettings>> {
    let key = |field: &str| format!("sites[{i}].visits.{field}");
    let refused = |field: &str| refused.any(&key(field));
    let before = p.len();
    let days = [
        raw.monday,
        raw.tuesday,
        raw.wednesday,
        raw.thursday,
        raw.friday,
        raw.saturday,
        raw.sunday,
    ];
    let slot = Some(raw.slot_length).filter(|_| !refused("slot_length"));
    let mut hours: [Vec<VisitWindow>; 7] = Default::default();
    for (d, windows) in days.into_iter().enumerate() {
        hours[d] = day_windows(&key(WEEKDAYS[d]), windows, slot, p);
    }
    let days_refused = WEEKDAYS.iter().any(|day| refused(day));
    if raw.enabled && !days_refused && hours.iter().all(Vec::is_empty) {
        p.push(
            key("monday"),
            "visits are enabled but no visiting hours are set; give at least one weekday, e.g. monday = [\"10:00-12:00\", \"14:00-16:00\"]",
        );
    }
    let mut visit_types: Vec<String> = Vec::new();
    for VisitType(t) in raw.visit_types {
        if !visit_types.iter().any(|seen| seen == t) {
            visit_types.push(t.to_owned());
        }
    }
    if visit_types.is_empty() && !refused("visit_types") {
        p.push(
            key("visit_types"),
            "no visit type is allowed; list at least one of: in_person, virtual",
        );
    }
    if p.len() > before {
        return None;
    }
    Some(raw.enabled.then(|| VisitSettings {
        time_zone_name: raw.time_zone.name,
        time_zone: raw.time_zone.zone,
        hours,
        slot_length: raw.slot_length,
        days_ahead: raw.days_ahead,
        closed_dates: raw.closed_dates.into_iter().map(|d| d.0).collect(),
        notice: raw.notice,
        host: raw.host.0.to_owned(),
        visit_types,
        suppress_confirmation_email: raw.suppress_confirmation_email,
        capacity: raw.capacity,
    }))
}

/// Whole minutes from 5 minutes to 8 hours.
fn slot_length<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let length = fields::duration(d)?;
    let secs = length.as_secs();
    if length.subsec_nanos() != 0 || secs % 60 != 0 || !(5 * 60..=8 * 3600).contains(&secs) {
        return Err(D::Error::custom(format!(
            "\"{}\" cannot be a visit slot; use whole minutes from \"5m\" to \"8h\", e.g. \"30m\"",
            format_duration(length)
        )));
    }
    Ok(length)
}

/// One day's windows, sorted; each must hold a slot and none may overlap.
fn day_windows(
    key: &str,
    mut windows: Vec<VisitWindow>,
    slot: Option<Duration>,
    p: &mut Problems,
) -> Vec<VisitWindow> {
    for (j, window) in windows.iter().enumerate() {
        let minutes = minutes_of(window.end) - minutes_of(window.start);
        if let Some(slot) = slot.filter(|slot| (minutes as u64) * 60 < slot.as_secs()) {
            p.push(
                format!("{key}[{j}]"),
                format!(
                    "\"{window}\" is shorter than one slot ({}); lengthen it or shorten slot_length",
                    format_duration(slot)
                ),
            );
        }
    }
    windows.sort_by_key(|w| w.start);
    if windows.windows(2).any(|pair| pair[1].start < pair[0].end) {
        p.push(
            key,
            "two visiting windows overlap; list each stretch of time once, e.g. [\"10:00-12:00\", \"14:00-16:00\"]",
        );
    }
    windows
}

fn minutes_of(time: Time) -> i32 {
    i32::from(time.hour()) * 60 + i32::from(time.minute())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_read_sorted_and_checked() {
        let parse = |texts: &[&str]| -> Vec<VisitWindow> {
            texts.iter().map(|t| t.parse().expect(t)).collect()
        };
        let slot = Some(Duration::from_secs(1800));
        let mut p = Problems::default();
        let windows = day_windows("k", parse(&["14:00-16:00", "10:00 - 12:00"]), slot, &mut p);
        assert!(p.is_empty());
        assert_eq!(windows[0].start, Time::constant(10, 0, 0, 0));
        assert_eq!(windows[1].end, Time::constant(16, 0, 0, 0));

        for bad in ["16:00-14:00", "10-12", "25:00-26:00"] {
            let error = bad.parse::<VisitWindow>().unwrap_err();
            assert!(error.contains("is not a visiting window"), "{bad}: {error}");
        }
        day_windows("k", parse(&["10:00-10:15"]), slot, &mut p);
        assert_eq!(p.len(), 1, "shorter than one slot");
        day_windows("k", parse(&["10:00-12:00", "11:00-13:00"]), None, &mut p);
        let errors = p.into_errors();
        assert_eq!(errors.0.len(), 2, "overlap: {errors}");
        assert_eq!(errors.0[0].key, "k[0]");
        assert!(errors.0[1].message.contains("overlap"), "{errors}");
    }
}
