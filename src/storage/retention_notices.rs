//! Notices of retention rules that start to remove data kept until then
//! (`retention.failed`): when an instance first warned about one, shared by
//! every instance and kept across restarts, so the rule applies a fixed
//! notice period after the operator was first told (ops::retention).

use super::{Store, StoreError};

impl Store {
    /// When the warning about retention rule `setting` was first given
    /// (Unix ms): `now`, recorded, if this is the first.
    pub async fn retention_notice(&self, setting: &str, now: i64) -> Result<i64, StoreError> {
        sqlx::query(
            "INSERT INTO retention_notices (setting, first_warned_at) VALUES ($1, $2) \
             ON CONFLICT (setting) DO NOTHING",
        )
        .bind(setting)
        .bind(now)
        .execute(&self.writer)
        .await?;
        let (at,): (i64,) =
            sqlx::query_as("SELECT first_warned_at FROM retention_notices WHERE setting = $1")
                .bind(setting)
                .fetch_one(&self.writer)
                .await?;
        Ok(at)
    }

    /// How many enquiries with a failed step, received before `before`,
    /// still hold their personal data: what `retention.failed` will scrub.
    /// Failed steps are few; the status index serves them.
    pub async fn failed_unscrubbed_before(&self, before: i64) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(DISTINCT f.enquiry_id) FROM deliveries f JOIN enquiries e ON e.id = f.enquiry_id \
             WHERE f.status = 'failed' AND e.received_at < $1 AND e.payload IS NOT NULL",
        )
        .bind(before)
        .fetch_one(&self.reader)
        .await?;
        Ok(n)
    }
}
