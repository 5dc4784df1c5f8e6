//! The sandbox's mutable state (records, seen nonces, faults, counters), kept
//! behind one `Mutex` in `Sandbox`, and the Ids it hands out.
//!
//! The lock is only ever held for short, synchronous work, never across an await.

use std::collections::HashMap;

use super::faults::Faults;
use super::rate_limit::RateWindow;
use super::records::{HomeVisit, ReceivedEnquiry};

pub struct State {
    pub enquiries: Vec<ReceivedEnquiry>,
    pub visits: Vec<HomeVisit>,
    /// Nonce → the timestamp it was signed with, while that timestamp is in the window.
    pub nonces: HashMap<String, i64>,
    pub faults: Faults,
    pub rate: RateWindow,
    pub request_count: u64,
    /// `/v1` answers that were 429, forced or real: what pacing tests count.
    pub too_many_requests_count: u64,
    ids: IdMaker,
}

impl State {
    pub fn new() -> State {
        State {
            enquiries: Vec::new(),
            visits: Vec::new(),
            nonces: HashMap::new(),
            faults: Faults::default(),
            rate: RateWindow::default(),
            request_count: 0,
            too_many_requests_count: 0,
            ids: IdMaker::new(),
        }
    }

    /// A fresh 24-lowercase-hex Id, shaped like CareHQ's (MongoDB ObjectId-like).
    pub fn new_id(&mut self, unix_seconds: i64) -> String {
        self.ids.next(unix_seconds)
    }

    /// Records `nonce` unless it was already used inside the window; forgets
    /// nonces whose timestamp has left the window (they could no longer pass
    /// the timestamp check anyway). Returns false for a replay.
    pub fn remember_nonce(
        &mut self,
        nonce: &str,
        timestamp: i64,
        now: i64,
        window_secs: i64,
    ) -> bool {
        self.nonces
            .retain(|_, signed_at| (now - *signed_at).abs() <= window_secs);
        if self.nonces.contains_key(nonce) {
            return false;
        }
        self.nonces.insert(nonce.to_owned(), timestamp);
        true
    }
}

/// ObjectId layout: 4 bytes of time, 5 random bytes fixed per sandbox, 3 bytes
/// of counter. Unique within a sandbox and unlikely to collide across runs.
struct IdMaker {
    random: [u8; 5],
    counter: u32,
}

impl IdMaker {
    fn new() -> IdMaker {
        let mut seed = [0u8; 8];
        if getrandom::fill(&mut seed).is_err() {
            // Uniqueness within the sandbox comes from the counter; the random
            // part only helps across runs, so the clock is a good enough fallback.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            seed = (nanos as u64).to_le_bytes();
        }
        IdMaker {
            random: [seed[0], seed[1], seed[2], seed[3], seed[4]],
            counter: u32::from_le_bytes([seed[5], seed[6], seed[7], 0]),
        }
    }

    fn next(&mut self, unix_seconds: i64) -> String {
        self.counter = (self.counter + 1) & 0x00ff_ffff;
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&(unix_seconds as u32).to_be_bytes());
        bytes[4..9].copy_from_slice(&self.random);
        bytes[9..].copy_from_slice(&self.counter.to_be_bytes()[1..]);
        hex::encode(bytes)
    }
}

/// True for a CareHQ-shaped Id: 24 lowercase hex characters.
pub fn is_carehq_id(text: &str) -> bool {
    text.len() == 24
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_24_lowercase_hex_and_fresh() {
        let mut state = State::new();
        let a = state.new_id(1_735_689_600);
        let b = state.new_id(1_735_689_600);
        assert!(is_carehq_id(&a), "{a}");
        assert!(is_carehq_id(&b), "{b}");
        assert_ne!(a, b);
        assert!(a.starts_with("67748580"), "time prefix of {a}");
    }

    #[test]
    fn a_nonce_is_refused_the_second_time_and_forgotten_after_the_window() {
        let mut state = State::new();
        assert!(state.remember_nonce("n1", 1000, 1000, 300));
        assert!(!state.remember_nonce("n1", 1000, 1100, 300));
        assert!(state.remember_nonce("n2", 1100, 1100, 300));
        // n1's timestamp has left the window, so it is forgotten.
        assert!(state.remember_nonce("n3", 1400, 1400, 300));
        assert!(!state.nonces.contains_key("n1"));
        assert!(state.nonces.contains_key("n2"));
    }

    #[test]
    fn carehq_ids_are_recognised() {
        assert!(is_carehq_id("6724fbc74f73a2cebf6377fa"));
        assert!(!is_carehq_id("6724FBC74F73A2CEBF6377FA"));
        assert!(!is_carehq_id("6724fbc74f73a2cebf6377f"));
        assert!(!is_carehq_id("6724fbc74f73a2cebf6377fg"));
    }
}
