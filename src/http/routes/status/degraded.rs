//! Why `/status` answers 503: each problem as a sentence that says what to
//! do. Pure (figures, delivery states and thresholds in, sentences out), so
//! every condition is tested here on its own.

use crate::config::StatusSettings;
use crate::storage::{DeliveryState, StatusFigures};

/// Why the service counts as degraded; empty when it is healthy.
/// `deliveries`: each CareHQ account's state, the default first.
pub(super) fn degraded_because(
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

/// The destination a lane name (`destination:NAME`) is of; `None` for a
/// CareHQ account.
pub(super) fn destination_of(lane: &str) -> Option<&str> {
    lane.strip_prefix("destination:")
}

/// Where an account's credentials are set, for a message.
fn settings_of(account: &str) -> String {
    match account {
        crate::config::DEFAULT_ACCOUNT => "the [carehq] settings".to_owned(),
        name => format!("the settings of [[accounts]] name = \"{name}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[status]` as shipped: degraded after 30 minutes' wait, and while any
    /// enquiry is failed.
    fn thresholds() -> StatusSettings {
        StatusSettings::default()
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
}
