//! Alerts: one message when an incident starts and one when it clears, to a
//! webhook and/or by email (`notify`). Incidents: an enquiry failed permanently, delivery paused, the
//! oldest pending enquiry waited past `status.max_pending_age`. The conditions
//! are read from the shared database; the incident table makes each message
//! go out once however many instances run. Messages carry counts and where to
//! look; the families' details only when `alerts.include_details` is set.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::alert_backlog::Backlog;
use super::notify::Notifier;
use crate::config::Settings;
use crate::storage::{DeliveryState, StatusFigures, Store, StoreError, now_ms};

/// The kinds of incident, as stored.
pub const KINDS: [&str; 3] = ["failed", "paused", "pending_age"];

/// Which incident kinds hold now.
pub fn active_kinds(
    figures: &StatusFigures,
    delivery: &DeliveryState,
    max_pending_age: Duration,
    now: i64,
) -> Vec<&'static str> {
    let limit = i64::try_from(max_pending_age.as_millis()).unwrap_or(i64::MAX);
    let mut kinds = Vec::new();
    if figures.total.failed > 0 {
        kinds.push("failed");
    }
    if delivery.paused_reason.is_some() {
        kinds.push("paused");
    }
    if figures
        .total
        .oldest_pending_at
        .is_some_and(|at| now.saturating_sub(at) > limit)
    {
        kinds.push("pending_age");
    }
    kinds
}

/// Check the conditions every `alerts.check_interval` until `shutdown`.
/// Does nothing when no alert destination is configured.
pub async fn run(store: Store, settings: Arc<Settings>, shutdown: CancellationToken) {
    let notifier = match Notifier::new(&settings.alerts) {
        Ok(Some(notifier)) => notifier,
        Ok(None) => return,
        Err(e) => {
            warn!(error = %e, "alerts are off");
            return;
        }
    };
    let mut backlog = Backlog::default();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(settings.alerts.check_interval) => {}
        }
        // Older messages first, so a destination gets them in order.
        backlog.retry(&notifier).await;
        if let Err(e) = check_once(&store, &settings, &notifier, &mut backlog).await {
            warn!(error = %e, "could not check alert conditions; trying again at the next interval");
        }
    }
}

async fn check_once(
    store: &Store,
    settings: &Settings,
    notifier: &Notifier,
    backlog: &mut Backlog,
) -> Result<(), StoreError> {
    let now = now_ms();
    let figures = store.status_figures(now).await?;
    let delivery = store.delivery_state().await?;
    let active = active_kinds(&figures, &delivery, settings.status.max_pending_age, now);
    for kind in KINDS {
        let is_active = active.contains(&kind);
        // Whoever wins the insert (or delete) sends. When every destination
        // fails, the claim is given back so the next check tries again; when
        // only some fail, the backlog retries those.
        if is_active && store.open_incident(kind, now).await? {
            let message = message(store, settings, kind, true, &figures, &delivery).await?;
            match announce(notifier, backlog, kind, message).await {
                Ok(()) => info!(kind, "alert sent: incident"),
                Err(e) => {
                    warn!(kind, error = %e, "alert not delivered anywhere; retrying at the next check");
                    store.clear_incident(kind).await?;
                }
            }
        } else if !is_active && store.clear_incident(kind).await? {
            let message = message(store, settings, kind, false, &figures, &delivery).await?;
            match announce(notifier, backlog, kind, message).await {
                Ok(()) => info!(kind, "alert sent: cleared"),
                Err(e) => {
                    warn!(kind, error = %e, "all-clear not delivered anywhere; retrying at the next check");
                    store.open_incident(kind, now).await?;
                }
            }
        }
    }
    Ok(())
}

