//! Single use: a token or ALTCHA challenge that has passed once is remembered
//! until it would have expired anyway, so a copied post cannot pass again.
//! Only a SHA-256 of the value is kept.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

#[derive(Default)]
pub struct SeenTokens {
    seen: Mutex<HashMap<[u8; 32], Instant>>,
}

impl SeenTokens {
    /// Record `value` as used until `now + life`; false when it already was.
    pub fn first_use(&self, value: &str, life: Duration, now: Instant) -> bool {
        let key: [u8; 32] = Sha256::digest(value.as_bytes()).into();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, until| *until > now);
        if seen.contains_key(&key) {
            return false;
        }
        seen.insert(key, now + life);
        true
    }

    /// True when `value` has been used and has not yet expired.
    pub fn is_used(&self, value: &str, now: Instant) -> bool {
        let key: [u8; 32] = Sha256::digest(value.as_bytes()).into();
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(&key).is_some_and(|until| *until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_passes_once_until_it_expires() {
        let seen = SeenTokens::default();
        let t0 = Instant::now();
        assert!(seen.first_use("a", Duration::from_secs(10), t0));
        assert!(seen.is_used("a", t0));
        assert!(!seen.first_use("a", Duration::from_secs(10), t0));
        assert!(seen.first_use("b", Duration::from_secs(10), t0));
        assert!(seen.first_use("a", Duration::from_secs(10), t0 + Duration::from_secs(11)));
    }
}
