//! The outbox: claiming due deliveries with a lease and recording outcomes.

use strum::VariantArray;

use super::models::{
    AttemptRecord, ClaimScope, ClaimedDelivery, DeliveryStatus, DueRows, EnquiryId, Step,
    Transition,
};
use super::sealing::Place;
use super::{Backend, Store, StoreError, now_ms};

/// SQLite has one writer at a time, so a plain `UPDATE … RETURNING` claims
/// atomically. One machine, one clock: "now" is the process's.
/// `$1` token, `$2` lease end, `$3` now, `$4` limit, then the rows to skip,
/// then the scope's steps and sites.
const CLAIM_SQLITE: LaneQuery = LaneQuery {
    template: "\
UPDATE deliveries
   SET status = 'sending', lease_owner = $1, next_attempt_at = $2, updated_at = $3,
       ambiguous = ambiguous + CASE WHEN status = 'sending' THEN 1 ELSE 0 END
 WHERE id IN (SELECT id FROM ({due}) AS due)
RETURNING id, enquiry_id, step, attempts, ambiguous",
    columns: "id, next_attempt_at",
    due: "AND next_attempt_at <= $3",
    limit: "$4",
    lock: "",
};

/// PostgreSQL: instances skip rows another instance is claiming right now.
/// "Now" is the database's, so instances whose clocks differ agree on when a
/// lease has ended. `$1` token, `$2` lease length (ms), `$3` limit, then the
/// rows to skip, then the scope's steps and sites.
///
/// Each step's range takes its first `$3` rows not locked by another claim
/// (`FOR UPDATE SKIP LOCKED` in each, as the one range before), so the
/// merged first `$3` are the lane's first unlocked due rows. A lane of two
/// steps (CareHQ: enquiry, home visit) may lock up to `$3` rows of the
/// other step that the merge then leaves; they are free again when this
/// statement commits, and a claim meanwhile skips them as it would skip
/// rows being claimed.
const CLAIM_POSTGRES: LaneQuery = LaneQuery {
    template: "\
UPDATE deliveries AS d
   SET status = 'sending', lease_owner = $1,
       next_attempt_at = (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT + $2,
       updated_at = (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT,
       ambiguous = d.ambiguous + CASE WHEN d.status = 'sending' THEN 1 ELSE 0 END
  FROM ({due}) AS due
 WHERE d.id = due.id
RETURNING d.id, d.enquiry_id, d.step, d.attempts, CASE WHEN due.old_status = 'sending' THEN 1::BIGINT ELSE 0::BIGINT END",
    columns: "id, status AS old_status, next_attempt_at",
    due: "AND next_attempt_at <= (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT",
    limit: "$3",
    lock: "FOR UPDATE SKIP LOCKED",
};

/// Whether a row is due (SQLite, on a reader before a claim): `$1` now,
/// then the rows to skip, then the scope's steps and sites.
const ANY_DUE: LaneQuery = LaneQuery {
    template: "{due}",
    columns: "next_attempt_at",
    due: "AND next_attempt_at <= $1",
    limit: "1",
    lock: "",
};

/// When the lane's next row falls due: its first row in time order (a
/// pending row's time, or a lease's end); the scope's steps and sites.
const NEXT_DUE: LaneQuery = LaneQuery {
    template: "{due}",
    columns: "next_attempt_at",
    due: "",
    limit: "1",
    lock: "",
};

/// A statement over one lane's due rows ([`ClaimScope::due_rows`]):
/// `{due}` in `template` becomes those rows, each meeting `due` and not
/// among the rows to skip.
struct LaneQuery {
    template: &'static str,
    columns: &'static str,
    due: &'static str,
    limit: &'static str,
    lock: &'static str,
}

/// The database's clock in Unix ms (PostgreSQL), as an SQL expression.
const DB_NOW_POSTGRES: &str = "(EXTRACT(EPOCH FROM now()) * 1000)::BIGINT";

/// Whose clock stamps an outcome: the process's (SQLite: one machine, one
/// clock) or the database's (PostgreSQL: instances whose clocks differ
/// agree on when a retry is due). The database's is read inside the
/// outcome's first statement, not by a round trip of its own.
#[derive(Clone, Copy)]
pub(super) enum Clock {
    Process(i64),
    Database,
}

impl Clock {
    /// "Now" in a statement whose parameter `$last` is the process's clock
    /// (bound by [`Clock::bind`] after every other parameter).
    fn sql(self, last: usize) -> String {
        match self {
            Clock::Process(_) => format!("${last}"),
            Clock::Database => DB_NOW_POSTGRES.to_owned(),
        }
    }

    fn bind<'q, O>(
        self,
        query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments> {
        match self {
            Clock::Process(now) => query.bind(now),
            Clock::Database => query,
        }
    }
}

/// `AND id NOT IN ($first, …)` for `count` rows, or nothing.
fn skip_clause(first: usize, count: usize) -> String {
    if count == 0 {
        return String::new();
    }
    let list: Vec<String> = (first..first + count).map(|n| format!("${n}")).collect();
    format!("AND id NOT IN ({})", list.join(", "))
}

/// A SQLite claim built by [`Store::claim_due`], owned so it can cross to
/// the group-commit writer task.
pub(super) struct SqliteClaim {
    /// `CLAIM_SQLITE` with the lane's skip and scope filled in.
    sql: String,
    token: String,
    lease_end: i64,
    now: i64,
    limit: i64,
    /// The rows to skip, then the scope's values, bound in that order.
    values: Vec<String>,
}

/// A claimed row: id, enquiry, step, attempts, 1 if its lease had expired.
pub(super) type ClaimedRow = (String, String, String, i64, i64);

/// Run a SQLite claim inside the caller's transaction.
pub(super) async fn claim_rows_sqlite(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    claim: &SqliteClaim,
) -> Result<Vec<ClaimedRow>, StoreError> {
    // SQLite's RETURNING shows new values: compare against a pre-read of
    // which due rows were `sending` to tell expired leases apart.
    let expired: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM deliveries WHERE status = 'sending' AND next_attempt_at <= $1",
    )
    .bind(claim.now)
    .fetch_all(&mut **tx)
    .await?;
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(claim.sql.as_str()))
        .bind(claim.token.as_str())
        .bind(claim.lease_end)
        .bind(claim.now)
        .bind(claim.limit);
    for value in &claim.values {
        query = query.bind(value.as_str());
    }
    let claimed: Vec<ClaimedRow> = query.fetch_all(&mut **tx).await?;
    Ok(claimed
        .into_iter()
        .map(|(id, enquiry, step, attempts, _)| {
            let was_expired = expired.iter().any(|(e,)| *e == id);
            (id, enquiry, step, attempts, i64::from(was_expired))
        })
        .collect())
}

