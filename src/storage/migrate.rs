//! Applying the embedded migrations, and finishing what an interrupted one
//! left: PostgreSQL builds the indexes of migrations 0021-0029 with `CREATE
//! INDEX CONCURRENTLY` (no write is held off while they build), and a build
//! that fails part-way leaves an INVALID index that `IF NOT EXISTS` would
//! then skip for ever. Each start rebuilds those.

use super::{Backend, Store, StoreError};

/// Our indexes PostgreSQL marks invalid (a concurrent build that failed).
const INVALID_INDEXES: &str = "\
SELECT c.relname::text FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT i.indisvalid AND n.nspname = current_schema()";

impl Store {
    /// Apply the embedded migrations of this backend; on PostgreSQL, then
    /// rebuild any index an interrupted concurrent build left invalid.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
        static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
        };
        migrator
            .run(&self.writer)
            .await
            .map_err(StoreError::Migrate)?;
        if self.backend == Backend::Postgres {
            self.rebuild_invalid_indexes().await?;
        }
        Ok(())
    }

    async fn rebuild_invalid_indexes(&self) -> Result<(), StoreError> {
        let invalid: Vec<(String,)> = sqlx::query_as(INVALID_INDEXES)
            .fetch_all(&self.writer)
            .await?;
        for (name,) in invalid {
            tracing::warn!(index = %name, "rebuilding an index an interrupted build left invalid");
            // A name from the catalogue, quoted as an identifier.
            let sql = format!(
                "REINDEX INDEX CONCURRENTLY \"{}\"",
                name.replace('"', "\"\"")
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&self.writer)
                .await?;
        }
        Ok(())
    }
}
