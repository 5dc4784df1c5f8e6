//! The storage boundary's one error type.

/// What went wrong talking to the database. The HTTP layer turns any of these
/// into a 503 ("we could not save your enquiry, please try again").
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database could not be opened at {location}: {source}")]
    Open {
        location: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A grouped SQLite intake commit failed; its cause, as text, for each caller.
    #[error("database error: {0}")]
    Batch(String),
    /// The encryption keys are missing, unreadable or not the ones the
    /// database was sealed with (`database.encryption_key_file`).
    #[error("{0}")]
    Keys(String),
    #[error("stored data is not in the expected form: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// SQLite's write lock is held elsewhere (SQLITE_BUSY / SQLITE_LOCKED,
    /// after the busy timeout): trying again at once only waits again.
    pub fn is_busy(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => {
                matches!(e.code().as_deref(), Some("5" | "6" | "261" | "262" | "517"))
                    || e.message().contains("database is locked")
            }
            _ => false,
        }
    }
}
