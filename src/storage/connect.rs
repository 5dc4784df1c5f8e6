//! Opening the pools: URL scheme → backend, SQLite file and pragmas, and the
//! staff pool's bounds.

use std::path::Path;
use std::time::Duration;

use sqlx::Executor as _;
use sqlx::any::AnyPoolOptions;

use super::checkpoint::WAL_TARGET_BYTES;
use super::group_commit::SqliteWriter;
use super::{Backend, Store, StoreError};

/// How many connections each pool may open and how long a staff statement
/// may run: `[database]`'s `max_connections`, `staff_connections` and
/// `staff_statement_timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSettings {
    /// The main pool (intake, the worker, every write); at least 2.
    pub max_connections: u32,
    /// The staff pool (staff and status reads); at least 1.
    pub staff_connections: u32,
    /// PostgreSQL: each staff connection's `statement_timeout`. Both
    /// backends: the longest wait for a staff connection.
    pub staff_statement_timeout: Duration,
}

impl PoolSettings {
    /// `max_connections` for the main pool; the staff pool as the config's
    /// defaults have it (2 connections, 25 s).
    pub fn new(max_connections: u32) -> PoolSettings {
        PoolSettings {
            max_connections,
            staff_connections: 2,
            staff_statement_timeout: Duration::from_secs(25),
        }
    }
}

/// What PostgreSQL shows as the staff pool's `application_name`.
pub(super) const STAFF_APPLICATION_NAME: &str = "enquiry-relay staff";

impl Store {
    /// [`Store::connect_with`] the staff pool's defaults.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        Store::connect_with(url, PoolSettings::new(max_connections)).await
    }

    /// Connect to `url` (`sqlite:` or `postgres:`/`postgresql:`). For SQLite the
    /// file and its parent directory are created on first run, and every
    /// connection uses WAL with `synchronous=FULL`: an acknowledged enquiry
    /// survives power loss, not just a process crash.
    ///
    /// Staff reads get a pool of their own (`pools.staff_connections`),
    /// read-only: on PostgreSQL its connections run with
    /// `statement_timeout`, so a slow staff query ends in the database and
    /// never holds a connection intake or the worker needs. SQLite has no
    /// statement timeout through sqlx: its staff reads are bounded by the
    /// pool's size (WAL readers never block the writer, so at most
    /// `staff_connections` slow reads run, beside intake), and a read whose
    /// request ended stops at its next row (staff_reads.rs).
    pub async fn connect_with(url: &str, pools: PoolSettings) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let max_connections = pools.max_connections.max(2);
        let staff_connections = pools.staff_connections.max(1);
        match backend {
            Backend::Sqlite => {
                let url = prepare_sqlite(url)?;
                let writer = sqlite_pool(1, false)
                    .connect(&url)
                    .await
                    .map_err(|e| open_error(&url, e))?;
                let reader = sqlite_pool(max_connections, false)
                    .connect(&url)
                    .await
                    .map_err(|e| open_error(&url, e))?;
                let staff = sqlite_pool(staff_connections, true)
                    .acquire_timeout(pools.staff_statement_timeout)
                    .connect(&url)
                    .await
                    .map_err(|e| open_error(&url, e))?;
                Ok(Store {
                    sqlite_writer: Some(SqliteWriter::start(writer.clone())),
                    touching: Default::default(),
                    sealing: Default::default(),
                    figures_once: Default::default(),
                    search_terms_due: Default::default(),
                    writer,
                    reader,
                    staff,
                    backend,
                })
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(url)
                    .await
                    .map_err(|e| open_error(&redact(url), e))?;
                let staff = postgres_staff_pool(staff_connections, pools.staff_statement_timeout)
                    .connect(url)
                    .await
                    .map_err(|e| open_error(&redact(url), e))?;
                Ok(Store {
                    writer: pool.clone(),
                    reader: pool,
                    staff,
                    backend,
                    sqlite_writer: None,
                    touching: Default::default(),
                    sealing: Default::default(),
                    figures_once: Default::default(),
                    search_terms_due: Default::default(),
                })
            }
        }
    }
}

