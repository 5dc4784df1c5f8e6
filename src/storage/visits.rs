//! Visit requests: stored with their enquiry in one transaction (slot
//! capacity taken in the same transaction), read back by the worker, and the
//! slot counts the booking pages need.

use super::intake::{NewEnquiry, insert_rows};
use super::{InsertOutcome, Store, StoreError, now_ms};

/// The visit part of a submission.
pub struct NewVisit<'a> {
    pub slot_at: i64,
    /// `YYYY-MM-DD HH:MM:SS` in the home's zone.
    pub local_time: &'a str,
    pub time_zone: &'a str,
    pub visit_type: &'a str,
    /// Visits the slot can take.
    pub capacity: u32,
}

/// The outcome of storing an enquiry with a visit.
#[derive(Debug, PartialEq, Eq)]
pub enum VisitInsert {
    Stored(InsertOutcome),
    /// The slot filled up; nothing was stored.
    SlotFull,
}

/// A stored visit request, with what the worker needs from its enquiry's delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredVisit {
    pub local_time: String,
    pub time_zone: String,
    pub visit_type: String,
    /// Status of the enquiry step (`synced` before a visit is sent).
    pub enquiry_status: Option<String>,
    /// CareHQ's `_id` of the enquiry, once synced.
    pub enquiry_remote_id: Option<String>,
}

/// local_time, time_zone, visit_type, enquiry status, enquiry remote id.
type VisitRow = (String, String, String, Option<String>, Option<String>);

impl Store {
    /// Insert the enquiry, its delivery row, the visit request and its
    /// `waiting` delivery row in one transaction, taking one place in the slot.
    pub async fn insert_enquiry_with_visit(
        &self,
        new: &NewEnquiry<'_>,
        visit: &NewVisit<'_>,
    ) -> Result<VisitInsert, StoreError> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        if let Some(outcome) = insert_rows(&mut tx, new, now).await? {
            tx.rollback().await?;
            return Ok(VisitInsert::Stored(outcome));
        }
        // The WHERE on the update makes a full slot return no row, atomically:
        // PostgreSQL locks the conflicting row, SQLite has one writer.
        let taken: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO visit_slots (site, slot_at, taken) VALUES ($1, $2, 1) \
             ON CONFLICT (site, slot_at) DO UPDATE SET taken = visit_slots.taken + 1 \
             WHERE visit_slots.taken < $3 RETURNING taken",
        )
        .bind(new.site)
        .bind(visit.slot_at)
        .bind(i64::from(visit.capacity))
        .fetch_optional(&mut *tx)
        .await?;
        if taken.is_none() {
            tx.rollback().await?;
            return Ok(VisitInsert::SlotFull);
        }
        sqlx::query(
            "INSERT INTO visit_requests (enquiry_id, site, slot_at, local_time, time_zone, visit_type, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new.id)
        .bind(new.site)
        .bind(visit.slot_at)
        .bind(visit.local_time)
        .bind(visit.time_zone)
        .bind(visit.visit_type)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO deliveries (id, enquiry_id, step, status, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, 'home_visit', 'waiting', $3, $3, $3)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(new.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(VisitInsert::Stored(InsertOutcome::Created))
    }

    /// How many visits each booked slot of `site` holds, for slots starting in `from..=to` (Unix ms).
    pub async fn taken_slots(
        &self,
        site: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT slot_at, taken FROM visit_slots WHERE site = $1 AND slot_at >= $2 AND slot_at <= $3",
        )
        .bind(site)
        .bind(from)
        .bind(to)
        .fetch_all(&self.reader)
        .await?)
    }

    /// The visit requested with an enquiry, and where its enquiry step stands.
    pub async fn visit_request(&self, enquiry_id: &str) -> Result<Option<StoredVisit>, StoreError> {
        let row: Option<VisitRow> = sqlx::query_as(
            "SELECT v.local_time, v.time_zone, v.visit_type, d.status, d.remote_id \
             FROM visit_requests v \
             LEFT JOIN deliveries d ON d.enquiry_id = v.enquiry_id AND d.step = 'enquiry' \
             WHERE v.enquiry_id = $1",
        )
        .bind(enquiry_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(
            |(local_time, time_zone, visit_type, enquiry_status, enquiry_remote_id)| StoredVisit {
                local_time,
                time_zone,
                visit_type,
                enquiry_status,
                enquiry_remote_id,
            },
        ))
    }
}
