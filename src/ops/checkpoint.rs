//! The background WAL checkpoint (SQLite): every second, copy what commits
//! appended to the WAL into the database file, so no commit has to
//! (`storage::checkpoint` says why).

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::storage::{Backend, Store};

/// Often enough that the WAL stays a few thousand pages at the busiest
/// intake measured (≈ 5 000 enquiries/s), rare enough to cost nothing idle.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Run checkpoints until `shutdown` is cancelled. Returns at once on PostgreSQL.
pub async fn run(store: Store, shutdown: CancellationToken) {
    if store.backend() != Backend::Sqlite {
        return;
    }
    let mut failing = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(CHECKPOINT_EVERY) => {}
        }
        failing = tick(&store, failing).await;
    }
}

/// One checkpoint; returns whether it failed. A failure is logged once per
/// run of failures (the readiness check reports a write path that is down).
pub async fn tick(store: &Store, was_failing: bool) -> bool {
    match store.checkpoint().await {
        Ok(report) => {
            if report.wal_frames > 0 {
                debug!(
                    wal_frames = report.wal_frames,
                    checkpointed = report.checkpointed,
                    "WAL checkpoint"
                );
            }
            false
        }
        Err(e) => {
            if !was_failing {
                warn!(error = %e, "WAL checkpoint failed; the WAL file grows until one succeeds (it is retried every second)");
            }
            true
        }
    }
}
