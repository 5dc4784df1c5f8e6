//! SQLite WAL checkpoints, kept off the commit path, and the bound on the
//! WAL file's size.
//!
//! By default SQLite checkpoints inside the commit that pushes the WAL past
//! 1 000 pages: that commit copies the WAL into the database file and syncs
//! it, and every enquiry waiting in the same group commit waits with it
//! (ack stalls of 100–220 ms, issue 11). Every connection therefore runs with
//! `wal_autocheckpoint = 0`, and a background task (`ops::checkpoint`) drives
//! a [`Checkpointer`] four times a second instead (`ops::checkpoint`):
//!
//! 1. A PASSIVE checkpoint, which takes no write lock, so commits go on
//!    appending to the WAL while it copies.
//! 2. PASSIVE alone does not bound the WAL under a sustained burst (issue
//!    31: 2.4 GB in 90 s at 64 clients): it stops at the oldest reader's
//!    snapshot and commits keep appending, and a commit only starts the WAL
//!    over when everything is copied and no reader is on the WAL, which under
//!    load is never. So when the WAL is still above [`WAL_TARGET_BYTES`], the
//!    pass takes the writer (no write can be in flight while it is held),
//!    and runs a RESTART checkpoint: it copies the last frames and waits for
//!    the readers on the WAL, after which the next commit writes the WAL from
//!    its beginning, and cuts the file back to `journal_size_limit` (the same
//!    target). The wait is short and grows per try (20 → 640 ms), with the
//!    writer handed back to the group commit between tries; a reader holding
//!    an old snapshot for longer (a staff export) makes the pass give up
//!    until the next second rather than stall intake.
//! 3. When nothing was committed since the previous pass (`data_version`
//!    unchanged) and the WAL is not empty, a TRUNCATE checkpoint takes the
//!    file back to 0 bytes.
//!
//! Durability is untouched: checkpoints copy only committed frames, and
//! every connection keeps `synchronous = FULL`.

use std::time::Duration;

use sqlx::{AnyConnection, AnyPool, Connection as _, Executor as _};

use super::{Backend, Store, StoreError};

/// The WAL size a pass works to stay under, and every connection's
/// `journal_size_limit` (what a restarted WAL file is cut back to). Big
/// enough that a second of the busiest measured intake fits without a
/// RESTART, small enough to be no disk-space worry.
pub const WAL_TARGET_BYTES: i64 = 64 * 1024 * 1024;

/// The first RESTART try's busy timeout; each failed try doubles it, up to
/// [`LAST_TRY`]. Short, because intake waits for the writer while it runs.
const FIRST_TRY: Duration = Duration::from_millis(20);
/// The longest a pass holds the writer waiting for readers in one try.
const LAST_TRY: Duration = Duration::from_millis(640);

/// What one checkpoint did, in WAL frames (pages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckpointReport {
    /// Frames in the WAL when the checkpoint ran.
    pub wal_frames: i64,
    /// Frames copied into the database file (all of them unless a reader
    /// still needed older ones; those are copied by a later checkpoint).
    pub checkpointed: i64,
}

/// What a [`Checkpointer`] pass did after its PASSIVE copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalReset {
    /// Nothing more was needed: the WAL is under the target and commits are
    /// coming in, or it is empty.
    Kept,
    /// RESTART: the next commit writes the WAL from its beginning.
    Restarted,
    /// TRUNCATE while idle: the WAL file is 0 bytes.
    Truncated,
    /// A reader kept the RESTART or TRUNCATE from finishing on every try;
    /// the next pass tries again.
    GaveUp,
}

/// One [`Checkpointer::pass`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PassReport {
    /// The PASSIVE checkpoint every pass starts with.
    pub passive: CheckpointReport,
    /// What followed it.
    pub reset: WalReset,
    /// RESTART or TRUNCATE tries (each holding the writer once).
    pub tries: u32,
    /// How long the writer was held, all tries together.
    pub held: Duration,
}

/// The background checkpoint's own SQLite connection and what it remembers
/// between passes. A connection of its own, not a reader from the pool:
/// `data_version` only means "nothing committed since" when asked on the
/// same connection each time, and its short busy timeout must not reach
/// intake's reads.
pub struct Checkpointer {
    conn: AnyConnection,
    /// The store's writer pool (one connection): held during a RESTART or
    /// TRUNCATE so no write is in flight and none races the checkpoint for
    /// SQLite's write lock.
    writer: AnyPool,
    target_frames: i64,
    /// `PRAGMA data_version` at the previous pass.
    last_version: Option<i64>,
}

