//! The FHIR sandbox's mutable state (live tokens, accepted bundles, faults,
//! counters), kept behind one `Mutex` in `FhirSandbox`, and the ids it hands
//! out.
//!
//! The lock is only ever held for short, synchronous work, never across an await.

use std::collections::HashMap;
use std::time::Instant;

use super::faults::Faults;
use super::records::AcceptedBundle;

pub struct State {
    /// Live access tokens → when each stops working.
    pub tokens: HashMap<String, Instant>,
    pub tokens_issued: u64,
    pub bundles: Vec<AcceptedBundle>,
    /// ServiceRequest identifier → its index in `bundles`.
    pub by_identifier: HashMap<String, usize>,
    /// Bundle POSTs answered as created, repeats included.
    pub bundle_posts: u64,
    pub request_count: u64,
    pub faults: Faults,
    next_id: u64,
}

impl State {
    pub fn new() -> State {
        State {
            tokens: HashMap::new(),
            tokens_issued: 0,
            bundles: Vec::new(),
            by_identifier: HashMap::new(),
            bundle_posts: 0,
            request_count: 0,
            faults: Faults::default(),
            next_id: 0,
        }
    }

    /// A fresh server id: a counter, so runs are reproducible (FHIR ids are
    /// any 1–64 of `A-Za-z0-9-.`).
    pub fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("{}", 1000 + self.next_id)
    }

    /// Stores a newly issued token, forgetting those that have expired.
    pub fn add_token(&mut self, token: String, expires_at: Instant, now: Instant) {
        self.tokens.retain(|_, until| *until > now);
        self.tokens.insert(token, expires_at);
        self.tokens_issued += 1;
    }

    /// Whether `token` was issued, is not revoked and has not expired.
    pub fn token_is_live(&self, token: &str, now: Instant) -> bool {
        self.tokens.get(token).is_some_and(|until| *until > now)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn ids_are_fresh() {
        let mut state = State::new();
        assert_ne!(state.new_id(), state.new_id());
    }

    #[test]
    fn a_token_stops_working_when_it_expires() {
        let mut state = State::new();
        let now = Instant::now();
        state.add_token("t".into(), now + Duration::from_secs(10), now);
        assert!(state.token_is_live("t", now));
        assert!(!state.token_is_live("t", now + Duration::from_secs(10)));
        assert!(!state.token_is_live("other", now));
        assert_eq!(state.tokens_issued, 1);
    }
}
