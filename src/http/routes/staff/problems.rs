//! The problems `/status` reports, said for the people who answer a home's
//! enquiries: what is happening, whether enquiries are safe, what to do.
//! The same conditions and thresholds as `/status` (`[status]`).

use std::time::Duration;

use super::words::when;
use crate::config::StatusSettings;
use crate::storage::{DeliveryState, StatusFigures};
use crate::values::format_duration;

/// `deliveries`: each CareHQ account's state, the default first.
pub fn in_words(
    figures: &StatusFigures,
    deliveries: &[(String, DeliveryState)],
    thresholds: &StatusSettings,
    now: i64,
) -> Vec<String> {
    let mut problems = Vec::new();
    let accounts = (deliveries.iter())
        .filter(|(lane, _)| !lane.starts_with("destination:"))
        .count();
    for (account, delivery) in deliveries.iter().filter(|(_, d)| d.is_paused()) {
        let since = delivery
            .paused_at
            .map(|at| format!(" at {}", when(at)))
            .unwrap_or_default();
        if let Some(destination) = account.strip_prefix("destination:") {
            problems.push(format!(
                "The system \"{destination}\" refused our credentials{since}; copies for it are kept and not sent until whoever runs this service fixes its settings. CareHQ still gets every enquiry."
            ));
            continue;
        }
        let whose = match accounts {
            1 => String::new(),
            _ => format!(" of account {account}"),
        };
        problems.push(format!(
            "CareHQ refused the credentials{whose}{since}; nothing is being sent to it; enquiries are kept. Ask whoever runs this service to fix the CareHQ settings: sending resumes by itself once CareHQ accepts them."
        ));
    }
    if let Some(oldest) = figures.total.oldest_pending_at {
        let age = now.saturating_sub(oldest);
        let limit = i64::try_from(thresholds.max_pending_age.as_millis()).unwrap_or(i64::MAX);
        if age > limit {
            problems.push(format!(
                "The oldest waiting enquiry has waited {} to reach CareHQ. Enquiries are kept and sent as soon as CareHQ takes them; if a family is waiting, call them.",
                format_duration(Duration::from_millis(age.max(0) as u64))
            ));
        }
    }
    if thresholds.failed_is_degraded && figures.total.failed > 0 {
        problems.push(format!(
            "{} could not be delivered. Open Enquiries, choose the state Failed, read CareHQ's reason and send each one again (or correct it).",
            capitalised(&figures.failed_in_words())
        ));
    }
    if thresholds.failed_is_degraded && figures.visits_waiting_on_failed > 0 {
        problems.push(format!(
            "{} for an enquiry that could not be delivered, so the times the families chose are offered to others again. Send the enquiry again, or call the family.",
            plural(figures.visits_waiting_on_failed, "home visit waits", "home visits wait")
        ));
    }
    if figures.total.held > 0 {
        problems.push(format!(
            "{} for a person to check: the spam checks could not clear them, and they are not sent until released. Open Enquiries, choose Held, and release each one from a real family.",
            plural(figures.total.held, "enquiry is held", "enquiries are held")
        ));
    }
    problems
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
