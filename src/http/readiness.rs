//! What `/readyz` answers from: whether this process is draining (it got
//! SIGTERM and is about to stop, so the proxy should send no new work), and
//! the database's last check, shared by every caller.
//!
//! `/readyz` is public and a proxy calls it every few seconds, but anyone can
//! call it as often as they like. The database check (a read, and a write
//! through the writer intake uses) runs at most once per
//! [`FRESH_FOR`]; callers in between get the last result, and a caller that
//! arrives while a check runs gets the previous one instead of queueing
//! behind it. So a flood of `/readyz` costs a few writes a second at most,
//! and a database that stops taking writes still shows within a few seconds.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::storage::Store;

/// How long one database check answers for.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// How long one part of the check (read, write) may take before it counts
/// as failing.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The database's answer at one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseCheck {
    pub reads: bool,
    pub writes: bool,
}

impl DatabaseCheck {
    pub fn ok(&self) -> bool {
        self.reads && self.writes
    }
}

/// Shared by every request (in [`super::AppState`]).
#[derive(Clone)]
pub struct Readiness {
    store: Store,
    draining: CancellationToken,
    last: Arc<Mutex<Option<(Instant, DatabaseCheck)>>>,
    /// Held while a check runs: one at a time.
    running: Arc<tokio::sync::Mutex<()>>,
}

impl Readiness {
    /// `draining` is cancelled when the process starts its drain.
    pub fn new(store: Store, draining: CancellationToken) -> Readiness {
        Readiness {
            store,
            draining,
            last: Arc::default(),
            running: Arc::default(),
        }
    }

    /// True once the process has been told to stop: `/readyz` answers 503
    /// while the listener still serves, and responses close their
    /// connections so the proxy keeps none open to this process.
    pub fn is_draining(&self) -> bool {
        self.draining.is_cancelled()
    }

    /// The database's last check if it is fresh, or the previous one while
    /// another caller runs a check; otherwise run one now.
    pub async fn database(&self) -> DatabaseCheck {
        if let Some(fresh) = self.fresh() {
            return fresh;
        }
        let _running = match self.running.try_lock() {
            Ok(guard) => guard,
            Err(_) => match self.latest() {
                Some(previous) => return previous,
                // The first check of this process: wait for it.
                None => self.running.lock().await,
            },
        };
        // Another caller may have finished a check while this one waited.
        if let Some(fresh) = self.fresh() {
            return fresh;
        }
        let check = self.check().await;
        if let Ok(mut last) = self.last.lock() {
            *last = Some((Instant::now(), check.clone()));
        }
        check
    }

    /// The last check, however old (`None` before the first).
    pub fn latest(&self) -> Option<DatabaseCheck> {
        let last = self.last.lock().ok()?;
        last.as_ref().map(|(_, check)| check.clone())
    }

    fn fresh(&self) -> Option<DatabaseCheck> {
        let last = self.last.lock().ok()?;
        last.as_ref()
            .filter(|(at, _)| at.elapsed() < FRESH_FOR)
            .map(|(_, check)| check.clone())
    }

    async fn check(&self) -> DatabaseCheck {
        metrics::counter!(crate::ops::metrics::READINESS_CHECKS).increment(1);
        let reads = matches!(
            tokio::time::timeout(CHECK_TIMEOUT, self.store.ping()).await,
            Ok(Ok(()))
        );
        let writes = match tokio::time::timeout(CHECK_TIMEOUT, self.store.check_writes()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(
                "a write did not commit within 2 s (the database is locked or too slow)".to_owned(),
            ),
        };
        if !reads || writes.is_some() {
            // The cause stays in the log (once per check, not per caller):
            // the route is public.
            warn!(
                reads,
                writes = writes.as_deref().unwrap_or("ok"),
                "not ready: the database check failed"
            );
        }
        DatabaseCheck {
            reads,
            writes: writes.is_none(),
        }
    }
}

/// While draining, every answer closes its connection (`Connection: close`):
/// the proxy then holds no idle connection to this process when the
/// listener closes, so no request of its can race the close and be lost
/// mid-send (a POST on a connection the server closed is not retried).
pub async fn close_connections_while_draining(
    axum::extract::State(readiness): axum::extract::State<Readiness>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    if readiness.is_draining() {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}
