//! Storing a new enquiry and its outbox row in one transaction, with the
//! submission's idempotency key.

use super::{Store, StoreError, now_ms};

/// Idempotency keys answer the same for this long.
const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// A validated enquiry ready to store.
pub struct NewEnquiry<'a> {
    pub id: &'a str,
    pub site: &'a str,
    /// The validated enquiry as JSON.
    pub payload: &'a str,
    pub spam_verdict: &'a str,
    pub idempotency_key: Option<&'a str>,
    /// Stored as `held`: a person must release it before it is sent.
    pub held: bool,
}

/// Whether the enquiry was stored now or had been stored before under the same key.
#[derive(Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    Created,
    Duplicate { enquiry_id: String },
}

impl Store {
    /// Insert the enquiry and its delivery row in one transaction. Nothing is
    /// acknowledged to the family before this commits.
    pub async fn insert_enquiry(&self, new: &NewEnquiry<'_>) -> Result<InsertOutcome, StoreError> {
        if let Some(writer) = &self.sqlite_writer {
            return writer.insert(new).await;
        }
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        if let Some(enquiry_id) = insert_rows(&mut tx, new, now).await? {
            tx.rollback().await?;
            return Ok(InsertOutcome::Duplicate { enquiry_id });
        }
        tx.commit().await?;
        Ok(InsertOutcome::Created)
    }

    /// The enquiry stored under `key` for `site` within the idempotency
    /// window, if any: lets a repeat be answered as before without a write.
    pub async fn enquiry_for_key(
        &self,
        site: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let found: Option<(String,)> = sqlx::query_as(
            "SELECT enquiry_id FROM idempotency_keys WHERE site = $1 AND key = $2 AND created_at >= $3",
        )
        .bind(site)
        .bind(key)
        .bind(now_ms() - IDEMPOTENCY_WINDOW_MS)
        .fetch_optional(&self.reader)
        .await?;
        Ok(found.map(|(id,)| id))
    }

    /// The site and stored payload of an enquiry (`None` payload once scrubbed).
    pub async fn enquiry_payload(
        &self,
        enquiry_id: &str,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT site, payload FROM enquiries WHERE id = $1")
                .bind(enquiry_id)
                .fetch_optional(&self.reader)
                .await?,
        )
    }
}

/// The enquiry's rows inside the caller's transaction. Returns the first
/// enquiry's id when the idempotency key was used before (nothing inserted;
/// the caller rolls back).
pub(super) async fn insert_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    new: &NewEnquiry<'_>,
    now: i64,
) -> Result<Option<String>, StoreError> {
    if let Some(key) = new.idempotency_key {
        // A key older than the window no longer counts: forget it first.
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE site = $1 AND key = $2 AND created_at < $3",
        )
        .bind(new.site)
        .bind(key)
        .bind(now - IDEMPOTENCY_WINDOW_MS)
        .execute(&mut **tx)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (site, key, enquiry_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(new.site)
        .bind(key)
        .bind(new.id)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            let (enquiry_id,): (String,) = sqlx::query_as(
                "SELECT enquiry_id FROM idempotency_keys WHERE site = $1 AND key = $2",
            )
            .bind(new.site)
            .bind(key)
            .fetch_one(&mut **tx)
            .await?;
            return Ok(Some(enquiry_id));
        }
    }
    sqlx::query(
        "INSERT INTO enquiries (id, site, received_at, payload, spam_verdict) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(new.id)
    .bind(new.site)
    .bind(now)
    .bind(new.payload)
    .bind(new.spam_verdict)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO deliveries (id, enquiry_id, step, status, next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, 'enquiry', $3, $4, $4, $4)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(new.id)
    .bind(if new.held { "held" } else { "pending" })
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(None)
}
