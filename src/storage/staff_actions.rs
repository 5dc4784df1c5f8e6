//! What staff do to an enquiry from the console: retry its failed steps,
//! release its held ones, correct the fields CareHQ refused and send it
//! again, delete it. Each change and its audit record are
//! one transaction (see `audit`).

use super::audit::{self, Actor, AuditAction};
use super::erasure::DeleteOutcome;
use super::intake::SealedPayload;
use super::models::EnquiryId;
use super::sealing::Place;
use super::search_terms::{enquiry_terms, replace_terms};
use super::{Store, StoreError, now_ms};

/// How an edit went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EditOutcome {
    /// Stored, the original kept; these steps are pending again.
    Edited { steps: Vec<String> },
    /// The enquiry changed since the page was read (another edit, a
    /// retry, a delete) or has no failed step now: nothing was changed.
    Stale,
}

/// An edit: the stored enquiry the page showed, and the corrected one.
pub struct Correction<'a> {
    pub read: &'a str,
    pub corrected: &'a str,
    /// Which fields changed (names only: the audit record outlives the data).
    pub fields: &'a [String],
}

impl Store {
    /// Store a corrected enquiry and send its failed steps again, audited.
    /// The first payload is kept in `original_payload` (a second edit keeps
    /// the family's own, not the first correction). Only applies while the
    /// stored enquiry is still the one `correction.read` names.
    pub async fn staff_edit(
        &self,
        enquiry_id: &EnquiryId,
        actor: &Actor<'_>,
        correction: &Correction<'_>,
    ) -> Result<EditOutcome, StoreError> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        // Sealed values differ at every write (a random nonce), so "still the
        // one the page showed" compares the opened text, and the update is
        // then conditional on the stored text read here.
        let stored: Option<(i64, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT received_at, payload, original_payload FROM enquiries WHERE id = $1",
        )
        .bind(enquiry_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((received_at, Some(stored), original)) = stored else {
            return Ok(EditOutcome::Stale);
        };
        if self
            .sealing
            .open(stored.clone(), Place::payload(enquiry_id.as_str()))?
            != correction.read
        {
            return Ok(EditOutcome::Stale);
        }
        // What the family first wrote stays findable by export and erase.
        let original = match original {
            Some(original) => {
                (self.sealing).open(original, Place::original_payload(enquiry_id.as_str()))?
            }
            None => correction.read.to_owned(),
        };
        let sealed = SealedPayload::of(&self.sealing, enquiry_id, correction.corrected)?;
        // Sealed for its own column: a payload's sealed text would not open
        // there (its place is part of it).
        let sealed_original =
            (self.sealing).seal(&original, Place::original_payload(enquiry_id.as_str()))?;
        let terms = enquiry_terms(&self.sealing, correction.corrected, Some(&original));
        let done = sqlx::query(
            "UPDATE enquiries SET original_payload = $6, payload = $1, \
             email_hash = $2, phone_hash = $3, terms_pending = 0 WHERE id = $4 AND payload = $5",
        )
        .bind(sealed.payload.as_str())
        .bind(sealed.hashes.email.as_deref())
        .bind(sealed.hashes.phone.as_deref())
        .bind(enquiry_id)
        .bind(stored.as_str())
        .bind(sealed_original.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(EditOutcome::Stale);
        }
        replace_terms(&mut tx, enquiry_id, received_at, &terms).await?;
        let mut steps: Vec<(String,)> = sqlx::query_as(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, updated_at = $1, pending_since = $1 \
             WHERE enquiry_id = $2 AND status = 'failed' RETURNING step",
        )
        .bind(now)
        .bind(enquiry_id)
        .fetch_all(&mut *tx)
        .await?;
        if steps.is_empty() {
            tx.rollback().await?;
            return Ok(EditOutcome::Stale);
        }
        steps.sort();
        let steps: Vec<String> = steps.into_iter().map(|(s,)| s).collect();
        let detail = format!(
            "fields corrected: {}; steps sent again: {}",
            correction.fields.join(", "),
            steps.join(", ")
        );
        audit::record(
            &self.sealing,
            &mut tx,
            enquiry_id,
            actor,
            AuditAction::Edit,
            Some(&detail),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(EditOutcome::Edited { steps })
    }

    /// What the family first wrote, for an enquiry staff corrected.
    pub async fn original_payload(
        &self,
        enquiry_id: &EnquiryId,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT original_payload FROM enquiries WHERE id = $1")
                .bind(enquiry_id)
                .fetch_optional(&self.reader)
                .await?;
        (self.sealing).open_opt(
            row.and_then(|(p,)| p),
            Place::original_payload(enquiry_id.as_str()),
        )
    }

    /// [`Store::retry_failed`], audited. The steps made pending again, in
    /// step order; empty (and nothing recorded) when none had failed.
    pub async fn staff_retry(
        &self,
        enquiry_id: &EnquiryId,
        actor: &Actor<'_>,
    ) -> Result<Vec<String>, StoreError> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        let mut steps: Vec<(String,)> = sqlx::query_as(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, updated_at = $1, pending_since = $1 \
             WHERE enquiry_id = $2 AND status = 'failed' RETURNING step",
        )
        .bind(now)
        .bind(enquiry_id)
        .fetch_all(&mut *tx)
        .await?;
        steps.sort();
        let steps: Vec<String> = steps.into_iter().map(|(s,)| s).collect();
        if !steps.is_empty() {
            let detail = format!("steps: {}", steps.join(", "));
            audit::record(
                &self.sealing,
                &mut tx,
                enquiry_id,
                actor,
                AuditAction::Retry,
                Some(&detail),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(steps)
    }

    /// [`Store::release_held`], audited. True when something was held.
    pub async fn staff_release(
        &self,
        enquiry_id: &EnquiryId,
        actor: &Actor<'_>,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = $1, updated_at = $1, pending_since = $1 \
             WHERE enquiry_id = $2 AND status = 'held'",
        )
        .bind(now)
        .bind(enquiry_id)
        .execute(&mut *tx)
        .await?;
        let released = done.rows_affected() > 0;
        if released {
            audit::record(
                &self.sealing,
                &mut tx,
                enquiry_id,
                actor,
                AuditAction::Release,
                None,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(released)
    }

    /// Delete an enquiry (spam, a test, a duplicate): its personal data is
    /// scrubbed as retention would, CareHQ's answers with it, and every step
    /// not yet sent becomes `expired`, never sent. Ids, times and the audit
    /// record stay, so staff can still see that it existed and who deleted it.
    pub async fn staff_delete(
        &self,
        enquiry_id: &EnquiryId,
        actor: &Actor<'_>,
    ) -> Result<DeleteOutcome, StoreError> {
        self.scrub_audited(enquiry_id, actor, AuditAction::Delete)
            .await
    }
}
