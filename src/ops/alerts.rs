//! Alerts: one message when an incident starts and one when it clears, to a
//! webhook and/or by email (`notify`). Incidents: an enquiry failed
//! permanently, delivery paused, the oldest pending enquiry waited past
//! `status.max_pending_age`, an enquiry is held for a person. Each opening or
//! clearing is claimed by one statement on the shared database that checks
//! the condition as it writes (`storage::Incident`), so every message goes
//! out once however many instances run, and "cleared" is never said on a
//! reading another instance has made stale. The texts are in `alert_message`.
//! Shutdown cuts a check's sends short (a stalled mail server must not hold
//! it) and gives back the claims not yet announced.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::alert_backlog::Backlog;
pub use super::alert_change::{Change, Observation};
use super::alert_message::message;
use super::notify::Notifier;
use crate::config::Settings;
use crate::storage::{Incident, Store, StoreError, destination_step, now_ms};

/// The incidents a check looks at, in the order their messages go out: a
/// pause per CareHQ account.
fn incidents<'a>(max_pending_age: Duration, now: i64, accounts: &[&'a str]) -> Vec<Incident<'a>> {
    let limit = i64::try_from(max_pending_age.as_millis()).unwrap_or(i64::MAX);
    let mut all = vec![Incident::Failed];
    all.extend(accounts.iter().map(|&account| Incident::Paused { account }));
    all.push(Incident::PendingAge {
        cutoff: now.saturating_sub(limit),
    });
    all.push(Incident::Held);
    all
}

/// The names of the configured CareHQ accounts, the default first.
pub fn account_names(settings: &Settings) -> Vec<&str> {
    settings.accounts.iter().map(|a| a.name.as_str()).collect()
}

/// Every lane that can pause, by its delivery-state name: the CareHQ
/// accounts (default first), then each destination (`destination:NAME`).
pub fn lane_names(settings: &Settings) -> Vec<String> {
    let accounts = settings.accounts.iter().map(|a| a.name.clone());
    let destinations = (settings.destinations.iter()).map(|d| destination_step(&d.name));
    accounts.chain(destinations).collect()
}

/// Check the conditions every `alerts.check_interval` until `shutdown`.
/// Does nothing when no alert destination is configured.
pub async fn run(store: Store, settings: Arc<Settings>, shutdown: CancellationToken) {
    let Some(mut checker) = AlertChecker::new(store, Arc::clone(&settings)) else {
        return;
    };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(settings.alerts.check_interval) => {}
        }
        if let Err(e) = checker.check_until(&shutdown).await {
            warn!(error = %e, "could not check alert conditions; trying again at the next interval");
        }
    }
}

/// One alert check at a time: what the loop in `run` does every interval,
/// also callable on its own (tests drive it one check at a time).
pub struct AlertChecker {
    store: Store,
    settings: Arc<Settings>,
    notifier: Notifier,
    backlog: Backlog,
}

impl AlertChecker {
    /// `None` when no alert destination is configured or it is unusable
    /// (alerts are off; the reason is logged).
    pub fn new(store: Store, settings: Arc<Settings>) -> Option<AlertChecker> {
        let notifier = match Notifier::new(&settings.alerts) {
            Ok(Some(notifier)) => notifier,
            Ok(None) => return None,
            Err(e) => {
                warn!(error = %e, "alerts are off");
                return None;
            }
        };
        Some(AlertChecker {
            store,
            settings,
            notifier,
            backlog: Backlog::default(),
        })
    }

    /// Retry what the backlog owes (older messages first, so a destination
    /// gets them in order), then claim and announce what opened or cleared.
    pub async fn check(&mut self) -> Result<(), StoreError> {
        self.check_until(&CancellationToken::new()).await
    }

    /// `check`, giving up every send once `shutdown` is cancelled, so a
    /// destination that does not answer (a stalled mail server) cannot hold
    /// shutdown. Claims not yet announced are given back, so the next check,
    /// here or on another instance, announces them; the database work in
    /// between is not cut, so no claim is left half-made.
    pub async fn check_until(&mut self, shutdown: &CancellationToken) -> Result<(), StoreError> {
        tokio::select! {
            biased;
            // The backlog lives in this process only and ends with it, so a
            // retry cut half-way loses nothing a restart would not.
            () = shutdown.cancelled() => return Ok(()),
            () = self.backlog.retry(&self.notifier) => {}
        }
        check_once(
            &self.store,
            &self.settings,
            &self.notifier,
            &mut self.backlog,
            shutdown,
        )
        .await
    }
}

/// Read the figures the messages quote.
pub async fn observe(store: &Store, accounts: &[&str]) -> Result<Observation, StoreError> {
    let at = now_ms();
    let figures = store.status_figures(at).await?;
    let deliveries = store.delivery_states(accounts).await?;
    Ok(Observation {
        figures,
        deliveries,
        at,
    })
}

/// Claim the incidents that open or clear now. Each claim is one statement
/// that checks its condition as it writes (see `storage::Incident`), so only
/// one instance wins it, and never on a stale reading.
pub async fn claim_changes(
    store: &Store,
    max_pending_age: Duration,
    accounts: &[&str],
) -> Result<Vec<Change>, StoreError> {
    let now = now_ms();
    let mut changes = Vec::new();
    for incident in incidents(max_pending_age, now, accounts) {
        let change = |opened, opened_at| Change {
            kind: incident.kind(),
            account: match incident {
                Incident::Paused { account } => Some(account.to_owned()),
                _ => None,
            },
            key: incident.key(),
            opened,
            opened_at,
        };
        if store.open_incident(incident, now).await? {
            changes.push(change(true, now));
        } else if let Some(opened_at) = store.clear_incident(incident).await? {
            changes.push(change(false, opened_at));
        }
    }
    Ok(changes)
}

async fn check_once(
    store: &Store,
    settings: &Settings,
    notifier: &Notifier,
    backlog: &mut Backlog,
    shutdown: &CancellationToken,
) -> Result<(), StoreError> {
    let lanes = lane_names(settings);
    let accounts: Vec<&str> = lanes.iter().map(String::as_str).collect();
    let changes = claim_changes(store, settings.status.max_pending_age, &accounts).await?;
    if changes.is_empty() {
        return Ok(());
    }
    // Read after the claims, so the counts quoted are at least as new as them.
    let seen = observe(store, &accounts).await?;
    for change in changes {
        let kind = change.kind;
        let message = message(store, settings, &change, &seen).await?;
        // When every destination fails, the claim is given back so the next
        // check tries again; when only some fail, the backlog retries those.
        // Cut by shutdown, the message counts as delivered nowhere, though
        // one destination may have taken it: the claim is given back, and a
        // repeated alert is harmless where a lost one is not.
        let key = change.key.as_str();
        let announced = tokio::select! {
            biased;
            () = shutdown.cancelled() => Err("the service stopped before it was sent".to_owned()),
            announced = announce(notifier, backlog, kind.as_str(), message) => announced,
        };
        match announced {
            Ok(()) if change.opened => info!(kind = key, "alert sent: incident"),
            Ok(()) => info!(kind = key, "alert sent: cleared"),
            Err(e) if change.opened => {
                warn!(kind = key, error = %e, "alert not delivered anywhere; retrying at the next check");
                store.withdraw_incident(key).await?;
            }
            Err(e) => {
                warn!(kind = key, error = %e, "all-clear not delivered anywhere; retrying at the next check");
                store.reopen_incident(key, change.opened_at).await?;
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
