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
    /// A grouped SQLite intake commit failed: its cause, shared by every
    /// caller of the batch.
    #[error("database error: {0}")]
    Batch(#[source] std::sync::Arc<StoreError>),
    /// The SQLite writer task could not take or answer a write.
    #[error("database error: {0}")]
    Writer(&'static str),
    /// The encryption keys are missing, unreadable or not the ones the
    /// database was sealed with (`database.encryption_key_file`): a problem
    /// of the whole store, found at start or by `enquiries rekey`. One value
    /// that cannot be opened is [`StoreError::SealedKeyMissing`] or
    /// [`StoreError::SealedCorrupt`] instead.
    #[error("{0}")]
    Keys(String),
    /// Stored data is not in a form this code knows (an unknown state, an
    /// unparsable column).
    #[error("stored data is not in the expected form: {0}")]
    Corrupt(String),
    /// One stored value is sealed with key `key_id`, which this process does
    /// not hold (`key_file_set`: whether `database.encryption_key_file` is
    /// set at all).
    ///
    /// A problem of the one row holding the value (an enquiry, an attempt,
    /// an audit record), not of the database: other rows still read and
    /// write, so a caller should fail that row's work with this message for
    /// staff rather than treat the database as down. The message names only
    /// the key id, never key material or the value.
    #[error("{}", missing_key(key_id, *key_file_set))]
    SealedKeyMissing { key_id: String, key_file_set: bool },
    /// One stored value has the form of a value sealed with key `key_id` but
    /// does not open with it: altered or cut short in the database, or the
    /// key file holds a different key under that id. `problem` is a fixed
    /// phrase saying which check failed.
    ///
    /// A problem of the one row holding the value, not of the database (as
    /// for [`StoreError::SealedKeyMissing`]). The message never echoes the
    /// value or key material.
    #[error(
        "a stored value sealed with key `{key_id}` cannot be opened ({problem}): it was altered or cut short, \
         or database.encryption_key_file holds a different key under the id `{key_id}` (if every value sealed \
         with it fails, put the original key back); only the row holding it is affected"
    )]
    SealedCorrupt {
        key_id: String,
        problem: &'static str,
    },
}

/// [`StoreError::SealedKeyMissing`]'s message: what to set or put back.
fn missing_key(key_id: &str, key_file_set: bool) -> String {
    if key_file_set {
        format!(
            "a stored value is sealed with key `{key_id}`, which database.encryption_key_file does not hold: \
             put that key back in the file (after the newest) and run `enquiry-relay enquiries rekey`; \
             only the rows sealed with it are affected"
        )
    } else {
        format!(
            "a stored value is sealed with key `{key_id}` but database.encryption_key_file is not set: \
             set it to the key file holding `{key_id}`; only the rows sealed with it are affected"
        )
    }
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
