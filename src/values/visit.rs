//! The values of a home's visit settings (`[sites.visits]`), each parsed on
//! its own: visiting windows, time zones, dates, CareHQ's host roles and visit types.

use std::str::FromStr;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

/// CareHQ's host roles (docs/carehq-api.md, "Home visits"), for the config's
/// `[sites.visits]` and the CareHQ sandbox alike.
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

/// CareHQ's visit types, for the config and the CareHQ sandbox alike.
pub const VISIT_TYPES: &[&str] = &["in_person", "virtual"];

/// One visiting window of a day, in the home's local time; `start < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VisitWindow {
    pub start: Time,
    pub end: Time,
}

/// `HH:MM-HH:MM`, the start first.
impl FromStr for VisitWindow {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let hh_mm = |text: &str| {
            let (h, m) = text.trim().split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
        };
        let window = |(start, end): (&str, &str)| {
            Some(VisitWindow {
                start: hh_mm(start)?,
                end: hh_mm(end)?,
            })
        };
        (text.split_once('-').and_then(window))
            .filter(|w| w.start < w.end)
            .ok_or_else(|| format!("\"{text}\" is not a visiting window; write HH:MM-HH:MM with the start first, e.g. \"14:00-16:00\""))
    }
}

impl std::fmt::Display for VisitWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hm = |t: Time| format!("{:02}:{:02}", t.hour(), t.minute());
        write!(f, "{}-{}", hm(self.start), hm(self.end))
    }
}

/// An IANA time zone, from jiff's bundled database so DST rules do not
/// depend on the host.
#[derive(Clone, Debug)]
pub struct Zone {
    pub name: String,
    pub zone: TimeZone,
}

impl Zone {
    /// The default; the bundled database always has it, but were it missing
    /// the relay would still start (in UTC) rather than panic.
    pub fn london() -> Zone {
        "Europe/London".parse().unwrap_or(Zone {
            name: "UTC".to_owned(),
            zone: TimeZone::UTC,
        })
    }
}

impl FromStr for Zone {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, String> {
        match TimeZone::get(name) {
            Ok(zone) => Ok(Zone {
                name: name.to_owned(),
                zone,
            }),
            Err(_) => Err(format!(
                "\"{name}\" is not a known time zone; use an IANA name such as \"Europe/London\""
            )),
        }
    }
}

super::checked! {
    /// `YYYY-MM-DD`.
    ClosedDate(Date) = |text| match text.parse::<Date>() {
        Ok(date) if text.len() == 10 => Ok(date),
        _ => Err(format!("\"{text}\" is not a date; write YYYY-MM-DD, e.g. \"2026-12-25\"")),
    };

    /// One of `VISIT_HOSTS`.
    Host(String) = |text| listed(text, VISIT_HOSTS, "host role");

    /// One of `VISIT_TYPES`.
    VisitType(String) = |text| listed(text, VISIT_TYPES, "visit type");
}

/// `text` as one of CareHQ's values in `list` (exactly: CareHQ refuses others).
fn listed(text: &str, list: &[&str], what: &str) -> Result<String, String> {
    let found = list.iter().find(|v| **v == text).map(|v| v.to_string());
    found.ok_or_else(|| {
        let expected = list.join(", ");
        format!("\"{text}\" is not a CareHQ {what}; expected one of: {expected}")
    })
}
