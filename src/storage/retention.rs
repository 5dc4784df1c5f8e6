//! Retention: scrubbing personal data once it is no longer needed, keeping
//! the audit record (ids, site, times, outcome, CareHQ id). Held enquiries
//! nobody released within `retention.held` are scrubbed the same way, and
//! their deliveries become `expired`: never sent, out of the held count.
//! So are enquiries with a failed step and nothing left to send, after
//! `retention.failed`: their failed steps become `expired`.
//!
//! The pass works in chunks of [`PURGE_CHUNK`] rows, each its own short
//! transaction. On SQLite every write (intake, delivery outcomes) shares one
//! writer connection; one transaction over a large first pass would hold it
//! for as long as the whole pass takes, and intake would answer 503 meanwhile.

use super::models::{EnquiryId, Step};
use super::{Store, StoreError, now_ms};

/// Idempotency keys are only consulted for 24 h; older ones are deleted.
const IDEMPOTENCY_KEEP_MS: i64 = 24 * 60 * 60 * 1000;

/// Rows scrubbed (or keys deleted) per transaction: small enough that a
/// chunk holds the writer for milliseconds, large enough that a pass over a
/// year of enquiries is a few hundred statements.
pub const PURGE_CHUNK: usize = 500;

/// What one purge did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeReport {
    pub synced_scrubbed: u64,
    pub spam_scrubbed: u64,
    /// Held enquiries past `retention.held`, scrubbed and expired.
    pub held_expired: u64,
    /// Enquiries with a failed step past `retention.failed`, scrubbed and
    /// their failed steps expired.
    pub failed_expired: u64,
    pub idempotency_keys_deleted: u64,
}

/// Scrub up to `$3` enquiries received before `$1` (`$2` now) and return
/// their ids. Only enquiries whose every delivery is synced qualify: failed
/// and held ones wait for staff, pending ones still need their details.
/// The write comes first, so on SQLite the chunk takes the write lock at
/// once (a read first could meet SQLITE_BUSY on upgrading, beside a CLI
/// process). `payload IS NOT NULL` outside the subquery is re-checked by
/// PostgreSQL after waiting for a row lock, so two instances purging at once
/// do not both scrub (and count) the same row.
const SCRUB_SYNCED: &str = "\
UPDATE enquiries SET payload = NULL, original_payload = NULL, email_hash = NULL, phone_hash = NULL, scrubbed_at = $2
 WHERE payload IS NOT NULL AND id IN (
   SELECT e.id FROM enquiries e
    WHERE e.payload IS NOT NULL AND e.spam_verdict IN ('clean', 'partner') AND e.received_at < $1
      AND EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id)
      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND d.status <> 'synced')
    ORDER BY e.received_at LIMIT $3)
RETURNING id";
/// Spam: anything not `clean` (or `partner`: an authenticated webhook), unless a delivery is failed, held or still waiting.
const SCRUB_SPAM: &str = "\
UPDATE enquiries SET payload = NULL, original_payload = NULL, email_hash = NULL, phone_hash = NULL, scrubbed_at = $2
 WHERE payload IS NOT NULL AND id IN (
   SELECT e.id FROM enquiries e
    WHERE e.payload IS NOT NULL AND e.spam_verdict NOT IN ('clean', 'partner') AND e.received_at < $1
      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND d.status <> 'synced')
    ORDER BY e.received_at LIMIT $3)
RETURNING id";
/// Stale idempotency keys, `$2` at a time.
const DELETE_KEYS: &str = "\
DELETE FROM idempotency_keys WHERE (site, key) IN (
  SELECT site, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)";

/// Held past the cut-off `$1` (by arrival): the enquiry's held step and a
/// visit waiting on it become `expired` (`$2` now). One statement, so a
/// release racing with it either wins (the row is pending, untouched here)
/// or finds nothing held. The enquiries whose visit it expired, whose
/// places go back in the same transaction.
const EXPIRE_HELD: &str = "\
UPDATE deliveries SET status = 'expired', updated_at = $2, next_attempt_at = $2
 WHERE status IN ('held', 'waiting')
   AND enquiry_id IN (SELECT e.id FROM enquiries e JOIN deliveries h ON h.enquiry_id = e.id
                       WHERE h.status = 'held' AND e.received_at < $1)
