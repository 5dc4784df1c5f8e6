//! The delivery state of each CareHQ account, shared by every instance: its
//! pause and its last outcomes. A row is written on first use (every write
//! is an upsert), so an account added to the config needs no set-up and a
//! missing row reads as "never paused, nothing sent yet".

use super::{Store, StoreError, now_ms};

/// Whether delivery to one account is paused, and its last CareHQ outcomes.
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

impl DeliveryState {
    pub fn is_paused(&self) -> bool {
        self.paused_reason.is_some()
    }
}

type StateRow = (
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

const COLUMNS: &str = "account, paused_reason, paused_status, paused_at, paused_delivery_id, \
                       last_success_at, last_error_at, last_error";

/// Record that `account` delivered at `$2`; lifts its pause. `$1` account.
pub(super) const RECORD_SUCCESS: &str = "\
INSERT INTO account_delivery_state (account, last_success_at) VALUES ($1, $2)
ON CONFLICT (account) DO UPDATE SET last_success_at = excluded.last_success_at,
    paused_reason = NULL, paused_status = NULL, paused_at = NULL, paused_delivery_id = NULL";

/// Record `account`'s last error `$3` at `$2`. `$1` account.
pub(super) const RECORD_ERROR: &str = "\
INSERT INTO account_delivery_state (account, last_error_at, last_error) VALUES ($1, $2, $3)
ON CONFLICT (account) DO UPDATE SET last_error_at = excluded.last_error_at,
    last_error = excluded.last_error";

fn state_of(row: StateRow) -> (String, DeliveryState) {
    let (
        account,
        paused_reason,
        paused_status,
        paused_at,
        paused_delivery_id,
        last_success_at,
        last_error_at,
        last_error,
    ) = row;
    let state = DeliveryState {
        paused_reason,
        paused_status,
        paused_at,
        paused_delivery_id,
        last_success_at,
        last_error_at,
        last_error,
    };
    (account, state)
}

impl Store {
    /// One account's state (`Default` when it has none yet).
    pub async fn delivery_state(&self, account: &str) -> Result<DeliveryState, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM account_delivery_state WHERE account = $1");
        let row: Option<StateRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(account)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|row| state_of(row).1).unwrap_or_default())
    }

    /// The state of each of `accounts`, in that order (a status read, on
    /// the staff pool; the worker reads its own with `delivery_state`).
    pub async fn delivery_states(
        &self,
        accounts: &[&str],
    ) -> Result<Vec<(String, DeliveryState)>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM account_delivery_state");
        let mut conn = self.staff_read().await?;
        let rows: Vec<StateRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(conn.as_mut())
            .await?;
        conn.done();
        let mut stored: Vec<(String, DeliveryState)> = rows.into_iter().map(state_of).collect();
        Ok(accounts
            .iter()
            .map(|name| {
                let state = match stored.iter().position(|(a, _)| a == name) {
                    Some(at) => stored.swap_remove(at).1,
                    None => DeliveryState::default(),
                };
                ((*name).to_owned(), state)
            })
            .collect())
    }

    /// Pause delivery to `account` for every instance until
    /// [`Store::resume_delivery`]; `delivery_id` is the row whose answer caused it.
    pub async fn pause_delivery(
        &self,
        account: &str,
        reason: &str,
        http_status: Option<u16>,
        delivery_id: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO account_delivery_state (account, paused_reason, paused_status, paused_at, paused_delivery_id) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (account) DO UPDATE SET paused_reason = excluded.paused_reason, \
             paused_status = excluded.paused_status, paused_at = excluded.paused_at, \
             paused_delivery_id = excluded.paused_delivery_id",
        )
        .bind(account)
        .bind(reason)
        .bind(http_status.map(i64::from))
        .bind(now_ms())
        .bind(delivery_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Keep `account`'s pause but count its probe interval from now.
    pub async fn restart_pause_clock(&self, account: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE account_delivery_state SET paused_at = $1 \
             WHERE account = $2 AND paused_reason IS NOT NULL",
        )
        .bind(now_ms())
        .bind(account)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Clear `account`'s pause. Returns true if it had been paused.
    pub async fn resume_delivery(&self, account: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE account_delivery_state SET paused_reason = NULL, paused_status = NULL, \
             paused_at = NULL, paused_delivery_id = NULL \
             WHERE account = $1 AND paused_reason IS NOT NULL",
        )
        .bind(account)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
