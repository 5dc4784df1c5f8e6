//! Slot generation and checking against real time-zone rules (jiff's bundled
//! database): a week with a closed date and the spring-forward change, the
//! gap and fold of a change night, notice and the booking horizon.

use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::{DateTime, Time};

use super::request::parse_local;
use super::slots::{SlotProblem, candidate_slots, slot_at};
use crate::config::VisitSettings;
use crate::values::VisitWindow;

fn window(start: (i8, i8), end: (i8, i8)) -> VisitWindow {
    VisitWindow {
        start: Time::constant(start.0, start.1, 0, 0),
        end: Time::constant(end.0, end.1, 0, 0),
    }
}

fn settings() -> VisitSettings {
    let weekday = vec![window((10, 0), (12, 0))];
    VisitSettings {
        enabled: true,
        time_zone: "Europe/London".parse().unwrap(),
        monday: weekday.clone(),
        tuesday: weekday.clone(),
        wednesday: weekday.clone(),
        thursday: weekday.clone(),
        friday: weekday,
        saturday: vec![window((14, 0), (15, 0))],
        sunday: Vec::new(),
        slot_length: Duration::from_secs(3600),
        days_ahead: 7,
        closed_dates: vec!["2026-03-25".parse().unwrap()],
        notice: Duration::from_secs(3600),
        host: "manager".into(),
        visit_types: vec!["in_person".into(), "virtual".into()],
        suppress_confirmation_email: false,
        capacity: 1,
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn local(text: &str) -> DateTime {
    parse_local(text).unwrap()
}

#[test]
fn a_week_with_a_closed_date_and_the_clocks_going_forward() {
    // Monday 23 March 2026, 08:00 GMT; the clocks go forward on Sunday 29 March.
    let slots = candidate_slots(&settings(), at("2026-03-23T08:00:00Z"));
    let shown: Vec<String> = slots.iter().map(|s| s.iso()).collect();
    assert_eq!(
        shown,
        [
            "2026-03-23T10:00:00+00:00",
            "2026-03-23T11:00:00+00:00",
            "2026-03-24T10:00:00+00:00",
            "2026-03-24T11:00:00+00:00",
            // Wednesday 25th is closed.
            "2026-03-26T10:00:00+00:00",
            "2026-03-26T11:00:00+00:00",
            "2026-03-27T10:00:00+00:00",
            "2026-03-27T11:00:00+00:00",
            "2026-03-28T14:00:00+00:00",
            // No hours on Sunday; Monday is in summer time, still at 10:00 local.
            "2026-03-30T10:00:00+01:00",
            "2026-03-30T11:00:00+01:00",
        ]
    );
    assert_eq!(slots[0].value(), "2026-03-23T10:00");
    assert_eq!(slots[9].carehq(), "2026-03-30 10:00:00");
    assert_eq!(slots[9].label(), "Monday 30 March 2026, 10:00");
    // A week apart on the wall clock, an hour short of a week in real time.
    assert_eq!(
        slots[9].at_ms() - slots[0].at_ms(),
        (7 * 24 - 1) * 3600 * 1000
    );
}

#[test]
fn a_slot_in_the_spring_gap_is_skipped_and_one_in_the_autumn_fold_is_the_first() {
    let mut s = settings();
    s.closed_dates.clear();
    s.slot_length = Duration::from_secs(30 * 60);
    s.sunday = vec![window((0, 30), (2, 30))];
    let spring: Vec<String> = candidate_slots(&s, at("2026-03-28T12:00:00Z"))
        .iter()
        .filter(|slot| slot.value().starts_with("2026-03-29"))
        .map(|slot| slot.iso())
        .collect();
    assert_eq!(
        spring,
        ["2026-03-29T00:30:00+00:00", "2026-03-29T02:00:00+01:00"],
        "01:00 and 01:30 do not exist that night"
    );
    assert_eq!(
        slot_at(&s, local("2026-03-29T01:30"), at("2026-03-28T12:00:00Z")),
        Err(SlotProblem::OutsideHours)
    );

    let autumn = slot_at(&s, local("2026-10-25T01:30"), at("2026-10-24T12:00:00Z")).unwrap();
    assert_eq!(autumn.iso(), "2026-10-25T01:30:00+01:00");
}

#[test]
fn requested_times_are_checked_against_hours_notice_and_horizon() {
    let s = settings();
    let now = at("2026-03-23T08:00:00Z");
    let ok = slot_at(&s, local("2026-03-24 11:00:00"), now).unwrap();
    assert_eq!(ok.iso(), "2026-03-24T11:00:00+00:00");
    let cases = [
        ("2026-03-24T09:00", SlotProblem::OutsideHours),
        ("2026-03-24T11:30", SlotProblem::OutsideHours),
        ("2026-03-29T10:00", SlotProblem::OutsideHours),
        ("2026-03-24T10:30", SlotProblem::NotOnBoundary),
        ("2026-03-25T10:00", SlotProblem::Closed),
        ("2026-03-20T10:00", SlotProblem::Past),
        ("2026-03-23T08:30", SlotProblem::OutsideHours),
        ("2026-04-01T10:00", SlotProblem::TooFar),
    ];
    for (text, problem) in cases {
        assert_eq!(slot_at(&s, local(text), now), Err(problem), "{text}");
    }
    // 10:00 is two hours away: past the one-hour notice. With a day's notice it is too soon.
    assert!(slot_at(&s, local("2026-03-23T10:00"), now).is_ok());
    let mut strict = settings();
    strict.notice = Duration::from_secs(24 * 3600);
    assert_eq!(
        slot_at(&strict, local("2026-03-23T11:00"), now),
        Err(SlotProblem::TooSoon)
    );
    assert!(
        candidate_slots(&strict, now)
            .iter()
            .all(|slot| slot.at_ms() >= now.as_millisecond() + 24 * 3600 * 1000)
    );
}

#[test]
fn only_the_two_local_shapes_are_accepted() {
    assert!(parse_local("2026-03-24T10:00").is_some());
    assert!(parse_local("2026-03-24 10:00").is_some());
    assert!(parse_local("2026-03-24 10:00:00").is_some());
    for bad in [
        "2026-03-24",
        "24/03/2026 10:00",
        "2026-03-24T10:00Z",
        "2026-03-24X10:00",
        "tomorrow",
    ] {
        assert!(parse_local(bad).is_none(), "{bad}");
    }
}

#[test]
fn several_windows_a_day_each_give_slots_from_their_own_start() {
    let mut s = settings();
    s.closed_dates.clear();
    s.slot_length = Duration::from_secs(3600);
    // Tuesday: a morning window, a short one at lunch that fits one slot,
    // and an afternoon one starting on the half hour whose last hour does
    // not fit (16:30–17:15).
    s.tuesday = vec![
        window((9, 0), (11, 0)),
        window((12, 0), (13, 0)),
        window((14, 30), (17, 15)),
    ];
    let now = at("2026-03-23T08:00:00Z");
    let tuesday: Vec<String> = candidate_slots(&s, now)
        .iter()
        .filter(|slot| slot.value().starts_with("2026-03-24"))
        .map(|slot| slot.value())
        .collect();
    assert_eq!(
        tuesday,
        [
            "2026-03-24T09:00",
            "2026-03-24T10:00",
            "2026-03-24T12:00",
            "2026-03-24T14:30",
            "2026-03-24T15:30",
        ]
    );
    for slot in &tuesday {
        assert!(slot_at(&s, local(slot), now).is_ok(), "{slot}");
    }
    let cases = [
        ("2026-03-24T11:00", SlotProblem::OutsideHours),
        ("2026-03-24T12:30", SlotProblem::OutsideHours),
        ("2026-03-24T13:00", SlotProblem::OutsideHours),
        ("2026-03-24T14:00", SlotProblem::OutsideHours),
        ("2026-03-24T15:00", SlotProblem::NotOnBoundary),
        ("2026-03-24T16:30", SlotProblem::OutsideHours),
    ];
    for (text, problem) in cases {
        assert_eq!(slot_at(&s, local(text), now), Err(problem), "{text}");
    }
}
