//! The signed time token `_t`: `<issued unix secs>.<hex HMAC-SHA256(key,
//! "v1|" + site + "|" + issued)>`. A form carries the moment it was served;
//! a post that comes back sooner than a person could type, much later than a
//! page stays open, or with a token we did not sign is doubtful. Doubtful,
//! not proof: autofill sends fast, tabs stay open overnight, keys change; the
//! intake holds such posts for a person rather than dropping them.
//!
//! The key lives in the database (`storage::time_token_keys`), so it does not
//! change when the CareHQ secret rotates; when it does change (a new
//! `spam.token_secret`), the previous key still verifies for `max_age` after
//! the change, so forms already open keep working.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::SpamVerdict;

type HmacSha256 = Hmac<Sha256>;

/// Tokens issued this far ahead of our clock are put down to clock skew
/// between instances and treated as age zero.
const CLOCK_SKEW_SECS: u64 = 60;

/// What a presented token says about the post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenCheck {
    Fresh,
    TooFast,
    TooOld,
    Forged,
    /// Signed by us, but issued later than our clock (plus skew) allows.
    FromFuture,
}

impl TokenCheck {
    /// The `spam_verdict` an enquiry carrying such a token is stored with
    /// (held for a person); `None` for a fresh token.
    pub fn verdict(self) -> Option<SpamVerdict> {
        match self {
            TokenCheck::Fresh => None,
            TokenCheck::TooFast => Some(SpamVerdict::TooFast),
            TokenCheck::TooOld => Some(SpamVerdict::StaleTimeToken),
            TokenCheck::Forged => Some(SpamVerdict::ForgedTimeToken),
            TokenCheck::FromFuture => Some(SpamVerdict::FutureTimeToken),
        }
    }
}

/// The signing key (and the one it replaced, with when), and the window a
/// genuine post falls in.
#[derive(Clone)]
pub struct TimeTokens {
    key: Vec<u8>,
    /// The key before the last change and when it was replaced (Unix secs):
    /// it still verifies until `max_age` after that.
    previous: Option<(Vec<u8>, u64)>,
    pub min_fill_time: Duration,
    pub max_age: Duration,
}

/// Hand-written: the keys must never be printed.
impl fmt::Debug for TimeTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeTokens")
            .field("key", &"[redacted]")
            .field(
                "previous",
                &self.previous.as_ref().map(|(_, at)| ("[redacted]", at)),
            )
            .field("min_fill_time", &self.min_fill_time)
            .field("max_age", &self.max_age)
            .finish()
    }
}

impl TimeTokens {
    pub fn new(key: &SecretString, min_fill_time: Duration, max_age: Duration) -> TimeTokens {
        TimeTokens {
            key: key.expose_secret().as_bytes().to_vec(),
            previous: None,
            min_fill_time,
            max_age,
        }
    }

    /// Also accept tokens signed with `key`, replaced at `replaced_at` (Unix
    /// secs), until `max_age` after that.
    pub fn with_previous(mut self, key: &SecretString, replaced_at: u64) -> TimeTokens {
        self.previous = Some((key.expose_secret().as_bytes().to_vec(), replaced_at));
        self
    }

    /// A token for `site` issued at `now` (Unix seconds).
    pub fn issue(&self, site: &str, now: u64) -> String {
        format!("{now}.{}", hex::encode(self.signature(site, now)))
    }

    pub fn check(&self, site: &str, token: &str, now: u64) -> TokenCheck {
        let Some((issued, mac)) = token.trim().split_once('.') else {
            return TokenCheck::Forged;
        };
        let (Ok(issued), Ok(mac)) = (issued.parse::<u64>(), hex::decode(mac)) else {
            return TokenCheck::Forged;
        };
        let current = bool::from(self.signature(site, issued).as_slice().ct_eq(&mac));
        // The previous key only until max_age after it was replaced: by then
        // every token it signed is too old anyway.
        let previous = || {
            self.previous.as_ref().is_some_and(|(key, replaced_at)| {
                now <= replaced_at.saturating_add(self.max_age.as_secs())
                    && bool::from(signature(key, site, issued).as_slice().ct_eq(&mac))
            })
        };
        if !current && !previous() {
            return TokenCheck::Forged;
        }
        // A token from the future is ours but impossible unless clocks disagree
        // between instances; treat small skew as age zero.
        let age = now.saturating_sub(issued);
        if issued > now.saturating_add(CLOCK_SKEW_SECS) {
            return TokenCheck::FromFuture;
        }
        if age < self.min_fill_time.as_secs() {
            TokenCheck::TooFast
        } else if age > self.max_age.as_secs() {
            TokenCheck::TooOld
        } else {
            TokenCheck::Fresh
        }
    }

