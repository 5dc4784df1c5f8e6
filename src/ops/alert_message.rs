//! The words of an alert: what happened, how many enquiries wait, and where
//! to look. Counts only; the families' details only when
//! `alerts.include_details` is set, and only for failed enquiries.

use serde_json::{Value, json};

use super::alert_change::{Change, Observation};
use crate::config::Settings;
use crate::storage::{IncidentKind, QueueFigures, StatusFigures, Store, StoreError};

pub(super) async fn message(
    store: &Store,
    settings: &Settings,
    change: &Change,
    seen: &Observation,
) -> Result<Value, StoreError> {
    let (kind, opened) = (change.kind, change.opened);
    let figures = &seen.figures;
    let account = change.account.as_deref();
    // The paused account's state (its reason), for a pause.
    let paused = (seen.deliveries.iter())
        .find(|(name, _)| Some(name.as_str()) == account)
        .map(|(_, state)| state);
    let destination = account.and_then(|name| name.strip_prefix("destination:"));
    let accounts = (seen.deliveries.iter())
        .filter(|(name, _)| !name.starts_with("destination:"))
        .count();
    // Named when the deployment has more than one account.
    let of_account = match account {
        Some(name) if accounts > 1 => format!(" for account {name}"),
        _ => String::new(),
    };
    let q = &figures.total;
    let waiting = q.pending + q.sending + q.failed + q.held;
    let title = match (kind, opened) {
        (IncidentKind::Failed, true) => format!(
            "{} could not be delivered to CareHQ ({})",
            figures.failed_in_words(),
            sites_with(figures, |q| q.failed)
        ),
        (IncidentKind::Failed, false) => "No failed enquiries remain".to_owned(),
        (IncidentKind::Paused, true) => match destination {
            Some(d) => format!("Delivery to destination {d} is paused"),
            None => format!("Delivery to CareHQ is paused{of_account}"),
        },
        (IncidentKind::Paused, false) => match destination {
            Some(d) => format!("Delivery to destination {d} has resumed"),
            None => format!("Delivery to CareHQ has resumed{of_account}"),
        },
        (IncidentKind::Held, true) => format!(
            "{} held for a person to check ({})",
            plural(q.held, "enquiry is", "enquiries are"),
            sites_with(figures, |q| q.held)
        ),
        (IncidentKind::Held, false) => "No held enquiries remain".to_owned(),
        (IncidentKind::PendingAge, true) => "Enquiries are waiting longer than expected".to_owned(),
        (IncidentKind::PendingAge, false) => "Enquiries are flowing again".to_owned(),
    };
    let mut text = format!(
        "{title}. {} waiting ({} pending, {} failed, {} held).",
        plural(waiting, "enquiry is", "enquiries are"),
        q.pending + q.sending,
        q.failed,
        q.held
    );
    if opened {
        text.push_str(match kind {
            IncidentKind::Failed => " CareHQ refused them or the retries ran out. The families' details and CareHQ's reasons: `enquiry-relay enquiries list --status failed`, then `enquiry-relay enquiries show ID`; after fixing the cause, `enquiry-relay enquiries retry --failed`.",
            IncidentKind::Held => " They looked doubtful (sent too fast, an old, forged or future-dated form token, a page that would not say where it came from (Origin: null), or the CAPTCHA could not be checked) and are not sent until someone looks: `enquiry-relay enquiries list --status held`, then `enquiry-relay enquiries release ID` for a real family.",
            IncidentKind::Paused if destination.is_some() => " Nothing is lost: the copies are kept and sent once it accepts the credentials. Check its [[destinations]] entry (client_id, client_secret, site_id); delivery to CareHQ is not held up.",
            IncidentKind::Paused if !of_account.is_empty() => " Nothing is lost: enquiries are kept and sent once CareHQ accepts the settings. Check this account's account_id, api_key, api_secret and base_url in the config (`enquiry-relay check --remote`); other accounts' homes are not held up.",
            IncidentKind::Paused => " Nothing is lost: enquiries are kept and sent once CareHQ accepts the settings. Check carehq.account_id, api_key, api_secret and base_url (`enquiry-relay check --remote`).",
            IncidentKind::PendingAge => " See GET /status for CareHQ's last error; families may need a call back: `enquiry-relay enquiries list --status pending`.",
        });
        if let Some(reason) = paused.and_then(|state| state.paused_reason.as_ref())
            && kind == IncidentKind::Paused
        {
            text.push_str(&format!(" Reason: {reason}"));
        }
    }
    let mut body = json!({
        "event": if opened { "incident" } else { "cleared" },
        "kind": kind.as_str(),
        "title": title,
        "text": text,
        "waiting": {"pending": q.pending + q.sending, "failed": q.failed, "held": q.held},
    });
    match (destination, account) {
        (Some(destination), _) => body["destination"] = Value::from(destination),
        (None, Some(account)) => body["account"] = Value::from(account),
        (None, None) => {}
    }
    if settings.alerts.include_details && opened && kind == IncidentKind::Failed {
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

/// "1 enquiry is", "2 enquiries are".
fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "site upton-court", "sites upton-court, quiet-home": where the count is not zero.
fn sites_with(figures: &StatusFigures, count: impl Fn(&QueueFigures) -> i64) -> String {
    let names: Vec<&str> = figures
        .sites
        .iter()
        .filter(|(_, q)| count(q) > 0)
        .map(|(slug, _)| slug.as_str())
        .collect();
    match names.len() {
        // Resolved between the claim and this reading.
        0 => "none now".to_owned(),
        1 => format!("site {}", names[0]),
        _ => format!("sites {}", names.join(", ")),
    }
}
