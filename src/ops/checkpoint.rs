//! The background WAL checkpoint (SQLite): four times a second, copy what commits
//! appended to the WAL into the database file, so no commit has to, and keep
//! the WAL file near its size target (`storage::checkpoint` says how and why).

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::storage::{Backend, Checkpointer, Store, WAL_TARGET_BYTES, WalReset};

/// Often, so each pass has little to copy: a pass's fsync of the database
/// file holds up the commits' own fsyncs while it runs, and once a second
/// that was 20–35 ms in which every family waited, two thirds of the
/// slowest 1 % at 16 clients (BENCHMARKS.md, "Where the slowest 1 % wait").
/// A quarter of a second cut the longest waits by a third. Idle, a pass
/// finds nothing to copy and costs two statements.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Run checkpoints until `shutdown` is cancelled. Returns at once on PostgreSQL.
pub async fn run(store: Store, shutdown: CancellationToken) {
    if store.backend() != Backend::Sqlite {
        return;
    }
    let mut checkpointer = None;
    let mut failing = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(CHECKPOINT_EVERY) => {}
        }
        failing = tick(&store, &mut checkpointer, failing).await;
    }
    if let Some(checkpointer) = checkpointer {
        checkpointer.close().await;
    }
}

/// One checkpoint pass, opening the checkpoint's connection first if there
/// is none (at the first pass, or after a failure, which drops it so a
/// broken connection is replaced). Returns whether it failed. A failure is
/// logged once per run of failures (the readiness check reports a write
/// path that is down).
pub async fn tick(
    store: &Store,
    checkpointer: &mut Option<Checkpointer>,
    was_failing: bool,
) -> bool {
    let passed = match checkpointer {
        Some(open) => open.pass().await,
        None => match store.checkpointer(WAL_TARGET_BYTES).await {
            Ok(Some(open)) => checkpointer.insert(open).pass().await,
            // PostgreSQL: `run` never gets here.
            Ok(None) => return false,
            Err(e) => Err(e),
        },
    };
    match passed {
        Ok(report) => {
            let frames = report.passive.wal_frames;
            match report.reset {
                WalReset::Kept if frames == 0 => {}
                WalReset::Kept | WalReset::Restarted | WalReset::Truncated => debug!(
                    wal_frames = frames,
                    checkpointed = report.passive.checkpointed,
                    reset = ?report.reset,
                    tries = report.tries,
                    writer_held_ms = report.held.as_millis() as u64,
                    "WAL checkpoint"
                ),
                // A long read (a staff export) holds an old snapshot: the WAL
                // grows past its target until it ends. Not a failure.
                WalReset::GaveUp => debug!(
                    wal_frames = frames,
                    tries = report.tries,
                    "WAL above its size target, but a reader kept it from restarting; trying again in a second"
                ),
            }
            false
        }
        Err(e) => {
            *checkpointer = None;
            if !was_failing {
                warn!(error = %crate::telemetry::chain(&e), "WAL checkpoint failed; the WAL file grows until one succeeds (it is retried four times a second)");
            }
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_tick_opens_the_checkpoint_connection_and_an_idle_one_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("relay.db").display());
        let store = Store::connect(&url, 2).await.unwrap();
        store.migrate().await.unwrap();
        let wal = dir.path().join("relay.db-wal");
        assert!(std::fs::metadata(&wal).unwrap().len() > 0);

        let mut checkpointer = None;
        assert!(!tick(&store, &mut checkpointer, false).await);
        assert!(checkpointer.is_some());
        // Nothing committed since the first tick.
        assert!(!tick(&store, &mut checkpointer, false).await);
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
        if let Some(checkpointer) = checkpointer {
            checkpointer.close().await;
        }
        store.close().await;
    }
}