impl Store {
    /// Copy the WAL into the database file without blocking writers
    /// (`PRAGMA wal_checkpoint(PASSIVE)`), on a reader connection so the
    /// single writer stays free. PostgreSQL: nothing to do. Tests only: the
    /// service checkpoints through its [`Checkpointer`] (the search indexer
    /// no longer runs one of its own).
    #[cfg(test)]
    pub(crate) async fn checkpoint(&self) -> Result<CheckpointReport, StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(CheckpointReport::default());
        }
        let row: (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&self.reader)
            .await?;
        Ok(report_of(row))
    }

    /// A [`Checkpointer`] keeping the WAL near `target_bytes`
    /// ([`WAL_TARGET_BYTES`] in the service), on a connection of its own.
    /// `None` on PostgreSQL, which has no WAL file to bound.
    pub async fn checkpointer(
        &self,
        target_bytes: i64,
    ) -> Result<Option<Checkpointer>, StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        // Taken out of the reader pool, so it is opened with every
        // connection's pragmas (WAL, `synchronous = FULL`); the pool opens
        // another in its place.
        let mut conn = self.reader.acquire().await?.detach();
        let (page_size,): (i64,) = sqlx::query_as("PRAGMA page_size")
            .fetch_one(&mut conn)
            .await?;
        Ok(Some(Checkpointer {
            conn,
            writer: self.writer.clone(),
            target_frames: (target_bytes / page_size.max(512)).max(1),
            last_version: None,
        }))
    }
}

impl Checkpointer {
    /// One pass: PASSIVE, then RESTART when the WAL is above the target, or
    /// TRUNCATE when nothing was committed since the previous pass.
    pub async fn pass(&mut self) -> Result<PassReport, StoreError> {
        let (passive, idle) = self.passive().await?;
        self.bound(passive, idle).await
    }

    /// The pass's first half: the PASSIVE copy, and whether nothing was
    /// committed since the previous pass.
    pub(crate) async fn passive(&mut self) -> Result<(CheckpointReport, bool), StoreError> {
        // Read before the copy: a commit landing during it counts for the
        // next pass, which then does not truncate.
        let (version,): (i64,) = sqlx::query_as("PRAGMA data_version")
            .fetch_one(&mut self.conn)
            .await?;
        let idle = self.last_version == Some(version);
        self.last_version = Some(version);
        let row: (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut self.conn)
            .await?;
        Ok((report_of(row), idle))
    }

    /// The pass's second half, after [`Checkpointer::passive`].
    pub(crate) async fn bound(
        &mut self,
        passive: CheckpointReport,
        idle: bool,
    ) -> Result<PassReport, StoreError> {
        let (reset, tries, held) = if passive.wal_frames == 0 {
            (WalReset::Kept, 0, Duration::ZERO)
        } else if idle {
            // Nobody is writing: one try, the next pass tries again.
            self.reset(
                "PRAGMA wal_checkpoint(TRUNCATE)",
                FIRST_TRY,
                WalReset::Truncated,
            )
            .await?
        } else if passive.wal_frames > self.target_frames {
            // The PASSIVE above copied the latest commits and fsynced the
            // database file while intake went on appending. A second one
            // copies only what came meanwhile, so the RESTART that holds
            // the writer has just the last few commits left to copy.
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut self.conn)
                .await?;
            self.reset(
                "PRAGMA wal_checkpoint(RESTART)",
                LAST_TRY,
                WalReset::Restarted,
            )
            .await?
        } else {
            (WalReset::Kept, 0, Duration::ZERO)
        };
        Ok(PassReport {
            passive,
            reset,
            tries,
            held,
        })
    }

    /// Run `checkpoint` (RESTART or TRUNCATE) holding the writer, with a busy
    /// timeout from [`FIRST_TRY`] doubling up to `last_try`; the writer is
    /// handed back between tries, so intake waits at most one try at a time.
    async fn reset(
        &mut self,
        checkpoint: &'static str,
        last_try: Duration,
        done: WalReset,
    ) -> Result<(WalReset, u32, Duration), StoreError> {
        let mut wait = FIRST_TRY;
        let mut tries = 0;
        let mut held = Duration::ZERO;
        loop {
            tries += 1;
            let busy = {
                // While this is held no write is in flight, so SQLite's write
                // lock is free and the checkpoint waits only for readers.
                let _writer = self.writer.acquire().await?;
                let since = std::time::Instant::now();
                self.conn
                    .execute(sqlx::AssertSqlSafe(format!(
                        "PRAGMA busy_timeout = {}",
                        wait.as_millis()
                    )))
                    .await?;
                let (busy, _, _): (i64, i64, i64) =
                    sqlx::query_as(checkpoint).fetch_one(&mut self.conn).await?;
                held += since.elapsed();
                busy != 0
            };
            if !busy {
                return Ok((done, tries, held));
            }
            if wait >= last_try {
                return Ok((WalReset::GaveUp, tries, held));
            }
            wait *= 2;
            // Let the commits queued behind this try take the writer first.
            tokio::task::yield_now().await;
        }
    }

    /// Close the connection (at shutdown).
    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

