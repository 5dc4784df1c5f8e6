//! The worker loop: when to claim, how many at once, and shutting down cleanly.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::lane::{Lane, Senders};
use super::pipeline::deliver;
use super::record::Delivered;
use super::shared::{STOP_CLAIMING_AFTER, Shared};
use crate::carehq::{CareHqClient, Permit};
use crate::config::Settings;
use crate::fhir::FhirClient;
use crate::mail::Mailer;
use crate::storage::{ClaimedDelivery, Store, StoreError, now_ms};

/// How the rest of the service talks to the running worker. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct WorkerHandle {
    wake: Arc<Notify>,
    heartbeat_ms: Arc<AtomicI64>,
}

impl WorkerHandle {
    /// Ask the worker to look for due rows now (after a commit).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// True if the worker loop has turned within `max_silence`.
    pub fn is_alive(&self, max_silence: Duration) -> bool {
        let beat = self.heartbeat_ms.load(Ordering::Relaxed);
        beat > 0 && now_ms() - beat <= max_silence.as_millis() as i64
    }

    fn beat(&self) {
        self.heartbeat_ms.store(now_ms(), Ordering::Relaxed);
    }
}

/// Counts from one drain pass (`sync --once`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    pub synced: u64,
    pub retrying: u64,
    pub failed: u64,
    pub deferred: u64,
}

/// Clones share one worker's state (its name, in-flight set, rate budget).
#[derive(Clone)]
pub struct SyncWorker {
    shared: Arc<Shared>,
    /// One per CareHQ account (the default first), then the fallback
    /// email's, each destination's and the unconfigured steps'.
    lanes: Vec<Arc<Lane>>,
    handle: WorkerHandle,
    /// Which lane a dispatch starts with; turns every dispatch.
    turn: Arc<AtomicUsize>,
    /// When the loop last looked for enquiries due a fallback email.
    fallbacks_checked_ms: Arc<AtomicI64>,
    /// The sites with a `fallback_email`, when the email lane exists.
    fallback_sites: Arc<Vec<String>>,
}

/// Upper bound on one idle sleep, so the heartbeat stays fresh even with a
/// long poll interval.
const MAX_IDLE: Duration = Duration::from_secs(30);

impl SyncWorker {
    /// `clients`: one per configured account, by name, the default first.
    /// `mailer`: the fallback email's, when a site has `fallback_email`;
    /// `destinations`: one client per `[[destinations]]` entry, by name.
    pub fn new(
        store: Store,
        clients: Vec<(String, CareHqClient)>,
        mailer: Option<Mailer>,
        destinations: Vec<(String, FhirClient)>,
        settings: Arc<Settings>,
    ) -> SyncWorker {
        let fallback_sites = match mailer.is_some() {
            true => (settings.sites.iter())
                .filter(|site| site.fallback_email.is_some())
                .map(|site| site.slug.clone())
                .collect(),
            false => Vec::new(),
        };
        let lanes = Lane::all(clients, mailer, destinations, &settings);
        let lanes = lanes.into_iter().map(Arc::new).collect();
        SyncWorker {
            fallback_sites: Arc::new(fallback_sites),
            shared: Arc::new(Shared::new(store, settings)),
            lanes,
            handle: WorkerHandle::default(),
            turn: Arc::default(),
            fallbacks_checked_ms: Arc::default(),
        }
    }

    pub fn handle(&self) -> WorkerHandle {
        self.handle.clone()
    }

    /// Outcome writes this worker tried again after the database refused
    /// them (a held lock, a failover), since it started.
    pub fn outcome_write_retries(&self) -> u64 {
        self.shared.outcome_write_retries.load(Ordering::Relaxed)
    }

    /// How long the loop may stay silent before readiness reports it dead.
    pub fn max_silence(settings: &Settings) -> Duration {
        settings.sync.poll_interval.min(MAX_IDLE) * 2 + Duration::from_secs(10)
    }

