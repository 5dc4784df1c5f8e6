//! Group commit for SQLite.
//!
//! SQLite has one writer and every commit waits for an fsync (`synchronous =
//! FULL`). One transaction per enquiry would make concurrent families queue
//! for that one fsync each, and the sync worker's outcome writes would queue
//! among them. Instead a single task takes every write waiting at that moment
//! (new enquiries, the worker's claims and delivery outcomes) and makes them
//! in one transaction: each is still committed before its caller hears back,
//! but sixteen arriving together cost about one fsync, not sixteen. A lone
//! write is not delayed: the task never waits for company, it only takes what
//! queued while the previous commit ran. The batch's enquiries are written
//! together, a few statements for the whole batch (`batch_insert`), since
//! each statement is a trip to the connection's thread that every family in
//! the batch waits for. PostgreSQL commits concurrent transactions in
//! parallel, so it does not use this.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use super::batch_insert::insert_batch;
use super::intake::{InsertOutcome, NewEnquiry, SealedPayload};
use super::models::{AttemptRecord, Transition};
use super::outbox::{ClaimedRow, Clock, Lease, SqliteClaim, claim_rows_sqlite, record_rows};
use super::readiness::TOUCH;
use super::{StoreError, now_ms};

/// Most writes made in one transaction.
const MAX_BATCH: usize = 64;
/// Writes that may wait for the writer before callers wait to queue.
const QUEUE_DEPTH: usize = 1024;

/// A delivery outcome that can cross to the writer task.
struct OwnedOutcome {
    delivery_id: String,
    owner: String,
    account: String,
    overrule: bool,
    attempt_id: String,
    attempt: AttemptRecord,
    transition: Transition,
}

enum Job {
    /// Already sealed, with its lookup hashes and search terms (boxed: the
    /// other jobs are a fraction of its size).
    Insert(
        NewEnquiry,
        Box<SealedPayload>,
        oneshot::Sender<Result<InsertOutcome, StoreError>>,
    ),
    Record(OwnedOutcome, oneshot::Sender<Result<bool, StoreError>>),
    /// The worker's claim of due deliveries (a lane's lease).
    Claim(
        SqliteClaim,
        oneshot::Sender<Result<Vec<ClaimedRow>, StoreError>>,
    ),
    /// A write that changes nothing, committed like the others: proves the
    /// writer task runs and the database takes writes (readiness).
    Touch(oneshot::Sender<Result<(), StoreError>>),
}

/// What one write came to.
enum Done {
    Inserted(InsertOutcome),
    Recorded(bool),
    Claimed(Vec<ClaimedRow>),
    Touched,
}

/// The handle the store writes through; the task ends when every handle is dropped.
#[derive(Clone)]
pub(super) struct SqliteWriter {
    jobs: mpsc::Sender<Job>,
    /// Enquiries handed to the writer since start: how the search indexer
    /// tells a flood of families from a quiet moment.
    inserts: Arc<AtomicU64>,
}

