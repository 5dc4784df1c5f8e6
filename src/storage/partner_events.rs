//! Partners' webhook events (migration 0014): an enrollment is stored with
//! its enquiry, in the same transaction, and a repeat of it loses on the
//! event's unique key there, so concurrent repeats store one enquiry; a
//! repeat saying something else (another fingerprint, migration 0022 /
//! PostgreSQL 0031) is a conflict, not a repeat. A user action is recorded
//! against the enrollment's enquiry.

use super::models::EnquiryId;
use super::{Store, StoreError, now_ms};

/// One partner event's identity, as the partner documents it (site apart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerEventKey {
    /// `helparound`.
    pub partner: String,
    pub program_id: String,
    /// The partner's id of the patient (pseudonymous; erased with them).
    pub patient_id: String,
    pub event_name: String,
    pub sent_at_ms: i64,
}

/// What recording a user action came to.
#[derive(Debug, PartialEq, Eq)]
pub enum ActionOutcome {
    /// Recorded against this enrollment's enquiry (or recorded before: a repeat).
    Recorded { enquiry_id: EnquiryId },
    /// No enrollment of this patient for this site.
    UnknownPatient,
}

/// A partner event of an enquiry, for `enquiries show` and the console.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerEventView {
    pub partner: String,
    pub event_name: String,
    pub sent_at: i64,
    pub received_at: i64,
    /// A user action's `key=value`; `None` for the enrollment itself.
    pub action: Option<String>,
}

const INSERT: &str = "\
INSERT INTO partner_events (id, partner, site, program_id, patient_id, event_name, sent_at, enquiry_id, action, received_at, fingerprint) \
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING";

const EXISTING: &str = "\
SELECT enquiry_id, fingerprint FROM partner_events \
 WHERE partner = $1 AND site = $2 AND program_id = $3 AND patient_id = $4 AND event_name = $5 AND sent_at = $6";

/// The enrollment's row inside the enquiry's transaction, with `fingerprint`
/// (what it said). `Some` when the event is there already, and nothing is
/// written: the enquiry it stored then and that event's fingerprint (the
/// caller tells a repeat from a changed re-send, as for idempotency keys).
pub(super) async fn claim_enrollment(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    key: &PartnerEventKey,
    site: &str,
    enquiry_id: &EnquiryId,
    fingerprint: Option<&str>,
    now: i64,
) -> Result<Option<(String, Option<String>)>, StoreError> {
    let row = EventRow {
        enquiry_id: enquiry_id.as_str(),
        action: None,
        fingerprint,
    };
    let inserted = insert(&mut **tx, key, site, &row, now).await?;
    if inserted == 1 {
        return Ok(None);
    }
    let stored: (String, Option<String>) = bind_key(sqlx::query_as(EXISTING), key, site)
        .fetch_one(&mut **tx)
        .await?;
    Ok(Some(stored))
}

/// What one event's row says besides its key.
struct EventRow<'a> {
    enquiry_id: &'a str,
    /// A user action's `key=value`; `None` for an enrollment.
    action: Option<&'a str>,
    /// An enrollment's fingerprint; `None` for a user action.
    fingerprint: Option<&'a str>,
}

/// One event's row; 0 rows when the event is there already (a repeat).
async fn insert<'e>(
    db: impl sqlx::Executor<'e, Database = sqlx::Any>,
    key: &PartnerEventKey,
    site: &str,
    row: &EventRow<'_>,
    now: i64,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(INSERT)
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(key.partner.as_str())
        .bind(site)
        .bind(key.program_id.as_str())
        .bind(key.patient_id.as_str())
        .bind(key.event_name.as_str())
        .bind(key.sent_at_ms)
        .bind(row.enquiry_id)
        .bind(row.action)
        .bind(now)
        .bind(row.fingerprint)
        .execute(db)
        .await?
        .rows_affected())
}

fn bind_key<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>,
    key: &'q PartnerEventKey,
    site: &'q str,
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments> {
    query
        .bind(key.partner.as_str())
        .bind(site)
        .bind(key.program_id.as_str())
        .bind(key.patient_id.as_str())
        .bind(key.event_name.as_str())
        .bind(key.sent_at_ms)
}

impl Store {
    /// Record a user action against the patient's enrollment on `site`
    /// (its latest, if they enrolled more than once). A repeat of the same
    /// event is answered the same and stored once.
    pub async fn record_partner_action(
        &self,
        site: &str,
        key: &PartnerEventKey,
        enrollment_event: &str,
        action: &str,
    ) -> Result<ActionOutcome, StoreError> {
        let enrolled: Option<(String,)> = sqlx::query_as(
            "SELECT enquiry_id FROM partner_events \
             WHERE partner = $1 AND site = $2 AND patient_id = $3 AND event_name = $4 \
             ORDER BY sent_at DESC LIMIT 1",
        )
        .bind(key.partner.as_str())
        .bind(site)
        .bind(key.patient_id.as_str())
        .bind(enrollment_event)
        .fetch_optional(&self.reader)
        .await?;
        let Some((enquiry_id,)) = enrolled else {
            return Ok(ActionOutcome::UnknownPatient);
        };
        let row = EventRow {
            enquiry_id: &enquiry_id,
            action: Some(action),
            fingerprint: None,
        };
        insert(&self.writer, key, site, &row, now_ms()).await?;
        Ok(ActionOutcome::Recorded {
            enquiry_id: EnquiryId::from_stored(enquiry_id),
        })
    }

    /// The partner events of one enquiry, oldest first (a staff read).
    pub async fn partner_events_of(
        &self,
        enquiry_id: &EnquiryId,
    ) -> Result<Vec<PartnerEventView>, StoreError> {
        let mut conn = self.staff_read().await?;
        let rows: Vec<(String, String, i64, i64, Option<String>)> = sqlx::query_as(
            "SELECT partner, event_name, sent_at, received_at, action FROM partner_events \
             WHERE enquiry_id = $1 ORDER BY sent_at, received_at",
        )
        .bind(enquiry_id)
        .fetch_all(conn.as_mut())
        .await?;
        conn.done();
        Ok(rows
            .into_iter()
            .map(
                |(partner, event_name, sent_at, received_at, action)| PartnerEventView {
                    partner,
                    event_name,
                    sent_at,
                    received_at,
                    action,
                },
            )
            .collect())
    }
}
