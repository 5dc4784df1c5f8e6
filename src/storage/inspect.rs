//! Reading deliveries and their attempts back, for staff views and tests
//! (staff reads, on the staff pool), and whether an enquiry reached CareHQ,
//! for the worker (on the main pool).

use super::models::EnquiryId;
use super::models::{DeliveryStatus, Step};
use super::sealing::Place;
use super::{Store, StoreError};

/// A delivery as staff see it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryView {
    pub id: String,
    pub enquiry_id: EnquiryId,
    pub step: Step,
    /// The step as stored: a destination's names it (`destination:records`).
    pub step_name: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub ambiguous: i64,
    pub next_attempt_at: i64,
    pub remote_id: Option<String>,
    pub last_error: Option<String>,
}

/// One recorded attempt.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AttemptView {
    pub started_at: i64,
    pub duration_ms: i64,
    pub outcome: String,
    pub http_status: Option<i64>,
    pub hint: Option<String>,
    pub arg_errors: Option<String>,
    pub error: Option<String>,
}

type DeliveryRow = (
    String,
    EnquiryId,
    String,
    String,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
);
type AttemptRow = (
    String,
    i64,
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Store {
    /// The deliveries of one enquiry (the enquiry itself, later steps after it).
    pub async fn deliveries_of(
        &self,
        enquiry_id: &EnquiryId,
    ) -> Result<Vec<DeliveryView>, StoreError> {
        let mut conn = self.staff_read().await?;
        let rows: Vec<DeliveryRow> = sqlx::query_as(
            "SELECT id, enquiry_id, step, status, attempts, ambiguous, next_attempt_at, remote_id, last_error \
             FROM deliveries WHERE enquiry_id = $1 ORDER BY created_at, step",
        )
        .bind(enquiry_id)
        .fetch_all(conn.as_mut())
        .await?;
        conn.done();
        rows.into_iter()
            .map(
                |(
                    id,
                    enquiry_id,
                    step,
                    status,
                    attempts,
                    ambiguous,
                    next_attempt_at,
                    remote_id,
                    last_error,
                )| {
                    Ok(DeliveryView {
                        id,
                        enquiry_id,
                        step: Step::parse(&step).ok_or_else(|| corrupt("step", &step))?,
                        step_name: step,
                        status: (status.parse::<DeliveryStatus>())
                            .map_err(|_| corrupt("status", &status))?,
                        attempts,
                        ambiguous,
                        next_attempt_at,
                        remote_id,
                        last_error,
                    })
                },
            )
            .collect()
    }

    /// Every attempt of a delivery, oldest first.
    pub async fn attempts_of(&self, delivery_id: &str) -> Result<Vec<AttemptView>, StoreError> {
        let mut conn = self.staff_read().await?;
        let rows: Vec<AttemptRow> = sqlx::query_as(
            "SELECT id, started_at, duration_ms, outcome, http_status, hint, arg_errors, error \
             FROM delivery_attempts WHERE delivery_id = $1 ORDER BY started_at, id",
        )
        .bind(delivery_id)
        .fetch_all(conn.as_mut())
        .await?;
        conn.done();
        rows.into_iter()
            .map(
                |(id, started_at, duration_ms, outcome, http_status, hint, arg_errors, error)| {
                    Ok(AttemptView {
                        started_at,
                        duration_ms,
                        outcome,
                        http_status,
                        hint: self.sealing.open_opt(hint, Place::hint(&id))?,
                        arg_errors: (self.sealing).open_opt(arg_errors, Place::arg_errors(&id))?,
                        error,
                    })
                },
            )
            .collect()
    }
}

impl Store {
    /// Whether the enquiry's care-enquiry step is synced: the worker's
    /// question (so asked on the main pool, never the staff pool).
    pub async fn enquiry_synced(&self, enquiry_id: &EnquiryId) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT 1 FROM deliveries WHERE enquiry_id = $1 AND step = $2 AND status = $3",
        )
        .bind(enquiry_id)
        .bind(Step::Enquiry.as_str())
        .bind(DeliveryStatus::Synced.as_str())
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.is_some())
    }
}

fn corrupt(column: &str, text: &str) -> StoreError {
    StoreError::Corrupt(format!("deliveries.{column} is `{text}`"))
}