RETURNING enquiry_id, step";
/// Up to `$3` enquiries received before `$1` with a failed step and
/// nothing still to send (pending, sending or held): their failed steps,
/// and a visit waiting on a failed enquiry, become `expired` (`$2` now);
/// the enquiry ids and steps. Failed rows are few (the status index
/// serves them) and, expired, leave that set.
const EXPIRE_FAILED: &str = "\
UPDATE deliveries SET status = 'expired', updated_at = $2, next_attempt_at = $2
 WHERE status IN ('failed', 'waiting')
   AND enquiry_id IN (
     SELECT f.enquiry_id FROM deliveries f JOIN enquiries e ON e.id = f.enquiry_id
      WHERE f.status = 'failed' AND e.received_at < $1
        AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.enquiry_id = f.enquiry_id
                          AND o.status IN ('pending', 'sending', 'held'))
      LIMIT $3)
RETURNING enquiry_id, step";
/// Expired (held past `$1`) enquiries, `$3` at a time (`$2` now); their
/// attempts' CareHQ answers are cleared by `scrub_chunk` like the others'
/// (none should exist for a row never sent, but the scrub does not rely on it).
const SCRUB_EXPIRED: &str = "\
UPDATE enquiries SET payload = NULL, original_payload = NULL, email_hash = NULL, phone_hash = NULL, scrubbed_at = $2
 WHERE payload IS NOT NULL AND id IN (
   SELECT e.id FROM enquiries e
    WHERE e.payload IS NOT NULL AND e.received_at < $1
      AND EXISTS (SELECT 1 FROM deliveries d WHERE d.enquiry_id = e.id AND d.status = 'expired')
    ORDER BY e.received_at LIMIT $3)
RETURNING id";

impl Store {
    /// Scrub synced enquiries received before `synced_before`, spam
    /// received before `spam_before`, held enquiries received before
    /// `held_before` and enquiries with a failed step received before
    /// `failed_before` (Unix ms; 0 for none); delete stale idempotency keys.
    /// Chunks of [`PURGE_CHUNK`] rows, each committed on its own.
    pub async fn purge(
        &self,
        synced_before: i64,
        spam_before: i64,
        held_before: i64,
        failed_before: i64,
    ) -> Result<PurgeReport, StoreError> {
        self.purge_in_chunks(
            synced_before,
            spam_before,
            held_before,
            failed_before,
            PURGE_CHUNK,
        )
        .await
    }

    /// [`Store::purge`] with another chunk size.
    pub async fn purge_in_chunks(
        &self,
        synced_before: i64,
        spam_before: i64,
        held_before: i64,
        failed_before: i64,
        chunk: usize,
    ) -> Result<PurgeReport, StoreError> {
        let chunk = chunk.max(1);
        let synced_scrubbed = self.scrub_all(SCRUB_SYNCED, synced_before, chunk).await?;
        let spam_scrubbed = self.scrub_all(SCRUB_SPAM, spam_before, chunk).await?;
        // One statement: a release racing with it either wins or finds
        // nothing held. Held rows are few (a person or the retention pass
        // deals with them), so it needs no chunks of its own.
        self.expire_held(held_before).await?;
        let held_expired = self.scrub_all(SCRUB_EXPIRED, held_before, chunk).await?;
        // Failed ones past `retention.failed`: expired, then scrubbed like
        // the held (the scrub above has taken every held one already).
        while self.expire_failed(failed_before, chunk).await? >= chunk {
            tokio::task::yield_now().await;
        }
        let failed_expired = self.scrub_all(SCRUB_EXPIRED, failed_before, chunk).await?;
        // An account's last error is a copy of one delivery's: it goes with
        // the synced ones (a newer error replaces it before then anyway).
        sqlx::query(
            "UPDATE account_delivery_state SET last_error = NULL \
             WHERE last_error IS NOT NULL AND last_error_at < $1",
        )
        .bind(synced_before)
        .execute(&self.writer)
        .await?;
        let mut idempotency_keys_deleted = 0;
        loop {
            let deleted = sqlx::query(DELETE_KEYS)
                .bind(now_ms() - IDEMPOTENCY_KEEP_MS)
                .bind(chunk as i64)
                .execute(&self.writer)
                .await?
                .rows_affected();
            idempotency_keys_deleted += deleted;
            if deleted < chunk as u64 {
                break;
            }
            // Let intake and outcome writes queued for the writer go first.
            tokio::task::yield_now().await;
        }
        Ok(PurgeReport {
            synced_scrubbed,
            spam_scrubbed,
            held_expired,
            failed_expired,
            idempotency_keys_deleted,
        })
    }

