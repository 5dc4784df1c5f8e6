//! `[staff]`: the staff token.

use secrecy::ExposeSecret;

use super::error::Problems;
use super::sections::StaffSettings;

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
