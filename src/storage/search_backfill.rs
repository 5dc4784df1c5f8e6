//! Writing search terms after the acknowledgement: every enquiry is stored
//! with `terms_pending = 1` (and so were those stored before terms existed,
//! migration 0019, or by the previous release during a rolling upgrade).
//! Their payload may be sealed, so SQL cannot make their terms: a batch
//! opens each in the service and writes its terms, one batch per
//! transaction, beside a running server (`ops::search_index` runs them).

use super::models::EnquiryId;
use super::sealing::Place;
use super::search_terms::{enquiry_terms, replace_terms};
use super::{Store, StoreError};

/// What a backfill did. Counts only: never what the enquiries say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackfillReport {
    /// Enquiries whose terms were written.
    pub filled: u64,
    /// Enquiries whose payload could not be opened (a key missing from
    /// `database.encryption_key_file`, a damaged value): left pending.
    pub unreadable: u64,
    /// Enquiries changed while the batch ran (an edit, a scrub, a rekey or
    /// another instance's backfill wrote their terms): nothing to do.
    pub changed: u64,
}

impl std::ops::AddAssign for BackfillReport {
    fn add_assign(&mut self, other: BackfillReport) {
        self.filled += other.filled;
        self.unreadable += other.unreadable;
        self.changed += other.changed;
    }
}

type PendingRow = (String, i64, String, Option<String>);

impl Store {
    /// Returns once an enquiry has been stored since the last call (at
    /// once if one was stored meanwhile): its terms are to be written.
    pub async fn search_terms_stored(&self) {
        self.search_terms_due.notified().await;
    }

    /// Whether intake or delivery writes are queued for SQLite's one
    /// writer right now (the indexer lets them go first). Always false on
    /// PostgreSQL, whose writes do not queue for one connection.
    pub fn writes_queued(&self) -> bool {
        self.sqlite_writer.as_ref().is_some_and(|w| w.queued())
    }

    /// Enquiries handed to SQLite's writer since this store opened; a
    /// change between two looks means families are posting. Always 0 on
    /// PostgreSQL (see [`Store::writes_queued`]).
    pub fn intake_writes(&self) -> u64 {
        self.sqlite_writer.as_ref().map_or(0, |w| w.inserts())
    }

    /// One batch of the backfill: up to `batch` pending enquiries with ids
    /// after `after` (`""` to start), in one transaction. Returns what it
    /// did and the last id it read, to pass as `after` next; `None` once no
    /// pending enquiry is left after `after`.
    pub async fn fill_search_terms_after(
        &self,
        after: &str,
        batch: i64,
    ) -> Result<(BackfillReport, Option<String>), StoreError> {
        // The literals match the partial index `enquiries_terms_pending`,
        // which holds only these rows: no scan of the table.
        let rows: Vec<PendingRow> = sqlx::query_as(
            "SELECT id, received_at, payload, original_payload FROM enquiries \
             WHERE terms_pending = 1 AND payload IS NOT NULL AND id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(batch.max(1))
        .fetch_all(&self.reader)
        .await?;
        let Some(last) = rows.last().map(|r| r.0.clone()) else {
            return Ok((BackfillReport::default(), None));
        };
        let mut report = BackfillReport::default();
        let mut tx = self.writer.begin().await?;
        for (id, received_at, payload, original) in rows {
            let opened =
                (self.sealing.open(payload.clone(), Place::payload(&id))).and_then(|plain| {
                    let original =
                        (self.sealing).open_opt(original, Place::original_payload(&id))?;
                    Ok((plain, original))
                });
            let (plain, original) = match opened {
                Ok(opened) => opened,
                Err(StoreError::SealedKeyMissing { .. } | StoreError::SealedCorrupt { .. }) => {
                    report.unreadable += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let terms = enquiry_terms(&self.sealing, &plain, original.as_deref());
            // Only while the row still holds what was read: an edit, a
            // scrub or a rekey meanwhile has written (or deleted) its terms.
            let done = sqlx::query(
                "UPDATE enquiries SET terms_pending = 0 \
                 WHERE id = $1 AND terms_pending = 1 AND payload = $2",
            )
            .bind(id.as_str())
            .bind(payload.as_str())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                replace_terms(&mut tx, &EnquiryId::from_stored(id), received_at, &terms).await?;
                report.filled += 1;
            } else {
                report.changed += 1;
            }
        }
        tx.commit().await?;
        Ok((report, Some(last)))
    }

    /// The whole backfill, `batch` enquiries a transaction.
    pub async fn fill_search_terms(&self, batch: i64) -> Result<BackfillReport, StoreError> {
        let (mut total, mut after) = (BackfillReport::default(), String::new());
        loop {
            let (report, last) = self.fill_search_terms_after(&after, batch).await?;
            total += report;
            match last {
                Some(last) => after = last,
                None => return Ok(total),
            }
        }
    }
}
