//! CareHQ's rate-limit headers and the gate that keeps us inside them.
//!
//! CareHQ sends `X-CareHQ-RateLimit-{Limit,Remaining,Reset}` (per second,
//! remaining in the window, Unix time of the reset). Concurrent sends share
//! one budget: the gate hands out a permit per send from the last known
//! `Remaining`, counting down as sends start (the answers to sends already in
//! flight report a `Remaining` that does not yet count the others), and hands
//! out none once it reaches 0 until `Reset`. Before any answer has told us the
//! budget, sends go one at a time. A 429 closes the gate until the reset.

use std::sync::{Arc, Mutex};
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
    budget: Budget,
    /// Permits handed out and not yet dropped.
    in_flight: u32,
}

/// What the gate knows of the current window.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum Budget {
    /// No answer read yet: one send at a time until an answer tells us.
    #[default]
    Unknown,
    /// CareHQ answered without rate-limit headers: nothing to pace by but
    /// `sync.concurrency` (and a 429's pause).
    Unpaced,
    /// The window of the newest reading and the sends it still allows.
    Window {
        reset_at_ms: i64,
        limit: u32,
        left: u32,
        /// Permits of earlier windows still held when this one began, which
        /// `left` was charged for (see `roll_over`): given back one by one
        /// as they turn out to have counted in their own window.
        carried: u32,
    },
}

/// The right to send one request in the current window. Dropped unspent (the
/// row was not sent after all), it gives its place in the window back.
#[derive(Debug)]
pub struct Permit {
    gate: Arc<RateLimitGate>,
    /// The window it was taken from (`None` outside a known window).
    window: Option<i64>,
    spent: bool,
}

impl Permit {
    /// The request is going out: its place in the window is used up.
    pub fn spend(&mut self) {
        self.spent = true;
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut state = self.gate.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if let (false, Some(taken_from)) = (self.spent, self.window)
            && let Budget::Window {
                reset_at_ms,
                limit,
                left,
                carried,
            } = &mut state.budget
        {
            if *reset_at_ms == taken_from {
                *left = (*left + 1).min(*limit);
            } else if taken_from < *reset_at_ms && *carried > 0 {
                // Taken in an earlier window, never sent: the slot this
                // window kept for it is free.
                *carried -= 1;
                *left = (*left + 1).min(*limit);
            }
        }
    }
}

/// How long to hold off after a 429 that carried no usable reset time.
const DEFAULT_429_PAUSE_MS: i64 = 1_000;
/// Never trust a reset further away than this (clock skew, bad header).
const MAX_WAIT_MS: i64 = 60_000;
/// A window counts as reset this long after its `Reset`, not at once: our
/// clock and CareHQ's differ a little, and a send that CareHQ counted in the
/// old window must not be sent again from the new window's budget. The
/// budget is per window, not per millisecond, so the margin costs no rate.
const RESET_MARGIN_MS: i64 = 25;
/// CareHQ's windows are one second long (the limit is per second, §3.1).
const WINDOW_MS: i64 = 1_000;

impl RateLimitGate {
    /// Take one permit to send now, or learn how long to wait for one.
    pub fn try_acquire(self: &Arc<Self>, now_ms: i64) -> Result<Permit, Duration> {
        let mut state = self.lock();
        if state.closed_until_ms > now_ms {
            return Err(millis(state.closed_until_ms - now_ms));
        }
        let in_flight = state.in_flight;
        roll_over(&mut state.budget, in_flight, now_ms);
        let window = match &mut state.budget {
            Budget::Unknown if in_flight > 0 => {
                // The answer in flight tells us the budget and wakes the worker.
                return Err(Duration::from_millis(UNKNOWN_POLL_MS));
            }
            Budget::Unknown | Budget::Unpaced => None,
            Budget::Window {
                reset_at_ms, left, ..
            } => {
                if *left == 0 {
                    return Err(millis(
                        clamp_reset(*reset_at_ms + RESET_MARGIN_MS, now_ms) - now_ms,
                    ));
                }
                *left -= 1;
                Some(*reset_at_ms)
            }
        };
        state.in_flight += 1;
        Ok(Permit {
            gate: Arc::clone(self),
            window,
            spent: false,
        })
    }

    /// Up to `n` permits; `Err` with the wait when not even one is free.
    pub fn acquire_up_to(self: &Arc<Self>, n: usize, now_ms: i64) -> Result<Vec<Permit>, Duration> {
        let mut permits = Vec::with_capacity(n);
        while permits.len() < n {
            match self.try_acquire(now_ms) {
                Ok(permit) => permits.push(permit),
                Err(wait) if permits.is_empty() => return Err(wait),
                Err(_) => break,
            }
        }
        Ok(permits)
    }