/// The PostgreSQL staff pool: every connection read-only, its statements
/// ended by the server after `statement_timeout` (lock waits included), and
/// named in `pg_stat_activity` so an operator can tell staff reads apart.
fn postgres_staff_pool(max: u32, statement_timeout: Duration) -> AnyPoolOptions {
    // Whole milliseconds, at least one (0 would mean no timeout at all).
    let millis = statement_timeout.as_millis().clamp(1, i32::MAX as u128);
    AnyPoolOptions::new()
        .max_connections(max)
        // A staff read waits for a connection at most as long as one may run.
        .acquire_timeout(statement_timeout)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "SET statement_timeout = {millis}; SET default_transaction_read_only = on; \
                     SET application_name = '{STAFF_APPLICATION_NAME}'"
                )))
                .await?;
                Ok(())
            })
        })
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::Open {
            location: redact(url),
            source: "database.url must start with sqlite: or postgres:".into(),
        })
    }
}

/// `read_only`: the staff pool's connections refuse writes (`query_only`).
fn sqlite_pool(max: u32, read_only: bool) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        // secure_delete: a scrubbed or erased value is overwritten with
        // zeros, not left readable in the file's free space (the WAL's older
        // frames hold it until the next checkpoint restarts the WAL).
        // Checkpoints run in a background task, not in commits
        // (storage/checkpoint.rs); the commit that starts a restarted WAL
        // over cuts the file back to the checkpoint's size target.
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                     PRAGMA secure_delete = ON; \
                     PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {WAL_TARGET_BYTES};",
                )))
                .await?;
                if read_only {
                    conn.execute("PRAGMA query_only = ON").await?;
                }
                Ok(())
            })
        })
}

/// Create the parent directory and ask SQLite to create the file (`mode=rwc`).
fn prepare_sqlite(url: &str) -> Result<String, StoreError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.contains("mode=memory") {
        return Ok(url.to_owned());
    }
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|e| StoreError::Open {
            location: parent.display().to_string(),
            source: Box::new(e),
        })?;
    }
    if query.contains("mode=") {
        Ok(url.to_owned())
    } else if query.is_empty() {
        Ok(format!("{url}?mode=rwc"))
    } else {
        Ok(format!("{url}&mode=rwc"))
    }
}

fn open_error(location: &str, e: sqlx::Error) -> StoreError {
    StoreError::Open {
        location: redact(location),
        source: Box::new(e),
    }
}

/// Scheme, host and path of a database URL without its password.
pub(crate) fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            let host = host.split('?').next().unwrap_or(host);
            format!("{scheme}://{host}")
        }
        None => url.split('?').next().unwrap_or(url).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_credentials_and_query() {
        assert_eq!(
            redact("postgres://u:secret@db:5432/x?sslmode=require"),
            "postgres://db:5432/x"
        );
        assert_eq!(redact("sqlite://data/a.db?mode=rwc"), "sqlite://data/a.db");
    }

    #[tokio::test]
    async fn every_sqlite_connection_runs_wal_with_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("relay.db").display());
        let store = Store::connect(&url, 2).await.unwrap();
        for pool in [&store.writer, &store.reader, &store.staff] {
            let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(mode, "wal");
            // 2 is FULL: an acknowledged enquiry survives power loss.
            let (sync,): (i64,) = sqlx::query_as("PRAGMA synchronous")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(sync, 2);
            // Erased values are overwritten, not left in free pages.
            let (secure,): (i64,) = sqlx::query_as("PRAGMA secure_delete")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(secure, 1);
        }
        store.close().await;
    }

    #[test]
    fn sqlite_url_gets_create_mode_and_parent_dir() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/deeper/x.db");
        let url = format!("sqlite://{}", path.display());
        let prepared = prepare_sqlite(&url).unwrap();
        assert_eq!(prepared, format!("{url}?mode=rwc"));
        assert!(path.parent().unwrap().is_dir());
    }
}