    /// Expire what was held since before `held_before`, giving the places
    /// of its visits back in the same transaction.
    async fn expire_held(&self, held_before: i64) -> Result<(), StoreError> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        let expired: Vec<(EnquiryId, String)> = sqlx::query_as(EXPIRE_HELD)
            .bind(held_before)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        free_places_of_expired_visits(&mut tx, &expired, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Expire the failed steps of up to `chunk` enquiries received before
    /// `failed_before` with nothing left to send, giving back the places of
    /// visits that will now never be sent, in one transaction. How many
    /// steps it expired (fewer than `chunk`: it was the last).
    async fn expire_failed(&self, failed_before: i64, chunk: usize) -> Result<usize, StoreError> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        let expired: Vec<(EnquiryId, String)> = sqlx::query_as(EXPIRE_FAILED)
            .bind(failed_before)
            .bind(now)
            .bind(chunk as i64)
            .fetch_all(&mut *tx)
            .await?;
        free_places_of_expired_visits(&mut tx, &expired, now).await?;
        tx.commit().await?;
        Ok(expired.len())
    }

    /// Run `scrub` chunk after chunk until a chunk comes back short.
    async fn scrub_all(
        &self,
        scrub: &'static str,
        before: i64,
        chunk: usize,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let scrubbed = self.scrub_chunk(scrub, before, chunk).await?;
            total += scrubbed;
            if scrubbed < chunk as u64 {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    /// One chunk in one transaction: the enquiries' payloads, then the CareHQ
    /// answers of their attempts (a hint or `arg_errors` can quote what the
    /// family wrote), the error texts of their attempts and deliveries,
    /// their search terms, their partner events (the partner's ids of the
    /// patient, what the patient did), their idempotency rows (the key and a
    /// fingerprint of what was written) and staff's reasons in their audit
    /// records (which may name the family). Returns how many enquiries were
    /// scrubbed.
    async fn scrub_chunk(
        &self,
        scrub: &'static str,
        before: i64,
        chunk: usize,
    ) -> Result<u64, StoreError> {
        let mut tx = self.writer.begin().await?;
        let ids: Vec<(String,)> = sqlx::query_as(scrub)
            .bind(before)
            .bind(now_ms())
            .bind(chunk as i64)
            .fetch_all(&mut *tx)
            .await?;
        if !ids.is_empty() {
            // One placeholder per id; the ids are bound, never spliced in.
            let list = (1..=ids.len())
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ");
            // Error texts too: ours no longer quote CareHQ's hint, but rows
            // written before that did. Outcome and HTTP status stay as the record.
            let attempts = format!(
                "UPDATE delivery_attempts SET hint = NULL, arg_errors = NULL, error = NULL \
                 WHERE (hint IS NOT NULL OR arg_errors IS NOT NULL OR error IS NOT NULL) \
                   AND delivery_id IN (SELECT id FROM deliveries WHERE enquiry_id IN ({list}))"
            );
            let deliveries = format!(
                "UPDATE deliveries SET last_error = NULL \
                 WHERE last_error IS NOT NULL AND enquiry_id IN ({list})"
            );
            // A search term still singles the person out (as a hash does).
            let terms = format!("DELETE FROM enquiry_terms WHERE enquiry_id IN ({list})");
            // A partner's retries come within hours, not after retention;
            // an erasure request later could no longer find these rows.
            let partner = format!("DELETE FROM partner_events WHERE enquiry_id IN ({list})");
            let keys = format!("DELETE FROM idempotency_keys WHERE enquiry_id IN ({list})");
            // Who did what, and when, stays as the record; their words go.
            let reasons = format!(
                "UPDATE audit_log SET reason = NULL \
                 WHERE reason IS NOT NULL AND enquiry_id IN ({list})"
            );
            for sql in [attempts, deliveries, terms, partner, keys, reasons] {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (id,) in &ids {
                    query = query.bind(id);
                }
                query.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }
}

/// Of the `(enquiry_id, step)` pairs just expired in `tx`, the home visits
/// give their places back (a visit that will never be sent frees its time).
async fn free_places_of_expired_visits(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    expired: &[(EnquiryId, String)],
    now: i64,
) -> Result<(), StoreError> {
    for (enquiry_id, step) in expired {
        if Step::parse(step) == Some(Step::HomeVisit) {
            super::visits::free_slot_of_expired_visit(tx, enquiry_id, now).await?;
        }
    }
    Ok(())
}