impl SqliteWriter {
    /// Start the writer task on `pool` (the SQLite writer pool).
    pub(super) fn start(pool: AnyPool) -> SqliteWriter {
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(pool, queue));
        SqliteWriter {
            jobs,
            inserts: Arc::default(),
        }
    }

    /// Store one enquiry; returns once its transaction has committed.
    pub(super) async fn insert(
        &self,
        new: NewEnquiry,
        sealed: SealedPayload,
    ) -> Result<InsertOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.inserts.fetch_add(1, Ordering::Relaxed);
        self.send(Job::Insert(new, Box::new(sealed), reply)).await?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Record a delivery outcome; false if the lease was lost (nothing written).
    pub(super) async fn record(
        &self,
        lease: Lease<'_>,
        attempt: &AttemptRecord,
        transition: &Transition,
    ) -> Result<bool, StoreError> {
        let outcome = OwnedOutcome {
            delivery_id: lease.delivery_id.to_owned(),
            owner: lease.token.to_owned(),
            account: lease.account.to_owned(),
            overrule: lease.overrule,
            attempt_id: lease.attempt_id.to_owned(),
            attempt: attempt.clone(),
            transition: transition.clone(),
        };
        let (reply, answer) = oneshot::channel();
        self.send(Job::Record(outcome, reply)).await?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Claim due deliveries; returns the rows once the claim has committed.
    pub(super) async fn claim(&self, claim: SqliteClaim) -> Result<Vec<ClaimedRow>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Claim(claim, reply)).await?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Commit a write that changes nothing; returns once it has committed.
    pub(super) async fn touch(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Touch(reply)).await?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Whether writes are waiting for the writer task right now.
    pub(super) fn queued(&self) -> bool {
        self.jobs.capacity() < self.jobs.max_capacity()
    }

    /// Enquiries handed to the writer since it started.
    pub(super) fn inserts(&self) -> u64 {
        self.inserts.load(Ordering::Relaxed)
    }

    async fn send(&self, job: Job) -> Result<(), StoreError> {
        self.jobs.send(job).await.map_err(|_| stopped())
    }
}

fn stopped() -> StoreError {
    StoreError::Writer("the database writer task has stopped")
}

async fn run(pool: AnyPool, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        match commit(&pool, &jobs).await {
            Ok(done) => answer(jobs, done),
            // Alone already, or the write lock is held elsewhere (each retry
            // would only wait out the busy timeout again): every caller hears
            // the error and retries on its own terms.
            Err(e) if jobs.len() == 1 || e.is_busy() => {
                let e = std::sync::Arc::new(e);
                for job in jobs {
                    reply_error(job, StoreError::Batch(e.clone()));
                }
            }
            // One failed statement rolls back the whole batch. Each member is
            // then tried alone, so one bad write (or a moment's SQLITE_BUSY)
            // cannot fail the others: an outcome that did not land would leave
            // its row `sending`, to be sent again when its lease ends.
            Err(_) => {
                for job in jobs {
                    match commit(&pool, std::slice::from_ref(&job)).await {
                        Ok(done) => answer(vec![job], done),
                        // Nothing of this write was committed: intake answers
                        // 503 (the family can send again); the worker retries
                        // an outcome within its lease.
                        Err(e) => reply_error(job, StoreError::Batch(std::sync::Arc::new(e))),
                    }
                }
            }
        }
    }
}

/// Hand each caller its result. A caller that gave up (request cancelled) no
/// longer listens.
fn answer(jobs: Vec<Job>, done: Vec<Done>) {
    for (job, done) in jobs.into_iter().zip(done) {
        match (job, done) {
            (Job::Insert(_, _, reply), Done::Inserted(outcome)) => {
                let _ = reply.send(Ok(outcome));
            }
            (Job::Record(_, reply), Done::Recorded(recorded)) => {
                let _ = reply.send(Ok(recorded));
            }
            (Job::Claim(_, reply), Done::Claimed(rows)) => {
                // A worker that gave up leaves these rows leased: they are
                // claimed again when the lease ends, as after a crash.
                let _ = reply.send(Ok(rows));
            }
            (Job::Touch(reply), Done::Touched) => {
                let _ = reply.send(Ok(()));
            }
            (job, _) => reply_error(job, StoreError::Writer("mismatched batch answer")),
        }
    }
}

fn reply_error(job: Job, error: StoreError) {
    match job {
        Job::Insert(_, _, reply) => {
            let _ = reply.send(Err(error));
        }
        Job::Record(_, reply) => {
            let _ = reply.send(Err(error));
        }
        Job::Claim(_, reply) => {
            let _ = reply.send(Err(error));
        }
        Job::Touch(reply) => {
            let _ = reply.send(Err(error));
        }
    }
}