    /// Remember the headers of an answer.
    pub fn observe(&self, reading: Option<RateLimit>, now_ms: i64) {
        let mut state = self.lock();
        let Some(reading) = reading else {
            if state.budget == Budget::Unknown {
                state.budget = Budget::Unpaced;
            }
            return;
        };
        if state
            .last
            .is_none_or(|last| last.reset_at_ms <= reading.reset_at_ms)
        {
            state.last = Some(reading);
        }
        let in_flight = state.in_flight;
        roll_over(&mut state.budget, in_flight, now_ms);
        state.budget = match state.budget {
            Budget::Window {
                reset_at_ms,
                limit,
                left,
                carried,
            } if reset_at_ms == reading.reset_at_ms => Budget::Window {
                reset_at_ms,
                limit,
                // Our count already takes off every send we started; CareHQ's
                // is lower only if someone else spends the same key's budget.
                left: left.min(reading.remaining),
                carried,
            },
            // An answer from a window already over: CareHQ counted that send
            // there, so if this window kept a slot for it, the slot is free.
            Budget::Window {
                reset_at_ms,
                limit,
                left,
                carried,
            } if reading.reset_at_ms < reset_at_ms => Budget::Window {
                reset_at_ms,
                limit,
                left: if carried > 0 {
                    (left + 1).min(limit)
                } else {
                    left
                },
                carried: carried.saturating_sub(1),
            },
            // The first reading, or a window we had not rolled over to (the
            // clocks differ): CareHQ may not have counted the other sends in
            // flight yet, so they are taken off.
            _ => Budget::Window {
                reset_at_ms: reading.reset_at_ms,
                limit: reading.limit,
                left: reading
                    .remaining
                    .saturating_sub(in_flight.saturating_sub(1)),
                carried: 0,
            },
        };
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
        if let Budget::Window { left, .. } = &mut state.budget {
            *left = 0;
        }
        state.closed_until_ms = state.closed_until_ms.max(until);
        state.closed_until_ms
    }

    /// How long until a permit could be free, if the gate knows: while it is
    /// closed by a 429, or the window's budget is spent.
    pub fn wait(&self, now_ms: i64) -> Option<Duration> {
        let mut state = self.lock();
        if state.closed_until_ms > now_ms {
            return Some(millis(state.closed_until_ms - now_ms));
        }
        let in_flight = state.in_flight;
        roll_over(&mut state.budget, in_flight, now_ms);
        match state.budget {
            Budget::Window {
                reset_at_ms,
                left: 0,
                ..
            } => Some(millis(
                clamp_reset(reset_at_ms + RESET_MARGIN_MS, now_ms) - now_ms,
            )),
            _ => None,
        }
    }

