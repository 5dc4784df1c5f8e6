//! The search-term backfill in the background: from start-up, batch after
//! batch, until no enquiry stored before its terms existed is left (the
//! store's `fill_search_terms_after` says what a batch does), or shutdown.
//! Every instance may run it at once: a batch only writes rows still
//! pending, so two never both write one.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::storage::{BackfillReport, Store};

/// Enquiries per transaction: a batch holds SQLite's one writer for
/// milliseconds.
pub const BATCH: i64 = 500;
/// Between batches: intake and delivery outcomes queued for the writer go
/// first, so a long first backfill does not slow them.
const PAUSE: Duration = Duration::from_millis(20);
/// After a failed batch (the database away for a moment), try again this much later.
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// Run the backfill until done or `shutdown`. Logs counts, never what an
/// enquiry says.
pub async fn run(store: Store, shutdown: CancellationToken) {
    let (mut total, mut after) = (BackfillReport::default(), String::new());
    loop {
        let batch = tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                if total.filled > 0 {
                    info!(filled = total.filled, "search-term backfill stopped by shutdown; the next start does the rest");
                }
                return;
            }
            batch = store.fill_search_terms_after(&after, BATCH) => batch,
        };
        let wait = match batch {
            Ok((report, last)) => {
                total += report;
                let Some(last) = last else { break };
                after = last;
                // A batch writes terms all over their index: on SQLite,
                // copy them into the database file before the next, so the
                // WAL starts over rather than grow for the whole backfill
                // (the once-a-second checkpoint never finds it idle
                // meanwhile). A failure here is the checkpoint task's to
                // report. Nothing to do on PostgreSQL.
                let _ = store.checkpoint().await;
                PAUSE
            }
            Err(e) => {
                warn!(error = %e, "search-term backfill batch failed; trying again in a minute");
                RETRY_AFTER
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
    if total != BackfillReport::default() {
        info!(
            filled = total.filled,
            unreadable = total.unreadable,
            changed = total.changed,
            "search-term backfill done: enquiries stored before search terms existed are searchable"
        );
    }
    if total.unreadable > 0 {
        warn!(
            unreadable = total.unreadable,
            "some enquiries could not be opened for their search terms (a key missing from database.encryption_key_file, or a damaged value); they are tried again at the next start"
        );
    }
}