impl Store {
    /// Lease up to `limit` due deliveries of `scope` to `owner` for `lease`,
    /// skipping the rows in `skip` (those this process is still sending).
    ///
    /// A row is due when it is pending and its time has come, or when it is
    /// `sending` but its lease (kept in `next_attempt_at`) has run out: its worker
    /// died mid-send. Such a re-claim counts as ambiguous, because the earlier
    /// send may have reached CareHQ. Each call makes its own lease token, so
    /// only this claim's outcome write can move the rows on.
    pub async fn claim_due(
        &self,
        owner: &str,
        lease: std::time::Duration,
        limit: usize,
        skip: &[String],
        scope: ClaimScope<'_>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        // Before the statement: the lease it takes ends no earlier than this.
        let lease_deadline = std::time::Instant::now() + lease;
        let token = format!("{owner}/{}", uuid::Uuid::now_v7().simple());
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<ClaimedRow> = match self.backend {
            Backend::Sqlite => {
                let now = now_ms();
                // Most claims find nothing due (a lane woken by another
                // lane's intake, a poll). Asked on a reader first, they leave
                // the one writer connection to intake and outcomes.
                if !self.any_due(now, skip, &scope).await? {
                    return Ok(Vec::new());
                }
                let claim = SqliteClaim {
                    sql: self.lane_sql(&CLAIM_SQLITE, 5, skip.len(), &scope),
                    token: token.clone(),
                    lease_end: now.saturating_add(lease_ms),
                    now,
                    limit,
                    values: (skip.iter().map(String::as_str).chain(scope.values()))
                        .map(str::to_owned)
                        .collect(),
                };
                match &self.sqlite_writer {
                    // In the group commit beside intake and outcomes: the
                    // claim shares their transaction and fsync instead of
                    // queueing for the writer with one of its own.
                    Some(writer) => writer.claim(claim).await?,
                    None => {
                        let mut tx = self.writer.begin().await?;
                        let claimed = claim_rows_sqlite(&mut tx, &claim).await?;
                        tx.commit().await?;
                        claimed
                    }
                }
            }
            Backend::Postgres => {
                let sql = self.lane_sql(&CLAIM_POSTGRES, 4, skip.len(), &scope);
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(token.as_str())
                    .bind(lease_ms)
                    .bind(limit);
                for value in skip.iter().map(String::as_str).chain(scope.values()) {
                    query = query.bind(value);
                }
                query.fetch_all(&self.writer).await?
            }
        };
        Ok(rows
            .into_iter()
            .map(
                |(id, enquiry_id, step, attempts, expired)| ClaimedDelivery {
                    id,
                    enquiry_id: EnquiryId::from_stored(enquiry_id),
                    // An unknown step is claimed only by the lane of steps no
                    // lane sends, which fails it whatever it reads as.
                    step: Step::parse(&step).unwrap_or(Step::Enquiry),
                    step_name: step,
                    attempts,
                    lease_expired: expired != 0,
                    lease_token: token.clone(),
                    lease_deadline,
                    account: scope.account.to_owned(),
                },
            )
            .collect())
    }

