//! The database's encryption marker (`encryption_state`, migration 0015) and
//! `enquiries rekey`: a start is refused when the key file is missing or
//! lacks a key the database's values are sealed with, and rekeying seals
//! every personal value with the newest key (plain values included), so an
//! old key can leave the file.
//!
//! Every start records the key it seals with. A rekey run forgets an older
//! key only when it met no value sealed with it: meeting one means some
//! instance may not have been restarted with the new key first and may
//! still seal with the old one, after the run has passed (review T3-8).
//! Rotating therefore takes a second, cheap run once every instance has
//! the new key first; until then a start without the old key is refused,
//! rather than passing and leaving such rows unreadable.

use std::collections::BTreeSet;

use super::models::EnquiryId;
use super::sealing::{Place, Sealing, sealed_key_id};
use super::search_terms::{enquiry_terms, replace_terms};
use super::{Store, StoreError, now_ms};

/// What `enquiries rekey` did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RekeyReport {
    /// Rows sealed again (or for the first time), per table.
    pub enquiries: u64,
    pub attempts: u64,
    pub audit_records: u64,
    /// Rows already sealed with the newest key (and hashed under it).
    pub current: u64,
    /// Rows that changed while being rekeyed (an edit, a scrub): left for
    /// the next run, which is safe to repeat.
    pub skipped: u64,
    /// The key everything is now sealed with.
    pub key_id: String,
    /// Older keys still recorded, so a start without them is refused:
    /// values sealed with them were met during this run (an instance not
    /// yet restarted with the newest key first may still seal with them).
    /// A later run that meets none forgets them.
    pub still_required: Vec<String>,
}

/// A table's rows with two personal columns, read and rewritten by id.
struct Sealed {
    table: &'static str,
    first: &'static str,
    second: &'static str,
}

const ATTEMPTS: Sealed = Sealed {
    table: "delivery_attempts",
    first: "hint",
    second: "arg_errors",
};
const AUDIT: Sealed = Sealed {
    table: "audit_log",
    first: "reason",
    second: "detail",
};

type TwoColumns = (String, Option<String>, Option<String>);

