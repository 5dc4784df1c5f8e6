//! Why `/status` answers 503: each condition (`conditions`) as a sentence
//! that says what to do, for operators and monitors. Pure, so every
//! condition is tested here on its own.

use super::conditions::Condition;
use crate::storage::DeliveryState;

/// Why the service counts as degraded, one sentence a condition; empty when
/// it is healthy.
pub(super) fn degraded_because(found: &[Condition<'_>]) -> Vec<String> {
    found.iter().map(sentence).collect()
}

fn sentence(condition: &Condition<'_>) -> String {
    let paused = |delivery: &DeliveryState| delivery.paused_reason.clone().unwrap_or_default();
    match condition {
        Condition::DestinationPaused { name, delivery } => format!(
            "delivery to destination {name} is paused: {}. Its copies are kept and sent once it accepts the credentials; CareHQ delivery is not held up",
            paused(delivery)
        ),
        Condition::AccountPaused {
            delivery,
            alone: true,
            ..
        } => format!(
            "delivery to CareHQ is paused: {}. Fix the CareHQ settings; delivery resumes by itself once CareHQ accepts them",
            paused(delivery)
        ),
        Condition::AccountPaused {
            account, delivery, ..
        } => format!(
            "delivery to CareHQ account {account} is paused: {}. Fix {}; its homes' enquiries are kept and sent once CareHQ accepts them, and other accounts' homes are not held up",
            paused(delivery),
            settings_of(account)
        ),
        Condition::WaitedTooLong(age) => format!(
            "the oldest waiting enquiry has waited {} (more than status.max_pending_age); see last_error and CareHQ's status",
            crate::values::format_duration(*age)
        ),
        Condition::Failed(failed) => format!(
            "{failed} could not be delivered and wait for staff: `enquiry-relay enquiries list --status failed`, then `enquiries show ID` and `enquiries retry ID`"
        ),
        Condition::VisitsWaitingOnFailed(n) => {
            let (visits, enquiries) = if *n == 1 {
                ("1 home visit waits".to_owned(), "an enquiry")
            } else {
                (format!("{n} home visits wait"), "enquiries")
            };
            format!(
                "{visits} for {enquiries} that could not be delivered, and the chosen times are offered to other families again: retry the enquiry (`enquiry-relay enquiries list --status waiting`, then `enquiries retry ID`) or call the family"
            )
        }
        Condition::Held(n) => {
            let held = if *n == 1 {
                "1 enquiry is held".to_owned()
            } else {
                format!("{n} enquiries are held")
            };
            format!(
                "{held} for a person to check (the spam checks could not clear them) and will not be sent until released: `enquiry-relay enquiries list --status held`, then `enquiries show ID` and `enquiries release ID` for each real family"
            )
        }
    }
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
    use crate::config::StatusSettings;
    use crate::http::routes::status::conditions::conditions;
    use crate::storage::StatusFigures;

    fn degraded_because(
        figures: &StatusFigures,
        deliveries: &[(String, DeliveryState)],
        thresholds: &StatusSettings,
        now: i64,
    ) -> Vec<String> {
        super::degraded_because(&conditions(figures, deliveries, thresholds, now))
    }

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
