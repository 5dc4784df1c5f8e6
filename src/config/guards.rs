//! `[staff]` and `[spam]`: the staff token and the time token's key and window.

use std::time::Duration;

use secrecy::ExposeSecret;

use super::checks::{duration, positive_duration};
use super::duration::format_duration;
use super::error::Problems;
use super::raw::RawSpam;
use super::secrets;
use super::sections::{CareHqSettings, SpamSettings, StaffSettings};

/// Shortest staff token accepted. Wrong tokens are throttled per address,
/// but only length makes guessing hopeless from many addresses.
const MIN_STAFF_TOKEN_CHARS: usize = 32;

pub(super) fn staff(staff: StaffSettings, p: &mut Problems) -> Option<StaffSettings> {
    if let Some(token) = &staff.token {
        let length = token.expose_secret().chars().count();
        if length < MIN_STAFF_TOKEN_CHARS {
            // The length only, never the value.
            p.push(
                "staff.token",
                format!(
                    "is {length} characters long; use at least {MIN_STAFF_TOKEN_CHARS} random characters so it cannot be guessed, e.g. the output of `openssl rand -hex 32` (64 characters)"
                ),
            );
            return None;
        }
    }
    Some(staff)
}

/// `[spam]`: the time token's key and window.
pub(super) fn spam(
    raw: RawSpam,
    carehq: Option<&CareHqSettings>,
    p: &mut Problems,
) -> Option<SpamSettings> {
    let own = secrets::resolve(
        "spam.token_secret",
        raw.token_secret,
        &raw.token_secret_file,
        p,
    );
    let min_fill_time = duration(
        "spam.min_fill_time",
        &raw.min_fill_time,
        Duration::from_secs(3),
        p,
    );
    let max_token_age = positive_duration(
        "spam.max_token_age",
        &raw.max_token_age,
        Duration::from_secs(24 * 3600),
        p,
    );
    if let (Some(min), Some(max)) = (min_fill_time, max_token_age)
        && min >= max
    {
        p.push(
            "spam.max_token_age",
            format!(
                "\"{}\" must be longer than spam.min_fill_time (\"{}\"), or no post could ever pass",
                format_duration(max),
                format_duration(min)
            ),
        );
        return None;
    }
    // A database without a key starts with one derived from the CareHQ
    // secret, which every instance shares. When [carehq] itself is broken its
    // problem is already reported.
    let initial_key = carehq.map(|c| secrets::derive_time_token_key(&c.api_secret))?;
    Some(SpamSettings {
        token_secret: own,
        initial_key,
        min_fill_time: min_fill_time?,
        max_token_age: max_token_age?,
    })
}
