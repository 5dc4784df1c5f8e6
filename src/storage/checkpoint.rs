//! SQLite WAL checkpoints, kept off the commit path.
//!
//! By default SQLite checkpoints inside the commit that pushes the WAL past
//! 1 000 pages: that commit copies the WAL into the database file and syncs
//! it, and every enquiry waiting in the same group commit waits with it
//! (ack stalls of 100–220 ms, issue 11). Every connection therefore runs with
//! `wal_autocheckpoint = 0`, and the service calls [`Store::checkpoint`] from
//! a background task instead (`ops::checkpoint`). A PASSIVE checkpoint takes
//! no write lock, so commits go on appending to the WAL while it runs.

use super::{Backend, Store, StoreError};

/// What one checkpoint did, in WAL frames (pages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckpointReport {
    /// Frames in the WAL when the checkpoint ran.
    pub wal_frames: i64,
    /// Frames copied into the database file (all of them unless a reader
    /// still needed older ones; those are copied by a later checkpoint).
    pub checkpointed: i64,
}

impl Store {
    /// Copy the WAL into the database file without blocking writers
    /// (`PRAGMA wal_checkpoint(PASSIVE)`), on a reader connection so the
    /// single writer stays free. PostgreSQL: nothing to do.
    pub async fn checkpoint(&self) -> Result<CheckpointReport, StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(CheckpointReport::default());
        }
        let (_busy, wal_frames, checkpointed): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&self.reader)
                .await?;
        // SQLite answers -1 for both when the database is not in WAL mode.
        Ok(CheckpointReport {
            wal_frames: wal_frames.max(0),
            checkpointed: checkpointed.max(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}", dir.path().join("relay.db").display());
        let store = Store::connect(&url, 2).await.unwrap();
        store.migrate().await.unwrap();
        store
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
        sqlx::query("CREATE TABLE filler (blob TEXT NOT NULL)")
            .execute(&store.writer)
            .await
            .unwrap();
        let page_of_text = "x".repeat(4000);
        for _ in 0..60 {
            let mut tx = store.writer.begin().await.unwrap();
            for _ in 0..20 {
                sqlx::query("INSERT INTO filler (blob) VALUES (?)")
                    .bind(&page_of_text)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
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
}
