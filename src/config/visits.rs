//! `[sites.visits]`: a home's visit booking settings (visiting hours per
//! weekday, slot length, closed dates, time zone, host, types) and the checks
//! they must pass. Slots themselves are worked out in `crate::visits`.

use std::time::Duration;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

use super::checks::{boolean, duration, integer};
use super::duration::format_duration;
use super::error::Problems;
use super::raw::RawVisits;
use super::text::{TextList, text};

/// CareHQ's host roles (carehq-api.md §6).
pub const VISIT_HOSTS: &[&str] = &[
    "manager",
    "deputy_manager",
    "administrator",
    "receptionist",
    "senior_carer",
    "carer",
    "customer_relations_adviser",
    "nurse",
    "other",
];

/// CareHQ's visit types.
pub const VISIT_TYPES: &[&str] = &["in_person", "virtual"];

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// One visiting window of a day, in the home's local time; `start < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VisitWindow {
    pub start: Time,
    pub end: Time,
}

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

/// `Some(None)` when visits are disabled (the keys are still checked),
/// `Some(Some(_))` when enabled and valid, `None` after a problem.
pub(super) fn visits(i: usize, raw: &RawVisits, p: &mut Problems) -> Option<Option<VisitSettings>> {
    let key = |field: &str| format!("sites[{i}].visits.{field}");
    let enabled = boolean(&key("enabled"), &raw.enabled, false, p);
    let zone_name = text(&raw.time_zone).unwrap_or("Europe/London").to_owned();
    let time_zone = match TimeZone::get(&zone_name) {
        Ok(tz) => Some(tz),
        Err(_) => {
            p.push(
                key("time_zone"),
                format!("\"{zone_name}\" is not a known time zone; use an IANA name such as \"Europe/London\""),
            );
            None
        }
    };
    let slot_length = slot_length(&key("slot_length"), raw, p);
    let days = [
        &raw.monday,
        &raw.tuesday,
        &raw.wednesday,
        &raw.thursday,
        &raw.friday,
        &raw.saturday,
        &raw.sunday,
    ];
    let mut hours: [Vec<VisitWindow>; 7] = Default::default();
    let mut hours_ok = true;
    for (d, value) in days.into_iter().enumerate() {
        match day_windows(&key(WEEKDAYS[d]), value.as_ref(), slot_length, p) {
            Some(windows) => hours[d] = windows,
            None => hours_ok = false,
        }
    }
    let days_ahead = integer(&key("days_ahead"), &raw.days_ahead, 14, 0, 366, p);
    let closed_dates = closed_dates(&key("closed_dates"), raw.closed_dates.as_ref(), p);
    let notice = duration(
        &key("notice"),
        &raw.notice,
        Duration::from_secs(24 * 3600),
        p,
    );
    let host = match text(&raw.host).unwrap_or("manager") {
        h if VISIT_HOSTS.contains(&h) => Some(h.to_owned()),
        h => {
            p.push(
                key("host"),
                format!(
                    "\"{h}\" is not a CareHQ host role; expected one of: {}",
                    VISIT_HOSTS.join(", ")
                ),
            );
            None
        }
    };
    let visit_types = visit_types(&key("visit_types"), raw.visit_types.as_ref(), p);
    let suppress = boolean(
        &key("suppress_confirmation_email"),
        &raw.suppress_confirmation_email,
        false,
        p,
    );
    let capacity = integer(&key("capacity"), &raw.capacity, 1, 1, 1000, p);
    let enabled = enabled?;
    if enabled && hours_ok && hours.iter().all(Vec::is_empty) {
        p.push(
            key("monday"),
            "visits are enabled but no visiting hours are set; give at least one weekday, e.g. monday = [\"10:00-12:00\", \"14:00-16:00\"]",
        );
        return None;
    }
    let settings = VisitSettings {
        time_zone_name: zone_name,
        time_zone: time_zone?,
        hours: hours_ok.then_some(hours)?,
        slot_length: slot_length?,
        days_ahead: u32::try_from(days_ahead?).ok()?,
        closed_dates: closed_dates?,
        notice: notice?,
        host: host?,
        visit_types: visit_types?,
        suppress_confirmation_email: suppress?,
        capacity: u32::try_from(capacity?).ok()?,
    };
    Some(enabled.then_some(settings))
}

