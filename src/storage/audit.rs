//! The audit trail: one row per thing staff did to an enquiry (retry,
//! release, delete, edit, erase), written in the same transaction as the change, so
//! there is never a change without its record or a record without its change.

use super::models::EnquiryId;
use super::sealing::{Place, Sealing};
use super::{Store, StoreError};

/// What staff did, as stored in `audit_log.action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum AuditAction {
    Retry,
    Release,
    Delete,
    /// Fields CareHQ refused, corrected, then sent again.
    Edit,
    /// The person's data removed on their request (`enquiries erase`).
    Erase,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Who did it and why, for every audited change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor<'a> {
    /// The session's label (the staff token's name).
    pub label: &'a str,
    /// The staff member's own words; required for a delete.
    pub reason: Option<&'a str>,
}

/// One row of the trail.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
}

type AuditRow = (String, i64, String, String, Option<String>, Option<String>);

/// Add a row inside the caller's transaction. The reason and detail are
/// sealed: staff's words may name the family, an edit's detail lists fields.
pub(super) async fn record(
    sealing: &Sealing,
    conn: &mut sqlx::AnyConnection,
    enquiry_id: &EnquiryId,
    actor: &Actor<'_>,
    action: AuditAction,
    detail: Option<&str>,
    at: i64,
) -> Result<(), StoreError> {
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO audit_log (id, enquiry_id, actor, at, action, reason, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id.as_str())
    .bind(enquiry_id)
    .bind(actor.label)
    .bind(at)
    .bind(action.as_str())
    .bind(sealing.seal_opt(actor.reason, Place::reason(&id))?)
    .bind(sealing.seal_opt(detail, Place::detail(&id))?)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// The trail of one enquiry, oldest first.
    pub async fn audit_of(&self, enquiry_id: &EnquiryId) -> Result<Vec<AuditEntry>, StoreError> {
        let mut conn = self.staff_read().await?;
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT id, at, actor, action, reason, detail FROM audit_log \
             WHERE enquiry_id = $1 ORDER BY at, id",
        )
        .bind(enquiry_id)
        .fetch_all(conn.as_mut())
        .await?;
        conn.done();
        rows.into_iter()
            .map(|(id, at, actor, action, reason, detail)| {
                Ok(AuditEntry {
                    at,
                    actor,
                    action,
                    reason: self.sealing.open_opt(reason, Place::reason(&id))?,
                    detail: self.sealing.open_opt(detail, Place::detail(&id))?,
                })
            })
            .collect()
    }
}
