//! `[sites.visits]`: a home's visit booking settings (visiting hours per
//! weekday, slot length, closed dates, time zone, host, types) and the rules
//! across them. Slots themselves are worked out in `crate::visits`.

use std::time::Duration;

use jiff::civil::{Date, Time};
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

fields::section! {
    /// `[sites.visits]`: a home's visit booking, checked by `check`.
    #[derive(Clone, Debug)]
    pub struct VisitSettings {
        /// Booking is offered; the other keys are checked either way.
        pub enabled: bool ["fields::boolean"] = false,
        /// From jiff's bundled database, so DST rules do not depend on the host.
        pub time_zone: Zone ["fields::parsed"] = Zone::london(),
        /// Each day's windows (read with `hours`), sorted and not overlapping.
        pub monday: Vec<VisitWindow> ["fields::list"] = Vec::new(),
        pub tuesday: Vec<VisitWindow> ["fields::list"] = Vec::new(),
        pub wednesday: Vec<VisitWindow> ["fields::list"] = Vec::new(),
        pub thursday: Vec<VisitWindow> ["fields::list"] = Vec::new(),
        pub friday: Vec<VisitWindow> ["fields::list"] = Vec::new(),
        pub saturday: Vec<VisitWindow> ["fields::list"] = Vec::new(),
        pub sunday: Vec<VisitWindow> ["fields::list"] = Vec::new(),
        pub slot_length: Duration ["slot_length"] = Duration::from_secs(30 * 60),
        /// The last bookable date is today (in the home's zone) plus this many days.
        pub days_ahead: u32 ["fields::whole::<_, _, 0, 366>"] = 14,
        pub closed_dates: Vec<Date> ["fields::list_via::<_, ClosedDate, _>"] = Vec::new(),
        /// The earliest bookable slot starts at least this long from now.
        pub notice: Duration ["fields::duration"] = Duration::from_secs(24 * 3600),
        /// CareHQ host role sent with every visit.
        pub host: String ["fields::via::<_, Host, _>"] = "manager".to_owned(),
        /// Visit types the family may choose, CareHQ's values, each once.
        pub visit_types: Vec<String> ["fields::list_via::<_, VisitType, _>"] =
            VISIT_TYPES.iter().map(|t| t.to_string()).collect(),
        pub suppress_confirmation_email: bool ["fields::boolean"] = false,
        /// Visits one slot can take.
        pub capacity: u32 ["fields::whole::<_, _, 1, 1000>"] = 1,
    }
}

impl VisitSettings {
    /// One weekday's windows, Monday being 0.
    pub fn hours(&self, weekday: usize) -> &[VisitWindow] {
        match weekday {
            0 => &self.monday,
            1 => &self.tuesday,
            2 => &self.wednesday,
            3 => &self.thursday,
            4 => &self.friday,
            5 => &self.saturday,
            _ => &self.sunday,
        }
    }

    fn days_mut(&mut self) -> [&mut Vec<VisitWindow>; 7] {
        #[rustfmt::skip]
        let days = [&mut self.monday, &mut self.tuesday, &mut self.wednesday, &mut self.thursday,
                    &mut self.friday, &mut self.saturday, &mut self.sunday];
        days
    }
}

/// The rules across a site's visit keys (checked even when booking is off).
/// Keys serde refused hold defaults, which are not blamed.
pub(super) fn check(i: usize, visits: &mut VisitSettings, refused: &Refused, p: &mut Problems) {
    let key = |field: &str| format!("sites[{i}].visits.{field}");
    let refused = |field: &str| refused.any(&key(field));
    let slot = Some(visits.slot_length).filter(|_| !refused("slot_length"));
    for (d, windows) in visits.days_mut().into_iter().enumerate() {
        day_windows(&key(WEEKDAYS[d]), windows, slot, p);
    }
    let days_refused = WEEKDAYS.iter().any(|day| refused(day));
    if visits.enabled && !days_refused && (0..7).all(|d| visits.hours(d).is_empty()) {
        p.push(
            key("monday"),
            "visits are enabled but no visiting hours are set; give at least one weekday, e.g. monday = [\"10:00-12:00\", \"14:00-16:00\"]",
        );
    }
    for t in std::mem::take(&mut visits.visit_types) {
        if !visits.visit_types.contains(&t) {
            visits.visit_types.push(t);
        }
    }
    if visits.visit_types.is_empty() && !refused("visit_types") {
        p.push(
            key("visit_types"),
            "no visit type is allowed; list at least one of: in_person, virtual",
        );
    }
}

/// Whole minutes from 5 minutes to 8 hours.
fn slot_length<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let length: Duration = fields::duration(d)?;
    let secs = length.as_secs();
    if length.subsec_nanos() != 0
        || !secs.is_multiple_of(60)
        || !(5 * 60..=8 * 3600).contains(&secs)
    {
        return Err(D::Error::custom(format!(
            "\"{}\" cannot be a visit slot; use whole minutes from \"5m\" to \"8h\", e.g. \"30m\"",
            format_duration(length)
        )));
    }
    Ok(length)
}

/// Sorts one day's windows; each must hold a slot and none may overlap.
fn day_windows(key: &str, windows: &mut [VisitWindow], slot: Option<Duration>, p: &mut Problems) {
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
        let mut windows = parse(&["14:00-16:00", "10:00 - 12:00"]);
        day_windows("k", &mut windows, slot, &mut p);
        assert!(p.is_empty());
        assert_eq!(windows[0].start, Time::constant(10, 0, 0, 0));
        assert_eq!(windows[1].end, Time::constant(16, 0, 0, 0));

        for bad in ["16:00-14:00", "10-12", "25:00-26:00"] {
            let error = bad.parse::<VisitWindow>().unwrap_err();
            assert!(error.contains("is not a visiting window"), "{bad}: {error}");
        }
        day_windows("k", &mut parse(&["10:00-10:15"]), slot, &mut p);
        assert_eq!(p.len(), 1, "shorter than one slot");
        day_windows(
            "k",
            &mut parse(&["10:00-12:00", "11:00-13:00"]),
            None,
            &mut p,
        );
        let errors = p;
        assert_eq!(errors.0.len(), 2, "overlap: {errors}");
        assert_eq!(errors.0[0].key, "k[0]");
        assert!(errors.0[1].message.contains("overlap"), "{errors}");
    }
}
