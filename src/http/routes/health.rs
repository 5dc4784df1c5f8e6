//! `/healthz` (the process runs) and `/readyz` (the database answers reads
//! and takes writes, the worker is alive, and the process is not draining).
//! Writes are checked too: a service whose reads work but whose writes fail
//! (writer task gone, database locked, disk full) answers every family 503
//! and must be taken out of rotation. The database check is shared by every
//! caller and runs at most about once a second ([`crate::http::Readiness`]).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use tracing::debug;

use crate::http::state::AppState;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let draining = state.readiness.is_draining();
    // Draining answers at once: from the last check, if there was one.
    let database = match state.readiness.latest().filter(|_| draining) {
        Some(check) => check,
        None => state.readiness.database().await,
    };
    let worker = state.worker.is_alive(state.worker_max_silence);
    let ready = !draining && database.ok() && worker;
    if !worker {
        // At debug: this route is public and may be called often; the
        // worker's own failure is logged where it happens.
        debug!("not ready: the sync worker has not turned recently");
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "failing" };
    let overall = match (draining, ready) {
        (true, _) => "draining",
        (false, ready) => word(ready),
    };
    (
        status,
        Json(json!({
            "status": overall,
            "database": word(database.reads),
            "writes": word(database.writes),
            "worker": word(worker),
        })),
    )
}
