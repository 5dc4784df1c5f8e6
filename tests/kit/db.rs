//! A database for one test or one benchmark start: a SQLite file in a temp
//! dir, or a fresh PostgreSQL database on the server of `TEST_DATABASE_URL`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Context as _;
use sqlx::Connection as _;

/// Which database a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    pub fn name(self) -> &'static str {
        match self {
            Db::Sqlite => "SQLite",
            Db::Postgres => "PostgreSQL",
        }
    }
}

/// A database for one test: a temp SQLite file or a fresh PostgreSQL
/// database, dropped again when this is dropped.
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    /// (admin URL, name) of the PostgreSQL database made for this test.
    pg: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = &self.pg else {
            return;
        };
        // Best effort: .ci/run also sweeps databases left by interrupted runs.
        let _ = Command::new("psql")
            .arg(admin)
            .arg("-qc")
            .arg(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl TestDb {
    /// `None` (with a note) when PostgreSQL is wanted but TEST_DATABASE_URL is
    /// unset; CI always sets it, and fails if the server is unreachable.
    pub async fn new(db: Db) -> Option<TestDb> {
        TestDb::create(db, "api")
            .await
            .expect("TEST_DATABASE_URL must point at a running PostgreSQL")
    }

    /// [`TestDb::new`] without panicking. `purpose` names the temp dir and
    /// the database, so one left behind says what made it.
    pub async fn create(db: Db, purpose: &str) -> anyhow::Result<Option<TestDb>> {
        TestDb::create_from(db, purpose, None).await
    }

    /// [`TestDb::create`], as a copy of `template` when given: for SQLite
    /// the path of a database file (checkpointed, no `-wal` beside it), for
    /// PostgreSQL the name of a database (`CREATE DATABASE … TEMPLATE`).
    pub async fn create_from(
        db: Db,
        purpose: &str,
        template: Option<&str>,
    ) -> anyhow::Result<Option<TestDb>> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{purpose}-"))
            .tempdir()?;
        match db {
            // A file on disk: the service always opens SQLite with WAL and
            // synchronous=FULL, so this is the fully durable configuration.
            Db::Sqlite => {
                let file = dir.path().join("relay.db");
                if let Some(template) = template {
                    std::fs::copy(template, &file)
                        .with_context(|| format!("copying the seeded database {template}"))?;
                }
                Ok(Some(TestDb {
                    url: format!("sqlite://{}", file.display()),
                    dir,
                    pg: None,
                }))
            }
            Db::Postgres => {
                let Some(admin) = postgres_admin_url() else {
                    return Ok(None);
                };
                sqlx::any::install_default_drivers();
                let mut conn = sqlx::AnyConnection::connect(&admin)
                    .await
                    .context("TEST_DATABASE_URL must point at a running PostgreSQL")?;
                // The relay_test_ prefix lets .ci/run sweep it if a run is interrupted.
                let name = format!("relay_test_{purpose}_{}", uuid::Uuid::now_v7().simple());
                // FILE_COPY (PostgreSQL 15+): the copy is not written through
                // the WAL, so no checkpoint of it falls in a measurement.
                let from = template.map_or(String::new(), |t| {
                    format!(" TEMPLATE {t} STRATEGY FILE_COPY")
                });
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}{from}")))
                    .execute(&mut conn)
                    .await
                    .context("creating the test database")?;
                let _ = conn.close().await;
                Ok(Some(TestDb {
                    url: database_url(&admin, &name),
                    dir,
                    pg: Some((admin, name)),
                }))
            }
        }
    }

    /// The SQLite database file (`None` on PostgreSQL).
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let path = self.url.strip_prefix("sqlite://")?;
        Some(PathBuf::from(path))
    }

    /// Keep the temp dir (and the PostgreSQL database) for a look at a failure.
    pub fn keep(mut self) -> PathBuf {
        if let Some((_, name)) = self.pg.take() {
            eprintln!("PostgreSQL database {name} kept");
        }
        self.dir.disable_cleanup(true);
        self.dir.path().to_owned()
    }

    /// Drop the PostgreSQL database now, reporting a failure (the temp dir
    /// goes when this is dropped).
    pub async fn drop_database(mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        let Ok(mut conn) = sqlx::AnyConnection::connect(&admin).await else {
            eprintln!("could not reconnect to drop {name}; drop it by hand");
            return;
        };
        let dropped = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
        if let Err(e) = dropped {
            eprintln!("could not drop {name}: {e}");
        }
        let _ = conn.close().await;
    }
}

/// TEST_DATABASE_URL, or `None` with a note saying how to set it.
pub fn postgres_admin_url() -> Option<String> {
    let url = std::env::var("TEST_DATABASE_URL").ok();
    if url.is_none() {
        eprintln!(
            "TEST_DATABASE_URL is not set: skipping PostgreSQL \
             (set it to e.g. postgres://postgres@127.0.0.1:5432/test)"
        );
    }
    url
}

/// The URL of database `name` on the server of `admin` (a database URL).
pub fn database_url(admin: &str, name: &str) -> String {
    let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
    format!("{base}/{name}")
}
