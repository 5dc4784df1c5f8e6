//! Staff reads: a connection of the staff pool that is given up cleanly when
//! its request ends mid-query.
//!
//! sqlx does not cancel a server-side query when its future is dropped (the
//! HTTP request timed out, or the browser went away, and axum dropped the
//! handler). The query runs on in the database, and the pool, testing the
//! connection before it takes it back, waits behind it: one stuck staff page
//! held a connection for as long as its query ran. [`StaffRead`] ends that:
//!
//! ```ignore
//! let mut conn = self.staff_read().await?;
//! let rows: Vec<Row> = query.fetch_all(conn.as_mut()).await?;
//! let more: Vec<Other> = other.fetch_all(conn.as_mut()).await?; // as many as needed
//! conn.done();
//! ```
//!
//! `done()` says the queries have finished: the connection goes back to the
//! pool. A guard dropped without `done()` is taken to have been cut off
//! mid-query. On PostgreSQL its connection is then closed instead of going
//! back to the pool (so it is never reused mid-query) and its backend's
//! query is cancelled (`pg_cancel_backend`, sent through the main pool: the
//! staff pool may be full of the very queries to cancel). The backend is
//! named by its pid and start time, both read when the guard was taken, so
//! a cancel can never reach another session that got the pid since. An early
//! return on an error (`?` before `done()`) takes the same path: harmless,
//! and it costs only a new connection. On SQLite the connection goes back to
//! the pool as usual: sqlx stops an SQLite statement at its next row once
//! nobody reads it, and the pool takes the connection back only after that,
//! so at most `database.staff_connections` statements run; a statement that
//! yields no row for long (a large sort or count) runs to its end, as sqlx
//! offers no interrupt through its `Any` driver.
//!
//! Cancelling needs no privilege: a role may cancel its own sessions' queries.

use std::ops::{Deref, DerefMut};

use sqlx::any::Any;
use sqlx::pool::PoolConnection;
use sqlx::{AnyConnection, AnyPool};
use tracing::{debug, warn};

use super::{Backend, Store, StoreError};

/// A staff pool connection; see the module documentation.
pub(super) struct StaffRead {
    conn: PoolConnection<Any>,
    /// PostgreSQL: how to cancel what the connection is running.
    cancel: Option<Cancel>,
    /// Set by `done()`: the queries have finished.
    done: bool,
}

/// The PostgreSQL backend serving a staff connection, and the main pool the
/// cancel goes through.
struct Cancel {
    pid: i32,
    /// `backend_start` in microseconds: with the pid, names this backend only.
    started: i64,
    main: AnyPool,
}

const WHO_AM_I: &str = "SELECT pid, CAST(EXTRACT(EPOCH FROM backend_start) * 1000000 AS BIGINT) \
                        FROM pg_stat_activity WHERE pid = pg_backend_pid()";

const CANCEL: &str = "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
                      WHERE pid = $1 AND CAST(EXTRACT(EPOCH FROM backend_start) * 1000000 AS BIGINT) = $2";

impl Store {
    /// A connection of the staff pool for staff and status reads; call
    /// [`StaffRead::done`] once its queries have finished.
    pub(super) async fn staff_read(&self) -> Result<StaffRead, StoreError> {
        let mut conn = self.staff.acquire().await?;
        let cancel = match self.backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let (pid, started): (i32, i64) =
                    sqlx::query_as(WHO_AM_I).fetch_one(&mut *conn).await?;
                Some(Cancel {
                    pid,
                    started,
                    main: self.writer.clone(),
                })
            }
        };
        Ok(StaffRead {
            conn,
            cancel,
            done: false,
        })
    }
}

impl StaffRead {
    /// The queries have finished: the connection goes back to the pool.
    pub(super) fn done(mut self) {
        self.done = true;
    }
}

impl AsMut<AnyConnection> for StaffRead {
    fn as_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl Deref for StaffRead {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl DerefMut for StaffRead {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl Drop for StaffRead {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // SQLite: back to the pool as usual (see the module documentation).
        let Some(cancel) = self.cancel.take() else {
            return;
        };
        self.conn.close_on_drop();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(cancel.send())),
            // Shutting down: the connection closes and the statement
            // timeout ends the query.
            Err(_) => debug!("no runtime to cancel a staff read; its statement timeout ends it"),
        }
    }
}

impl Cancel {
    async fn send(self) {
        let sent = sqlx::query(CANCEL)
            .bind(self.pid)
            .bind(self.started)
            .fetch_optional(&self.main)
            .await;
        match sent {
            Ok(_) => debug!(
                pid = self.pid,
                "cancelled a staff read whose request had ended"
            ),
            Err(error) => warn!(
                %error,
                "could not cancel a staff read whose request had ended; database.staff_statement_timeout ends it"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::storage::PoolSettings;

    async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}", dir.path().join("relay.db").display());
        let pools = PoolSettings {
            staff_connections: 1,
            staff_statement_timeout: Duration::from_secs(5),
            ..PoolSettings::new(2)
        };
        let store = Store::connect_with(&url, pools).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    #[tokio::test]
    async fn the_sqlite_staff_pool_only_reads_and_gets_back_a_guard_dropped_early() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let mut conn = store.staff_read().await.unwrap();
        let refused = sqlx::query("DELETE FROM enquiries")
            .execute(conn.as_mut())
            .await;
        assert!(refused.is_err(), "the staff pool must not write");
        // Dropped without done(), as a cut-off request's guard is: the one
        // connection returns to the pool once its statement has stopped.
        drop(conn);
        let mut again = store.staff_read().await.unwrap();
        let (one,): (i64,) = sqlx::query_as("SELECT 1")
            .fetch_one(again.as_mut())
            .await
            .unwrap();
        again.done();
        assert_eq!(one, 1);
        assert_eq!(store.staff.size(), 1);
        store.close().await;
    }
}
