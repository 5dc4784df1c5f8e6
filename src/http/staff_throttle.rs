//! Wrong staff tokens per client address: after [`MAX_WRONG`] within
//! [`WINDOW`] of the first, the address is shut out (see `staff_auth`). Its
//! own file so that `AppState` can hold it without depending on the guard
//! that reads `AppState`. A second one counts refused partner webhooks the
//! same way (`routes::partners`), so a flood of unauthenticated posts is
//! answered 429 from memory instead of being judged, counted and logged
//! one by one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::spam;

/// Wrong tokens one address may send within [`WINDOW`].
pub const MAX_WRONG: u32 = 10;
/// How long the count runs from the first wrong token, and so how long an
/// address that reached [`MAX_WRONG`] is shut out at most.
pub const WINDOW: Duration = Duration::from_secs(10 * 60);

/// Wrong staff tokens per client address, in memory (each process counts its
/// own; with N replicas a guesser gets N times [`MAX_WRONG`], still nothing
/// against a 32-character token).
pub struct StaffThrottle {
    strikes: Mutex<HashMap<IpAddr, Strikes>>,
    /// Most addresses remembered (`rate_limit.max_tracked_addresses`).
    max_tracked: usize,
    /// What is counted: the `limit` label of the evictions metric.
    counts: &'static str,
    /// The warning logged once when an address is shut out.
    shut_out: &'static str,
}

#[derive(Clone, Copy)]
struct Strikes {
    /// The first wrong token of this window.
    since: Instant,
    count: u32,
}

impl StaffThrottle {
    pub fn new(max_tracked: usize) -> StaffThrottle {
        StaffThrottle {
            strikes: Mutex::new(HashMap::new()),
            max_tracked,
            counts: "staff_token",
            shut_out: "wrong staff tokens from one client address within 10 minutes; refusing its staff requests until the window passes",
        }
    }

    /// The same limit on refused partner webhooks (wrong or missing
    /// credentials) per client address.
    pub fn for_partner_webhooks(max_tracked: usize) -> StaffThrottle {
        StaffThrottle {
            counts: "partner_webhook",
            shut_out: "refused partner webhooks from one client address within 10 minutes; answering its partner webhooks 429 until the window passes",
            ..StaffThrottle::new(max_tracked)
        }
    }

    /// One staff request from `key`: `Err(wait)` while `key` is shut out
    /// (whatever it sent); otherwise a `wrong` token is counted.
    pub(super) fn attempt(&self, key: IpAddr, now: Instant, wrong: bool) -> Result<(), Duration> {
        // A poisoned lock only means another request panicked mid-update; the
        // counts are still usable.
        let mut map = self.strikes.lock().unwrap_or_else(|p| p.into_inner());
        let expired = |s: &Strikes| now.saturating_duration_since(s.since) >= WINDOW;
        if let Some(strikes) = map.get(&key).copied() {
            if expired(&strikes) {
                map.remove(&key);
            } else if strikes.count >= MAX_WRONG {
                return Err(WINDOW - now.saturating_duration_since(strikes.since));
            }
        }
        if !wrong {
            return Ok(());
        }
        if !map.contains_key(&key) {
            let evicted = spam::make_room(&mut map, self.max_tracked, expired, |s| s.since);
            spam::count_evictions(self.counts, evicted);
        }
        let strikes = map.entry(key).or_insert(Strikes {
            since: now,
            count: 0,
        });
        strikes.count += 1;
        if strikes.count == MAX_WRONG {
            // Once per address and window; the address itself is not logged
            // (personal data), and the 429s that follow have their access
            // lines at debug.
            tracing::warn!(refused = MAX_WRONG, "{}", self.shut_out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_shut_out_after_ten_wrong_tokens_until_the_window_passes() {
        let throttle = StaffThrottle::new(100);
        let guesser: IpAddr = "198.51.100.1".parse().unwrap();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        for n in 0..u64::from(MAX_WRONG) {
            assert!(throttle.attempt(guesser, at(n), true).is_ok(), "guess {n}");
        }
        // Shut out, whatever it sends, until ten minutes after the first guess.
        let wait = throttle.attempt(guesser, at(60), false).unwrap_err();
        assert_eq!(wait, WINDOW - Duration::from_secs(60));
        assert!(throttle.attempt(guesser, at(60), true).is_err());
        let other: IpAddr = "198.51.100.2".parse().unwrap();
        assert!(throttle.attempt(other, at(60), false).is_ok());
        // Requests without a wrong token are never counted.
        for _ in 0..20 {
            assert!(throttle.attempt(other, at(61), false).is_ok());
        }
        // The window passes: a fresh count.
        assert!(throttle.attempt(guesser, t0 + WINDOW, true).is_ok());
        assert!(throttle.attempt(guesser, t0 + WINDOW, false).is_ok());
    }
}
