//! Visit requests: stored with their enquiry in one transaction (slot
//! capacity taken in the same transaction), read back by the worker, and the
//! slot counts the booking pages need. A visit waiting for an enquiry that
//! failed gives its place back (families can book the time again); if the
//! enquiry is synced after all, the visit takes a place again before it is
//! sent, if one is left. A visit that becomes `expired` (its enquiry
//! deleted, erased, or held too long) gives its place back for good.

use super::intake::{NewEnquiry, SealedPayload, insert_rows};
use super::models::{DeliveryStatus, EnquiryId};
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
    pub enquiry_status: Option<DeliveryStatus>,
    /// CareHQ's `_id` of the enquiry, once synced.
    pub enquiry_remote_id: Option<String>,
    /// The site slug and the slot's start (Unix ms).
    pub site: String,
    pub slot_at: i64,
    /// The visit gave its place in the slot back when its enquiry failed.
    pub slot_freed: bool,
}

/// local_time, time_zone, visit_type, enquiry status, enquiry remote id,
/// site, slot_at, slot_freed_at.
type VisitRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    Option<i64>,
);

/// Take one place in a slot, unless it already holds `$3`. The WHERE on the
/// update makes a full slot return no row, atomically: PostgreSQL locks the
/// conflicting row, SQLite has one writer.
const TAKE_PLACE: &str = "INSERT INTO visit_slots (site, slot_at, taken) VALUES ($1, $2, 1) \
     ON CONFLICT (site, slot_at) DO UPDATE SET taken = visit_slots.taken + 1 \
     WHERE visit_slots.taken < $3 RETURNING taken";

/// In the caller's transaction, when the delivery `delivery_id` becomes
/// failed: if it is an enquiry step whose visit waits for it, give the
/// visit's place in its slot back and note when. A failed enquiry may wait
/// for staff for days; meanwhile the time the family chose should not look
/// booked to other families.
pub(super) async fn free_slot_of_waiting_visit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    delivery_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    // The visit requests concerned: this delivery's enquiry, its visit step
    // waiting, its place not given back yet.
    const CONCERNED: &str = "SELECT v.enquiry_id FROM visit_requests v \
         JOIN deliveries e ON e.enquiry_id = v.enquiry_id AND e.step = 'enquiry' \
         JOIN deliveries w ON w.enquiry_id = v.enquiry_id AND w.step = 'home_visit' AND w.status = 'waiting' \
         WHERE e.id = $1 AND v.slot_freed_at IS NULL";
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE visit_slots SET taken = taken - 1 WHERE taken > 0 AND EXISTS \
         (SELECT 1 FROM visit_requests r WHERE r.site = visit_slots.site AND r.slot_at = visit_slots.slot_at \
          AND r.enquiry_id IN ({CONCERNED}))"
    )))
    .bind(delivery_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE visit_requests SET slot_freed_at = $2 WHERE enquiry_id IN ({CONCERNED})"
    )))
    .bind(delivery_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// In the caller's transaction, once the enquiry `enquiry_id`'s steps may
/// have become `expired` (a console delete, an erasure, a held enquiry past
/// `retention.held`): if its visit step is now expired and its place was
/// not given back yet, give it back and note when. That visit will never
/// be sent; the time must be bookable again. Served by the visit's key and
/// the steps' `(enquiry_id, step)` key: one enquiry's rows.
pub(super) async fn free_slot_of_expired_visit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    enquiry_id: &EnquiryId,
    now: i64,
) -> Result<(), StoreError> {
    // Its slot and its step's status, when the visit still holds a place.
    // By the visit's key and the steps' (enquiry_id, step) key only: the
    // status is checked here, so no plan can walk the (growing) expired rows.
    let slot: Option<(String, i64, String)> = sqlx::query_as(
        "SELECT v.site, v.slot_at, w.status FROM visit_requests v \
         JOIN deliveries w ON w.enquiry_id = v.enquiry_id AND w.step = 'home_visit' \
         WHERE v.enquiry_id = $1 AND v.slot_freed_at IS NULL",
    )
    .bind(enquiry_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((site, slot_at, _)) =
        slot.filter(|(_, _, status)| status.parse() == Ok(DeliveryStatus::Expired))
    else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE visit_slots SET taken = taken - 1 WHERE site = $1 AND slot_at = $2 AND taken > 0",
    )
    .bind(site)
    .bind(slot_at)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE visit_requests SET slot_freed_at = $1 WHERE enquiry_id = $2")
        .bind(now)
        .bind(enquiry_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Insert the enquiry, its delivery row, the visit request and its
    /// `waiting` delivery row in one transaction, taking one place in the slot.
    pub async fn insert_enquiry_with_visit(
        &self,
        new: &NewEnquiry,
        visit: &NewVisit<'_>,
    ) -> Result<VisitInsert, StoreError> {
        let sealed = SealedPayload::of(&self.sealing, &new.id, &new.payload)?;
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        if let Some(outcome) = insert_rows(&mut tx, new, &sealed, now).await? {
            tx.rollback().await?;
            return Ok(VisitInsert::Stored(outcome));
        }
        let taken: Option<(i64,)> = sqlx::query_as(TAKE_PLACE)
            .bind(new.site.as_str())
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
        .bind(new.id.as_str())
        .bind(new.site.as_str())
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
        .bind(new.id.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.search_terms_due.notify_one();
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
    pub async fn visit_request(
        &self,
        enquiry_id: &EnquiryId,
    ) -> Result<Option<StoredVisit>, StoreError> {
        let row: Option<VisitRow> = sqlx::query_as(
            "SELECT v.local_time, v.time_zone, v.visit_type, d.status, d.remote_id, v.site, v.slot_at, v.slot_freed_at \
             FROM visit_requests v \
             LEFT JOIN deliveries d ON d.enquiry_id = v.enquiry_id AND d.step = 'enquiry' \
             WHERE v.enquiry_id = $1",
        )
        .bind(enquiry_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(
            |(
                local_time,
                time_zone,
                visit_type,
                enquiry_status,
                enquiry_remote_id,
                site,
                slot_at,
                slot_freed_at,
            )| StoredVisit {
                local_time,
                time_zone,
                visit_type,
                // Only the statuses we write are stored; anything else reads
                // as a missing enquiry step (the visit is not sent).
                enquiry_status: enquiry_status
                    .as_deref()
                    .and_then(|s| s.parse::<DeliveryStatus>().ok()),
                enquiry_remote_id,
                site,
                slot_at,
                slot_freed: slot_freed_at.is_some(),
            },
        ))
    }
}

impl Store {
    /// Take a place again for a visit that gave its place back (its enquiry
    /// failed, then was synced after all). False, changing nothing, when the
    /// slot is full: another family has the time now.
    pub async fn retake_visit_slot(
        &self,
        visit: &StoredVisit,
        enquiry_id: &EnquiryId,
        capacity: u32,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let taken: Option<(i64,)> = sqlx::query_as(TAKE_PLACE)
            .bind(&visit.site)
            .bind(visit.slot_at)
            .bind(i64::from(capacity))
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_none() {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("UPDATE visit_requests SET slot_freed_at = NULL WHERE enquiry_id = $1")
            .bind(enquiry_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
