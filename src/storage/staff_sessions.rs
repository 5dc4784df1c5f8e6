//! Staff console sessions: created at sign-in, looked up on every `/staff`
//! request, revoked at sign-out (one) or by `staff sign-out-all` (every
//! one). The store only ever sees the SHA-256 of a session token and the
//! keyed fingerprint of the staff token that opened it (both made by the HTTP
//! layer), never either token.

use super::{Store, StoreError};

/// A live session, as a request needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffSession {
    /// Every POST form of the session carries it.
    pub csrf_token: String,
    /// Who signed in, for the audit trail.
    pub label: String,
    /// The account whose staff token signed in (it sees that account's homes
    /// only); `None` for the global `staff.token`.
    pub account: Option<String>,
    /// The keyed fingerprint of the staff token that signed in; `None` for a
    /// session from before fingerprints were kept (it is refused).
    pub token_fingerprint: Option<String>,
    pub expires_at: i64,
}

/// The CSRF token is a secret of the session: never in logs.
impl std::fmt::Debug for StaffSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffSession")
            .field("csrf_token", &"[redacted]")
            .field("label", &self.label)
            .field("account", &self.account)
            .field(
                "token_fingerprint",
                &self.token_fingerprint.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A `staff_sessions` row as read: csrf_token, label, account,
/// token_fingerprint, expires_at.
type SessionRow = (String, String, Option<String>, Option<String>, i64);

/// What [`Store::create_staff_session`] stores.
pub struct NewStaffSession<'a> {
    pub token_sha256: &'a str,
    pub csrf_token: &'a str,
    pub label: &'a str,
    /// See [`StaffSession::account`].
    pub account: Option<&'a str>,
    /// See [`StaffSession::token_fingerprint`].
    pub token_fingerprint: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Store {
    /// Store a new session. Sessions that ended before `created_at` (expired
    /// or revoked) are deleted in the same transaction, so the table holds
    /// only what could still be presented, without a sweeper of its own.
    pub async fn create_staff_session(&self, new: &NewStaffSession<'_>) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM staff_sessions WHERE expires_at <= $1 OR revoked_at IS NOT NULL")
            .bind(new.created_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO staff_sessions \
             (token_sha256, csrf_token, label, account, token_fingerprint, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new.token_sha256)
        .bind(new.csrf_token)
        .bind(new.label)
        .bind(new.account)
        .bind(new.token_fingerprint)
        .bind(new.created_at)
        .bind(new.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session whose token hashes to `token_sha256`, if it is neither
    /// revoked nor expired at `now`. On the staff pool, as every staff
    /// request begins with it: staff traffic queues there, never for the
    /// connections intake needs.
    pub async fn staff_session(
        &self,
        token_sha256: &str,
        now: i64,
    ) -> Result<Option<StaffSession>, StoreError> {
        let mut conn = self.staff_read().await?;
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT csrf_token, label, account, token_fingerprint, expires_at FROM staff_sessions \
             WHERE token_sha256 = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(token_sha256)
        .bind(now)
        .fetch_optional(conn.as_mut())
        .await?;
        conn.done();
        Ok(row.map(
            |(csrf_token, label, account, token_fingerprint, expires_at)| StaffSession {
                csrf_token,
                label,
                account,
                token_fingerprint,
                expires_at,
            },
        ))
    }

    /// End a session on every instance at once. True when a live session ended.
    pub async fn revoke_staff_session(
        &self,
        token_sha256: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE staff_sessions SET revoked_at = $2 WHERE token_sha256 = $1 AND revoked_at IS NULL",
        )
        .bind(token_sha256)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// End every live session at once (`staff sign-out-all`): each browser
    /// must sign in again, on every instance, whatever token it used. How
    /// many live sessions ended. Revoked rather than deleted, as a sign-out
    /// is: the next sign-in sweeps them away.
    pub async fn revoke_all_staff_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE staff_sessions SET revoked_at = $1 WHERE revoked_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}
