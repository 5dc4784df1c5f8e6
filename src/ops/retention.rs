//! The retention job: scrub personal data past `[retention]`'s periods, once
//! shortly after start and then every `retention.interval` (daily by
//! default), until shutdown, which also cuts a pass short. `enquiries purge`
//! runs the same pass.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::RetentionSettings;
use crate::storage::{PurgeReport, Store, StoreError, now_ms};

/// How long after start the first pass runs: soon, but off the start-up path
/// (or sooner, when the interval itself is shorter).
const FIRST_RUN_AFTER: Duration = Duration::from_secs(60);

/// One retention pass with these periods, as of now.
pub async fn purge_now(
    store: &Store,
    retention: &RetentionSettings,
) -> Result<PurgeReport, StoreError> {
    let now = now_ms();
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    store
        .purge(
            now.saturating_sub(ms(retention.synced)),
            now.saturating_sub(ms(retention.spam)),
            now.saturating_sub(ms(retention.held)),
        )
        .await
}

/// Run the pass every `retention.interval` until `shutdown`. Several instances may run it at once:
/// each statement only touches rows not yet scrubbed, so they do not conflict.
pub async fn run(store: Store, retention: RetentionSettings, shutdown: CancellationToken) {
    let mut wait = FIRST_RUN_AFTER.min(retention.interval);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = retention.interval;
        // Shutdown cuts the pass: each chunk is its own transaction, so a cut
        // chunk rolls back whole and the next pass picks up the rest, and a
        // pass waiting on a lock (or a slow disk) does not hold shutdown.
        let pass = tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                info!("retention pass stopped by shutdown; the next pass does the rest");
                return;
            }
            pass = purge_now(&store, &retention) => pass,
        };
        match pass {
            Ok(report) => info!(
                synced_scrubbed = report.synced_scrubbed,
                spam_scrubbed = report.spam_scrubbed,
                held_expired = report.held_expired,
                idempotency_keys_deleted = report.idempotency_keys_deleted,
                "retention pass done"
            ),
            Err(e) => {
                warn!(error = %e, "retention pass failed; it runs again after retention.interval, or run `enquiry-relay enquiries purge`")
            }
        }
    }
}
