//! Durations as operators write them: a whole number and a unit (`"500ms"`,
//! `"30s"`, `"15m"`, `"2h"`, `"1d"`). A bare number is refused because "30"
//! could mean seconds or milliseconds, and guessing wrong is silent.
//!
//! Hand-written rather than `humantime::parse_duration` (2.4.0), which the
//! config's messages rule out (issue 35): run over the same inputs, humantime
//! accepts `"1.5s"`, `"5 minutes"`, `"30 sec"`, `"1h30m"`, `"2w"`, `"10us"` and
//! `"1M"` (a month, one capital away from `"1m"`), all refused here with a
//! message naming the five units; its errors ("time unit needed, for example
//! 30sec or 30ms", "expected number at 0") are not ours, so keeping them means
//! re-checking our grammar first, after which humantime adds only the
//! multiplication. Its `format_duration` writes `"1m 30s"` where the config's
//! warnings print `"90s"`.

use std::time::Duration;

/// Why a duration string was refused; the message says how to write it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("a duration is empty; write a number and a unit, e.g. \"30s\"")]
    Empty,
    #[error("\"{0}\" has no unit; add one, e.g. \"{0}s\" (units: ms, s, m, h, d)")]
    NoUnit(String),
    #[error(
        "\"{0}\" is not a duration; write a whole number and a unit, e.g. \"30s\", \"15m\" (units: ms, s, m, h, d)"
    )]
    Invalid(String),
    #[error("\"{0}\" has an unknown unit; use ms, s, m, h or d, e.g. \"30s\"")]
    UnknownUnit(String),
    #[error("\"{0}\" is too long; use at most a few years")]
    TooLong(String),
}

/// Parses `"<whole number><unit>"`, unit one of `ms`, `s`, `m`, `h`, `d`.
/// Spaces around the value and between number and unit are allowed.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(DurationError::Empty);
    }
    let digits_end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits_end);
    let unit = unit.trim_start();
    if number.is_empty() {
        return Err(DurationError::Invalid(trimmed.to_owned()));
    }
    if unit.is_empty() {
        return Err(DurationError::NoUnit(trimmed.to_owned()));
    }
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ if unit.starts_with(['.', ',']) => {
            return Err(DurationError::Invalid(trimmed.to_owned()));
        }
        _ => return Err(DurationError::UnknownUnit(trimmed.to_owned())),
    };
    // Ten years is far beyond any sensible timeout or retry delay, and keeps
    // later arithmetic (now + delay) far from overflow.
    const MAX_MILLIS: u64 = 10 * 365 * 86_400_000;
    let millis = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(millis_per_unit))
        .filter(|&ms| ms <= MAX_MILLIS)
        .ok_or_else(|| DurationError::TooLong(trimmed.to_owned()))?;
    Ok(Duration::from_millis(millis))
}

super::checked! {
    /// One duration of a list (`sync.retry_schedule`), as `parse_duration` reads it.
    Delay(Duration) = |text| parse_duration(text).map_err(|e| e.to_string());
}

/// The shortest exact way to write `duration` in the syntax above
/// (`90s`, `1m`, `1500ms`); sub-millisecond parts are dropped.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if millis.is_multiple_of(size) {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        for (text, millis) in [
            ("500ms", 500),
            ("30s", 30_000),
            ("15m", 900_000),
            ("2h", 7_200_000),
            ("1d", 86_400_000),
            (" 10 s ", 10_000),
            ("0s", 0),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(millis)),
                "{text}"
            );
        }
    }

    #[test]
    fn a_bare_number_asks_for_a_unit() {
        let err = parse_duration("30").unwrap_err();
        assert_eq!(err, DurationError::NoUnit("30".into()));
        assert!(err.to_string().contains("add one, e.g. \"30s\""), "{err}");
    }

    #[test]
    fn refuses_malformed_values() {
        use DurationError::{Invalid, TooLong, UnknownUnit};
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        type Case = (&'static str, fn(String) -> DurationError);
        let cases: [Case; 9] = [
            ("s", Invalid),
            ("-5s", Invalid),
            ("1.5s", Invalid),
            ("5 minutes", UnknownUnit),
            ("5S", UnknownUnit),
            ("1h30m", UnknownUnit),
            ("99999999999999999999d", TooLong),
            ("5000d", TooLong),
            ("30", DurationError::NoUnit),
        ];
        for (text, error) in cases {
            assert_eq!(parse_duration(text), Err(error(text.into())), "{text}");
        }
    }

    #[test]
    fn formats_with_the_largest_exact_unit_and_round_trips() {
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_secs(60)), "1m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(86_400)), "1d");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        for text in ["500ms", "30s", "15m", "2h", "1d", "36h"] {
            let parsed = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(parsed)), Ok(parsed));
        }
    }
}
