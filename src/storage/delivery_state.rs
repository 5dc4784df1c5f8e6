//! The delivery state shared by every instance: pause and last outcomes.

use super::{Store, StoreError, now_ms};

/// Whether delivery is paused, and the last CareHQ outcomes.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryState {
    /// Why delivery is paused (a credentials or configuration problem), if it is.
    pub paused_reason: Option<String>,
    pub paused_status: Option<i64>,
    pub paused_at: Option<i64>,
    /// The delivery whose answer caused the pause; probes try others first.
    pub paused_delivery_id: Option<String>,
    pub last_success_at: Option<i64>,
    pub last_error_at: Option<i64>,
    pub last_error: Option<String>,
}

type StateRow = (
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

impl Store {
    pub async fn delivery_state(&self) -> Result<DeliveryState, StoreError> {
        let row: StateRow = sqlx::query_as(
            "SELECT paused_reason, paused_status, paused_at, paused_delivery_id, last_success_at, last_error_at, last_error \
             FROM delivery_state WHERE id = 1",
        )
        .fetch_one(&self.reader)
        .await?;
        let (
            paused_reason,
            paused_status,
            paused_at,
            paused_delivery_id,
            last_success_at,
            last_error_at,
            last_error,
        ) = row;
        Ok(DeliveryState {
            paused_reason,
            paused_status,
            paused_at,
            paused_delivery_id,
            last_success_at,
            last_error_at,
            last_error,
        })
    }

    /// Pause delivery for every instance until [`Store::resume_delivery`];
    /// `delivery_id` is the row whose answer caused it.
    pub async fn pause_delivery(
        &self,
        reason: &str,
        http_status: Option<u16>,
        delivery_id: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE delivery_state SET paused_reason = $1, paused_status = $2, paused_at = $3, paused_delivery_id = $4 WHERE id = 1")
            .bind(reason)
            .bind(http_status.map(i64::from))
            .bind(now_ms())
            .bind(delivery_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Keep a pause but count its probe interval from now.
    pub async fn restart_pause_clock(&self) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE delivery_state SET paused_at = $1 WHERE id = 1 AND paused_reason IS NOT NULL",
        )
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Clear a pause. Returns true if delivery had been paused.
    pub async fn resume_delivery(&self) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE delivery_state SET paused_reason = NULL, paused_status = NULL, paused_at = NULL, \
             paused_delivery_id = NULL \
             WHERE id = 1 AND paused_reason IS NOT NULL",
        )
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
