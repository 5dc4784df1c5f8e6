//! What makes the service degraded, found once. `/status` says each
//! condition for operators and monitors (`degraded`); the console's overview
//! says it for the staff who answer a home's enquiries (`staff::problems`).
//! Same conditions, same thresholds (`[status]`), same order: only the
//! words differ, so the two can never disagree on whether something is wrong.

use std::time::Duration;

use crate::config::StatusSettings;
use crate::storage::{DeliveryState, StatusFigures};

pub enum Condition<'a> {
    /// A destination (a `destination:NAME` lane) refused its credentials.
    DestinationPaused {
        name: &'a str,
        delivery: &'a DeliveryState,
    },
    /// A CareHQ account refused its credentials; `alone`: it is the only
    /// account, so it needs no name.
    AccountPaused {
        account: &'a str,
        delivery: &'a DeliveryState,
        alone: bool,
    },
    /// The oldest waiting enquiry has waited this long (over
    /// `status.max_pending_age`).
    WaitedTooLong(Duration),
    /// Enquiries that could not be delivered, in words ("2 deliveries"),
    /// while `status.failed_is_degraded`.
    Failed(String),
    /// Home visits waiting on failed enquiries.
    VisitsWaitingOnFailed(i64),
    /// Enquiries held for a person to check.
    Held(i64),
}

/// Every condition that holds, pauses first (in `deliveries`' order: each
/// CareHQ account's lane, the default first, then destinations).
pub fn conditions<'a>(
    figures: &StatusFigures,
    deliveries: &'a [(String, DeliveryState)],
    thresholds: &StatusSettings,
    now: i64,
) -> Vec<Condition<'a>> {
    let accounts = (deliveries.iter())
        .filter(|(lane, _)| destination_of(lane).is_none())
        .count();
    let mut found: Vec<Condition<'a>> = (deliveries.iter())
        .filter(|(_, delivery)| delivery.is_paused())
        .map(|(lane, delivery)| match destination_of(lane) {
            Some(name) => Condition::DestinationPaused { name, delivery },
            None => Condition::AccountPaused {
                account: lane,
                delivery,
                alone: accounts == 1,
            },
        })
        .collect();
    if let Some(oldest) = figures.total.oldest_pending_at {
        let age = now.saturating_sub(oldest);
        let limit = i64::try_from(thresholds.max_pending_age.as_millis()).unwrap_or(i64::MAX);
        if age > limit {
            found.push(Condition::WaitedTooLong(Duration::from_millis(
                age.max(0) as u64
            )));
        }
    }
    if thresholds.failed_is_degraded && figures.total.failed > 0 {
        found.push(Condition::Failed(figures.failed_in_words()));
    }
    // A consequence of a failed enquiry, so it follows the same switch; said
    // on its own because the family asked for a time that is no longer held.
    if thresholds.failed_is_degraded && figures.visits_waiting_on_failed > 0 {
        found.push(Condition::VisitsWaitingOnFailed(
            figures.visits_waiting_on_failed,
        ));
    }
    // Held enquiries are never sent until a person looks, whatever else holds.
    if figures.total.held > 0 {
        found.push(Condition::Held(figures.total.held));
    }
    found
}

/// The destination a lane name (`destination:NAME`) is of; `None` for a
/// CareHQ account.
pub fn destination_of(lane: &str) -> Option<&str> {
    lane.strip_prefix("destination:")
}
