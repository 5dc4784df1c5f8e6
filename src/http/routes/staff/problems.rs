//! The problems `/status` reports, said for the people who answer a home's
//! enquiries: what is happening, whether enquiries are safe, what to do.
//! The same conditions and thresholds as `/status` (`[status]`): found by
//! `status::conditions`, said here.

use super::words::when;
use crate::http::routes::status::conditions::Condition;
use crate::storage::DeliveryState;
use crate::values::format_duration;

/// Each condition `/status` reports, in a sentence for staff.
pub fn in_words(found: &[Condition<'_>]) -> Vec<String> {
    found.iter().map(sentence).collect()
}

fn sentence(condition: &Condition<'_>) -> String {
    let since = |delivery: &DeliveryState| {
        (delivery.paused_at)
            .map(|at| format!(" at {}", when(at)))
            .unwrap_or_default()
    };
    match condition {
        Condition::DestinationPaused { name, delivery } => format!(
            "The system \"{name}\" refused our credentials{}; copies for it are kept and not sent until whoever runs this service fixes its settings. CareHQ still gets every enquiry.",
            since(delivery)
        ),
        Condition::AccountPaused {
            account,
            delivery,
            alone,
        } => {
            let whose = match alone {
                true => String::new(),
                false => format!(" of account {account}"),
            };
            format!(
                "CareHQ refused the credentials{whose}{}; nothing is being sent to it; enquiries are kept. Ask whoever runs this service to fix the CareHQ settings: sending resumes by itself once CareHQ accepts them.",
                since(delivery)
            )
        }
        Condition::WaitedTooLong(age) => format!(
            "The oldest waiting enquiry has waited {} to reach CareHQ. Enquiries are kept and sent as soon as CareHQ takes them; if a family is waiting, call them.",
            format_duration(*age)
        ),
        Condition::Failed(failed) => format!(
            "{} could not be delivered. Open Enquiries, choose the state Failed, read CareHQ's reason and send each one again (or correct it).",
            capitalised(failed)
        ),
        Condition::VisitsWaitingOnFailed(n) => format!(
            "{} for an enquiry that could not be delivered, so the times the families chose are offered to others again. Send the enquiry again, or call the family.",
            plural(*n, "home visit waits", "home visits wait")
        ),
        Condition::Held(n) => format!(
            "{} for a person to check: the spam checks could not clear them, and they are not sent until released. Open Enquiries, choose Held, and release each one from a real family.",
            plural(*n, "enquiry is held", "enquiries are held")
        ),
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StatusSettings;
    use crate::http::routes::status::conditions::conditions;
    use crate::storage::StatusFigures;
    use std::time::Duration;

    /// Found and said at `now`, as the overview does.
    fn in_words(
        figures: &StatusFigures,
        deliveries: &[(String, DeliveryState)],
        thresholds: &StatusSettings,
        now: i64,
    ) -> Vec<String> {
        super::in_words(&conditions(figures, deliveries, thresholds, now))
    }

    fn one(state: DeliveryState) -> Vec<(String, DeliveryState)> {
        vec![("default".to_owned(), state)]
    }

    fn thresholds() -> StatusSettings {
        StatusSettings {
            max_pending_age: Duration::from_secs(30 * 60),
            failed_is_degraded: true,
        }
    }

    #[test]
    fn a_pause_says_when_and_that_enquiries_are_kept() {
        let paused = DeliveryState {
            paused_reason: Some("401".into()),
            paused_at: Some(9 * 60 * 60 * 1000 + 14 * 60 * 1000),
            ..DeliveryState::default()
        };
        let words = in_words(&StatusFigures::default(), &one(paused), &thresholds(), 0);
        assert_eq!(words.len(), 1);
        assert!(
            words[0].starts_with("CareHQ refused the credentials at 1970-01-01 09:14 UTC; nothing is being sent to it; enquiries are kept."),
            "{words:?}"
        );
        assert!(
            in_words(
                &StatusFigures::default(),
                &one(DeliveryState::default()),
                &thresholds(),
                0
            )
            .is_empty()
        );
    }

    #[test]
    fn held_and_failed_are_counted_in_words() {
        let mut figures = StatusFigures::default();
        figures.total.held = 1;
        figures.total.failed = 2;
        let words = in_words(&figures, &one(DeliveryState::default()), &thresholds(), 0);
        assert!(
            words[0].starts_with("2 deliveries could not be delivered"),
            "{words:?}"
        );
        assert!(
            words[1].starts_with("1 enquiry is held for a person"),
            "{words:?}"
        );
    }
}
