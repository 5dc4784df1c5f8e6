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
    let paused = match state.store.delivery_state().await {
        Ok(delivery) => delivery.paused_reason.is_some(),
        Err(e) => return HttpError::Unavailable(e).into_response_for(Format::Json),
    };
    let text = crate::ops::metrics::render(&figures, paused, state.rate_limit.last(), now);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}