    /// Run until `shutdown` is cancelled, then give in-flight sends
    /// `sync.shutdown_grace` to finish. Unclaimed rows stay pending; a send cut
    /// off by the grace period keeps its lease and is re-sent after it expires.
    ///
    /// A pause found at start-up is not lifted: another instance may hold it
    /// with good reason, and lifting it unproven told staff delivery had
    /// resumed while CareHQ still refused the credentials. The first turn
    /// sends a probe at once instead; only its success resumes delivery.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) {
        let mut tasks: JoinSet<Delivered> = JoinSet::new();
        // A wrong URL shows in the log at start-up, not at the first enquiry.
        for lane in self.lanes.iter() {
            if let Senders::Fhir(fhir) = &lane.sender {
                fhir.client.discover_in_background(&fhir.name);
            }
        }
        loop {
            // A task that finished as the signal came can win the select below:
            // claim nothing more once shutdown has begun.
            if shutdown.is_cancelled() {
                break;
            }
            self.handle.beat();
            let sleep_for = match self.dispatch(&mut tasks).await {
                Ok(wait) => wait,
                Err(e) => {
                    error!(error = %crate::telemetry::chain(&e), "the sync worker could not reach the database; trying again shortly");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.handle.wake.notified() => {}
                _ = tokio::time::sleep(sleep_for) => {}
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => log_join(joined),
            }
        }
        self.finish(tasks).await;
    }

    async fn finish(&self, mut tasks: JoinSet<Delivered>) {
        if tasks.is_empty() {
            return;
        }
        let grace = self.shared.settings.shutdown_grace();
        info!(
            in_flight = tasks.len(),
            grace_ms = grace.as_millis() as u64,
            "waiting for in-flight sends"
        );
        let drained = tokio::time::timeout(grace, async {
            while let Some(joined) = tasks.join_next().await {
                log_join(joined);
            }
        })
        .await;
        if drained.is_err() {
            warn!(
                cut_off = tasks.len(),
                "shutdown grace ran out; these sends are re-tried after their lease ends"
            );
            tasks.abort_all();
        }
    }

    /// Claim what is due into free task slots, lane by lane (the first lane
    /// turns each time, so one account's backlog cannot keep another's
    /// waiting); return how long to sleep.
    async fn dispatch(&self, tasks: &mut JoinSet<Delivered>) -> Result<Duration, StoreError> {
        while let Some(joined) = tasks.try_join_next() {
            log_join(joined);
        }
        let idle = self.shared.settings.sync.poll_interval.min(MAX_IDLE);
        if !self.writes_work().await {
            return Ok(Duration::from_secs(1));
        }
        // A failed check is tried again next pass; the lanes go on meanwhile.
        if let Err(e) = self.open_fallbacks(false).await {
            warn!(error = %crate::telemetry::chain(&e), "could not look for enquiries due a fallback email; trying again shortly");
        }
        let lanes = self.lanes.len();
        let first = self.turn.fetch_add(1, Ordering::Relaxed) % lanes.max(1);
        let mut sleep = idle;
        for n in 0..lanes {
            let wait = self.dispatch_lane((first + n) % lanes, tasks, idle).await?;
            sleep = sleep.min(wait);
        }
        Ok(sleep)
    }

    /// One lane's share of a dispatch: claim into the lane's free slots,
    /// spawn, and say how long the loop may sleep.
    async fn dispatch_lane(
        &self,
        index: usize,
        tasks: &mut JoinSet<Delivered>,
        idle: Duration,
    ) -> Result<Duration, StoreError> {
        let lane = &self.lanes[index];
        let now = now_ms();
        // Each lane has its own slots: a stalled destination fills only its own.
        let free = (self.shared.settings.sync.concurrency).saturating_sub(lane.sending());
        let (limit, probe) = match self.probe_plan(lane, now).await? {
            Plan::Wait(d) => return Ok(d.min(idle)),
            Plan::Probe(caused_pause) if lane.sending() == 0 && free > 0 => {
                lane.probe_soon.store(false, Ordering::Relaxed);
                (1, Some(caused_pause))
            }
            Plan::Probe(_) => return Ok(idle),
            Plan::Normal => (free, None),
        };
        if limit == 0 {
            return Ok(idle);
        }
        // One permit per send: concurrent sends share the account's CareHQ
        // budget, so no more rows are claimed than the window still allows.
        let permits = match lane.gate.acquire_up_to(limit, now) {
            Ok(permits) => permits,
            Err(wait) => return Ok(wait.min(idle)),
        };
        let wanted = permits.len();
        let paced = wanted < limit;
        let probe_out = probe.is_some();
        let claimed_all = self.claim_into(tasks, index, permits, probe).await? == wanted;
        self.sleep_after(lane, (claimed_all, paced, probe_out), idle)
            .await
    }

