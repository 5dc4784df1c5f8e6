//! Durable storage: enquiries, their delivery outbox, attempts and shared delivery state.
//!
//! One `Store` serves SQLite (the embedded default) and PostgreSQL (several
//! instances). Both run through sqlx's `Any` driver with portable SQL: times are
//! Unix milliseconds, ids are text. Where the dialects must differ (claiming rows
//! with `FOR UPDATE SKIP LOCKED`) the query is chosen by [`Backend`].

mod admin;
mod alerts;
mod audit;
mod batch_insert;
mod checkpoint;
mod connect;
mod delivery_state;
mod erasure;
mod error;
mod fallback;
mod figures_once;
mod group_commit;
mod inspect;
mod intake;
mod migrate;
mod models;
mod outbox;
mod partner_events;
mod readiness;
mod rekey;
mod retention;
mod retention_notices;
mod sealing;
mod search_backfill;
mod search_terms;
mod spent;
mod staff_actions;
mod staff_list;
mod staff_reads;
mod staff_sessions;
mod status;
mod token_keys;
mod visits;

pub use admin::{EnquiryFilter, EnquiryRecord, EnquirySummary};
pub use alerts::{Incident, IncidentKind};
pub use audit::{Actor, AuditAction, AuditEntry};
pub use checkpoint::{CheckpointReport, Checkpointer, PassReport, WAL_TARGET_BYTES, WalReset};
pub use connect::PoolSettings;
pub use delivery_state::DeliveryState;
pub use erasure::{DeleteOutcome, StoredPayload};
pub use error::StoreError;
pub use inspect::{AttemptView, DeliveryView};
pub use intake::{ConsentRecord, InsertOutcome, NewEnquiry};
pub use models::{
    AttemptOutcome, AttemptRecord, ClaimScope, ClaimedDelivery, DeliveryStatus, EnquiryId,
    NotAnEnquiryId, SiteFilter, Step, StepFilter, Transition, destination_step,
};
pub use partner_events::{ActionOutcome, PartnerEventKey, PartnerEventView};
pub use rekey::RekeyReport;
pub use retention::PurgeReport;
pub use sealing::{KeyRing, Place, Sealing, new_key_line};
pub use search_backfill::BackfillReport;
pub use search_terms::match_reasons;
pub use spent::Spend;
pub use staff_actions::{Correction, EditOutcome};
pub use staff_list::{Cursor, DayCount, EnquiryState, Page, StaffFilter, StaffRow};
pub use staff_sessions::{NewStaffSession, StaffSession};
pub use status::{QueueFigures, StatusFigures};
pub use token_keys::TokenKeys;
pub use visits::{NewVisit, StoredVisit, VisitInsert};

use sqlx::AnyPool;

/// Which database the store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Handle to the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// Every write goes through this pool. For SQLite it holds one connection, so
    /// writers queue in-process (fair, no busy-wait sleeps) instead of fighting
    /// over SQLite's single write lock.
    writer: AnyPool,
    /// Reads; for SQLite, WAL lets these run beside the writer.
    reader: AnyPool,
    /// Staff and status reads (the console, `/status`, `/metrics`,
    /// `enquiries list`): a small pool of their own, so however slow they
    /// are, intake and the worker keep `writer` and `reader`. Read-only; on
    /// PostgreSQL every statement has `database.staff_statement_timeout`.
    /// Take a connection with [`Store::staff_read`] (staff_reads.rs), which
    /// cancels a query whose request has ended.
    staff: AnyPool,
    backend: Backend,
    /// SQLite only: makes concurrent intake and outcome writes in shared transactions.
    sqlite_writer: Option<group_commit::SqliteWriter>,
    /// Held while a readiness write runs (`check_writes`).
    touching: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Seals personal data on write and opens it on read
    /// (`database.encryption_key_file`); plain by default.
    sealing: Sealing,
    /// The status figures' reading that callers asking at once share.
    figures_once: std::sync::Arc<figures_once::FiguresOnce>,
    /// Woken when an enquiry is stored: its search terms are to be written
    /// (`Store::search_terms_stored`, the indexer in `ops::search_index`).
    search_terms_due: std::sync::Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("sealing", &self.sealing)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// This store, sealing personal data with `sealing` (see
    /// [`Store::check_encryption`] for what a start must check).
    pub fn with_sealing(mut self, sealing: Sealing) -> Store {
        self.sealing = sealing;
        self
    }

    /// `INDEXED BY name` on SQLite, nothing on PostgreSQL: for the few reads
    /// whose bound depends on one index that SQLite's planner, which keeps
    /// no statistics here, would not pick. SQLite refuses the statement if
    /// the index cannot serve it, so a changed index fails loudly in tests.
    pub(super) fn indexed_by(&self, name: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("INDEXED BY {name}"),
            Backend::Postgres => String::new(),
        }
    }

    /// A trivial query, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    /// Close every connection (tests and shutdown).
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
        self.staff.close().await;
    }
}

/// Current time in Unix milliseconds, the unit every stored time uses.
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}
