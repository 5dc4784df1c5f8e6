//! `/healthz` (the process runs) and `/readyz` (database answers, worker alive).

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
    let worker = state.worker.is_alive(state.worker_max_silence);
    if !(database && worker) {
        warn!(database, worker, "not ready");
    }
    let status = if database && worker {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "failing" };
    (
        status,
        Json(
            json!({"status": word(database && worker), "database": word(database), "worker": word(worker)}),
        ),
    )
}
