//! The staff token guard of `/status` (and `/metrics` unless
//! `metrics.require_token = false`): `Authorization: Bearer <staff.token>`,
//! compared in constant time.
//!
//! Wrong tokens are throttled per client address (the same address the rate
//! limits use, an IPv6 client by its /64): after [`MAX_WRONG`] wrong tokens
//! within [`WINDOW`] of the first, every staff request from that address is
//! answered 429 until the window has passed, a right token too. Refusing the
//! right token as well is what makes guessing useless: a guesser learns
//! nothing from an answer while shut out. A request without any token is not
//! a guess and is not counted, so a monitor that lost its token does not
//! shut out staff behind the same address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use secrecy::ExposeSecret as _;
use subtle::ConstantTimeEq as _;

use super::error::HttpError;
use super::state::AppState;
use crate::config::StaffSettings;
use crate::spam::{self, subscriber};

/// Wrong tokens one address may send within [`WINDOW`].
pub const MAX_WRONG: u32 = 10;
/// How long the count runs from the first wrong token, and so how long an
/// address that reached [`MAX_WRONG`] is shut out at most.
pub const WINDOW: Duration = Duration::from_secs(10 * 60);

/// `Ok` when the request carries the configured staff token and its address
/// is not shut out for sending wrong ones.
pub fn require_staff(state: &AppState, peer: IpAddr, headers: &HeaderMap) -> Result<(), HttpError> {
    let server = &state.settings.server;
    let client = spam::client_ip(
        peer,
        headers,
        &server.trusted_proxies,
        server.client_ip_header,
    );
    let check = check_token(headers, &state.settings.staff);
    // Judged and counted under one lock, so a burst of parallel guesses
    // learns the outcome of no more than MAX_WRONG of them.
    let attempt = state.staff_throttle.attempt(
        subscriber(client),
        Instant::now(),
        check == TokenCheck::Wrong,
    );
    if let Err(wait) = attempt {
        return Err(HttpError::StaffThrottled {
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    match check {
        TokenCheck::Valid => Ok(()),
        TokenCheck::NotConfigured => Err(HttpError::Unauthorized { configured: false }),
        TokenCheck::Missing | TokenCheck::Wrong => {
            Err(HttpError::Unauthorized { configured: true })
        }
    }
}

/// What a request's `Authorization` header amounts to.
#[derive(Debug, PartialEq, Eq)]
enum TokenCheck {
    Valid,
    /// No staff token is configured: nothing can pass, nothing is guessed.
    NotConfigured,
    /// No bearer token sent.
    Missing,
    /// A bearer token that is not the staff token: a guess, counted.
    Wrong,
}

fn check_token(headers: &HeaderMap, staff: &StaffSettings) -> TokenCheck {
    let Some(token) = &staff.token else {
        return TokenCheck::NotConfigured;
    };
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or_default();
    if presented.is_empty() {
        return TokenCheck::Missing;
    }
    // ct_eq on slices of different lengths is false without comparing bytes:
    // the length is not secret, the content is.
    let matches: bool = presented
        .as_bytes()
        .ct_eq(token.expose_secret().as_bytes())
        .into();
    if matches {
        TokenCheck::Valid
    } else {
        TokenCheck::Wrong
    }
}

/// Wrong staff tokens per client address, in memory (each process counts its
/// own; with N replicas a guesser gets N times [`MAX_WRONG`], still nothing
/// against a 32-character token).
pub struct StaffThrottle {
    strikes: Mutex<HashMap<IpAddr, Strikes>>,
    /// Most addresses remembered (`rate_limit.max_tracked_addresses`).
    max_tracked: usize,
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
        }
    }

    /// One staff request from `key`: `Err(wait)` while `key` is shut out
    /// (whatever it sent); otherwise a `wrong` token is counted.
    fn attempt(&self, key: IpAddr, now: Instant, wrong: bool) -> Result<(), Duration> {
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
            spam::count_evictions("staff_token", evicted);
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
            tracing::warn!(
                wrong_tokens = MAX_WRONG,
                "wrong staff tokens from one client address within 10 minutes; refusing its staff requests until the window passes"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use secrecy::SecretString;

    fn staff(token: Option<&str>) -> StaffSettings {
        StaffSettings {
            token: token.map(SecretString::from),
        }
    }

    fn bearer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_the_exact_token_passes() {
        let s = staff(Some("s3cret-token"));
        assert_eq!(
            check_token(&bearer("Bearer s3cret-token"), &s),
            TokenCheck::Valid
        );
        assert_eq!(
            check_token(&bearer("Bearer s3cret-tokem"), &s),
            TokenCheck::Wrong
        );
        assert_eq!(check_token(&bearer("Bearer s3cret"), &s), TokenCheck::Wrong);
        assert_eq!(
            check_token(&bearer("Basic s3cret-token"), &s),
            TokenCheck::Missing
        );
        assert_eq!(check_token(&HeaderMap::new(), &s), TokenCheck::Missing);
    }

    #[test]
    fn without_a_configured_token_nothing_passes() {
        assert_eq!(
            check_token(&bearer("Bearer x"), &staff(None)),
            TokenCheck::NotConfigured
        );
    }

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
