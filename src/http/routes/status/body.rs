//! The JSON `/status` answers: the queue's figures, each account's and
//! destination's delivery, each home's queue. Built from figures already
//! loaded and scoped by the handler; nothing here reads the store.

use serde_json::{Value, json};

use super::conditions::destination_of;
use crate::carehq::RateLimit;
use crate::storage::{DeliveryState, QueueFigures, StatusFigures};

pub(super) fn rate_limit_json(rate_limit: Option<RateLimit>) -> Value {
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
pub(super) fn body(
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
    let destinations: serde_json::Map<String, Value> = (deliveries.iter())
        .filter_map(|(lane, state)| Some((destination_of(lane)?.to_owned(), lane_json(state))))
        .collect();
    let accounts: serde_json::Map<String, Value> = (deliveries.iter())
        .filter(|(name, _)| destination_of(name).is_none())
        .map(|(name, state)| (name.clone(), lane_json(state)))
        .collect();
    json!({
        "status": if problems.is_empty() { "ok" } else { "degraded" },
        "problems": problems,
        "queue": queue(&figures.total, now),
        "ambiguous": figures.ambiguous,
        "carehq": carehq_json(delivery, figures),
        "paused": paused_json(paused),
        "rate_limit": Value::Null,
        "accounts": accounts,
        "destinations": destinations,
        "sites": sites_json(figures, configured_sites, now),
        "steps": figures
            .steps
            .iter()
            .map(|(step, q)| (step.clone(), queue(q, now)))
            .collect::<serde_json::Map<_, _>>(),
    })
}

/// One account's or destination's delivery.
fn lane_json(state: &DeliveryState) -> Value {
    json!({
        "paused": paused_json(state),
        "last_success_at": state.last_success_at.map(iso),
        "last_error_at": state.last_error_at.map(iso),
        "last_error": state.last_error,
    })
}

/// The default account's (or the token's own) last delivery, and where to
/// read CareHQ's last hint.
fn carehq_json(delivery: &DeliveryState, figures: &StatusFigures) -> Value {
    json!({
        "last_success_at": delivery.last_success_at.map(iso),
        "last_error_at": delivery.last_error_at.map(iso),
        "last_error": delivery.last_error,
        // Where to read CareHQ's last hint, not the hint: it can quote
        // what the family typed, and monitors keep what /status says.
        "last_hint": figures.last_hint.as_ref().map(|(_, enquiry_id)| format!(
            "CareHQ explained its answer; read it with `enquiry-relay enquiries show {enquiry_id}` (not shown here: it can quote what the family wrote)"
        )),
        "last_hint_at": figures.last_hint.as_ref().map(|(at, _)| iso(*at)),
    })
}

/// Each configured home's queue (empty until it has enquiries), and those
/// of homes no longer configured while they still have enquiries.
fn sites_json(figures: &StatusFigures, configured_sites: &[&str], now: i64) -> Value {
    let mut sites = serde_json::Map::new();
    for slug in configured_sites {
        sites.insert((*slug).to_owned(), queue(&QueueFigures::default(), now));
    }
    for (slug, q) in &figures.sites {
        sites.insert(slug.clone(), queue(q, now));
    }
    Value::Object(sites)
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

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
    }
}
