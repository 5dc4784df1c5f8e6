//! The human fallback's outbox rows: a `fallback_email` step is made for an
//! enquiry only once it has waited `sync.fallback_after` without reaching
//! CareHQ, so an enquiry CareHQ took in time never has one, and a pending
//! one always means a family is waiting. `UNIQUE (enquiry_id, step)` makes
//! it once per enquiry, however many instances look at the same moment.

use super::models::EnquiryId;
use super::{Store, StoreError, now_ms};

/// Most steps made by one call; the next call makes the rest.
const BATCH: i64 = 100;

impl Store {
    /// Make the fallback email step of each enquiry of `sites` received
    /// before `received_before` (Unix ms) whose enquiry step is not synced
    /// (pending, being sent, or failed; not held: a held one waits for a
    /// person anyway). Returns how many it made.
    pub async fn open_fallback_steps(
        &self,
        sites: &[String],
        received_before: i64,
    ) -> Result<u64, StoreError> {
        if sites.is_empty() {
            return Ok(0);
        }
        let list: Vec<String> = (3..3 + sites.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT e.id FROM enquiries e JOIN deliveries d ON d.enquiry_id = e.id AND d.step = 'enquiry' \
             WHERE d.status IN ('pending', 'sending', 'failed') AND e.received_at <= $1 \
               AND e.site IN ({}) \
               AND NOT EXISTS (SELECT 1 FROM deliveries f WHERE f.enquiry_id = e.id AND f.step = 'fallback_email') \
             ORDER BY e.received_at LIMIT $2",
            list.join(", ")
        );
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(received_before)
            .bind(BATCH);
        for site in sites {
            query = query.bind(site.as_str());
        }
        let due: Vec<(String,)> = query.fetch_all(&self.reader).await?;
        let mut made = 0;
        for (enquiry_id,) in due {
            let now = now_ms();
            made += sqlx::query(
                "INSERT INTO deliveries (id, enquiry_id, step, status, next_attempt_at, created_at, updated_at, pending_since) \
                 VALUES ($1, $2, 'fallback_email', 'pending', $3, $3, $3, $3) \
                 ON CONFLICT (enquiry_id, step) DO NOTHING",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(enquiry_id.as_str())
            .bind(now)
            .execute(&self.writer)
            .await?
            .rows_affected();
        }
        Ok(made)
    }

    /// When the enquiry arrived (Unix ms), for the fallback email's text.
    pub async fn enquiry_received_at(
        &self,
        enquiry_id: &EnquiryId,
    ) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT received_at FROM enquiries WHERE id = $1")
            .bind(enquiry_id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|(at,)| at))
    }
}