    /// Whether a row of `scope` not in `skip` is due at `now` (SQLite: the
    /// claim's own condition, read without taking the writer).
    async fn any_due(
        &self,
        now: i64,
        skip: &[String],
        scope: &ClaimScope<'_>,
    ) -> Result<bool, StoreError> {
        let sql = self.lane_sql(&ANY_DUE, 2, skip.len(), scope);
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now);
        for value in skip.iter().map(String::as_str).chain(scope.values()) {
            query = query.bind(value);
        }
        let due: Option<(i64,)> = query.fetch_optional(&self.reader).await?;
        Ok(due.is_some())
    }

    /// When the next delivery of `scope` falls due (a pending row's time, or
    /// a lease's end).
    pub async fn next_due_at(&self, scope: ClaimScope<'_>) -> Result<Option<i64>, StoreError> {
        let sql = self.lane_sql(&NEXT_DUE, 1, 0, &scope);
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for value in scope.values() {
            query = query.bind(value);
        }
        let next: Option<(i64,)> = query.fetch_optional(&self.reader).await?;
        Ok(next.map(|(at,)| at))
    }

    /// `query`'s text for `scope`: the rows to skip are placeholders from
    /// `$first` (`skip` of them), the scope's values follow.
    fn lane_sql(&self, query: &LaneQuery, first: usize, skip: usize, scope: &ClaimScope) -> String {
        let due = format!("{} {}", query.due, skip_clause(first, skip));
        let index = self.indexed_by("deliveries_lane_due");
        let rows = DueRows {
            columns: query.columns,
            due: &due,
            limit: query.limit,
            lock: query.lock,
            index: &index,
            lateral: self.backend == Backend::Postgres,
        };
        (query.template).replace("{due}", &scope.due_rows(&rows, first + skip))
    }

    /// Record an attempt and move its delivery on, in one short transaction.
    /// Returns false (and changes nothing) if the claim `lease_token` no longer
    /// holds the row.
    pub async fn record_outcome(
        &self,
        row: &ClaimedDelivery,
        attempt: &AttemptRecord,
        transition: &Transition,
    ) -> Result<bool, StoreError> {
        self.record_for(row, attempt, transition, false).await
    }

    /// Record a success known to have happened although this claim's lease
    /// was lost meanwhile (the outcome write was held up past it): the row
    /// is marked synced whoever holds it now, unless it already ended
    /// (synced or failed, held or expired by staff). Another claim may have
    /// sent it again; its own outcome write then changes nothing. Returns
    /// false if the row had already ended.
    pub async fn record_late_success(
        &self,
        row: &ClaimedDelivery,
        attempt: &AttemptRecord,
        remote_id: Option<String>,
    ) -> Result<bool, StoreError> {
        let synced = Transition::Synced { remote_id };
        self.record_for(row, attempt, &synced, true).await
    }

    async fn record_for(
        &self,
        row: &ClaimedDelivery,
        attempt: &AttemptRecord,
        transition: &Transition,
        overrule: bool,
    ) -> Result<bool, StoreError> {
        // The attempt's id first: CareHQ's answer can quote the family, and
        // is sealed like the enquiry, bound to the row it is stored in.
        let attempt_id = uuid::Uuid::now_v7().to_string();
        let sealed;
        let attempt = if attempt.hint.is_some() || attempt.arg_errors.is_some() {
            let (hint, arg_errors) = (Place::hint(&attempt_id), Place::arg_errors(&attempt_id));
            sealed = AttemptRecord {
                hint: self.sealing.seal_opt(attempt.hint.as_deref(), hint)?,
                arg_errors: (self.sealing).seal_opt(attempt.arg_errors.as_deref(), arg_errors)?,
                ..attempt.clone()
            };
            &sealed
        } else {
            attempt
        };
        let lease = Lease {
            delivery_id: &row.id,
            token: &row.lease_token,
            account: &row.account,
            overrule,
            attempt_id: &attempt_id,
        };
        if let Some(writer) = &self.sqlite_writer {
            return writer.record(lease, attempt, transition).await;
        }
        let mut tx = self.writer.begin().await?;
        let recorded = record_rows(&mut tx, lease, attempt, transition, Clock::Database).await?;
        if recorded {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(recorded)
    }

    /// Number of deliveries in each state (every state listed, zero included).
    pub async fn count_by_status(&self) -> Result<Vec<(DeliveryStatus, i64)>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
                .fetch_all(&self.reader)
                .await?;
        Ok((DeliveryStatus::VARIANTS.iter().copied())
            .map(|status| {
                let n = rows
                    .iter()
                    .find(|(s, _)| s == status.as_str())
                    .map_or(0, |(_, n)| *n);
                (status, n)
            })
            .collect())
    }
}