    fn signature(&self, site: &str, issued: u64) -> Vec<u8> {
        signature(&self.key, site, issued)
    }
}

fn signature(key: &[u8], site: &str, issued: u64) -> Vec<u8> {
    hmac(key, format!("v1|{site}|{issued}").as_bytes())
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Now, in Unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> TimeTokens {
        TimeTokens::new(
            &SecretString::from("k"),
            Duration::from_secs(3),
            Duration::from_secs(24 * 3600),
        )
    }

    #[test]
    fn a_token_checked_in_the_window_is_fresh() {
        let t = tokens().issue("upton", 1_000);
        assert_eq!(tokens().check("upton", &t, 1_010), TokenCheck::Fresh);
    }

    #[test]
    fn too_fast_and_too_old_are_told_apart() {
        let t = tokens().issue("upton", 1_000);
        assert_eq!(tokens().check("upton", &t, 1_001), TokenCheck::TooFast);
        assert_eq!(
            tokens().check("upton", &t, 1_000 + 24 * 3600 + 1),
            TokenCheck::TooOld
        );
    }

    #[test]
    fn another_site_another_key_or_an_edited_time_is_forged() {
        let t = tokens().issue("upton", 1_000);
        assert_eq!(tokens().check("other", &t, 1_010), TokenCheck::Forged);
        let other = TimeTokens::new(&SecretString::from("k2"), Duration::ZERO, Duration::MAX);
        assert_eq!(other.check("upton", &t, 1_010), TokenCheck::Forged);
        let edited = t.replacen("1000", "0990", 1);
        assert_eq!(tokens().check("upton", &edited, 1_010), TokenCheck::Forged);
        assert_eq!(
            tokens().check("upton", "garbage", 1_010),
            TokenCheck::Forged
        );
        assert_eq!(tokens().check("upton", "", 1_010), TokenCheck::Forged);
    }

    #[test]
    fn a_token_from_the_future_is_told_apart_from_skew() {
        let t = tokens().issue("upton", 2_000);
        assert_eq!(tokens().check("upton", &t, 1_000), TokenCheck::FromFuture);
        // Within a minute ahead: clocks between instances, age zero.
        assert_eq!(tokens().check("upton", &t, 1_950), TokenCheck::TooFast);
    }

    #[test]
    fn the_previous_key_verifies_until_max_age_after_it_was_replaced() {
        let old = TimeTokens::new(&SecretString::from("old"), Duration::ZERO, Duration::MAX)
            .issue("upton", 1_000);
        let rotated = tokens().with_previous(&SecretString::from("old"), 1_100);
        assert_eq!(rotated.check("upton", &old, 1_200), TokenCheck::Fresh);
        // Past 24 h after the change the previous key no longer counts.
        assert_eq!(
            rotated.check("upton", &old, 1_100 + 24 * 3600 + 1),
            TokenCheck::Forged
        );
        // Without the previous key it is forged at once.
        assert_eq!(tokens().check("upton", &old, 1_200), TokenCheck::Forged);
        assert!(!format!("{rotated:?}").contains("old\""));
    }

    #[test]
    fn every_doubt_has_its_verdict() {
        assert_eq!(TokenCheck::Fresh.verdict(), None);
        let text = |check: TokenCheck| check.verdict().map(SpamVerdict::as_str);
        assert_eq!(text(TokenCheck::TooFast), Some("too_fast"));
        assert_eq!(text(TokenCheck::TooOld), Some("stale_time_token"));
        assert_eq!(text(TokenCheck::Forged), Some("forged_time_token"));
        assert_eq!(text(TokenCheck::FromFuture), Some("future_time_token"));
    }

    #[test]
    fn the_format_is_issue_time_dot_hex_hmac() {
        let t = tokens().issue("upton", 1_000);
        let (time, mac) = t.split_once('.').unwrap();
        assert_eq!(time, "1000");
        assert_eq!(mac.len(), 64);
    }
}
