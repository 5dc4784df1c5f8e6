//! Removing an enquiry's personal data for good, as a console delete or an
//! erasure request (`enquiries erase`) does, and finding a person's
//! enquiries for erasure or a subject access request (`enquiries export`).
//! What stays is an anonymous tombstone: ids, site, times, the steps'
//! outcomes and HTTP statuses, the consent record, and the audit trail.

use super::audit::{self, Actor, AuditAction};
use super::models::{DeliveryStatus, EnquiryId};
use super::sealing::Place;
use super::search_terms::Contact;
use super::{Backend, Store, StoreError, now_ms};

/// How a delete or an erasure went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    /// A worker is sending it right now; deleting it could not stop that send.
    BeingSent,
    NotFound,
}

/// An enquiry whose personal data is still stored, for matching a person.
/// Personal data: no `Debug`.
pub struct StoredPayload {
    pub id: EnquiryId,
    pub site: String,
    pub received_at: i64,
    pub payload: String,
    /// What the family first wrote, when staff corrected it.
    pub original_payload: Option<String>,
}

/// Statements run on the enquiry `$1` after its payload is gone: CareHQ's
/// answers and our error texts (they can quote the family), the steps not
/// yet sent (they can no longer be), the partner's events (they name the
/// patient by the partner's id), the search terms (a hash of a name or an
/// address still singles the person out).
const SCRUB_REST: &[&str] = &[
    "UPDATE delivery_attempts SET hint = NULL, arg_errors = NULL, error = NULL \
     WHERE delivery_id IN (SELECT id FROM deliveries WHERE enquiry_id = $1)",
    "UPDATE deliveries SET last_error = NULL WHERE enquiry_id = $1",
    "DELETE FROM partner_events WHERE enquiry_id = $1",
    "DELETE FROM enquiry_terms WHERE enquiry_id = $1",
];

/// Enquiries still waiting for their search terms, read per query when a
/// person is looked up.
const PENDING_BATCH: i64 = 2000;

impl Store {
    /// Erase an enquiry on the person's request: [`Store::staff_delete`]'s
    /// scrub, plus the staff's own words about it in earlier audit records
    /// (a reason may name the family), with an `erase` record of its own.
    pub async fn erase_enquiry(
        &self,
        enquiry_id: &EnquiryId,
        actor: &Actor<'_>,
    ) -> Result<DeleteOutcome, StoreError> {
        self.scrub_audited(enquiry_id, actor, AuditAction::Erase)
            .await
    }

