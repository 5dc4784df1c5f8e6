//! Single use: a token or ALTCHA challenge that has passed once is remembered
//! until it would have expired anyway, so a copied post cannot pass again.
//! A repeat of the *same* post (same idempotency key: a double click, a
//! retried request) is let through, so the store can answer it as before
//! instead of the family seeing a CAPTCHA error for an enquiry that was saved.
//! Only SHA-256 digests are kept.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

type Digest32 = [u8; 32];

#[derive(Default)]
pub struct SeenTokens {
    seen: Mutex<HashMap<Digest32, (Instant, Option<Digest32>)>>,
}

fn digest(value: &str) -> Digest32 {
    Sha256::digest(value.as_bytes()).into()
}

impl SeenTokens {
    /// Record `value` as used by the post `tag` until `now + life`; false when
    /// another post already used it.
    pub fn first_use(&self, value: &str, tag: Option<&str>, life: Duration, now: Instant) -> bool {
        let key = digest(value);
        let tag = tag.map(digest);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, (until, _)| *until > now);
        match seen.get(&key) {
            Some((_, first)) => tag.is_some() && *first == tag,
            None => {
                seen.insert(key, (now + life, tag));
                true
            }
        }
    }

    /// True when `value` was used by this very post (`tag`), which may repeat.
    pub fn repeat_of(&self, value: &str, tag: Option<&str>, now: Instant) -> bool {
        let Some(tag) = tag.map(digest) else {
            return false;
        };
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(&digest(value))
            .is_some_and(|(until, first)| *until > now && *first == Some(tag))
    }

    /// True when another post (not `tag`) has used `value` and it has not expired.
    pub fn used_by_another(&self, value: &str, tag: Option<&str>, now: Instant) -> bool {
        let tag = tag.map(digest);
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(&digest(value))
            .is_some_and(|(until, first)| *until > now && (tag.is_none() || *first != tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_passes_once_until_it_expires() {
        let seen = SeenTokens::default();
        let t0 = Instant::now();
        let life = Duration::from_secs(10);
        assert!(seen.first_use("a", None, life, t0));
        assert!(seen.used_by_another("a", None, t0));
        assert!(!seen.first_use("a", None, life, t0));
        assert!(seen.first_use("b", None, life, t0));
        assert!(seen.first_use("a", None, life, t0 + Duration::from_secs(11)));
    }

    #[test]
    fn the_same_post_may_repeat_but_another_may_not() {
        let seen = SeenTokens::default();
        let t0 = Instant::now();
        let life = Duration::from_secs(10);
        assert!(seen.first_use("a", Some("k1"), life, t0));
        assert!(!seen.used_by_another("a", Some("k1"), t0));
        assert!(seen.repeat_of("a", Some("k1"), t0));
        assert!(!seen.repeat_of("a", Some("k2"), t0));
        assert!(!seen.repeat_of("a", None, t0));
        assert!(seen.first_use("a", Some("k1"), life, t0));
        assert!(seen.used_by_another("a", Some("k2"), t0));
        assert!(!seen.first_use("a", Some("k2"), life, t0));
        assert!(!seen.first_use("a", None, life, t0));
    }
}
