//! `GET /status`: the staff view of the queue, for people and uptime monitors.
//! 200 when healthy, 503 when degraded (thresholds in `[status]`), 401 without
//! the staff token. No personal data: only counts, times, ids and our own
//! summaries of CareHQ's answers (its hints can quote the family).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::carehq::RateLimit;
use crate::config::StatusSettings;
use crate::http::error::HttpError;
use crate::http::format::Format;
use crate::http::peer::PeerAddr;
use crate::http::staff_auth::require_staff;
use crate::http::state::AppState;
use crate::storage::{DeliveryState, QueueFigures, StatusFigures, now_ms};

pub async fn status(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = require_staff(&state, peer, &headers) {
        return e.into_response_for(Format::Json);
    }
    let now = now_ms();
    let figures = match state.store.status_figures(now).await {
        Ok(figures) => figures,
        Err(e) => return HttpError::Unavailable(e).into_response_for(Format::Json),
    };
    let delivery = match state.store.delivery_state().await {
        Ok(delivery) => delivery,
        Err(e) => return HttpError::Unavailable(e).into_response_for(Format::Json),
    };
    let problems = degraded_because(&figures, &delivery, &state.settings.status, now);
    let code = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let configured: Vec<&str> = state
        .settings
        .sites
        .iter()
        .map(|s| s.slug.as_str())
        .collect();
    let body = body(
        &figures,
        &delivery,
        state.rate_limit.last(),
        &problems,
        &configured,
        now,
    );
    (code, Json(body)).into_response()
}

/// Why the service counts as degraded; empty when it is healthy.
pub fn degraded_because(
    figures: &StatusFigures,
    delivery: &DeliveryState,
    thresholds: &StatusSettings,
    now: i64,
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(reason) = &delivery.paused_reason {
        problems.push(format!(
            "delivery to CareHQ is paused: {reason}. Fix the CareHQ settings; delivery resumes by itself once CareHQ accepts them"
        ));
    }
    if let Some(oldest) = figures.total.oldest_pending_at {
        let age = now.saturating_sub(oldest);
        let limit = i64::try_from(thresholds.max_pending_age.as_millis()).unwrap_or(i64::MAX);
        if age > limit {
            problems.push(format!(
                "the oldest waiting enquiry has waited {} (more than status.max_pending_age); see last_error and CareHQ's status",
                crate::values::format_duration(std::time::Duration::from_millis(age.max(0) as u64))
            ));
        }
    }
    if thresholds.failed_is_degraded && figures.total.failed > 0 {
        problems.push(format!(
            "{} could not be delivered and wait for staff: `enquiry-relay enquiries list --status failed`, then `enquiries show ID` and `enquiries retry ID`",
            figures.failed_in_words()
        ));
    }
    // A consequence of a failed enquiry, so it follows the same switch; said
    // on its own because the family asked for a time that is no longer held.
    if thresholds.failed_is_degraded && figures.visits_waiting_on_failed > 0 {
        let n = figures.visits_waiting_on_failed;
        let (visits, enquiries) = if n == 1 {
            ("1 home visit waits".to_owned(), "an enquiry")
        } else {
            (format!("{n} home visits wait"), "enquiries")
        };
        problems.push(format!(
            "{visits} for {enquiries} that could not be delivered, and the chosen times are offered to other families again: retry the enquiry (`enquiry-relay enquiries list --status waiting`, then `enquiries retry ID`) or call the family"
        ));
    }
    // Held enquiries are never sent until a person looks, whatever else holds.
    if figures.total.held > 0 {
        let n = figures.total.held;
        let held = if n == 1 {
            "1 enquiry is held".to_owned()
        } else {
            format!("{n} enquiries are held")
        };
        problems.push(format!(
            "{held} for a person to check (the spam checks could not clear them) and will not be sent until released: `enquiry-relay enquiries list --status held`, then `enquiries show ID` and `enquiries release ID` for each real family"
        ));
    }
    problems
}