/// Send to every destination. `Ok` when at least one took it (the others go
/// to the backlog, which logs them); `Err` with every failure and what to
/// check when none did.
async fn announce(
    notifier: &Notifier,
    backlog: &mut Backlog,
    kind: &str,
    message: Value,
) -> Result<(), String> {
    let failed = notifier.send(&message).await;
    if failed.len() == notifier.destinations().len() {
        return Err(failed
            .iter()
            .map(|(d, e)| format!("{}: {e} ({})", d.as_str(), d.what_to_check()))
            .collect::<Vec<_>>()
            .join("; "));
    }
    for (destination, e) in failed {
        backlog.add(destination, kind, message.clone(), &e);
    }
    Ok(())
}

async fn message(
    store: &Store,
    settings: &Settings,
    kind: &str,
    opened: bool,
    figures: &StatusFigures,
    delivery: &DeliveryState,
) -> Result<Value, StoreError> {
    let q = &figures.total;
    let waiting = q.pending + q.sending + q.failed + q.held;
    let title = match (kind, opened) {
        ("failed", true) => format!(
            "{} could not be delivered to CareHQ",
            figures.failed_in_words()
        ),
        ("failed", false) => "No failed enquiries remain".to_owned(),
        ("paused", true) => "Delivery to CareHQ is paused".to_owned(),
        ("paused", false) => "Delivery to CareHQ has resumed".to_owned(),
        (_, true) => "Enquiries are waiting longer than expected".to_owned(),
        (_, false) => "Enquiries are flowing again".to_owned(),
    };
    let mut text = format!(
        "{title}. {waiting} enquiries are waiting ({} pending, {} failed, {} held).",
        q.pending + q.sending,
        q.failed,
        q.held
    );
    if opened {
        text.push_str(match kind {
            "failed" => " CareHQ refused them or the retries ran out. The families' details and CareHQ's reasons: `enquiry-relay enquiries list --status failed`, then `enquiry-relay enquiries show ID`; after fixing the cause, `enquiry-relay enquiries retry --failed`.",
            "paused" => " Nothing is lost: enquiries are kept and sent once CareHQ accepts the settings. Check carehq.account_id, api_key, api_secret and base_url (`enquiry-relay check --remote`).",
            _ => " See GET /status for CareHQ's last error; families may need a call back: `enquiry-relay enquiries list --status pending`.",
        });
        if let Some(reason) = &delivery.paused_reason
            && kind == "paused"
        {
            text.push_str(&format!(" Reason: {reason}"));
        }
    }
    let mut body = json!({
        "event": if opened { "incident" } else { "cleared" },
        "kind": kind,
        "title": title,
        "text": text,
        "waiting": {"pending": q.pending + q.sending, "failed": q.failed, "held": q.held},
    });
    if settings.alerts.include_details && opened && kind == "failed" {
        body["details"] = Value::Array(details(store).await?);
    }
    Ok(body)
}

/// Who to call back: the families of failed enquiries (personal data).
async fn details(store: &Store) -> Result<Vec<Value>, StoreError> {
    let rows = store.failed_enquiries(50).await?;
    Ok(rows
        .into_iter()
        .map(|(id, site, payload)| {
            let fields: Value = payload
                .and_then(|p| serde_json::from_str(&p).ok())
                .unwrap_or(Value::Null);
            json!({
                "id": id,
                "site": site,
                "first_name": fields.get("first_name"),
                "last_name": fields.get("last_name"),
                "email": fields.get("email"),
                "phone": fields.get("phone"),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_condition_is_its_own_kind() {
        let now = 10_000_000_000;
        let mut figures = StatusFigures::default();
        let running = DeliveryState::default();
        let limit = Duration::from_secs(1800);
        assert!(active_kinds(&figures, &running, limit, now).is_empty());
        figures.total.failed = 2;
        figures.total.oldest_pending_at = Some(now - 3_600_000);
        let paused = DeliveryState {
            paused_reason: Some("401".into()),
            ..Default::default()
        };
        assert_eq!(
            active_kinds(&figures, &paused, limit, now),
            ["failed", "paused", "pending_age"]
        );
    }
}