    /// How long the loop may sleep after claiming for `lane`.
    async fn sleep_after(
        &self,
        lane: &Lane,
        (claimed_all, paced, probe): (bool, bool, bool),
        idle: Duration,
    ) -> Result<Duration, StoreError> {
        if claimed_all && paced && !probe {
            // More is due than the window allows: look again when it resets
            // (or when a finishing task wakes us).
            let wait = lane.gate.wait(now_ms());
            return Ok(wait.map_or(idle, |w| w.min(idle)));
        }
        if claimed_all || probe {
            // Slots are full (a finishing task wakes us) or the probe is out.
            return Ok(idle);
        }
        let now = now_ms();
        Ok(match self.shared.store.next_due_at(lane.scope()).await? {
            Some(at) if at > now => Duration::from_millis((at - now) as u64).min(idle),
            Some(_) => Duration::from_millis(50).min(idle),
            None => idle,
        })
    }

    /// Claim rows of lane `index` for `permits` (one, as a probe, when
    /// `probe` is given: it names the row that caused the pause, which goes
    /// last) and send each in a task of `tasks`; how many were claimed.
    /// Permits beyond the rows claimed drop here, unspent, and go back.
    async fn claim_into(
        &self,
        tasks: &mut JoinSet<Delivered>,
        index: usize,
        mut permits: Vec<Permit>,
        probe: Option<Option<String>>,
    ) -> Result<usize, StoreError> {
        let (lane, shared) = (&self.lanes[index], &self.shared);
        let scope = lane.scope();
        let claimed = match &probe {
            // Another row than the one that caused the pause when one is
            // due, else that one (it may be the only row waiting).
            Some(Some(caused)) => match shared.claim(scope, 1, Some(caused)).await? {
                none if none.is_empty() => shared.claim(scope, 1, None).await?,
                claimed => claimed,
            },
            Some(None) => shared.claim(scope, 1, None).await?,
            None => shared.claim(scope, permits.len(), None).await?,
        };
        permits.truncate(claimed.len());
        let count = claimed.len();
        for (row, permit) in claimed.into_iter().zip(permits) {
            if row.lease_expired {
                warn!(delivery_id = %row.id, "lease expired (a worker stopped mid-send); sending again, counted as ambiguous");
            }
            // Counted in the lane's slots from now, not from when the task runs.
            let slot = Slot::take(Arc::clone(&self.shared), Arc::clone(lane), row.id.clone());
            let probe = probe.is_some();
            tasks.spawn(async move { send_one(slot, row, probe, permit).await });
        }
        Ok(count)
    }

    /// Make the fallback email steps of enquiries that have waited
    /// `sync.fallback_after` without reaching CareHQ. In the loop at most
    /// once a second (dispatches come after every commit); `always` for a
    /// drain pass.
    async fn open_fallbacks(&self, always: bool) -> Result<(), StoreError> {
        let (now, settings) = (now_ms(), &self.shared.settings);
        let last = self.fallbacks_checked_ms.load(Ordering::Relaxed);
        if self.fallback_sites.is_empty() || (!always && now - last < 1_000) {
            return Ok(());
        }
        self.fallbacks_checked_ms.store(now, Ordering::Relaxed);
        let waited = i64::try_from(settings.sync.fallback_after.as_millis()).unwrap_or(i64::MAX);
        let made = (self.shared.store)
            .open_fallback_steps(&self.fallback_sites, now.saturating_sub(waited))
            .await?;
        if made > 0 {
            info!(
                made,
                "enquiries not in CareHQ within sync.fallback_after are emailed to their homes' fallback_email"
            );
        }
        Ok(())
    }

    /// After outcome writes failed repeatedly, claim nothing until a test
    /// write commits.
    async fn writes_work(&self) -> bool {
        let failures = self.shared.record_failures.load(Ordering::Relaxed);
        if failures < STOP_CLAIMING_AFTER {
            return true;
        }
        let test = tokio::time::timeout(Duration::from_secs(5), self.shared.store.check_writes());
        match test.await {
            Ok(Ok(())) => {
                info!("the database takes writes again; claiming deliveries again");
                self.shared.record_failures.store(0, Ordering::Relaxed);
                true
            }
            // Logged once, when the count crossed the line (`deliver`).
            _ => false,
        }
    }

