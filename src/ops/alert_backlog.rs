//! Alert messages that reached some destinations but not all. The incident
//! row already says "announced" (another destination took it), so without
//! this the email of an incident whose webhook worked would be lost. Each
//! entry is retried at every alert check, in order per destination, a bounded
//! number of times. Kept in this process's memory only: a restart drops the
//! backlog (the failure was logged, with what to check).

use std::collections::VecDeque;

use serde_json::Value;
use tracing::{debug, error, warn};

use super::notify::{Destination, Notifier};

/// Tries after the first failure before a message is given up (logged).
/// At the default one-minute check interval: about twenty minutes.
pub const MAX_RETRIES: u32 = 20;

/// Most messages kept; the oldest is dropped (logged) beyond this.
const MAX_ENTRIES: usize = 100;

struct Entry {
    destination: Destination,
    kind: String,
    message: Value,
    retries: u32,
}

#[derive(Default)]
pub struct Backlog {
    entries: VecDeque<Entry>,
}

impl Backlog {
    /// Keep `message` for `destination`, which just refused it with `reason`.
    /// This is the one warning for the failure; retries log only the outcome.
    pub fn add(&mut self, destination: Destination, kind: &str, message: Value, reason: &str) {
        warn!(
            destination = destination.as_str(),
            kind,
            error = reason,
            "alert not delivered to this destination (the others have it); it is sent again at each alert check, up to {MAX_RETRIES} times: {}",
            destination.what_to_check()
        );
        if self.entries.len() >= MAX_ENTRIES
            && let Some(dropped) = self.entries.pop_front()
        {
            error!(
                destination = dropped.destination.as_str(),
                kind = dropped.kind,
                "alert dropped: too many undelivered alerts; see GET /status for the current state"
            );
        }
        self.entries.push_back(Entry {
            destination,
            kind: kind.to_owned(),
            message,
            retries: 0,
        });
    }

    /// Send what is kept. Per destination, the first message that fails stops
    /// the rest for this pass, so an incident never arrives after its all-clear.
    pub async fn retry(&mut self, notifier: &Notifier) {
        let mut blocked: Vec<Destination> = Vec::new();
        let mut kept = VecDeque::with_capacity(self.entries.len());
        while let Some(mut entry) = self.entries.pop_front() {
            if blocked.contains(&entry.destination) {
                kept.push_back(entry);
                continue;
            }
            match notifier.send_to(entry.destination, &entry.message).await {
                Ok(()) => debug!(
                    destination = entry.destination.as_str(),
                    kind = entry.kind,
                    "delayed alert delivered"
                ),
                Err(e) => {
                    blocked.push(entry.destination);
                    entry.retries += 1;
                    if entry.retries >= MAX_RETRIES {
                        error!(
                            destination = entry.destination.as_str(),
                            kind = entry.kind,
                            error = %e,
                            "alert given up after {MAX_RETRIES} retries: {}; see GET /status for the current state",
                            entry.destination.what_to_check()
                        );
                    } else {
                        kept.push_back(entry);
                    }
                }
            }
        }
        self.entries = kept;
    }
}