async fn commit(pool: &AnyPool, jobs: &[Job]) -> Result<Vec<Done>, StoreError> {
    let now = now_ms();
    let mut tx = pool.begin().await?;
    // The batch's enquiries first, all in a few statements (batch_insert.rs).
    let posts: Vec<(&NewEnquiry, &SealedPayload)> = jobs
        .iter()
        .filter_map(|job| match job {
            Job::Insert(new, sealed, _) => Some((new, &**sealed)),
            _ => None,
        })
        .collect();
    let mut stored = insert_batch(&mut tx, &posts, now).await?.into_iter();
    let mut done = Vec::with_capacity(jobs.len());
    for job in jobs {
        // A repeated idempotency key (same enquiry or not) or a lost lease
        // writes nothing, so neither needs a rollback: the rest of the batch
        // commits as usual.
        done.push(match job {
            Job::Insert(..) => Done::Inserted(
                stored
                    .next()
                    .ok_or(StoreError::Writer("a batch's insert went unanswered"))?,
            ),
            Job::Touch(_) => {
                sqlx::query(TOUCH).execute(&mut *tx).await?;
                Done::Touched
            }
            Job::Claim(claim, _) => Done::Claimed(claim_rows_sqlite(&mut tx, claim).await?),
            Job::Record(o, _) => Done::Recorded(
                record_rows(
                    &mut tx,
                    Lease {
                        delivery_id: &o.delivery_id,
                        token: &o.owner,
                        account: &o.account,
                        overrule: o.overrule,
                        attempt_id: &o.attempt_id,
                    },
                    &o.attempt,
                    &o.transition,
                    Clock::Process(now),
                )
                .await?,
            ),
        });
    }
    tx.commit().await?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::super::{EnquiryId, InsertOutcome, NewEnquiry, Store};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_enquiries_are_all_stored_and_a_shared_key_stores_one() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("group.db").display());
        let store = Store::connect(&url, 4).await.unwrap();
        store.migrate().await.unwrap();

        let mut tasks = Vec::new();
        for n in 0..60 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let id = format!("enquiry-{n}");
                // Every fifth post repeats one key, as double clicks would.
                let key = (n % 5 == 0).then_some("double-click");
                let new = NewEnquiry {
                    id: EnquiryId::from_stored(id.clone()),
                    site: "upton-court".into(),
                    payload: "{}".into(),
                    spam_verdict: crate::domain::SpamVerdict::Clean,
                    idempotency_key: key.map(str::to_owned),
                    fingerprint: None,
                    held: false,
                    consent: None,
                    partner_event: None,
                    destinations: Vec::new(),
                    intake: None,
                };
                let outcome = store.insert_enquiry(new).await.unwrap();
                (id.clone(), outcome)
            }));
        }
        let mut created = HashSet::new();
        let mut duplicates_of = HashSet::new();
        for task in tasks {
            match task.await.unwrap() {
                (id, InsertOutcome::Created) => assert!(created.insert(id)),
                (_, InsertOutcome::Duplicate { enquiry_id }) => {
                    duplicates_of.insert(enquiry_id.as_str().to_owned());
                }
                (_, InsertOutcome::Conflict) => panic!("no fingerprints, no conflicts"),
            }
        }

        assert_eq!(
            created.len(),
            60 - 11,
            "one of the 12 posts sharing a key is stored"
        );
        assert_eq!(
            duplicates_of.len(),
            1,
            "every repeat answers with the same first enquiry"
        );
        assert!(created.is_superset(&duplicates_of));
        let counts = store.count_by_status().await.unwrap();
        let pending = counts
            .iter()
            .find(|(s, _)| *s == crate::storage::DeliveryStatus::Pending)
            .unwrap()
            .1;
        assert_eq!(pending, 49);
        assert_eq!(
            store.intake_writes(),
            60,
            "every post reached the writer, repeats included (what the search indexer watches)"
        );
        store.close().await;
    }
}