    /// While an account is paused, one of its rows is sent as a probe every
    /// `sync.pause_probe_interval`; its answer decides whether to resume.
    async fn probe_plan(&self, lane: &Lane, now: i64) -> Result<Plan, StoreError> {
        let state = self.shared.store.delivery_state(&lane.account).await?;
        let Some(paused_at) = state.paused_at.filter(|_| state.is_paused()) else {
            lane.set_paused_seen(false);
            // Not paused at start-up: a later pause waits out its interval.
            lane.probe_soon.store(false, Ordering::Relaxed);
            return Ok(Plan::Normal);
        };
        lane.set_paused_seen(true);
        let probe_at =
            paused_at + self.shared.settings.sync.pause_probe_interval.as_millis() as i64;
        if now < probe_at && !lane.probe_soon.load(Ordering::Relaxed) {
            return Ok(Plan::Wait(Duration::from_millis((probe_at - now) as u64)));
        }
        Ok(Plan::Probe(state.paused_delivery_id))
    }

    /// One pass for `sync --once`: send everything due now, then return.
    /// While a lane is paused it sends a single probe for it.
    pub async fn drain_once(&self) -> Result<DrainReport, StoreError> {
        let mut report = DrainReport::default();
        if let Err(e) = self.open_fallbacks(true).await {
            warn!(error = %crate::telemetry::chain(&e), "could not look for enquiries due a fallback email");
        }
        for index in 0..self.lanes.len() {
            self.drain_lane(index, &mut report).await?;
        }
        Ok(report)
    }

    async fn drain_lane(&self, index: usize, report: &mut DrainReport) -> Result<(), StoreError> {
        let lane = &self.lanes[index];
        let mut probed = false;
        loop {
            let state = self.shared.store.delivery_state(&lane.account).await?;
            let probe = state.is_paused().then_some(state.paused_delivery_id);
            if probe.is_some() && probed {
                break;
            }
            probed |= probe.is_some();
            let limit = match probe {
                Some(_) => 1,
                None => self.shared.settings.sync.concurrency,
            };
            // Sends share CareHQ's budget as in the loop: wait for a permit.
            let permits = loop {
                match lane.gate.acquire_up_to(limit, now_ms()) {
                    Ok(permits) => break permits,
                    Err(wait) => tokio::time::sleep(wait.min(MAX_IDLE)).await,
                }
            };
            let mut tasks = JoinSet::new();
            if self.claim_into(&mut tasks, index, permits, probe).await? == 0 {
                break;
            }
            // Rate-limited or paused rows would come straight back: stop here.
            if report.count(&mut tasks).await {
                break;
            }
        }
        Ok(())
    }
}

impl DrainReport {
    /// Count each send of `tasks` as it ends; true if any was deferred.
    async fn count(&mut self, tasks: &mut JoinSet<Delivered>) -> bool {
        let mut deferred = false;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Delivered::Synced) => self.synced += 1,
                Ok(Delivered::Retrying) => self.retrying += 1,
                Ok(Delivered::Failed) => self.failed += 1,
                Ok(Delivered::Deferred | Delivered::LeaseLost) => {
                    self.deferred += 1;
                    deferred = true;
                }
                Err(e) => log_join(Err(e)),
            }
        }
        deferred
    }
}

/// A claimed row's place in its lane's slots and in this process's
/// in-flight set: taken before its task is spawned, given back when the
/// task ends, also when it is aborted at the end of the shutdown grace.
struct Slot {
    shared: Arc<Shared>,
    lane: Arc<Lane>,
    id: String,
}

impl Slot {
    fn take(shared: Arc<Shared>, lane: Arc<Lane>, id: String) -> Slot {
        lane.started();
        Slot { shared, lane, id }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.landed(&self.id);
        self.lane.ended();
    }
}

/// Deliver one claimed row through its lane's sender.
async fn send_one(slot: Slot, row: ClaimedDelivery, probe: bool, permit: Permit) -> Delivered {
    let (shared, lane) = (&slot.shared, &*slot.lane);
    match &lane.sender {
        Senders::CareHq(s) => deliver(shared, (lane, s), row, probe, permit).await,
        Senders::Email(s) => deliver(shared, (lane, s), row, probe, permit).await,
        Senders::Fhir(s) => deliver(shared, (lane, s), row, probe, permit).await,
        Senders::Unserved(s) => deliver(shared, (lane, s), row, probe, permit).await,
    }
}

enum Plan {
    Normal,
    /// Send one row as a probe, another than this one (it caused the pause)
    /// when another is due.
    Probe(Option<String>),
    Wait(Duration),
}

fn log_join(joined: Result<Delivered, tokio::task::JoinError>) {
    if let Err(e) = joined
        && e.is_panic()
    {
        error!("a delivery task panicked; its row is re-tried after its lease ends");
    }
}
