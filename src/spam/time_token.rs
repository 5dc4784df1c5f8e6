//! The signed time token `_t`: `<issued unix secs>.<hex HMAC-SHA256(key,
//! "v1|" + site + "|" + issued)>`. A form carries the moment it was served;
//! a post that comes back sooner than a person could type, much later than a
//! page stays open, or with a token we did not sign is a bot.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// What a presented token says about the post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenCheck {
    Fresh,
    TooFast,
    TooOld,
    Forged,
}

/// The signing key, and the window a genuine post falls in.
#[derive(Clone)]
pub struct TimeTokens {
    key: Vec<u8>,
    pub min_fill_time: Duration,
    pub max_age: Duration,
}

/// Hand-written: the key must never be printed.
impl fmt::Debug for TimeTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeTokens")
            .field("key", &"[redacted]")
            .field("min_fill_time", &self.min_fill_time)
            .field("max_age", &self.max_age)
            .finish()
    }
}

impl TimeTokens {
    pub fn new(key: &SecretString, min_fill_time: Duration, max_age: Duration) -> TimeTokens {
        TimeTokens {
            key: key.expose_secret().as_bytes().to_vec(),
            min_fill_time,
            max_age,
        }
    }

    /// The key when none is configured: derived from the CareHQ secret, which
    /// every instance of one deployment already shares.
    pub fn derive_key(carehq_api_secret: &SecretString) -> SecretString {
        SecretString::from(hex::encode(hmac(
            carehq_api_secret.expose_secret().as_bytes(),
            b"enquiry-relay time token v1",
        )))
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
        if !bool::from(self.signature(site, issued).as_slice().ct_eq(&mac)) {
            return TokenCheck::Forged;
        }
        // A token from the future is ours but impossible unless clocks disagree
        // between instances; treat small skew as age zero rather than a bot.
        let age = now.saturating_sub(issued);
        if issued > now + 60 {
            return TokenCheck::Forged;
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
        hmac(&self.key, format!("v1|{site}|{issued}").as_bytes())
    }
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
    fn the_format_is_issue_time_dot_hex_hmac() {
        let t = tokens().issue("upton", 1_000);
        let (time, mac) = t.split_once('.').unwrap();
        assert_eq!(time, "1000");
        assert_eq!(mac.len(), 64);
    }

    #[test]
    fn the_derived_key_depends_on_the_carehq_secret() {
        let a = TimeTokens::derive_key(&SecretString::from("a"));
        let b = TimeTokens::derive_key(&SecretString::from("b"));
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(
            a.expose_secret(),
            TimeTokens::derive_key(&SecretString::from("a")).expose_secret()
        );
    }
}
