//! What the worker's delivery tasks share: the store, the client, the
//! settings and the in-flight bookkeeping. Its own file so that `worker`,
//! `deliver` and `visit_step` all depend on it and not on each other.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::carehq::CareHqClient;
use crate::config::Settings;
use crate::storage::{ClaimedDelivery, Store, StoreError};

/// What the worker's tasks share.
pub struct Shared {
    pub(super) store: Store,
    pub(super) client: CareHqClient,
    pub(super) settings: Arc<Settings>,
    /// This worker's name, unique per process and start; each claim's lease
    /// token starts with it (who holds a row is readable in the database).
    pub(super) owner: String,
    /// Whether this process last saw delivery paused (saves a write per success).
    paused_seen: AtomicBool,
    /// Outcome writes that failed in a row (reset by one that lands). Past
    /// `STOP_CLAIMING_AFTER`, nothing more is claimed until a test write
    /// commits: a send whose outcome cannot be recorded is sent again later.
    pub(super) record_failures: AtomicU32,
    /// Rows this process is sending now: never claimed again while their
    /// send runs, even if its lease has run out.
    in_flight: Mutex<HashSet<String>>,
    /// Set at start-up: if delivery is paused, probe at once instead of
    /// waiting out the interval (the operator may have fixed the cause).
    pub(super) probe_soon: AtomicBool,
}

/// Outcome writes failing in a row before the worker stops claiming.
pub(super) const STOP_CLAIMING_AFTER: u32 = 3;

impl Shared {
    pub(super) fn new(store: Store, client: CareHqClient, settings: Arc<Settings>) -> Shared {
        let owner = format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
        Shared {
            store,
            client,
            settings,
            owner,
            paused_seen: AtomicBool::new(false),
            probe_soon: AtomicBool::new(true),
            in_flight: Mutex::default(),
            record_failures: AtomicU32::new(0),
        }
    }

    /// The rows this process is sending now.
    fn in_flight(&self) -> Vec<String> {
        self.in_flight
            .lock()
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Claim rows, skipping those in flight here, and mark the claimed ones
    /// in flight.
    pub(super) async fn claim(&self, limit: usize) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.claim_skipping(limit, None).await
    }

    /// One row for a pause probe: another than the row that caused the pause
    /// when one is due, else that one (it may be the only row waiting).
    pub(super) async fn claim_probe(
        &self,
        caused_pause: Option<&str>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let claimed = self.claim_skipping(1, caused_pause).await?;
        if claimed.is_empty() && caused_pause.is_some() {
            return self.claim(1).await;
        }
        Ok(claimed)
    }

    async fn claim_skipping(
        &self,
        limit: usize,
        also_skip: Option<&str>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let lease = self.settings.sync.lease;
        let mut skip = self.in_flight();
        skip.extend(also_skip.map(str::to_owned));
        let claimed = self
            .store
            .claim_due(&self.owner, lease, limit, &skip)
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

    pub(super) fn paused_seen(&self) -> bool {
        self.paused_seen.load(Ordering::Relaxed)
    }
    pub(super) fn set_paused_seen(&self, paused: bool) {
        self.paused_seen.store(paused, Ordering::Relaxed);
    }
}
