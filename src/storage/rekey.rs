//! The database's encryption marker (`encryption_state`, migration 0015) and
//! `enquiries rekey`: a start is refused when the key file is missing or
//! lacks a key the database's values are sealed with, and rekeying seals
//! every personal value with the newest key (plain values included), so an
//! old key can leave the file.

use super::sealing::Sealing;
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

impl Store {
    /// At start, after migrations: refuse a sealed database without the key
    /// file, or with a file missing a key its values are sealed with. With
    /// keys, record that the database is sealed and with which key ids.
    pub async fn check_encryption(&self) -> Result<(), StoreError> {
        let (sealed, recorded): (i64, String) =
            sqlx::query_as("SELECT sealed, key_ids FROM encryption_state WHERE id = 1")
                .fetch_one(&self.reader)
                .await?;
        let recorded: Vec<&str> = recorded.split(',').filter(|id| !id.is_empty()).collect();
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
                "database.encryption_key_file does not hold key {}, which values in this database are encrypted with: \
                 put that key back in the file (after the newest) and run `enquiry-relay enquiries rekey` before removing it",
                missing.join(", ")
            )));
        }
        let mut ids = vec![keys.newest()];
        ids.extend(recorded.iter().filter(|id| **id != keys.newest()));
        self.record_keys(&ids.join(","), false).await
    }

    /// Mark the database sealed with `ids` (newest first); `only` replaces
    /// the list (after a complete rekey), otherwise it must differ to write.
    async fn record_keys(&self, ids: &str, only: bool) -> Result<(), StoreError> {
        let sql = if only {
            "UPDATE encryption_state SET sealed = 1, key_ids = $1, updated_at = $2 WHERE id = 1"
        } else {
            "UPDATE encryption_state SET sealed = 1, key_ids = $1, updated_at = $2 \
             WHERE id = 1 AND (sealed = 0 OR key_ids <> $1)"
        };
        sqlx::query(sql)
            .bind(ids)
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        Ok(())
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
        let mut report = RekeyReport {
            key_id: keys.newest().to_owned(),
            ..RekeyReport::default()
        };
        let batch = batch.max(1);
        self.rekey_enquiries(batch, &mut report).await?;
        report.attempts = self.rekey_table(&ATTEMPTS, batch, &mut report).await?;
        report.audit_records = self.rekey_table(&AUDIT, batch, &mut report).await?;
        if report.skipped == 0 {
            self.record_keys(keys.newest(), true).await?;
        }
        Ok(report)
    }

    async fn rekey_enquiries(
        &self,
        batch: i64,
        report: &mut RekeyReport,
    ) -> Result<(), StoreError> {
        type EnquiryRow = (
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let mut after = String::new();
        loop {
            let rows: Vec<EnquiryRow> = sqlx::query_as(
                "SELECT id, payload, original_payload, email_hash, phone_hash FROM enquiries \
                 WHERE id > $1 AND payload IS NOT NULL ORDER BY id LIMIT $2",
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
            for (id, payload, original, email_hash, phone_hash) in rows {
                let plain = self.sealing.open(payload.clone())?;
                let hashes = self.sealing.contact_hashes(&plain);
                let current = self.sealing.is_current(&payload)
                    && original
                        .as_deref()
                        .is_none_or(|o| self.sealing.is_current(o))
                    && hashes.email == email_hash
                    && hashes.phone == phone_hash;
                if current {
                    report.current += 1;
                    continue;
                }
                let new_original = reseal(&self.sealing, original.clone())?;
                let done = sqlx::query(
                    "UPDATE enquiries SET payload = $1, original_payload = $2, email_hash = $3, phone_hash = $4 \
                     WHERE id = $5 AND payload = $6 AND COALESCE(original_payload, '') = $7",
                )
                .bind(reseal(&self.sealing, Some(payload.clone()))?)
                .bind(new_original)
                .bind(hashes.email.as_deref())
                .bind(hashes.phone.as_deref())
                .bind(id.as_str())
                .bind(payload.as_str())
                .bind(original.as_deref().unwrap_or(""))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 1 {
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
                let is_current =
                    |v: &Option<String>| v.as_deref().is_none_or(|v| self.sealing.is_current(v));
                if is_current(&a) && is_current(&b) {
                    report.current += 1;
                    continue;
                }
                let done = sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                    .bind(reseal(&self.sealing, a.clone())?)
                    .bind(reseal(&self.sealing, b.clone())?)
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

/// A stored value sealed with the newest key (opened first, whatever sealed it).
fn reseal(sealing: &Sealing, stored: Option<String>) -> Result<Option<String>, StoreError> {
    match stored {
        Some(s) if sealing.is_current(&s) => Ok(Some(s)),
        Some(s) => Ok(Some(sealing.seal(&sealing.open(s)?)?)),
        None => Ok(None),
    }
}
