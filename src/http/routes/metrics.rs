//! `GET /metrics`: Prometheus text; behind the staff token unless
//! `metrics.require_token = false`. An account's staff token sees its own
//! sites' and account's series and figures only, nothing another account's
//! activity moved (`ops::metrics::render_for_sites`).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::http::error::HttpError;
use crate::http::format::Format;
use crate::http::peer::PeerAddr;
use crate::http::staff_auth::{StaffScope, require_staff};
use crate::http::state::AppState;
use crate::storage::now_ms;

pub async fn metrics(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
) -> Response {
    // Without the token requirement, /metrics is the whole deployment's.
    let scope = if state.settings.metrics.require_token {
        match require_staff(&state, peer, &headers) {
            Ok(scope) => scope,
            Err(e) => return e.into_response_for(Format::Json),
        }
    } else {
        StaffScope::All
    };
    let now = now_ms();
    let figures = match state.store.status_figures_of(now, scope.sites()).await {
        Ok(figures) => figures,
        Err(e) => return HttpError::Unavailable(e).into_response_for(Format::Json),
    };
    // Paused when any account in view is (the per-account figures are on /status).
    let lanes = scope.lane_names(&state.settings);
    let accounts: Vec<&str> = lanes.iter().map(String::as_str).collect();
    let paused = match state.store.delivery_states(&accounts).await {
        Ok(deliveries) => deliveries.iter().any(|(_, delivery)| delivery.is_paused()),
        Err(e) => return HttpError::Unavailable(e).into_response_for(Format::Json),
    };
    let own = scope.account().unwrap_or(crate::config::DEFAULT_ACCOUNT);
    let rate_limit = (state.rate_limits.iter())
        .find(|(name, _)| name == own)
        .and_then(|(_, gate)| gate.last());
    let text = match scope.sites() {
        None => crate::ops::metrics::render(&figures, paused, rate_limit, now),
        Some(sites) => {
            crate::ops::metrics::render_for_sites(sites, own, &figures, paused, rate_limit, now)
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}
