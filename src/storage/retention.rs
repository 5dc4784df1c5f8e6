//! Retention: scrubbing personal data once it is no longer needed, keeping
//! the audit record (ids, site, times, outcome, CareHQ id). Held enquiries
//! nobody released within `retention.held` are scrubbed the same way, and
//! their deliveries become `expired`: never sent, out of the held count.

use super::{Store, StoreError, now_ms};

/// Idempotency keys are only consulted for 24 h; older ones are deleted.
const IDEMPOTENCY_KEEP_MS: i64 = 24 * 60 * 60 * 1000;

/// What one purge did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeReport {
    pub synced_scrubbed: u64,
    pub spam_scrubbed: u64,
    /// Held enquiries past `retention.held`, scrubbed and expired.
    pub held_expired: u64,
    pub idempotency_keys_deleted: u64,
}

/// Scrub one set of enquiries and the CareHQ answers of their attempts (a hint
/// or `arg_errors` can quote what the family wrote). `$1` now, `$2` cut-off.
/// Only enquiries whose every delivery is synced qualify: failed and held
/// ones wait for staff, pending ones still need their details.
const SCRUB_SYNCED_ATTEMPTS: &str = "\
UPDATE delivery_attempts SET hint = NULL, arg_errors = NULL
 WHERE (hint IS NOT NULL OR arg_errors IS NOT NULL)
   AND delivery_id IN (SELECT d.id FROM deliveries d JOIN enquiries e ON e.id = d.enquiry_id
                        WHERE e.payload IS NOT NULL AND e.spam_verdict = 'clean' AND e.received_at < $1
                          AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.enquiry_id = e.id AND o.status <> 'synced'))";
const SCRUB_SYNCED: &str = "\
UPDATE enquiries SET payload = NULL, scrubbed_at = $2
 WHERE payload IS NOT NULL AND spam_verdict = 'clean' AND received_at < $1
   AND EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = enquiries.id)
   AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = enquiries.id AND d.status <> 'synced')";
/// Spam: anything not `clean`, unless a delivery is failed, held or still waiting.
const SCRUB_SPAM_ATTEMPTS: &str = "\
UPDATE delivery_attempts SET hint = NULL, arg_errors = NULL
 WHERE (hint IS NOT NULL OR arg_errors IS NOT NULL)
   AND delivery_id IN (SELECT d.id FROM deliveries d JOIN enquiries e ON e.id = d.enquiry_id
                        WHERE e.payload IS NOT NULL AND e.spam_verdict <> 'clean' AND e.received_at < $1
                          AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.enquiry_id = e.id AND o.status <> 'synced'))";
const SCRUB_SPAM: &str = "\
UPDATE enquiries SET payload = NULL, scrubbed_at = $2
 WHERE payload IS NOT NULL AND spam_verdict <> 'clean' AND received_at < $1
   AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = enquiries.id AND d.status <> 'synced')";

/// Held past the cut-off `$1` (by arrival): the enquiry's held step and a
/// visit waiting on it become `expired` (`$2` now). One statement, so a
/// release racing with it either wins (the row is pending, untouched here)
/// or finds nothing held.
const EXPIRE_HELD: &str = "\
UPDATE deliveries SET status = 'expired', updated_at = $2, next_attempt_at = $2
 WHERE status IN ('held', 'waiting')
   AND enquiry_id IN (SELECT e.id FROM enquiries e JOIN deliveries h ON h.enquiry_id = e.id
                       WHERE h.status = 'held' AND e.received_at < $1)";
/// CareHQ answers cannot exist for a row never sent, but a scrub must not
/// depend on that staying true.
const SCRUB_EXPIRED_ATTEMPTS: &str = "\
UPDATE delivery_attempts SET hint = NULL, arg_errors = NULL
 WHERE (hint IS NOT NULL OR arg_errors IS NOT NULL)
   AND delivery_id IN (SELECT id FROM deliveries WHERE status = 'expired')";
const SCRUB_EXPIRED: &str = "\
UPDATE enquiries SET payload = NULL, scrubbed_at = $1
 WHERE payload IS NOT NULL
   AND EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = enquiries.id AND d.status = 'expired')";

impl Store {
    /// Scrub synced enquiries received before `synced_before`, spam
    /// received before `spam_before` and held enquiries received before
    /// `held_before` (Unix ms); delete stale idempotency keys.
    pub async fn purge(
        &self,
        synced_before: i64,
        spam_before: i64,
        held_before: i64,
    ) -> Result<PurgeReport, StoreError> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        sqlx::query(SCRUB_SYNCED_ATTEMPTS)
            .bind(synced_before)
            .execute(&mut *tx)
            .await?;
        let synced = sqlx::query(SCRUB_SYNCED)
            .bind(synced_before)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(SCRUB_SPAM_ATTEMPTS)
            .bind(spam_before)
            .execute(&mut *tx)
            .await?;
        let spam = sqlx::query(SCRUB_SPAM)
            .bind(spam_before)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(EXPIRE_HELD)
            .bind(held_before)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(SCRUB_EXPIRED_ATTEMPTS)
            .execute(&mut *tx)
            .await?;
        let held = sqlx::query(SCRUB_EXPIRED)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let keys = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(now - IDEMPOTENCY_KEEP_MS)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(PurgeReport {
            synced_scrubbed: synced,
            spam_scrubbed: spam,
            held_expired: held,
            idempotency_keys_deleted: keys,
        })
    }
}
