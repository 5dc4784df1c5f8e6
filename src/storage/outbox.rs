//! The outbox: claiming due deliveries with a lease and recording outcomes.

use super::models::{AttemptRecord, ClaimedDelivery, DeliveryStatus, Transition};
use super::{Backend, Store, StoreError, now_ms};

/// SQLite has one writer at a time, so a plain `UPDATE … RETURNING` claims atomically.
const CLAIM_SQLITE: &str = "\
UPDATE deliveries
   SET status = 'sending', lease_owner = $1, next_attempt_at = $2, updated_at = $3,
       ambiguous = ambiguous + CASE WHEN status = 'sending' THEN 1 ELSE 0 END
 WHERE id IN (SELECT id FROM deliveries
               WHERE status IN ('pending', 'sending') AND next_attempt_at <= $3
               ORDER BY next_attempt_at LIMIT $4)
RETURNING id, enquiry_id, step, attempts, ambiguous";

/// PostgreSQL: instances skip rows another instance is claiming right now.
const CLAIM_POSTGRES: &str = "\
UPDATE deliveries AS d
   SET status = 'sending', lease_owner = $1, next_attempt_at = $2, updated_at = $3,
       ambiguous = d.ambiguous + CASE WHEN d.status = 'sending' THEN 1 ELSE 0 END
  FROM (SELECT id, status AS old_status FROM deliveries
         WHERE status IN ('pending', 'sending') AND next_attempt_at <= $3
         ORDER BY next_attempt_at LIMIT $4
         FOR UPDATE SKIP LOCKED) AS due
 WHERE d.id = due.id
RETURNING d.id, d.enquiry_id, d.step, d.attempts, CASE WHEN due.old_status = 'sending' THEN 1::BIGINT ELSE 0::BIGINT END";