    /// How long a 429 keeps the gate closed (permits already taken stay good
    /// otherwise).
    pub fn closed_for(&self, now_ms: i64) -> Option<Duration> {
        let state = self.lock();
        (state.closed_until_ms > now_ms).then(|| millis(state.closed_until_ms - now_ms))
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

/// While the budget is unknown and one send is out, look again this often
/// (its answer normally wakes the worker first).
const UNKNOWN_POLL_MS: u64 = 50;

/// Past its reset (and the margin) a window starts afresh: CareHQ's windows
/// follow each other a second apart. Less the permits still held
/// (`in_flight`, all taken in earlier windows): a send that left in the old
/// window may reach CareHQ in the new one on a busy machine, and a permit
/// taken but not yet sent certainly will; counting them in both windows drew
/// a second 429 per drain under load. Their slots come back as answers show
/// CareHQ counted them in the old window (`observe`, `Permit::drop`).
fn roll_over(budget: &mut Budget, in_flight: u32, now_ms: i64) {
    if let Budget::Window {
        reset_at_ms,
        limit,
        left,
        carried,
    } = budget
        && now_ms >= *reset_at_ms + RESET_MARGIN_MS
    {
        let passed = (now_ms - *reset_at_ms - RESET_MARGIN_MS) / WINDOW_MS + 1;
        *reset_at_ms += passed * WINDOW_MS;
        *carried = in_flight.min(*limit);
        *left = *limit - *carried;
    }
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
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
        let gate = Arc::new(RateLimitGate::default());
        gate.observe(
            RateLimit::from_headers(&headers("10", "4", "1000.5")),
            1_000_000,
        );
        assert_eq!(gate.wait(1_000_000), None);
        gate.observe(
            RateLimit::from_headers(&headers("10", "0", "1000.5")),
            1_000_000,
        );
        let wait = Duration::from_millis(500 + RESET_MARGIN_MS as u64);
        assert_eq!(gate.wait(1_000_000), Some(wait));
        assert_eq!(gate.try_acquire(1_000_000).err(), Some(wait));
        assert_eq!(gate.wait(1_000_500 + RESET_MARGIN_MS), None);
        assert!(gate.try_acquire(1_000_500 + RESET_MARGIN_MS).is_ok());
    }

    #[test]
    fn one_send_at_a_time_until_the_budget_is_known() {
        let gate = Arc::new(RateLimitGate::default());
        let first = gate.acquire_up_to(8, 1_000_000).unwrap();
        assert_eq!(first.len(), 1, "nothing known yet: one send");
        assert!(gate.try_acquire(1_000_000).is_err());
        gate.observe(
            RateLimit::from_headers(&headers("10", "9", "1000.5")),
            1_000_000,
        );
        drop(first);
        let more = gate.acquire_up_to(20, 1_000_000).unwrap();
        assert_eq!(more.len(), 9, "the nine CareHQ said were left");
    }

    #[test]
    fn concurrent_sends_share_the_window_and_unspent_permits_come_back() {
        let gate = Arc::new(RateLimitGate::default());
        gate.observe(
            RateLimit::from_headers(&headers("10", "6", "1000.5")),
            1_000_000,
        );
        let mut out = gate.acquire_up_to(4, 1_000_000).unwrap();
        assert_eq!(out.len(), 4);
        for permit in &mut out[..3] {
            permit.spend();
        }
        // Answers to earlier sends report more than is left: ours counts the
        // sends still in flight, CareHQ's does not yet.
        gate.observe(
            RateLimit::from_headers(&headers("10", "5", "1000.5")),
            1_000_100,
        );
        drop(out);
        // Six, less three spent; the fourth permit was given back.
        let rest = gate.acquire_up_to(10, 1_000_100).unwrap();
        assert_eq!(rest.len(), 3);
        assert!(gate.try_acquire(1_000_100).is_err());
        drop(rest);
        // Dropped unspent, they are free again.
        assert_eq!(gate.acquire_up_to(10, 1_000_100).unwrap().len(), 3);
        // A late answer from the old window changes nothing in the new one.
        let next = 1_000_500 + RESET_MARGIN_MS;
        let fresh = gate.acquire_up_to(4, next).unwrap();
        gate.observe(RateLimit::from_headers(&headers("10", "0", "1000.5")), next);
        assert_eq!(fresh.len(), 4);
        assert_eq!(gate.acquire_up_to(10, next).unwrap().len(), 6);
    }

    #[test]
    fn sends_in_flight_across_a_reset_are_not_counted_twice() {
        let gate = Arc::new(RateLimitGate::default());
        gate.observe(
            RateLimit::from_headers(&headers("10", "10", "1000.5")),
            1_000_000,
        );
        let mut old = gate.acquire_up_to(3, 1_000_400).unwrap();
        old[0].spend();
        old[1].spend();
        // The window resets with two sends on the wire and one about to go:
        // CareHQ may count any of them in the new window.
        let next = 1_000_500 + RESET_MARGIN_MS;
        let fresh = gate.acquire_up_to(20, next).unwrap();
        assert_eq!(fresh.len(), 7, "ten, less the three still held");
        assert!(gate.try_acquire(next).is_err());
        // The first answer says CareHQ counted it in the old window: its slot
        // in the new one is free again.
        gate.observe(RateLimit::from_headers(&headers("10", "8", "1000.5")), next);
        drop(old.remove(0));
        let one = gate.try_acquire(next).expect("the first send's slot");
        // The permit never sent gives its slot back too.
        drop(old.pop());
        let two = gate.try_acquire(next).expect("the unsent permit's slot");
        assert!(gate.try_acquire(next).is_err());
        // The second answer was counted in the new window: nothing to give back.
        gate.observe(RateLimit::from_headers(&headers("10", "0", "1001.5")), next);
        drop(old);
        assert!(gate.try_acquire(next).is_err());
        drop((fresh, one, two));
    }

    #[test]
    fn answers_without_headers_lift_the_one_at_a_time_rule() {
        let gate = Arc::new(RateLimitGate::default());
        let first = gate.try_acquire(5_000).unwrap();
        gate.observe(None, 5_000);
        drop(first);
        assert_eq!(gate.acquire_up_to(8, 5_000).unwrap().len(), 8);
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
