//! The FHIR sandbox's mutable state (live tokens, accepted bundles, the
//! resources they made, faults, counters), kept behind one `Mutex` in
//! `FhirSandbox`, and the ids it hands out.
//!
//! The lock is only ever held for short, synchronous work, never across an await.

use std::collections::HashMap;
use std::time::Instant;

use time::OffsetDateTime;

use super::faults::Faults;
use super::records::AcceptedBundle;
use super::store::{MultipleMatches, Outcome, Store};
use super::validate::Checked;

pub struct State {
    /// Live access tokens → when each stops working.
    pub tokens: HashMap<String, Instant>,
    pub tokens_issued: u64,
    /// Every accepted bundle POST, re-sends included, oldest first.
    pub bundles: Vec<AcceptedBundle>,
    pub resources: Store,
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
            resources: Store::default(),
            request_count: 0,
            faults: Faults::default(),
            next_id: 0,
        }
    }

    /// A fresh server id: a counter, so runs are reproducible (FHIR ids are
    /// any 1–64 of `A-Za-z0-9-.`).
    pub fn new_id(&mut self) -> String {
        fresh_id(&mut self.next_id)
    }

    /// Applies a valid bundle's entries to the resources, all or nothing,
    /// as the next accepted bundle.
    pub fn apply(
        &mut self,
        checked: &Checked,
        now: OffsetDateTime,
    ) -> Result<Vec<Outcome>, MultipleMatches> {
        let next_id = &mut self.next_id;
        self.resources
            .transaction(&checked.entries, self.bundles.len(), now, || {
                fresh_id(next_id)
            })
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

fn fresh_id(next_id: &mut u64) -> String {
    *next_id += 1;
    format!("{}", 1000 + *next_id)
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
