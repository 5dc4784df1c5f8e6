//! The slots a home offers: every `slot_length` step inside each day's
//! visiting windows, in the home's local time, from `now + notice` up to
//! `days_ahead`, skipping closed dates. Wall-clock times are kept across
//! daylight-saving changes (10:00 stays 10:00); a local time that does not
//! exist (the spring-forward gap) is no slot, and one that happens twice (the
//! autumn fold) means its first occurrence.

use std::time::Duration;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::AmbiguousOffset;
use jiff::{Timestamp, Zoned};

use crate::config::VisitSettings;

/// One bookable start time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    pub start: Zoned,
}

impl Slot {
    /// What a form posts: `YYYY-MM-DDTHH:MM`, the home's local time
    /// (the shape of `<input type="datetime-local">`).
    pub fn value(&self) -> String {
        self.start.strftime("%Y-%m-%dT%H:%M").to_string()
    }

    /// ISO 8601 with the offset in force then, e.g. `2026-03-30T10:00:00+01:00`.
    pub fn iso(&self) -> String {
        self.start.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }

    /// CareHQ's `date_time` form, in the home's local time.
    pub fn carehq(&self) -> String {
        self.start.strftime("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// For people: `Monday 30 March 2026, 10:00`.
    pub fn label(&self) -> String {
        self.start.strftime("%A %-d %B %Y, %H:%M").to_string()
    }

    /// The day alone, for grouping slots: `Monday 30 March 2026`.
    pub fn day_label(&self) -> String {
        self.start.strftime("%A %-d %B %Y").to_string()
    }

    /// The time alone, within its day's group: `10:00`.
    pub fn time_label(&self) -> String {
        self.start.strftime("%H:%M").to_string()
    }

    /// Unix milliseconds, the unit storage uses.
    pub fn at_ms(&self) -> i64 {
        self.start.timestamp().as_millisecond()
    }
}

/// Why a requested local time is not a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotProblem {
    Closed,
    OutsideHours,
    NotOnBoundary,
    Past,
    TooSoon,
    TooFar,
}

/// Every slot from `now + notice` to the end of the last bookable day,
/// earliest first, before capacity is taken into account.
pub fn candidate_slots(settings: &VisitSettings, now: Timestamp) -> Vec<Slot> {
    let today = now.to_zoned(settings.time_zone.zone.clone()).date();
    let earliest = earliest_start(settings, now);
    let mut slots = Vec::new();
    let mut date = today;
    for _ in 0..=settings.days_ahead {
        if !settings.closed_dates.contains(&date) {
            for start in day_starts(settings, date) {
                if let Some(zoned) = resolve(settings, date.to_datetime(start))
                    && zoned.timestamp() >= earliest
                {
                    slots.push(Slot { start: zoned });
                }
            }
        }
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    slots
}

/// The slot starting at `local` (the home's wall-clock time), or why there is none.
pub fn slot_at(
    settings: &VisitSettings,
    local: DateTime,
    now: Timestamp,
) -> Result<Slot, SlotProblem> {
    let date = local.date();
    if settings.closed_dates.contains(&date) {
        return Err(SlotProblem::Closed);
    }
    let windows = settings.hours(weekday_index(date));
    let time = local.time();
    let Some(window) = windows
        .iter()
        .find(|w| time >= w.start && minutes(time) + slot_minutes(settings) <= minutes(w.end))
    else {
        return Err(SlotProblem::OutsideHours);
    };
    if local.second() != 0
        || local.subsec_nanosecond() != 0
        || (minutes(time) - minutes(window.start)) % slot_minutes(settings) != 0
    {
        return Err(SlotProblem::NotOnBoundary);
    }
    let Some(zoned) = resolve(settings, local) else {
        // Skipped by the clocks going forward: no visit can start then.
        return Err(SlotProblem::OutsideHours);
    };
    if zoned.timestamp() <= now {
        return Err(SlotProblem::Past);
    }
    if zoned.timestamp() < earliest_start(settings, now) {
        return Err(SlotProblem::TooSoon);
    }
    let today = now.to_zoned(settings.time_zone.zone.clone()).date();
    let last = today
        .checked_add(jiff::Span::new().days(i64::from(settings.days_ahead)))
        .unwrap_or(today);
    if date > last {
        return Err(SlotProblem::TooFar);
    }
    Ok(Slot { start: zoned })
}

fn earliest_start(settings: &VisitSettings, now: Timestamp) -> Timestamp {
    let notice =
        jiff::SignedDuration::try_from(settings.notice).unwrap_or(jiff::SignedDuration::MAX);
    now.checked_add(notice).unwrap_or(Timestamp::MAX)
}

fn day_starts(settings: &VisitSettings, date: Date) -> Vec<Time> {
    let step = slot_minutes(settings);
    let mut starts = Vec::new();
    for window in settings.hours(weekday_index(date)) {
        let mut m = minutes(window.start);
        while m + step <= minutes(window.end) {
            if let Ok(t) = Time::new((m / 60) as i8, (m % 60) as i8, 0, 0) {
                starts.push(t);
            }
            m += step;
        }
    }
    starts
}

/// The instant of a wall-clock time in the home's zone; `None` in a DST gap.
fn resolve(settings: &VisitSettings, local: DateTime) -> Option<Zoned> {
    let ambiguous = settings.time_zone.zone.to_ambiguous_zoned(local);
    match ambiguous.offset() {
        AmbiguousOffset::Gap { .. } => None,
        AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => {
            ambiguous.earlier().ok()
        }
    }
}

fn weekday_index(date: Date) -> usize {
    date.weekday().to_monday_zero_offset() as usize
}

fn minutes(time: Time) -> i32 {
    i32::from(time.hour()) * 60 + i32::from(time.minute())
}

fn slot_minutes(settings: &VisitSettings) -> i32 {
    i32::try_from(settings.slot_length.as_secs() / 60).unwrap_or(i32::MAX)
}

/// The slot length as minutes, for answers that state it.
pub fn slot_length_minutes(length: Duration) -> u64 {
    length.as_secs() / 60
}
