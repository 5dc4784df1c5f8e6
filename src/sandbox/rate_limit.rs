//! CareHQ's per-second rate limit (docs/carehq-api.md, "Rate limits"): fixed one-second
//! windows, and the `X-CareHQ-RateLimit-*` headers every `/v1` answer carries.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

pub const LIMIT_HEADER: &str = "x-carehq-ratelimit-limit";
pub const REMAINING_HEADER: &str = "x-carehq-ratelimit-remaining";
pub const RESET_HEADER: &str = "x-carehq-ratelimit-reset";

/// Requests counted in the current whole-second window.
#[derive(Default)]
pub struct RateWindow {
    second: u64,
    used: u32,
}

/// What the limiter says about one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds (fractional) when the window resets.
    pub reset: f64,
}

impl RateWindow {
    /// Counts one request arriving at `now` (unix seconds, fractional).
    pub fn take(&mut self, now: f64, limit: u32) -> Verdict {
        let second = now.max(0.0).floor() as u64;
        if second != self.second {
            self.second = second;
            self.used = 0;
        }
        let allowed = self.used < limit;
        if allowed {
            self.used += 1;
        }
        Verdict {
            allowed,
            limit,
            remaining: limit.saturating_sub(self.used),
            reset: (second + 1) as f64,
        }
    }
}

impl Verdict {
    /// The verdict `Faults.rate_limited` forces: nothing left, reset `reset_in`
    /// seconds from now.
    pub fn forced(now: f64, limit: u32, reset_in: f64) -> Verdict {
        Verdict {
            allowed: false,
            limit,
            remaining: 0,
            reset: now + reset_in,
        }
    }

    pub fn write_headers(&self, headers: &mut HeaderMap) {
        let values = [
            (LIMIT_HEADER, self.limit.to_string()),
            (REMAINING_HEADER, self.remaining.to_string()),
            (RESET_HEADER, format_reset(self.reset)),
        ];
        for (name, value) in values {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
    }
}

fn format_reset(reset: f64) -> String {
    if reset.fract() == 0.0 {
        format!("{reset:.0}")
    } else {
        format!("{reset:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_limit_per_second_then_refuses_until_the_next_second() {
        let mut window = RateWindow::default();
        let first = window.take(100.1, 2);
        assert_eq!(
            (first.allowed, first.remaining, first.reset),
            (true, 1, 101.0)
        );
        assert!(window.take(100.5, 2).allowed);
        let third = window.take(100.9, 2);
        assert_eq!((third.allowed, third.remaining), (false, 0));
        let next = window.take(101.0, 2);
        assert_eq!((next.allowed, next.remaining, next.reset), (true, 1, 102.0));
    }

    #[test]
    fn headers_carry_limit_remaining_and_reset() {
        let mut headers = HeaderMap::new();
        Verdict::forced(1000.25, 10, 1.0).write_headers(&mut headers);
        assert_eq!(headers[LIMIT_HEADER], "10");
        assert_eq!(headers[REMAINING_HEADER], "0");
        assert_eq!(headers[RESET_HEADER], "1001.250");
    }
}