/// An enquiry as rekey reads it: id, received_at, payload, original_payload,
/// email_hash, phone_hash, terms_pending.
type EnquiryRow = (
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

impl Store {
    /// At start, after migrations: refuse a sealed database without the key
    /// file, or with a file missing a key its values are sealed with. With
    /// keys, record that the database is sealed and with which key ids.
    pub async fn check_encryption(&self) -> Result<(), StoreError> {
        let (sealed, recorded): (i64, String) =
            sqlx::query_as("SELECT sealed, key_ids FROM encryption_state WHERE id = 1")
                .fetch_one(&self.reader)
                .await?;
        let recorded: Vec<&str> = ids_of(&recorded).collect();
        let Some(keys) = self.sealing.keys() else {
            if sealed != 0 {
                return Err(StoreError::Keys(format!(
                    "this database holds encrypted personal data (key {}) but database.encryption_key_file is not set: \
                     set it to the key file the data was encrypted with; without that key the data cannot be read",
                    recorded.join(", ")
                )));
            }
            return Ok(());
        };
        let held = keys.ids();
        let missing: Vec<&str> = (recorded.iter().copied())
            .filter(|id| !held.contains(id))
            .collect();
        if !missing.is_empty() {
            return Err(StoreError::Keys(format!(
                "database.encryption_key_file does not hold key {}, which values in this database are sealed with \
                 (or were, the last time `enquiries rekey` ran, so an instance may still seal with it): \
                 put that key back in the file after the newest, restart every instance with that file, \
                 and run `enquiry-relay enquiries rekey` until a run meets no value sealed with it; \
                 that run stops requiring it",
                missing.join(", ")
            )));
        }
        let mut ids = vec![keys.newest()];
        ids.extend(recorded.iter().filter(|id| **id != keys.newest()));
        self.record_keys(&ids.join(",")).await
    }

    /// Mark the database sealed with `ids` (newest first), if it is not so
    /// marked already.
    async fn record_keys(&self, ids: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE encryption_state SET sealed = 1, key_ids = $1, updated_at = $2 \
             WHERE id = 1 AND (sealed = 0 OR key_ids <> $1)",
        )
        .bind(ids)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The recorded key ids, newest first.
    async fn recorded_keys(&self) -> Result<String, StoreError> {
        let (ids,): (String,) = sqlx::query_as("SELECT key_ids FROM encryption_state WHERE id = 1")
            .fetch_one(&self.writer)
            .await?;
        Ok(ids)
    }

    /// After a complete rekey run: stop requiring the keys recorded when it
    /// began (`before`) that it met no value sealed with. Ids recorded
    /// meanwhile (an instance started during the run) stay. Returns the
    /// older ids still required.
    async fn forget_unused_keys(
        &self,
        newest: &str,
        before: &str,
        met: &BTreeSet<String>,
    ) -> Result<Vec<String>, StoreError> {
        // A start recording its key between the read and the write makes
        // the write match nothing; read again rather than lose that key.
        for _ in 0..5 {
            let now = self.recorded_keys().await?;
            let kept = still_required(newest, before, &now, met);
            let ids = std::iter::once(newest)
                .chain(kept.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(",");
            let written = sqlx::query(
                "UPDATE encryption_state SET sealed = 1, key_ids = $1, updated_at = $2 \
                 WHERE id = 1 AND key_ids = $3",
            )
            .bind(ids.as_str())
            .bind(now_ms())
            .bind(now.as_str())
            .execute(&self.writer)
            .await?;
            if written.rows_affected() == 1 {
                return Ok(kept);
            }
        }
        // Still changing: leave every recorded key required (safe; the next
        // run tries again).
        let now = self.recorded_keys().await?;
        Ok(ids_of(&now)
            .filter(|id| *id != newest)
            .map(str::to_owned)
            .collect())
    }

    /// Seal every personal value with the newest key, `batch` rows per
    /// transaction. Idempotent: a second run finds everything current.
    /// Safe beside a running server: each row is rewritten only if it still
    /// holds what was read.
    pub async fn rekey(&self, batch: i64) -> Result<RekeyReport, StoreError> {
        let Some(keys) = self.sealing.keys() else {
            return Err(StoreError::Keys(
                "rekey needs database.encryption_key_file: the newest key (the first line) seals everything".into(),
            ));
        };
        self.check_encryption().await?;
        let before = self.recorded_keys().await?;
        let newest = keys.newest();
        let mut report = RekeyReport {
            key_id: newest.to_owned(),
            ..RekeyReport::default()
        };
        let mut met = BTreeSet::new();
        let batch = batch.max(1);
        self.rekey_enquiries(batch, &mut report, &mut met).await?;
        report.attempts = (self.rekey_table(&ATTEMPTS, batch, &mut report, &mut met)).await?;
        report.audit_records = (self.rekey_table(&AUDIT, batch, &mut report, &mut met)).await?;
        report.still_required = if report.skipped == 0 {
            self.forget_unused_keys(newest, &before, &met).await?
        } else {
            // Rows changed under the run hold values it did not see: forget
            // nothing.
            ids_of(&before)
                .filter(|id| *id != newest)
                .map(str::to_owned)
                .collect()
        };
        Ok(report)
    }

    /// Rekey the enquiries: payload, original, lookup hashes and search
    /// terms. A row still waiting for its terms (stored before migration
    /// 0019) gets them here too, so a rekey run also completes the
    /// search-term backfill.
    async fn rekey_enquiries(
        &self,
        batch: i64,
        report: &mut RekeyReport,
        met: &mut BTreeSet<String>,
    ) -> Result<(), StoreError> {
        let mut after = String::new();
        loop {
            let rows: Vec<EnquiryRow> = sqlx::query_as(
                "SELECT id, received_at, payload, original_payload, email_hash, phone_hash, terms_pending \
                 FROM enquiries WHERE id > $1 AND payload IS NOT NULL ORDER BY id LIMIT $2",
            )
            .bind(after.as_str())
            .bind(batch)
            .fetch_all(&self.reader)
            .await?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = last.0.clone();
            let mut tx = self.writer.begin().await?;
            for (id, received_at, payload, original_payload, email_hash, phone_hash, pending) in
                rows
            {
                note_keys(met, [Some(&payload), original_payload.as_ref()]);
                let plain = self.sealing.open(payload.clone(), Place::payload(&id))?;
                let hashes = self.sealing.contact_hashes(&plain);
                // A payload sealed with the newest key was written with its
                // terms under that key too (intake, an edit, a rekey).
                let current = self.sealing.is_current(&payload)
                    && (original_payload.as_deref()).is_none_or(|o| self.sealing.is_current(o))
                    && hashes.email == email_hash
                    && hashes.phone == phone_hash
                    && pending == 0;
                if current {
                    report.current += 1;
                    continue;
                }
                let in_original = Place::original_payload(&id);
                let original = (self.sealing).open_opt(original_payload.clone(), in_original)?;
                let terms = enquiry_terms(&self.sealing, &plain, original.as_deref());
                let new_payload =
                    reseal_opened(&self.sealing, &payload, &plain, Place::payload(&id))?;
                let new_original = match (&original_payload, &original) {
                    (Some(stored), Some(plain)) => {
                        Some(reseal_opened(&self.sealing, stored, plain, in_original)?)
                    }
                    _ => None,
                };
                let done = sqlx::query(
                    "UPDATE enquiries SET payload = $1, original_payload = $2, email_hash = $3, phone_hash = $4, \
                     terms_pending = 0 \
                     WHERE id = $5 AND payload = $6 AND COALESCE(original_payload, '') = $7",
                )
                .bind(new_payload)
                .bind(new_original)
                .bind(hashes.email.as_deref())
                .bind(hashes.phone.as_deref())
                .bind(id.as_str())
                .bind(payload.as_str())
                .bind(original_payload.as_deref().unwrap_or(""))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 1 {
                    replace_terms(&mut tx, &EnquiryId::from_stored(id), received_at, &terms)
                        .await?;
                    report.enquiries += 1;
                } else {
                    report.skipped += 1;
                }
            }
            tx.commit().await?;
        }
    }

    /// Rekey one table's two personal columns; returns the rows rewritten.
    async fn rekey_table(
        &self,
        t: &Sealed,
        batch: i64,
        report: &mut RekeyReport,
        met: &mut BTreeSet<String>,
    ) -> Result<u64, StoreError> {
        let (table, first, second) = (t.table, t.first, t.second);
        let select = format!(
            "SELECT id, {first}, {second} FROM {table} \
             WHERE id > $1 AND ({first} IS NOT NULL OR {second} IS NOT NULL) ORDER BY id LIMIT $2"
        );
        let update = format!(
            "UPDATE {table} SET {first} = $1, {second} = $2 \
             WHERE id = $3 AND COALESCE({first}, '') = $4 AND COALESCE({second}, '') = $5"
        );
        let mut rewritten = 0;
        let mut after = String::new();
        loop {
            let rows: Vec<TwoColumns> = sqlx::query_as(sqlx::AssertSqlSafe(select.clone()))
                .bind(after.as_str())
                .bind(batch)
                .fetch_all(&self.reader)
                .await?;
            let Some(last) = rows.last() else {
                return Ok(rewritten);
            };
            after = last.0.clone();
            let mut tx = self.writer.begin().await?;
            for (id, a, b) in rows {
                note_keys(met, [a.as_ref(), b.as_ref()]);
                let is_current =
                    |v: &Option<String>| v.as_deref().is_none_or(|v| self.sealing.is_current(v));
                if is_current(&a) && is_current(&b) {
                    report.current += 1;
                    continue;
                }
                let done = sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                    .bind(reseal(
                        &self.sealing,
                        a.clone(),
                        Place::new(table, first, &id),
                    )?)
                    .bind(reseal(
                        &self.sealing,
                        b.clone(),
                        Place::new(table, second, &id),
                    )?)
                    .bind(id.as_str())
                    .bind(a.as_deref().unwrap_or(""))
                    .bind(b.as_deref().unwrap_or(""))
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 1 {
                    rewritten += 1;
                } else {
                    report.skipped += 1;
                }
            }
            tx.commit().await?;
        }
    }
}

/// Add the ids of the keys `values` are sealed with to `met`.
fn note_keys<'a>(met: &mut BTreeSet<String>, values: impl IntoIterator<Item = Option<&'a String>>) {
    for id in values
        .into_iter()
        .flatten()
        .filter_map(|v| sealed_key_id(v))
    {
        if !met.contains(id) {
            met.insert(id.to_owned());
        }
    }
}

/// The ids of a recorded `key_ids` list.
fn ids_of(recorded: &str) -> impl Iterator<Item = &str> {
    recorded.split(',').filter(|id| !id.is_empty())
}

/// The older keys to keep requiring after a complete run: of those
/// recorded `now`, each one the run met a value sealed with, and each one
/// recorded since the run began (`before`), in the recorded order.
fn still_required(newest: &str, before: &str, now: &str, met: &BTreeSet<String>) -> Vec<String> {
    ids_of(now)
        .filter(|id| *id != newest && (met.contains(*id) || !ids_of(before).any(|b| b == *id)))
        .map(str::to_owned)
        .collect()
}

/// `stored` at `place` (which opens to `plain`) sealed with the newest key
/// and bound to `place`: as it is when it is already.
fn reseal_opened(
    sealing: &Sealing,
    stored: &str,
    plain: &str,
    place: Place<'_>,
) -> Result<String, StoreError> {
    match sealing.is_current(stored) {
        true => Ok(stored.to_owned()),
        false => sealing.seal(plain, place),
    }
}

/// A value stored at `place`, sealed with the newest key and bound to
/// `place` (opened first, whatever sealed it: an older key, the `v1:`
/// format without a place, or none).
fn reseal(
    sealing: &Sealing,
    stored: Option<String>,
    place: Place<'_>,
) -> Result<Option<String>, StoreError> {
    match stored {
        Some(s) if sealing.is_current(&s) => Ok(Some(s)),
        Some(s) => Ok(Some(sealing.seal(&sealing.open(s, place)?, place)?)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn met(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn a_run_forgets_only_older_keys_it_met_nothing_sealed_with() {
        assert_eq!(still_required("b", "b,a", "b,a", &met(&["b"])), [""; 0]);
        assert_eq!(still_required("b", "b,a", "b,a", &met(&[])), [""; 0]);
        assert_eq!(
            still_required("b", "b,a", "b,a", &met(&["a", "b"])),
            ["a"],
            "a value sealed with a: an instance may still seal with it"
        );
        assert_eq!(
            still_required("b", "b,a", "c,b,a", &met(&["b"])),
            ["c"],
            "recorded by a start during the run"
        );
        assert_eq!(still_required("b", "", "b", &met(&[])), [""; 0]);
    }
}
