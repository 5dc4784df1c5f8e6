//! `GET /status`: the staff view of the queue, for people and uptime monitors.
//! 200 when healthy, 503 when degraded (thresholds in `[status]`), 401 without
//! the staff token. No personal data: only counts, times, ids and our own
//! summaries of CareHQ's answers (its hints can quote the family). An
//! account's staff token sees that account and its homes only.
//!
//! This file owns the request: who asks, what they may see, and the answer's
//! code. `conditions` finds what is wrong, `degraded` says it in the
//! answer's words; `body` lays out the JSON.

mod body;
pub mod conditions;
mod degraded;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::carehq::RateLimit;
use crate::http::error::HttpError;
use crate::http::format::Format;
use crate::http::peer::PeerAddr;
use crate::http::staff_auth::{StaffScope, require_staff};
use crate::http::state::AppState;
use crate::storage::{DeliveryState, StoreError, now_ms};

pub async fn status(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
) -> Response {
    let scope = match require_staff(&state, peer, &headers) {
        Ok(scope) => scope,
        Err(e) => return e.into_response_for(Format::Json),
    };
    let now = now_ms();
    // An account's token sees its own homes and account only: figures,
    // problems and names of others never reach its body.
    let figures = match state.store.status_figures_of(now, scope.sites()).await {
        Ok(figures) => figures,
        Err(e) => return HttpError::Unavailable(e).into_response_for(Format::Json),
    };
    let deliveries = match deliveries_seen(&state, &scope).await {
        Ok(deliveries) => deliveries,
        Err(e) => return HttpError::Unavailable(e).into_response_for(Format::Json),
    };
    let found = conditions::conditions(&figures, &deliveries, &state.settings.status, now);
    let problems = degraded::degraded_because(&found);
    let code = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let configured: Vec<&str> = (state.settings.sites.iter())
        .filter(|s| scope.sees(&s.slug))
        .map(|s| s.slug.as_str())
        .collect();
    let mut body = body::body(&figures, &deliveries, &problems, &configured, now);
    add_rate_limits_and_sites(&mut body, &state, &scope);
    (code, Json(body)).into_response()
}

/// Each lane the scope sees, with its delivery state; a lane shared with
/// other accounts is shown as [`shared_view`].
async fn deliveries_seen(
    state: &AppState,
    scope: &StaffScope,
) -> Result<Vec<(String, DeliveryState)>, StoreError> {
    let lanes = scope.lane_names(&state.settings);
    let accounts: Vec<&str> = lanes.iter().map(String::as_str).collect();
    let deliveries = state.store.delivery_states(&accounts).await?;
    let shared = scope.shared_lanes(&state.settings);
    Ok((deliveries.into_iter())
        .map(|(lane, delivery)| match shared.contains(&lane) {
            true => (lane, shared_view(delivery)),
            false => (lane, delivery),
        })
        .collect())
}

/// CareHQ's last rate-limit headers, at the top level for the caller's own
/// account and under each account, with each account's homes: these live in
/// memory and in the settings, not in the figures `body` is built from.
fn add_rate_limits_and_sites(body: &mut Value, state: &AppState, scope: &StaffScope) {
    let rate_limit = |account: &str| -> Option<RateLimit> {
        (state.rate_limits.iter())
            .find(|(name, _)| name == account)
            .and_then(|(_, gate)| gate.last())
    };
    let own = scope.account().unwrap_or(crate::config::DEFAULT_ACCOUNT);
    body["rate_limit"] = body::rate_limit_json(rate_limit(own));
    if let Some(Value::Object(accounts)) = body.get_mut("accounts") {
        for (name, account) in accounts.iter_mut() {
            account["rate_limit"] = body::rate_limit_json(rate_limit(name));
            account["sites"] = (state.settings.sites.iter())
                .filter(|site| site.account == *name)
                .map(|site| Value::from(site.slug.as_str()))
                .collect();
        }
    }
}

/// A destination lane that other accounts' homes send to as well, as an
/// account's token sees it: its pause (it holds this account's copies too,
/// and says only what the destination answered), not its last success or
/// error, which may be another account's enquiry's.
fn shared_view(delivery: DeliveryState) -> DeliveryState {
    DeliveryState {
        last_success_at: None,
        last_error_at: None,
        last_error: None,
        paused_delivery_id: None,
        ..delivery
    }
}