    /// One transaction: scrub the enquiry, audit it as `action`. Refused
    /// (nothing changed) while one of its steps is being sent: `sending`
    /// with a lease not yet run out. A step left `sending` by a worker whose
    /// lease ran out (it crashed, or lost the row) is expired with the rest,
    /// so no later claim sends what is no longer stored.
    pub(super) async fn scrub_audited(
        &self,
        enquiry_id: &EnquiryId,
        actor: &Actor<'_>,
        action: AuditAction,
    ) -> Result<DeleteOutcome, StoreError> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        // The steps' statuses and lease ends, and "now" by the clock that
        // stamped the leases: the process's on SQLite, the database's on
        // PostgreSQL (outbox.rs). Read by the (enquiry_id, step) key alone;
        // whether a send is in flight is decided here, not by a plan.
        let steps_sql = match self.backend {
            Backend::Sqlite => {
                "SELECT status, next_attempt_at, $2 FROM deliveries WHERE enquiry_id = $1"
            }
            // The steps first, locked: a claim of one of them that has not
            // committed yet is waited for, and its `sending` is what this
            // reads (under READ COMMITTED a plain read would miss it, answer
            // "Deleted", and the worker would send the payload it read
            // before this commits). A claim that comes later skips the
            // locked rows and finds them expired. Same order as an outcome
            // (the step, then its enquiry through the state trigger), so the
            // two cannot deadlock.
            Backend::Postgres => {
                "SELECT status, next_attempt_at, (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT \
                 FROM deliveries WHERE enquiry_id = $1 FOR UPDATE"
            }
        };
        let read_steps = || {
            let query = sqlx::query_as::<_, (String, i64, i64)>(steps_sql).bind(enquiry_id);
            match self.backend {
                Backend::Sqlite => query.bind(now),
                Backend::Postgres => query,
            }
        };
        let locked = match self.backend {
            Backend::Postgres => Some(read_steps().fetch_all(&mut *tx).await?),
            Backend::Sqlite => None,
        };
        // On SQLite the write comes first: it takes the write lock at once.
        let done = sqlx::query(
            "UPDATE enquiries SET payload = NULL, original_payload = NULL, \
             email_hash = NULL, phone_hash = NULL, \
             scrubbed_at = COALESCE(scrubbed_at, $1) WHERE id = $2",
        )
        .bind(now)
        .bind(enquiry_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(DeleteOutcome::NotFound);
        }
        let steps = match locked {
            Some(steps) => steps,
            None => read_steps().fetch_all(&mut *tx).await?,
        };
        let in_flight = |(status, lease_end, now): &(String, i64, i64)| {
            status.parse() == Ok(DeliveryStatus::Sending) && lease_end > now
        };
        if steps.iter().any(in_flight) {
            tx.rollback().await?;
            return Ok(DeleteOutcome::BeingSent);
        }
        let lease_now = steps.first().map_or(now, |(_, _, lease_now)| *lease_now);
        sqlx::query(
            "UPDATE deliveries SET status = 'expired', updated_at = $1, next_attempt_at = $1 \
             WHERE enquiry_id = $2 AND (status IN ('pending', 'failed', 'held', 'waiting') \
                OR (status = 'sending' AND next_attempt_at <= $3))",
        )
        .bind(now)
        .bind(enquiry_id)
        .bind(lease_now)
        .execute(&mut *tx)
        .await?;
        // A visit that will now never be sent gives its place back.
        super::visits::free_slot_of_expired_visit(&mut tx, enquiry_id, now).await?;
        for &sql in SCRUB_REST {
            sqlx::query(sql).bind(enquiry_id).execute(&mut *tx).await?;
        }
        if action == AuditAction::Erase {
            // Staff's words may name the family; the key and fingerprint of
            // the post were made from what the family wrote. (A console
            // delete keeps the key for its 24 h, so a family's retry of the
            // same post is answered, not stored again.)
            for sql in [
                "UPDATE audit_log SET reason = NULL WHERE enquiry_id = $1",
                "DELETE FROM idempotency_keys WHERE enquiry_id = $1",
            ] {
                sqlx::query(sql).bind(enquiry_id).execute(&mut *tx).await?;
            }
        }
        audit::record(&self.sealing, &mut tx, enquiry_id, actor, action, None, now).await?;
        tx.commit().await?;
        Ok(DeleteOutcome::Deleted)
    }

    /// Enquiries (not yet scrubbed) that name `email` or `phone`: as their
    /// own email or phone field, or anywhere else in what the family wrote
    /// (a whole address, or a number written as a phone number; see
    /// `search_terms`). Found by their search terms under every key of the
    /// file (and the plain one), so rows not yet rekeyed are found too.
    /// Enquiries still waiting for the search-term backfill are opened and
    /// matched here by the same rule: few, and none once it has run.
    pub async fn enquiries_by_contact(
        &self,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Result<Vec<EnquiryId>, StoreError> {
        let contact = Contact::new(email, phone);
        let lookups = contact.lookups(&self.sealing);
        if lookups.is_empty() {
            return Ok(Vec::new());
        }
        // One placeholder per term; the terms are bound, never spliced in.
        let list = (1..=lookups.len())
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("SELECT DISTINCT enquiry_id FROM enquiry_terms WHERE term IN ({list})");
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for term in &lookups {
            query = query.bind(term.as_str());
        }
        let found: Vec<(String,)> = query.fetch_all(&self.reader).await?;
        let mut ids: Vec<String> = found.into_iter().map(|(id,)| id).collect();
        // Rows still pending, a batch at a time (memory stays bounded
        // however many there are).
        let mut after = String::new();
        loop {
            let pending: Vec<(String, String, Option<String>)> = sqlx::query_as(
                "SELECT id, payload, original_payload FROM enquiries \
                 WHERE terms_pending = 1 AND payload IS NOT NULL AND id > $1 ORDER BY id LIMIT $2",
            )
            .bind(after.as_str())
            .bind(PENDING_BATCH)
            .fetch_all(&self.reader)
            .await?;
            let Some(last) = pending.last().map(|(id, _, _)| id.clone()) else {
                break;
            };
            for (id, payload, original) in pending {
                let payload = self.sealing.open(payload, Place::payload(&id))?;
                let original = (self.sealing).open_opt(original, Place::original_payload(&id))?;
                if contact.named_in(&payload, original.as_deref()) {
                    ids.push(id);
                }
            }
            after = last;
        }
        ids.sort();
        ids.dedup();
        Ok(ids.into_iter().map(EnquiryId::from_stored).collect())
    }

    /// The enquiries of `ids` whose personal data is still stored, oldest
    /// first.
    pub async fn stored_payloads(
        &self,
        ids: &[EnquiryId],
    ) -> Result<Vec<StoredPayload>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let row: Option<(String, String, i64, String, Option<String>)> = sqlx::query_as(
                "SELECT id, site, received_at, payload, original_payload FROM enquiries \
                 WHERE id = $1 AND payload IS NOT NULL",
            )
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
            if let Some((id, site, received_at, payload, original_payload)) = row {
                let payload = self.sealing.open(payload, Place::payload(&id))?;
                let in_original = Place::original_payload(&id);
                let original_payload = (self.sealing).open_opt(original_payload, in_original)?;
                found.push(StoredPayload {
                    id: EnquiryId::from_stored(id),
                    site,
                    received_at,
                    payload,
                    original_payload,
                });
            }
        }
        found.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
        Ok(found)
    }
}