/// Whole minutes from 5 minutes to 8 hours.
fn slot_length(key: &str, raw: &RawVisits, p: &mut Problems) -> Option<Duration> {
    let length = duration(key, &raw.slot_length, Duration::from_secs(30 * 60), p)?;
    let secs = length.as_secs();
    if length.subsec_nanos() != 0 || secs % 60 != 0 || !(5 * 60..=8 * 3600).contains(&secs) {
        p.push(
            key,
            format!(
                "\"{}\" cannot be a visit slot; use whole minutes from \"5m\" to \"8h\", e.g. \"30m\"",
                format_duration(length)
            ),
        );
        return None;
    }
    Some(length)
}

/// `["10:00-12:00", "14:00-16:00"]`: sorted, not overlapping, each long enough
/// for one slot.
fn day_windows(
    key: &str,
    value: Option<&TextList>,
    slot: Option<Duration>,
    p: &mut Problems,
) -> Option<Vec<VisitWindow>> {
    let mut windows = Vec::new();
    let mut ok = true;
    for (j, item) in value
        .map(|l| l.0.as_slice())
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let item_key = format!("{key}[{j}]");
        let Some(window) = parse_window(item) else {
            p.push(
                item_key,
                format!("\"{item}\" is not a visiting window; write HH:MM-HH:MM with the start first, e.g. \"14:00-16:00\""),
            );
            ok = false;
            continue;
        };
        if let Some(slot) = slot {
            let minutes = minutes_of(window.end) - minutes_of(window.start);
            if (minutes as u64) * 60 < slot.as_secs() {
                p.push(
                    item_key,
                    format!(
                        "\"{item}\" is shorter than one slot ({}); lengthen it or shorten slot_length",
                        format_duration(slot)
                    ),
                );
                ok = false;
                continue;
            }
        }
        windows.push(window);
    }
    windows.sort_by_key(|w| w.start);
    if windows.windows(2).any(|pair| pair[1].start < pair[0].end) {
        p.push(
            key,
            "two visiting windows overlap; list each stretch of time once, e.g. [\"10:00-12:00\", \"14:00-16:00\"]",
        );
        ok = false;
    }
    ok.then_some(windows)
}

fn parse_window(text: &str) -> Option<VisitWindow> {
    let (start, end) = text.split_once('-')?;
    let start = parse_hh_mm(start.trim())?;
    let end = parse_hh_mm(end.trim())?;
    (start < end).then_some(VisitWindow { start, end })
}

fn parse_hh_mm(text: &str) -> Option<Time> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

fn minutes_of(time: Time) -> i32 {
    i32::from(time.hour()) * 60 + i32::from(time.minute())
}

fn closed_dates(key: &str, value: Option<&TextList>, p: &mut Problems) -> Option<Vec<Date>> {
    let mut dates = Vec::new();
    let mut ok = true;
    for (j, item) in value
        .map(|l| l.0.as_slice())
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        match item.parse::<Date>() {
            Ok(date) if item.len() == 10 => dates.push(date),
            _ => {
                p.push(
                    format!("{key}[{j}]"),
                    format!("\"{item}\" is not a date; write YYYY-MM-DD, e.g. \"2026-12-25\""),
                );
                ok = false;
            }
        }
    }
    ok.then_some(dates)
}

