//! Whether the database takes writes now: what `/readyz` and the worker ask
//! before they trust the write path (reads alone can succeed while the
//! writer task is gone, the database is locked or the disk is full).

use super::{Store, StoreError};

/// A write that changes nothing but takes the write lock and commits (the
/// `default` account's row is made by the migration and never deleted).
pub(super) const TOUCH: &str =
    "UPDATE account_delivery_state SET account = account WHERE account = 'default'";

impl Store {
    /// Commit a write that changes nothing, through the same path intake
    /// uses (SQLite: the group-commit writer). One at a time: readiness
    /// probes arriving while the database hangs wait here instead of queueing
    /// writes behind the stuck one.
    pub async fn check_writes(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self.touching.lock().await;
        if let Some(writer) = &self.sqlite_writer {
            return writer.touch().await;
        }
        let mut tx = self.writer.begin().await?;
        sqlx::query(TOUCH).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
