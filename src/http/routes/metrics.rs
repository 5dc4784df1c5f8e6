//! `GET /metrics`: Prometheus text; behind the staff token unless
//! `metrics.require_token = false`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::http::error::HttpError;
use crate::http::format::Format;
use crate::http::peer::PeerAddr;
use crate::http::staff_auth::require_staff;
use crate::http::state::AppState;
use crate::storage::now_ms;

pub async fn metrics(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
) -> Response {
    if state.settings.metrics.require_token
        && let Err(e) = require_staff(&state, peer, &headers)
    {
        return e.into_response_for(Format::Json);
    }
    let now = now_ms();
    let figures = match state.store.status_figures(now).await {
        Ok(figures) => figures,
        Err(e) => return HttpError::Unavailable(e).into_response_for(Format::Json),
    };
    // Paused when any account is (the per-account figures are on /status).
    let accounts = crate::ops::alerts::account_names(&state.settings);
    let paused = match state.store.delivery_states(&accounts).await {
        Ok(deliveries) => deliveries.iter().any(|(_, delivery)| delivery.is_paused()),
        Err(e) => return HttpError::Unavailable(e).into_response_for(Format::Json),
    };
    let default_rate_limit = state.rate_limits.first().and_then(|(_, gate)| gate.last());
    let text = crate::ops::metrics::render(&figures, paused, default_rate_limit, now);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}
