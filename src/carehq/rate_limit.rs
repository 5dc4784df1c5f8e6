//! CareHQ's rate-limit headers and the gate that keeps us inside them.
//!
//! CareHQ sends `X-CareHQ-RateLimit-{Limit,Remaining,Reset}` (per second,
//! remaining in the window, Unix time of the reset). The gate remembers the last
//! values so the worker sends nothing while `Remaining` is 0 until `Reset`, and
//! a 429 closes it until the reset.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;

/// One reading of the rate-limit headers.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct RateLimit {
    pub limit: u32,
    pub remaining: u32,
    /// Unix time, in milliseconds, when the window resets.
    pub reset_at_ms: i64,
}

impl RateLimit {
    /// Parse the headers; `None` when CareHQ sent none (the clients do the same).
    pub fn from_headers(headers: &HeaderMap) -> Option<RateLimit> {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let limit = get("x-carehq-ratelimit-limit")?.parse().ok()?;
        let remaining = get("x-carehq-ratelimit-remaining")
            .and_then(|v| v.parse().ok())
            .unwrap_or(limit);
        let reset: f64 = get("x-carehq-ratelimit-reset")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        Some(RateLimit {
            limit,
            remaining,
            reset_at_ms: (reset * 1000.0) as i64,
        })
    }
}

/// Shared memory of CareHQ's rate limit for one process.
#[derive(Debug, Default)]
pub struct RateLimitGate {
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    last: Option<RateLimit>,
    closed_until_ms: i64,
}

/// How long to hold off after a 429 that carried no usable reset time.
const DEFAULT_429_PAUSE_MS: i64 = 1_000;
/// Never trust a reset further away than this (clock skew, bad header).
const MAX_WAIT_MS: i64 = 60_000;

impl RateLimitGate {
    /// Remember the headers of an answer.
    pub fn observe(&self, reading: Option<RateLimit>, now_ms: i64) {
        let Some(reading) = reading else { return };
        let mut state = self.lock();
        state.last = Some(reading);
        if reading.remaining == 0 {
            state.closed_until_ms = state
                .closed_until_ms
                .max(clamp_reset(reading.reset_at_ms, now_ms));
        }
    }

    /// A 429: close the gate until the reset (or a short default).
    pub fn too_many_requests(&self, reading: Option<RateLimit>, now_ms: i64) -> i64 {
        let until = match reading {
            Some(r) if r.reset_at_ms > now_ms => clamp_reset(r.reset_at_ms, now_ms),
            _ => now_ms + DEFAULT_429_PAUSE_MS,
        };
        let mut state = self.lock();
        if reading.is_some() {
            state.last = reading;
        }
        state.closed_until_ms = state.closed_until_ms.max(until);
        state.closed_until_ms
    }

    /// How long to wait before the next send, if at all.
    pub fn wait(&self, now_ms: i64) -> Option<Duration> {
        let state = self.lock();
        (state.closed_until_ms > now_ms)
            .then(|| Duration::from_millis((state.closed_until_ms - now_ms) as u64))
    }

    /// The last reading, for status pages.
    pub fn last(&self) -> Option<RateLimit> {
        self.lock().last
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        // A panic while holding this lock cannot leave the state inconsistent
        // (plain copies), so a poisoned lock is safe to keep using.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn clamp_reset(reset_at_ms: i64, now_ms: i64) -> i64 {
    reset_at_ms.clamp(now_ms, now_ms + MAX_WAIT_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(limit: &str, remaining: &str, reset: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "X-CareHQ-RateLimit-Limit",
            HeaderValue::from_str(limit).unwrap(),
        );
        h.insert(
            "X-CareHQ-RateLimit-Remaining",
            HeaderValue::from_str(remaining).unwrap(),
        );
        h.insert(
            "X-CareHQ-RateLimit-Reset",
            HeaderValue::from_str(reset).unwrap(),
        );
        h
    }

    #[test]
    fn parses_fractional_reset() {
        let r = RateLimit::from_headers(&headers("10", "3", "1735689600.25")).unwrap();
        assert_eq!(
            r,
            RateLimit {
                limit: 10,
                remaining: 3,
                reset_at_ms: 1_735_689_600_250
            }
        );
        assert_eq!(RateLimit::from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn gate_closes_at_zero_remaining_until_reset() {
        let gate = RateLimitGate::default();
        gate.observe(
            RateLimit::from_headers(&headers("10", "4", "1000.5")),
            1_000_000,
        );
        assert_eq!(gate.wait(1_000_000), None);
        gate.observe(
            RateLimit::from_headers(&headers("10", "0", "1000.5")),
            1_000_000,
        );
        assert_eq!(gate.wait(1_000_000), Some(Duration::from_millis(500)));
        assert_eq!(gate.wait(1_000_500), None);
    }

    #[test]
    fn a_429_without_headers_waits_a_second_and_far_resets_are_clamped() {
        let gate = RateLimitGate::default();
        assert_eq!(gate.too_many_requests(None, 5_000), 6_000);
        let far = RateLimit {
            limit: 1,
            remaining: 0,
            reset_at_ms: 10_000_000,
        };
        assert_eq!(
            gate.too_many_requests(Some(far), 5_000),
            5_000 + MAX_WAIT_MS
        );
    }
}