/// Which claim an outcome is for: the row, the claim's lease token and the
/// account it was claimed for.
#[derive(Clone, Copy)]
pub(super) struct Lease<'a> {
    pub delivery_id: &'a str,
    pub token: &'a str,
    pub account: &'a str,
    /// A known success recorded without the lease (`record_late_success`):
    /// only a synced transition, and only while the row is not yet final.
    pub overrule: bool,
    /// The id the attempt is stored under (its sealed values are bound to it).
    pub attempt_id: &'a str,
}

/// An attempt and its delivery's new state, inside the caller's transaction.
/// Returns false, having written nothing, if the claim's lease token no
/// longer holds the row.
pub(super) async fn record_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    lease: Lease<'_>,
    attempt: &AttemptRecord,
    transition: &Transition,
    clock: Clock,
) -> Result<bool, StoreError> {
    let Lease {
        delivery_id,
        token: owner,
        account,
        overrule,
        attempt_id,
    } = lease;
    // Each first statement answers the time it stamped, which the rest of
    // the outcome uses; no row means the lease no longer holds it.
    let stamped: Option<(i64,)> = match transition {
        Transition::Synced { remote_id } => {
            let sql = format!(
                "UPDATE deliveries SET status = 'synced', attempts = attempts + 1, remote_id = $1, \
                 lease_owner = NULL, last_error = NULL, updated_at = {now} \
                 WHERE id = $2 AND ((status = 'sending' AND lease_owner = $3) \
                                 OR ($4 = 1 AND status IN ('pending', 'sending'))) \
                 RETURNING updated_at",
                now = clock.sql(5)
            );
            let query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(remote_id.as_deref())
                .bind(delivery_id)
                .bind(owner)
                .bind(i64::from(overrule));
            clock.bind(query).fetch_optional(&mut **tx).await?
        }
        Transition::Retry {
            retry_in_ms,
            spend_attempt,
            ambiguous,
            error,
        } => {
            let sql = format!(
                "UPDATE deliveries SET status = 'pending', attempts = attempts + $1, ambiguous = ambiguous + $2, \
                 next_attempt_at = {now} + $3, lease_owner = NULL, last_error = $4, updated_at = {now} \
                 WHERE id = $5 AND status = 'sending' AND lease_owner = $6 \
                 RETURNING updated_at",
                now = clock.sql(7)
            );
            let query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(i64::from(*spend_attempt))
                .bind(i64::from(*ambiguous))
                .bind(*retry_in_ms)
                .bind(error.as_str())
                .bind(delivery_id)
                .bind(owner);
            clock.bind(query).fetch_optional(&mut **tx).await?
        }
        Transition::Failed { ambiguous, error } => {
            let sql = format!(
                "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, ambiguous = ambiguous + $1, \
                 lease_owner = NULL, last_error = $2, updated_at = {now} \
                 WHERE id = $3 AND status = 'sending' AND lease_owner = $4 \
                 RETURNING updated_at",
                now = clock.sql(5)
            );
            let query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(i64::from(*ambiguous))
                .bind(error.as_str())
                .bind(delivery_id)
                .bind(owner);
            clock.bind(query).fetch_optional(&mut **tx).await?
        }
    };
    let Some((now,)) = stamped else {
        // Nothing was written for this outcome: the caller need not roll back.
        return Ok(false);
    };
    sqlx::query(
        "INSERT INTO delivery_attempts (id, delivery_id, started_at, duration_ms, outcome, http_status, hint, arg_errors, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(attempt_id)
    .bind(delivery_id)
    .bind(attempt.started_at)
    .bind(attempt.duration_ms)
    .bind(attempt.outcome.as_str())
    .bind(attempt.http_status.map(i64::from))
    .bind(attempt.hint.as_deref())
    .bind(attempt.arg_errors.as_deref())
    .bind(attempt.error.as_deref())
    .execute(&mut **tx)
    .await?;
    match transition {
        Transition::Synced { .. } => {
            // CareHQ took a send: whatever paused delivery (credentials,
            // permissions) is over. Lifted in the same transaction as the
            // success, so no reader sees the row synced and delivery paused.
            sqlx::query(super::delivery_state::RECORD_SUCCESS)
                .bind(account)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            // Later steps (a home visit) wait for the enquiry: release them in
            // this transaction, so a crash cannot leave them waiting forever.
            // Read through the (enquiry_id, step) key: this enquiry's few
            // rows. SQLite, without statistics, would take the status index
            // instead and walk every waiting row on each success (as the
            // `enquiry_id IN (…)` form before did); the pin makes it refuse
            // the statement, in tests, should that key ever change.
            let sqlite = tx.backend_name() == <sqlx::Sqlite as sqlx::Database>::NAME;
            let pin = if sqlite {
                "INDEXED BY sqlite_autoindex_deliveries_2"
            } else {
                ""
            };
            let release = format!(
                "UPDATE deliveries {pin} SET status = 'pending', next_attempt_at = $1, updated_at = $1, pending_since = $1 \
                 WHERE enquiry_id = (SELECT enquiry_id FROM deliveries WHERE id = $2 AND step = 'enquiry') \
                   AND status = 'waiting'"
            );
            sqlx::query(sqlx::AssertSqlSafe(release))
                .bind(now)
                .bind(delivery_id)
                .execute(&mut **tx)
                .await?;
        }
        Transition::Retry { error, .. } | Transition::Failed { error, .. } => {
            if matches!(transition, Transition::Failed { .. }) {
                super::visits::free_slot_of_waiting_visit(tx, delivery_id, now).await?;
            }
            sqlx::query(super::delivery_state::RECORD_ERROR)
                .bind(account)
                .bind(now)
                .bind(error.as_str())
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(true)
}
