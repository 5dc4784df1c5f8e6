//! The search indexer: writes each stored enquiry's search terms after its
//! acknowledgement, and at start-up those of enquiries stored before terms
//! existed. Runs until shutdown; every instance may run it at once (a batch
//! only writes rows still pending, so two never both write one).
//!
//! Why not in intake's transaction: an enquiry's six to eight terms are
//! keyed by a hash, so each lands on its own page of one large index. At a
//! million stored that was most of the pages a group commit wrote (and of
//! the WAL it grew), paid inside every family's wait. Here they are written
//! in batches the writer takes when intake is not queued: a search finds an
//! enquiry within about a second of its acknowledgement, and under a
//! sustained flood the indexer still takes a batch every
//! [`YIELD_AT_MOST`] and catches up when the flood ends. The staff list,
//! the counts, export and erasure do not depend on the terms (export and
//! erasure also open every enquiry still pending, `storage::erasure`).

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::storage::{BackfillReport, Store};

/// Enquiries per transaction. Each term lands on a page of its own, so a
/// transaction writes (and fsyncs) about eight pages per enquiry while it
/// holds SQLite's one writer, and a family's post arriving meanwhile waits
/// for all of it: 8 enquiries hold it about as long as one group commit.
/// At 64 a batch wrote 1.5–3.5 MB of WAL and intake's p99 at 16 clients was
/// 56–77 ms; at 8 it was 18–24 ms (BENCHMARKS.md, issue 31).
pub const BATCH: i64 = 8;
/// How long a batch waits for intake's queued writes to go first.
pub const YIELD_AT_MOST: Duration = Duration::from_secs(1);
/// How often the indexer looks while nothing is stored here: enquiries
/// stored by another instance (PostgreSQL), or left pending by a failed
/// batch, are found on the next look.
const LOOK_EVERY: Duration = Duration::from_secs(5);
/// After a failed batch (the database away for a moment), try again this much later.
const RETRY_AFTER: Duration = Duration::from_secs(10);
/// How often intake's queue is looked at while the batch waits for it.
const QUEUE_LOOK: Duration = Duration::from_millis(2);

/// Run the indexer until `shutdown`. Logs counts, never what an enquiry says.
pub async fn run(store: Store, shutdown: CancellationToken) {
    let mut unreadable_reported = 0;
    let mut first_round = true;
    loop {
        let round = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            round = index_pending(&store) => round,
        };
        let wait = match round {
            Ok(total) => {
                if first_round && total.filled > 0 {
                    info!(
                        filled = total.filled,
                        "search terms written for the enquiries stored before they existed (or while this instance was stopped)"
                    );
                } else if total.filled > 0 {
                    debug!(filled = total.filled, "search terms written");
                }
                first_round = false;
                if total.unreadable > unreadable_reported {
                    warn!(
                        unreadable = total.unreadable,
                        "some enquiries could not be opened for their search terms (a key missing from database.encryption_key_file, or a damaged value); a search does not find them until they can be"
                    );
                }
                unreadable_reported = total.unreadable;
                LOOK_EVERY
            }
            Err(e) => {
                warn!(error = %crate::telemetry::chain(&e), "writing search terms failed; trying again in 10 s");
                RETRY_AFTER
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = store.search_terms_stored() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Batches until no pending enquiry is left; what they did.
async fn index_pending(store: &Store) -> Result<BackfillReport, crate::storage::StoreError> {
    let (mut total, mut after) = (BackfillReport::default(), String::new());
    loop {
        queued_writes_first(store).await;
        let (report, last) = store.fill_search_terms_after(&after, BATCH).await?;
        total += report;
        match last {
            Some(last) => after = last,
            None => return Ok(total),
        }
    }
}

/// Wait while intake or delivery writes are queued for SQLite's writer, up
/// to [`YIELD_AT_MOST`]. Nothing to wait for on PostgreSQL.
async fn queued_writes_first(store: &Store) {
    let started = Instant::now();
    while store.writes_queued() && started.elapsed() < YIELD_AT_MOST {
        tokio::time::sleep(QUEUE_LOOK).await;
    }
}
