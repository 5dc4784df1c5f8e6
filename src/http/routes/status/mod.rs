//! `GET /status`: the staff view of the queue, for people and uptime monitors.
//! 200 when healthy, 503 when degraded (thresholds in `[status]`), 401 without
//! the staff token. No personal data: only counts, times, ids and our own
//! summaries of CareHQ's answers (its hints can quote the family). An
//! account's staff token sees that account and its homes only.

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
    let lanes = scope.lane_names(&state.settings);
    let accounts: Vec<&str> = lanes.iter().map(String::as_str).collect();
    let deliveries = match state.store.delivery_states(&accounts).await {
        Ok(deliveries) => deliveries,
        Err(e) => return HttpError::Unavailable(e).into_response_for(Format::Json),
    };
    let shared = scope.shared_lanes(&state.settings);
    let deliveries: Vec<(String, DeliveryState)> = (deliveries.into_iter())
        .map(|(lane, delivery)| match shared.contains(&lane) {
            true => (lane, shared_view(delivery)),
            false => (lane, delivery),
        })
        .collect();
    let problems = degraded_because(&figures, &deliveries, &state.settings.status, now);
    let code = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let configured: Vec<&str> = (state.settings.sites.iter())
        .filter(|s| scope.sees(&s.slug))
        .map(|s| s.slug.as_str())
        .collect();
    let mut body = body(&figures, &deliveries, &problems, &configured, now);
    let rate_limit = |account: &str| {
        (state.rate_limits.iter())
            .find(|(name, _)| name == account)
            .and_then(|(_, gate)| gate.last())
    };
    let own = scope.account().unwrap_or(crate::config::DEFAULT_ACCOUNT);
    body["rate_limit"] = rate_limit_json(rate_limit(own));
    if let Some(Value::Object(accounts)) = body.get_mut("accounts") {
        for (name, account) in accounts.iter_mut() {
            account["rate_limit"] = rate_limit_json(rate_limit(name));
            account["sites"] = (state.settings.sites.iter())
                .filter(|site| site.account == *name)
                .map(|site| Value::from(site.slug.as_str()))
                .collect();
        }
    }
    (code, Json(body)).into_response()
}

/// Why the service counts as degraded; empty when it is healthy.
/// `deliveries`: each CareHQ account's state, the default first.
pub fn degraded_because(
    figures: &StatusFigures,
    deliveries: &[(String, DeliveryState)],
    thresholds: &StatusSettings,
    now: i64,
) -> Vec<String> {
    let mut problems = Vec::new();
    let accounts = (deliveries.iter())
        .filter(|(lane, _)| destination_of(lane).is_none())
        .count();
    for (account, delivery) in deliveries {
        let Some(reason) = &delivery.paused_reason else {
            continue;
        };
        if let Some(destination) = destination_of(account) {
            problems.push(format!(
                "delivery to destination {destination} is paused: {reason}. Its copies are kept and sent once it accepts the credentials; CareHQ delivery is not held up"
            ));
            continue;
        }
        problems.push(match accounts {
            1 => format!(
                "delivery to CareHQ is paused: {reason}. Fix the CareHQ settings; delivery resumes by itself once CareHQ accepts them"
            ),
            _ => format!(
                "delivery to CareHQ account {account} is paused: {reason}. Fix {}; its homes' enquiries are kept and sent once CareHQ accepts them, and other accounts' homes are not held up",
                settings_of(account)
            ),
        });
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

/// The destination a lane name (`destination:NAME`) is of; `None` for a
/// CareHQ account.
fn destination_of(lane: &str) -> Option<&str> {
    lane.strip_prefix("destination:")
}

/// Where an account's credentials are set, for a message.
fn settings_of(account: &str) -> String {
    match account {
        crate::config::DEFAULT_ACCOUNT => "the [carehq] settings".to_owned(),
        name => format!("the settings of [[accounts]] name = \"{name}\""),
    }
}

fn rate_limit_json(rate_limit: Option<RateLimit>) -> Value {
    rate_limit.map_or(Value::Null, |r| {
        json!({
            "limit": r.limit,
            "remaining": r.remaining,
            "reset_at": iso(r.reset_at_ms),
        })
    })
}

/// What `/status` says of one account's delivery.
fn paused_json(delivery: &DeliveryState) -> Value {
    json!({
        "paused": delivery.paused_reason.is_some(),
        "reason": delivery.paused_reason,
        "http_status": delivery.paused_status,
        "since": delivery.paused_at.map(iso),
    })
}

/// The top level keeps the one-account shape (`carehq`, `paused`,
/// `rate_limit`: the default account's, or for an account's token its own; `paused` is any account's pause, so
/// a monitor watching it misses none); `accounts` has each account apart.
fn body(
    figures: &StatusFigures,
    deliveries: &[(String, DeliveryState)],
    problems: &[String],
    configured_sites: &[&str],
    now: i64,
) -> Value {
    let none = DeliveryState::default();
    let delivery = deliveries.first().map_or(&none, |(_, state)| state);
    let paused = (deliveries.iter())
        .map(|(_, state)| state)
        .find(|state| state.is_paused())
        .unwrap_or(delivery);
    let lane_json = |(name, state): &(String, DeliveryState)| {
        let lane = json!({
            "paused": paused_json(state),
            "last_success_at": state.last_success_at.map(iso),
            "last_error_at": state.last_error_at.map(iso),
            "last_error": state.last_error,
        });
        (name.clone(), lane)
    };
    let destinations: serde_json::Map<String, Value> = (deliveries.iter())
        .filter_map(|lane| {
            let name = destination_of(&lane.0)?;
            Some((name.to_owned(), lane_json(lane).1))
        })
        .collect();
    let accounts: serde_json::Map<String, Value> = (deliveries.iter())
        .filter(|(name, _)| destination_of(name).is_none())
        .map(lane_json)
        .collect();
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
        "paused": paused_json(paused),
        "rate_limit": Value::Null,
        "accounts": accounts,
        "destinations": destinations,
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
        let running = vec![("default".to_owned(), DeliveryState::default())];
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
        let one = vec![("default".to_owned(), paused.clone())];
        let why = degraded_because(&healthy, &one, &thresholds(), now);
        assert!(why[0].contains("paused"), "{why:?}");
        // With more accounts, the paused one is named, and only it.
        let two = vec![
            ("default".to_owned(), DeliveryState::default()),
            ("marshall-care".to_owned(), paused),
        ];
        let why = degraded_because(&healthy, &two, &thresholds(), now);
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(
            why[0].starts_with("delivery to CareHQ account marshall-care is paused"),
            "{why:?}"
        );
        assert!(why[0].contains("name = \"marshall-care\""), "{why:?}");
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
    }
}
