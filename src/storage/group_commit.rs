//! Group commit for SQLite intake.
//!
//! SQLite has one writer and every commit waits for an fsync (`synchronous =
//! FULL`). One transaction per enquiry would make concurrent families queue
//! for that one fsync each. Instead a single task takes every enquiry waiting
//! at that moment and stores them in one transaction: each family's enquiry
//! is still committed before it is acknowledged, but sixteen arriving together
//! cost about one fsync, not sixteen. A lone enquiry is not delayed: the task
//! never waits for company, it only takes what has queued while the previous
//! commit ran. PostgreSQL commits concurrent transactions in parallel, so it
//! does not use this.

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use super::intake::{InsertOutcome, NewEnquiry, insert_rows};
use super::{StoreError, now_ms};

/// Most enquiries stored in one transaction.
const MAX_BATCH: usize = 64;
/// Enquiries that may wait for the writer before callers wait to queue.
const QUEUE_DEPTH: usize = 1024;

/// A `NewEnquiry` that can cross to the writer task.
struct OwnedEnquiry {
    id: String,
    site: String,
    payload: String,
    spam_verdict: String,
    idempotency_key: Option<String>,
    held: bool,
}

impl OwnedEnquiry {
    fn of(new: &NewEnquiry<'_>) -> OwnedEnquiry {
        OwnedEnquiry {
            id: new.id.to_owned(),
            site: new.site.to_owned(),
            payload: new.payload.to_owned(),
            spam_verdict: new.spam_verdict.to_owned(),
            idempotency_key: new.idempotency_key.map(str::to_owned),
            held: new.held,
        }
    }

    fn borrowed(&self) -> NewEnquiry<'_> {
        NewEnquiry {
            id: &self.id,
            site: &self.site,
            payload: &self.payload,
            spam_verdict: &self.spam_verdict,
            idempotency_key: self.idempotency_key.as_deref(),
            held: self.held,
        }
    }
}

struct Job {
    enquiry: OwnedEnquiry,
    reply: oneshot::Sender<Result<InsertOutcome, StoreError>>,
}

/// The handle intake uses; the writer task ends when every handle is dropped.
#[derive(Clone)]
pub(super) struct IntakeWriter {
    jobs: mpsc::Sender<Job>,
}

impl IntakeWriter {
    /// Start the writer task on `pool` (the SQLite writer pool).
    pub(super) fn start(pool: AnyPool) -> IntakeWriter {
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(pool, queue));
        IntakeWriter { jobs }
    }

    /// Store one enquiry; returns once its transaction has committed.
    pub(super) async fn insert(&self, new: &NewEnquiry<'_>) -> Result<InsertOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            enquiry: OwnedEnquiry::of(new),
            reply,
        };
        if self.jobs.send(job).await.is_err() {
            return Err(StoreError::Batch("the intake writer has stopped".into()));
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Batch(
                "the intake writer stopped mid-write".into(),
            ))
        })
    }
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
            Ok(outcomes) => {
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    // A caller that gave up (request cancelled) no longer listens.
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                // Nothing of this batch was committed: every caller answers 503
                // and the family can send again.
                let message = e.to_string();
                for job in jobs {
                    let _ = job.reply.send(Err(StoreError::Batch(message.clone())));
                }
            }
        }
    }
}

async fn commit(pool: &AnyPool, jobs: &[Job]) -> Result<Vec<InsertOutcome>, StoreError> {
    let now = now_ms();
    let mut tx = pool.begin().await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        // A repeated idempotency key inserts nothing, so it needs no rollback:
        // the rest of the batch commits as usual.
        outcomes.push(
            match insert_rows(&mut tx, &job.enquiry.borrowed(), now).await? {
                Some(enquiry_id) => InsertOutcome::Duplicate { enquiry_id },
                None => InsertOutcome::Created,
            },
        );
    }
    tx.commit().await?;
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::super::{InsertOutcome, NewEnquiry, Store};

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
                    id: &id,
                    site: "upton-court",
                    payload: "{}",
                    spam_verdict: "clean",
                    idempotency_key: key,
                    held: false,
                };
                let outcome = store.insert_enquiry(&new).await.unwrap();
                (id.clone(), outcome)
            }));
        }
        let mut created = HashSet::new();
        let mut duplicates_of = HashSet::new();
        for task in tasks {
            match task.await.unwrap() {
                (id, InsertOutcome::Created) => assert!(created.insert(id)),
                (_, InsertOutcome::Duplicate { enquiry_id }) => {
                    duplicates_of.insert(enquiry_id);
                }
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
            .find(|(s, _)| s.as_str() == "pending")
            .unwrap()
            .1;
        assert_eq!(pending, 49);
        store.close().await;
    }
}
