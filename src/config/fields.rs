//! serde field parsers for typed sections: each reads any scalar as text (so
//! `timeout = 30` can be told to add a unit) and refuses with a message that
//! says what to write. `sources::lenient` names the key and where it was set.

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