fn visit_types(key: &str, value: Option<&TextList>, p: &mut Problems) -> Option<Vec<String>> {
    let Some(list) = value else {
        return Some(VISIT_TYPES.iter().map(|t| (*t).to_owned()).collect());
    };
    let mut types: Vec<String> = Vec::new();
    let mut ok = true;
    for (j, item) in list.0.iter().enumerate() {
        if !VISIT_TYPES.contains(&item.as_str()) {
            p.push(
                format!("{key}[{j}]"),
                format!(
                    "\"{item}\" is not a CareHQ visit type; expected one of: {}",
                    VISIT_TYPES.join(", ")
                ),
            );
            ok = false;
        } else if !types.contains(item) {
            types.push(item.clone());
        }
    }
    if ok && types.is_empty() {
        p.push(
            key,
            "no visit type is allowed; list at least one of: in_person, virtual",
        );
        ok = false;
    }
    ok.then_some(types)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::config::test_env::jail;

    const SITE: &str = "[carehq]\nsandbox = true\n[[sites]]\nslug = \"a\"\nname = \"A\"\nlocation = \"6724fbc74f73a2cebf6377fa\"\n";

    #[test]
    fn a_visits_section_loads_with_defaults_for_what_is_left_out() {
        jail(|_| {
            let toml =
                format!("{SITE}[sites.visits]\nenabled = true\nmonday = [\"10:00-12:00\"]\n");
            let settings = Settings::from_toml_str(&toml).unwrap();
            let visits = settings.site("a").unwrap().visits.clone().unwrap();
            assert_eq!(visits.time_zone_name, "Europe/London");
            assert_eq!(visits.slot_length, Duration::from_secs(1800));
            assert_eq!(visits.days_ahead, 14);
            assert_eq!(visits.notice, Duration::from_secs(86_400));
            assert_eq!(visits.host, "manager");
            assert_eq!(visits.visit_types, ["in_person", "virtual"]);
            assert_eq!(visits.capacity, 1);
            assert_eq!(visits.hours[0].len(), 1);
            assert!(visits.hours[1].is_empty());

            let off = Settings::from_toml_str(SITE).unwrap();
            assert!(off.site("a").unwrap().visits.is_none());
        });
    }

    #[test]
    fn every_bad_visit_key_is_named() {
        jail(|_| {
            let toml = format!(
                "{SITE}[sites.visits]\nenabled = true\ntime_zone = \"Mars/Olympus\"\nmonday = [\"9-5\"]\n\
             slot_length = \"7s\"\nclosed_dates = [\"25/12/2026\"]\nhost = \"matron\"\n\
             visit_types = [\"phone\"]\ncapacity = 0\n"
            );
            let errors = Settings::from_toml_str(&toml).unwrap_err();
            let keys: Vec<&str> = errors.0.iter().map(|e| e.key.as_str()).collect();
            for key in [
                "sites[0].visits.time_zone",
                "sites[0].visits.monday[0]",
                "sites[0].visits.slot_length",
                "sites[0].visits.closed_dates[0]",
                "sites[0].visits.host",
                "sites[0].visits.visit_types[0]",
                "sites[0].visits.capacity",
            ] {
                assert!(keys.contains(&key), "{key} not in {keys:?}");
            }
        });
    }

    #[test]
    fn windows_are_read_sorted_and_checked() {
        let mut p = Problems::default();
        let list = TextList(vec!["14:00-16:00".into(), "10:00 - 12:00".into()]);
        let windows = day_windows("k", Some(&list), Some(Duration::from_secs(1800)), &mut p)
            .expect("valid windows");
        assert_eq!(windows[0].start, Time::constant(10, 0, 0, 0));
        assert_eq!(windows[1].end, Time::constant(16, 0, 0, 0));

        for bad in ["16:00-14:00", "10-12", "25:00-26:00", "10:00-10:15"] {
            let mut p = Problems::default();
            let list = TextList(vec![bad.into()]);
            assert!(
                day_windows("k", Some(&list), Some(Duration::from_secs(1800)), &mut p).is_none(),
                "{bad}"
            );
        }
        let mut p = Problems::default();
        let overlapping = TextList(vec!["10:00-12:00".into(), "11:00-13:00".into()]);
        assert!(day_windows("k", Some(&overlapping), None, &mut p).is_none());
    }
}