/// A `wal_checkpoint` row (busy, WAL frames, frames checkpointed) as a
/// report. SQLite answers -1 for both counts when the database is not in
/// WAL mode.
fn report_of((_busy, wal_frames, checkpointed): (i64, i64, i64)) -> CheckpointReport {
    CheckpointReport {
        wal_frames: wal_frames.max(0),
        checkpointed: checkpointed.max(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::path::{Path, PathBuf};

    use sqlx::pool::PoolConnection;

    /// The WAL target of the bound tests: 64 pages of 4 KiB, so a few dozen
    /// commits of a few pages each go past it many times over.
    const SMALL_TARGET: i64 = 256 * 1024;
    /// Rows per [`write_batch`]; each row fills about a page.
    const BATCH_ROWS: usize = 20;

    async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}", dir.path().join("relay.db").display());
        let store = Store::connect(&url, 4).await.unwrap();
        store.migrate().await.unwrap();
        sqlx::query("CREATE TABLE filler (blob TEXT NOT NULL)")
            .execute(&store.writer)
            .await
            .unwrap();
        // Every test starts from an empty WAL (the migrations filled it).
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&store.writer)
            .await
            .unwrap();
        store
    }

    fn wal_file(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("relay.db-wal")
    }

    /// The WAL file's size on disk (0 when SQLite has removed it).
    fn size_of(wal: &Path) -> u64 {
        std::fs::metadata(wal).map_or(0, |m| m.len())
    }

    /// One commit of about [`BATCH_ROWS`] pages, through the writer pool as
    /// every write of the service goes.
    async fn write_batch(store: &Store) -> Result<(), sqlx::Error> {
        let page_of_text = "x".repeat(4000);
        let mut tx = store.writer.begin().await?;
        for _ in 0..BATCH_ROWS {
            sqlx::query("INSERT INTO filler (blob) VALUES (?)")
                .bind(&page_of_text)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    /// A reader with a snapshot open (a read transaction that has read), as
    /// intake's reads and staff exports hold one while commits go on.
    async fn begin_read(store: &Store) -> PoolConnection<sqlx::Any> {
        let mut conn = store.reader.acquire().await.unwrap();
        conn.execute("BEGIN").await.unwrap();
        let _: (i64,) = sqlx::query_as("SELECT count(*) FROM filler")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        conn
    }

    async fn end_read(mut conn: PoolConnection<sqlx::Any>) {
        conn.execute("ROLLBACK").await.unwrap();
    }

    #[tokio::test]
    async fn no_connection_checkpoints_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        for pool in [&store.writer, &store.reader] {
            let (pages,): (i64,) = sqlx::query_as("PRAGMA wal_autocheckpoint")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(pages, 0, "a commit would checkpoint after {pages} pages");
        }
        store.close().await;
    }

    #[tokio::test]
    async fn commits_stay_in_the_wal_until_the_checkpoint_copies_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        // Write past SQLite's default threshold of 1 000 pages, so the old
        // default would have checkpointed inside one of these commits.
        for _ in 0..60 {
            write_batch(&store).await.unwrap();
        }
        let before = store.checkpoint().await.unwrap();
        assert!(
            before.wal_frames > 1_000,
            "every commit should still be in the WAL, found {before:?}"
        );
        assert_eq!(before.checkpointed, before.wal_frames, "{before:?}");

        // The next commit starts the WAL over from its beginning.
        store.check_writes().await.unwrap();
        let after = store.checkpoint().await.unwrap();
        assert!(after.wal_frames < before.wal_frames, "{after:?}");
        store.close().await;
    }

    /// Under load some reader always has a snapshot in the WAL, so PASSIVE
    /// stops short of its end and no commit can start it over: the WAL grew
    /// without bound (issue 31). Here every commit happens with a reader on
    /// the WAL, and each pass's PASSIVE runs while that reader still holds
    /// its snapshot; the reader ends before the pass's second half, as
    /// intake's short reads end while the pass waits for the writer.
    #[tokio::test]
    async fn a_wal_above_the_target_is_restarted_while_writes_continue() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let mut checkpointer = store.checkpointer(SMALL_TARGET).await.unwrap().unwrap();
        let wal = wal_file(&dir);
        let page = 4096 + 24; // a WAL frame: header and page
        let batch = (BATCH_ROWS as u64 + 4) * page;
        // At most the target and the commits of one pass, plus the WAL header.
        let bound = SMALL_TARGET as u64 + 2 * batch + 32;

        let (mut peak, mut restarts, mut written) = (0, 0, 0);
        let mut reader = begin_read(&store).await;
        while written < 12 * SMALL_TARGET as u64 {
            write_batch(&store).await.unwrap();
            written += batch;
            peak = peak.max(size_of(&wal));
            assert!(
                peak <= bound,
                "the WAL file reached {peak} bytes after {written} written (bound {bound})"
            );
            let (passive, idle) = checkpointer.passive().await.unwrap();
            end_read(reader).await;
            let report = checkpointer.bound(passive, idle).await.unwrap();
            assert_ne!(report.reset, WalReset::GaveUp, "{report:?}");
            assert_ne!(report.reset, WalReset::Truncated, "{report:?}");
            if report.reset == WalReset::Restarted {
                restarts += 1;
                assert!(passive.wal_frames * 4096 > SMALL_TARGET, "{report:?}");
            }
            reader = begin_read(&store).await;
        }
        end_read(reader).await;
        assert!(restarts >= 3, "{restarts} restarts, peak {peak}");
        checkpointer.close().await;
        store.close().await;
    }

    #[tokio::test]
    async fn an_idle_wal_is_truncated_to_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let mut checkpointer = store.checkpointer(WAL_TARGET_BYTES).await.unwrap().unwrap();
        let wal = wal_file(&dir);

        write_batch(&store).await.unwrap();
        // Commits since the last pass (here: since there was none): the WAL
        // under its target is left to grow.
        let busy = checkpointer.pass().await.unwrap();
        assert_eq!(busy.reset, WalReset::Kept, "{busy:?}");
        assert!(size_of(&wal) > 0);

        // Nothing committed since: the file goes back to 0 bytes.
        let idle = checkpointer.pass().await.unwrap();
        assert_eq!(idle.reset, WalReset::Truncated, "{idle:?}");
        assert_eq!(size_of(&wal), 0);

        // Nothing left to do while it stays idle.
        let still = checkpointer.pass().await.unwrap();
        assert_eq!((still.reset, still.tries), (WalReset::Kept, 0), "{still:?}");

        // A commit again: not idle, so not truncated.
        write_batch(&store).await.unwrap();
        let again = checkpointer.pass().await.unwrap();
        assert_eq!(again.reset, WalReset::Kept, "{again:?}");
        assert!(size_of(&wal) > 0);
        checkpointer.close().await;
        store.close().await;
    }

    /// A staff export holds an old snapshot: RESTART cannot finish, so the
    /// pass gives up after its tries, while the commits it held up between
    /// tries all succeed. Once the reader ends the next pass restarts the WAL.
    #[tokio::test]
    async fn a_long_reader_makes_the_restart_give_up_without_failing_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let mut checkpointer = store.checkpointer(SMALL_TARGET).await.unwrap().unwrap();
        write_batch(&store).await.unwrap();
        let export = begin_read(&store).await;
        for _ in 0..10 {
            write_batch(&store).await.unwrap();
        }

        let done = std::sync::atomic::AtomicBool::new(false);
        let (pass, writes) = tokio::join!(
            async {
                let pass = checkpointer.pass().await;
                done.store(true, std::sync::atomic::Ordering::SeqCst);
                pass
            },
            async {
                let mut writes = Vec::new();
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    writes.push(write_batch(&store).await);
                }
                writes
            }
        );
        let pass = pass.unwrap();
        assert_eq!(pass.reset, WalReset::GaveUp, "{pass:?}");
        assert_eq!(pass.tries, 6, "20, 40, 80, 160, 320 and 640 ms: {pass:?}");
        assert!(!writes.is_empty());
        for write in writes {
            write.unwrap();
        }

        end_read(export).await;
        let pass = checkpointer.pass().await.unwrap();
        assert_eq!(pass.reset, WalReset::Restarted, "{pass:?}");
        // The next commit writes the WAL from its beginning.
        write_batch(&store).await.unwrap();
        let (after, _) = checkpointer.passive().await.unwrap();
        assert!(after.wal_frames <= 2 * BATCH_ROWS as i64, "{after:?}");
        checkpointer.close().await;
        store.close().await;
    }
}
