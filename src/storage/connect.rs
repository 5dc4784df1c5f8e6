//! Opening the pools: URL scheme → backend, SQLite file and pragmas.

use std::path::Path;
use std::time::Duration;

use sqlx::Executor as _;
use sqlx::any::AnyPoolOptions;

use super::group_commit::SqliteWriter;
use super::{Backend, Store, StoreError};

impl Store {
    /// Connect to `url` (`sqlite:` or `postgres:`/`postgresql:`). For SQLite the
    /// file and its parent directory are created on first run, and every
    /// connection uses WAL with `synchronous=FULL`: an acknowledged enquiry
    /// survives power loss, not just a process crash.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let max_connections = max_connections.max(2);
        match backend {
            Backend::Sqlite => {
                let url = prepare_sqlite(url)?;
                let writer = sqlite_pool(1)
                    .connect(&url)
                    .await
                    .map_err(|e| open_error(&url, e))?;
                let reader = sqlite_pool(max_connections)
                    .connect(&url)
                    .await
                    .map_err(|e| open_error(&url, e))?;
                Ok(Store {
                    sqlite_writer: Some(SqliteWriter::start(writer.clone())),
                    touching: Default::default(),
                    sealing: Default::default(),
                    figures_once: Default::default(),
                    writer,
                    reader,
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
                Ok(Store {
                    writer: pool.clone(),
                    reader: pool,
                    backend,
                    sqlite_writer: None,
                    touching: Default::default(),
                    sealing: Default::default(),
                    figures_once: Default::default(),
                })
            }
        }
    }
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

fn sqlite_pool(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        // Checkpoints run in a background task, not in commits
        // (storage/checkpoint.rs); once the WAL restarts, a file grown past
        // 64 MiB by a burst is cut back.
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                     PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;",
                )
                .await?;
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
        for pool in [&store.writer, &store.reader] {
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
