//! The search indexer: writes each stored enquiry's search terms after its
//! acknowledgement, and at start-up those of enquiries stored before terms
//! existed. Runs until shutdown; every instance may run it at once (a batch
//! only writes rows still pending, so two never both write one).
//!
//! Why not in intake's transaction: an enquiry's six to eight terms are
//! keyed by a hash, so each lands on its own page of one large index. At a
//! million stored that was most of the pages a group commit wrote (and of
//! the WAL it grew), paid inside every family's wait. Here they are written
//! in batches the writer takes once intake has been quiet for [`QUIET`]: a
//! search finds an enquiry within about a second of its acknowledgement.
//! Under a sustained flood the indexer takes one batch every
//! [`YIELD_AT_MOST`] and catches up when the flood ends: each batch's
//! terms land on pages all over a large index, and at a million stored
//! those scattered pages were a quarter of what each commit wrote and most
//! of what the background checkpoint copied (BENCHMARKS.md, issue 31), so
//! a flood is not the moment to write them. The staff list,
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
/// The longest a batch waits for intake to go quiet.
pub const YIELD_AT_MOST: Duration = Duration::from_secs(1);
/// Intake is quiet when no enquiry has reached the writer for this long and
/// none is queued. Posts 50 ms apart are 20 a second, far above any real
/// group of homes; a flood keeps arriving faster.
pub const QUIET: Duration = Duration::from_millis(50);
/// How often the indexer looks while nothing is stored here: enquiries
/// stored by another instance (PostgreSQL), or left pending by a failed
/// batch, are found on the next look.
const LOOK_EVERY: Duration = Duration::from_secs(5);
/// After a failed batch (the database away for a moment), try again this much later.
const RETRY_AFTER: Duration = Duration::from_secs(10);
/// How often intake is looked at while the batch waits for it to go quiet.
const QUEUE_LOOK: Duration = Duration::from_millis(2);

/// Run the indexer until `shutdown`. Logs counts, never what an enquiry says.
pub async fn run(store: Store, shutdown: CancellationToken) {
    let mut unreadable_reported = 0;
    let mut first_round = true;
    let mut watch = IntakeWatch::new(&store);
    loop {
        let round = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            round = index_pending(&store, &mut watch) => round,
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
async fn index_pending(
    store: &Store,
    watch: &mut IntakeWatch,
) -> Result<BackfillReport, crate::storage::StoreError> {
    let (mut total, mut after) = (BackfillReport::default(), String::new());
    loop {
        watch.wait(store).await;
        let (report, last) = store.fill_search_terms_after(&after, BATCH).await?;
        total += report;
        match last {
            Some(last) => after = last,
            None => return Ok(total),
        }
    }
}

/// When an enquiry last reached SQLite's writer, as far as the indexer has
/// looked. Kept across batches, so once a flood ends the catch-up runs
/// batch after batch instead of waiting [`QUIET`] before each.
struct IntakeWatch {
    seen: u64,
    changed_at: Instant,
}

impl IntakeWatch {
    fn new(store: &Store) -> IntakeWatch {
        IntakeWatch {
            seen: store.intake_writes(),
            changed_at: Instant::now(),
        }
    }

    /// Whether intake is quiet now (on PostgreSQL: always).
    fn quiet(&mut self, store: &Store) -> bool {
        self.look(store.intake_writes(), store.writes_queued(), Instant::now())
    }

    /// Whether intake is quiet at `now`, given the writer's count of
    /// enquiries so far and whether writes are queued: no enquiry reached
    /// the writer in the last [`QUIET`] (or none ever) and none is queued.
    fn look(&mut self, writes: u64, queued: bool, now: Instant) -> bool {
        if writes != self.seen {
            (self.seen, self.changed_at) = (writes, now);
        }
        let still = writes == 0 || now.saturating_duration_since(self.changed_at) >= QUIET;
        still && !queued
    }

    /// Wait until intake is quiet, or [`YIELD_AT_MOST`] has passed.
    async fn wait(&mut self, store: &Store) {
        let started = Instant::now();
        while !self.quiet(store) && started.elapsed() < YIELD_AT_MOST {
            tokio::time::sleep(QUEUE_LOOK).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{IntakeWatch, QUIET};

    fn watch(seen: u64, at: Instant) -> IntakeWatch {
        IntakeWatch {
            seen,
            changed_at: at,
        }
    }

    #[test]
    fn with_nothing_ever_stored_only_a_queued_write_goes_first() {
        let t0 = Instant::now();
        let mut w = watch(0, t0);
        assert!(
            w.look(0, false, t0),
            "start-up backfill: nothing to wait for"
        );
        assert!(!w.look(0, true, t0), "a queued write goes first");
    }

    #[test]
    fn quiet_comes_only_after_no_enquiry_for_the_quiet_time() {
        let t0 = Instant::now();
        let mut w = watch(5, t0);
        let t1 = t0 + Duration::from_secs(10);
        assert!(!w.look(6, false, t1), "an enquiry just arrived");
        assert!(!w.look(6, false, t1 + QUIET - Duration::from_millis(1)));
        assert!(w.look(6, false, t1 + QUIET));
        assert!(!w.look(6, true, t1 + QUIET), "quiet, but a write is queued");
    }

    #[test]
    fn a_flood_is_never_quiet_and_its_end_is_quiet_for_every_batch_after() {
        let t0 = Instant::now();
        let mut w = watch(0, t0);
        // 2,000 enquiries a second for two seconds, looked at every 2 ms.
        for ms in 0..2_000u64 {
            let at = t0 + Duration::from_millis(ms);
            assert!(
                !w.look(1 + 2 * ms, false, at),
                "quiet in a flood at {ms} ms"
            );
        }
        // The flood ends: quiet once, then for every batch of the catch-up,
        // without waiting the quiet time again before each.
        let end = t0 + Duration::from_millis(1_999) + QUIET;
        for batch in 0..100u32 {
            assert!(w.look(
                3_999,
                false,
                end + Duration::from_micros(u64::from(batch) * 500)
            ));
        }
    }
}