impl Store {
    /// Lease up to `limit` due deliveries to `owner` until `lease_until`.
    ///
    /// A row is due when it is pending and its time has come, or when it is
    /// `sending` but its lease (kept in `next_attempt_at`) has run out: its worker
    /// died mid-send. Such a re-claim counts as ambiguous, because the earlier
    /// send may have reached CareHQ.
    pub async fn claim_due(
        &self,
        owner: &str,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now = now_ms();
        let rows: Vec<(String, String, String, i64, i64)> = match self.backend {
            Backend::Sqlite => {
                // SQLite's RETURNING shows new values: compare against a pre-read of
                // which due rows were `sending` to tell expired leases apart.
                let mut tx = self.writer.begin().await?;
                let expired: Vec<(String,)> = sqlx::query_as(
                    "SELECT id FROM deliveries WHERE status = 'sending' AND next_attempt_at <= $1",
                )
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
                let claimed: Vec<(String, String, String, i64, i64)> = sqlx::query_as(CLAIM_SQLITE)
                    .bind(owner)
                    .bind(lease_until)
                    .bind(now)
                    .bind(limit as i64)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                claimed
                    .into_iter()
                    .map(|(id, enquiry, step, attempts, _)| {
                        let was_expired = expired.iter().any(|(e,)| *e == id);
                        (id, enquiry, step, attempts, i64::from(was_expired))
                    })
                    .collect()
            }
            Backend::Postgres => {
                sqlx::query_as(CLAIM_POSTGRES)
                    .bind(owner)
                    .bind(lease_until)
                    .bind(now)
                    .bind(limit as i64)
                    .fetch_all(&self.writer)
                    .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(
                |(id, enquiry_id, step, attempts, expired)| ClaimedDelivery {
                    id,
                    enquiry_id,
                    step,
                    attempts,
                    lease_expired: expired != 0,
                },
            )
            .collect())
    }

    /// When the next delivery falls due (a pending row's time, or a lease's end).
    pub async fn next_due_at(&self) -> Result<Option<i64>, StoreError> {
        let (next,): (Option<i64>,) = sqlx::query_as(
            "SELECT MIN(next_attempt_at) FROM deliveries WHERE status IN ('pending', 'sending')",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok(next)
    }

    /// Record an attempt and move its delivery on, in one short transaction.
    /// Returns false (and changes nothing) if `owner` no longer holds the lease.
    pub async fn record_outcome(
        &self,
        delivery_id: &str,
        owner: &str,
        attempt: &AttemptRecord,
        transition: &Transition,
    ) -> Result<bool, StoreError> {
        if let Some(writer) = &self.sqlite_writer {
            return writer.record(delivery_id, owner, attempt, transition).await;
        }
        let mut tx = self.writer.begin().await?;
        let recorded =
            record_rows(&mut tx, delivery_id, owner, attempt, transition, now_ms()).await?;
        if recorded {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(recorded)
    }

    /// Number of deliveries in each state (every state listed, zero included).
    pub async fn count_by_status(&self) -> Result<Vec<(DeliveryStatus, i64)>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
                .fetch_all(&self.reader)
                .await?;
        Ok(DeliveryStatus::ALL
            .into_iter()
            .map(|status| {
                let n = rows
                    .iter()
                    .find(|(s, _)| s == status.as_str())
                    .map_or(0, |(_, n)| *n);
                (status, n)
            })
            .collect())
    }
}

/// An attempt and its delivery's new state, inside the caller's transaction.
/// Returns false, having written nothing, if `owner` no longer holds the lease.
pub(super) async fn record_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    delivery_id: &str,
    owner: &str,
    attempt: &AttemptRecord,
    transition: &Transition,
    now: i64,
) -> Result<bool, StoreError> {
    let updated = match transition {
        Transition::Synced { remote_id } => {
            sqlx::query(
                "UPDATE deliveries SET status = 'synced', attempts = attempts + 1, remote_id = $1, \
                 lease_owner = NULL, last_error = NULL, updated_at = $2 \
                 WHERE id = $3 AND status = 'sending' AND lease_owner = $4",
            )
            .bind(remote_id.as_deref())
            .bind(now)
            .bind(delivery_id)
            .bind(owner)
            .execute(&mut **tx)
            .await?
        }
        Transition::Retry { next_attempt_at, spend_attempt, ambiguous, error } => {
            sqlx::query(
                "UPDATE deliveries SET status = 'pending', attempts = attempts + $1, ambiguous = ambiguous + $2, \
                 next_attempt_at = $3, lease_owner = NULL, last_error = $4, updated_at = $5 \
                 WHERE id = $6 AND status = 'sending' AND lease_owner = $7",
            )
            .bind(i64::from(*spend_attempt))
            .bind(i64::from(*ambiguous))
            .bind(*next_attempt_at)
            .bind(error.as_str())
            .bind(now)
            .bind(delivery_id)
            .bind(owner)
            .execute(&mut **tx)
            .await?
        }
        Transition::Failed { ambiguous, error } => {
            sqlx::query(
                "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, ambiguous = ambiguous + $1, \
                 lease_owner = NULL, last_error = $2, updated_at = $3 \
                 WHERE id = $4 AND status = 'sending' AND lease_owner = $5",
            )
            .bind(i64::from(*ambiguous))
            .bind(error.as_str())
            .bind(now)
            .bind(delivery_id)
            .bind(owner)
            .execute(&mut **tx)
            .await?
        }
    }
    .rows_affected();
    if updated == 0 {
        // Nothing was written for this outcome: the caller need not roll back.
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO delivery_attempts (id, delivery_id, started_at, duration_ms, outcome, http_status, hint, arg_errors, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(delivery_id)
    .bind(attempt.started_at)
    .bind(attempt.duration_ms)
    .bind(attempt.outcome)
    .bind(attempt.http_status.map(i64::from))
    .bind(attempt.hint.as_deref())
    .bind(attempt.arg_errors.as_deref())
    .bind(attempt.error.as_deref())
    .execute(&mut **tx)
    .await?;
    match transition {
        Transition::Synced { .. } => {
            sqlx::query("UPDATE delivery_state SET last_success_at = $1 WHERE id = 1")
                .bind(now)
                .execute(&mut **tx)
                .await?;
            // Later steps (a home visit) wait for the enquiry: release them in
            // this transaction, so a crash cannot leave them waiting forever.
            sqlx::query(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = $1, updated_at = $1, pending_since = $1 \
                 WHERE status = 'waiting' AND enquiry_id IN \
                 (SELECT enquiry_id FROM deliveries WHERE id = $2 AND step = 'enquiry')",
            )
            .bind(now)
            .bind(delivery_id)
            .execute(&mut **tx)
            .await?;
        }
        Transition::Retry { error, .. } | Transition::Failed { error, .. } => {
            if matches!(transition, Transition::Failed { .. }) {
                super::visits::free_slot_of_waiting_visit(tx, delivery_id, now).await?;
            }
            sqlx::query(
                "UPDATE delivery_state SET last_error_at = $1, last_error = $2 WHERE id = 1",
            )
            .bind(now)
            .bind(error.as_str())
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(true)
}
