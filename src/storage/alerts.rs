//! Alert incidents shared by every instance: claiming the right to announce
//! an incident (or its end) is one insert (or delete) that only one wins.

use super::{Store, StoreError};

impl Store {
    /// Record that `kind` is now an open incident. True if this call opened it.
    pub async fn open_incident(&self, kind: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO alert_incidents (kind, opened_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(kind)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Close the incident of `kind`. True if this call closed it.
    pub async fn clear_incident(&self, kind: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM alert_incidents WHERE kind = $1")
            .bind(kind)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Failed enquiries with their stored payload (personal data), oldest first.
    pub async fn failed_enquiries(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT e.id, e.site, e.payload FROM enquiries e \
              WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND d.status = 'failed') \
              ORDER BY e.received_at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.reader)
        .await?)
    }
}
