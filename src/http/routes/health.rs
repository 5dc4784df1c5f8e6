//! `/healthz` (the process runs) and `/readyz` (the database answers reads
//! and takes writes, the worker is alive). Writes are checked too: a service
//! whose reads work but whose writes fail (writer task gone, database locked,
//! disk full) answers every family 503 and must be taken out of rotation.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use tracing::warn;

use crate::http::state::AppState;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = matches!(
        tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await,
        Ok(Ok(()))
    );
    let writes =
        match tokio::time::timeout(Duration::from_secs(2), state.store.check_writes()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(
                "a write did not commit within 2 s (the database is locked or too slow)".to_owned(),
            ),
        };
    let worker = state.worker.is_alive(state.worker_max_silence);
    let ready = database && worker && writes.is_none();
    if !ready {
        // The cause stays in the log: this route is public.
        warn!(
            database,
            worker,
            writes = writes.as_deref().unwrap_or("ok"),
            "not ready"
        );
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "failing" };
    (
        status,
        Json(json!({
            "status": word(ready),
            "database": word(database),
            "writes": word(writes.is_none()),
            "worker": word(worker),
        })),
    )
}
