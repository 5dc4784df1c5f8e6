//! serde field parsers for typed sections: each reads any scalar as text (so
//! `timeout = 30` can be told to add a unit) and refuses with a message that
//! says what to write. `sources::lenient` names the key and where it was set.

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{Deserialize, Deserializer, Error};

use super::duration::parse_duration;
use super::text::Text;

/// `"30s"`, `"15m"`: a whole number and a unit.
pub(super) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    parse_duration(&Text::deserialize(d)?.0).map_err(D::Error::custom)
}

/// As `duration`; zero is refused (a zero interval would spin, a zero timeout fail every call).
pub(super) fn positive_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match duration(d)? {
        zero if zero.is_zero() => Err(D::Error::custom(
            "must be longer than zero; leave it out for the default",
        )),
        positive => Ok(positive),
    }
}

/// `true` / `false` (also `yes`/`no`, `on`/`off`, `1`/`0`, as other tools
/// write environment variables).
pub(super) fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let text = Text::deserialize(d)?.0;
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(D::Error::custom(format!(
            "\"{}\" is not a boolean; expected true or false",
            text.trim()
        ))),
    }
}

/// Any `FromStr` type, whose error says what to write.
pub(super) fn parsed<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err: Display>,
{
    Text::deserialize(d)?
        .0
        .trim()
        .parse()
        .map_err(D::Error::custom)
}

/// A whole number from `MIN` to `MAX`.
pub(super) fn whole<'de, D, T, const MIN: i64, const MAX: i64>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    let text = Text::deserialize(d)?.0;
    let text = text.trim();
    (text.parse::<i64>().ok())
        .filter(|n| (MIN..=MAX).contains(n))
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| {
            D::Error::custom(format!(
                "\"{text}\" is out of range; expected a whole number from {MIN} to {MAX}"
            ))
        })
}