fn body(
    figures: &StatusFigures,
    delivery: &DeliveryState,
    rate_limit: Option<RateLimit>,
    problems: &[String],
    configured_sites: &[&str],
    now: i64,
) -> Value {
    let mut sites = serde_json::Map::new();
    for slug in configured_sites {
        sites.insert((*slug).to_owned(), queue(&QueueFigures::default(), now));
    }
    // Sites no longer configured still show while they have enquiries.
    for (slug, q) in &figures.sites {
        sites.insert(slug.clone(), queue(q, now));
    }
    json!({
        "status": if problems.is_empty() { "ok" } else { "degraded" },
        "problems": problems,
        "queue": queue(&figures.total, now),
        "ambiguous": figures.ambiguous,
        "carehq": {
            "last_success_at": delivery.last_success_at.map(iso),
            "last_error_at": delivery.last_error_at.map(iso),
            "last_error": delivery.last_error,
            // Where to read CareHQ's last hint, not the hint: it can quote
            // what the family typed, and monitors keep what /status says.
            "last_hint": figures.last_hint.as_ref().map(|(_, enquiry_id)| format!(
                "CareHQ explained its answer; read it with `enquiry-relay enquiries show {enquiry_id}` (not shown here: it can quote what the family wrote)"
            )),
            "last_hint_at": figures.last_hint.as_ref().map(|(at, _)| iso(*at)),
        },
        "paused": {
            "paused": delivery.paused_reason.is_some(),
            "reason": delivery.paused_reason,
            "http_status": delivery.paused_status,
            "since": delivery.paused_at.map(iso),
        },
        "rate_limit": rate_limit.map(|r| json!({
            "limit": r.limit,
            "remaining": r.remaining,
            "reset_at": iso(r.reset_at_ms),
        })),
        "sites": sites,
        "steps": figures
            .steps
            .iter()
            .map(|(step, q)| (step.clone(), queue(q, now)))
            .collect::<serde_json::Map<_, _>>(),
    })
}

fn queue(q: &QueueFigures, now: i64) -> Value {
    json!({
        "pending": q.pending,
        "sending": q.sending,
        "synced": q.synced,
        "failed": q.failed,
        "held": q.held,
        "waiting": q.waiting,
        "synced_last_24h": q.synced_last_24h,
        "oldest_pending_age_seconds": q.oldest_pending_at.map(|at| (now - at).max(0) / 1000),
    })
}

/// Unix ms → RFC 3339 (UTC).
pub fn iso(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn thresholds() -> StatusSettings {
        StatusSettings {
            max_pending_age: Duration::from_secs(30 * 60),
            failed_is_degraded: true,
        }
    }

    #[test]
    fn each_condition_degrades_on_its_own() {
        let now = 10_000_000_000;
        let healthy = StatusFigures::default();
        let running = DeliveryState::default();
        assert!(degraded_because(&healthy, &running, &thresholds(), now).is_empty());

        let mut old = StatusFigures::default();
        old.total.oldest_pending_at = Some(now - 31 * 60 * 1000);
        assert_eq!(
            degraded_because(&old, &running, &thresholds(), now).len(),
            1
        );
        old.total.oldest_pending_at = Some(now - 29 * 60 * 1000);
        assert!(degraded_because(&old, &running, &thresholds(), now).is_empty());

        let mut failed = StatusFigures::default();
        failed.total.failed = 1;
        assert_eq!(
            degraded_because(&failed, &running, &thresholds(), now).len(),
            1
        );
        let lenient = StatusSettings {
            failed_is_degraded: false,
            ..thresholds()
        };
        assert!(degraded_because(&failed, &running, &lenient, now).is_empty());

        let mut held = StatusFigures::default();
        held.total.held = 2;
        let why = degraded_because(&held, &running, &lenient, now);
        assert!(why[0].starts_with("2 enquiries are held"), "{why:?}");

        let stuck = StatusFigures {
            visits_waiting_on_failed: 1,
            ..StatusFigures::default()
        };
        let why = degraded_because(&stuck, &running, &thresholds(), now);
        assert!(
            why[0].starts_with("1 home visit waits for an enquiry"),
            "{why:?}"
        );
        assert!(degraded_because(&stuck, &running, &lenient, now).is_empty());

        let paused = DeliveryState {
            paused_reason: Some("CareHQ refused the API key".into()),
            ..Default::default()
        };
        let why = degraded_because(&healthy, &paused, &thresholds(), now);
        assert!(why[0].contains("paused"), "{why:?}");
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
    }
}
