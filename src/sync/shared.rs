//! What the worker's delivery tasks share: the store, the settings and the
//! in-flight bookkeeping. It knows nothing of lanes or senders, so every
//! file of `sync` can depend on it without a circle.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex};

use crate::config::Settings;
use crate::storage::{ClaimScope, ClaimedDelivery, Store, StoreError};

/// What the worker's tasks share.
pub struct Shared {
    pub(super) store: Store,
    pub(super) settings: Arc<Settings>,
    /// This worker's name, unique per process and start; each claim's lease
    /// token starts with it (who holds a row is readable in the database).
    pub(super) owner: String,
    /// Outcome writes that failed in a row (reset by one that lands). Past
    /// `STOP_CLAIMING_AFTER`, nothing more is claimed until a test write
    /// commits: a send whose outcome cannot be recorded is sent again later.
    pub(super) record_failures: AtomicU32,
    /// Outcome writes that failed and were tried again, ever (for operators
    /// in `/metrics`, and for tests waiting until a write has been refused).
    pub(super) outcome_write_retries: AtomicU64,
    /// Rows this process is sending now: never claimed again while their
    /// send runs, even if its lease has run out.
    in_flight: Mutex<HashSet<String>>,
}

/// Outcome writes failing in a row before the worker stops claiming.
pub(super) const STOP_CLAIMING_AFTER: u32 = 3;

impl Shared {
    pub(super) fn new(store: Store, settings: Arc<Settings>) -> Shared {
        let owner = format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
        Shared {
            store,
            settings,
            owner,
            in_flight: Mutex::default(),
            record_failures: AtomicU32::new(0),
            outcome_write_retries: AtomicU64::new(0),
        }
    }

    /// The rows this process is sending now.
    fn in_flight(&self) -> Vec<String> {
        self.in_flight
            .lock()
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Claim up to `limit` rows of `lane`, skipping those in flight here
    /// (and `also_skip`), and mark the claimed ones in flight.
    pub(super) async fn claim(
        &self,
        scope: ClaimScope<'_>,
        limit: usize,
        also_skip: Option<&str>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let lease = self.settings.lease();
        let mut skip = self.in_flight();
        skip.extend(also_skip.map(str::to_owned));
        let claimed = self
            .store
            .claim_due(&self.owner, lease, limit, &skip, scope)
            .await?;
        if let Ok(mut set) = self.in_flight.lock() {
            set.extend(claimed.iter().map(|row| row.id.clone()));
        }
        Ok(claimed)
    }

    /// A send has ended (or was aborted): the row may be claimed again.
    pub(super) fn landed(&self, id: &str) {
        if let Ok(mut set) = self.in_flight.lock() {
            set.remove(id);
        }
    }
}
