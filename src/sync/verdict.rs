//! What one attempt came to, in one vocabulary for every lane, and the pure
//! mapping from that to the step's next state (DESIGN.md "Delivery
//! semantics"). Each sender judges its own answers into a [`Verdict`]; what
//! a verdict does to the row, the attempt's record and a paused lane is
//! decided here only, so a change to retry or pause handling is made once.

use std::time::Duration;

use super::backoff::retry_delay;
use super::record::millis;
use crate::storage::{AttemptOutcome, Transition};

/// A sender's judgement of one attempt (or of why it was not made).
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// The destination has it.
    Delivered { remote_id: Option<String> },
    /// Nothing to send any more (a fallback email once CareHQ has the
    /// enquiry): the step is closed without sending.
    NotNeeded,
    /// Transient: again on the retry schedule. `ambiguous` when it may have
    /// arrived (a timeout, a connection cut after the request went).
    Retry { ambiguous: bool },
    /// Asked to slow down: again after this, no attempt spent.
    RateLimited(Duration),
    /// Not sent: too little of the lease was left. Due again at once.
    NotSent,
    /// Credentials, permissions or configuration: the lane pauses; the
    /// row is not at fault and waits. The reason is for staff.
    Pause(String),
    /// The destination judged this request and refused it: failed for
    /// staff. It also proves the lane's credentials work.
    Refused,
    /// Something this row refers to is gone at the destination (a 404):
    /// failed for staff with this reason. No verdict on a pause.
    Missing(String),
    /// Cannot be sent at all (its data unreadable, its site or destination
    /// gone from the config): failed for staff with this reason, unsent.
    Unsendable(String),
}

/// What a send (or the decision not to send) reports to the pipeline.
#[derive(Debug)]
pub struct Answer {
    pub verdict: Verdict,
    pub http_status: Option<u16>,
    /// Our own words for what happened: logged and kept past retention, so
    /// free of personal data. `None` for a plain success.
    pub summary: Option<String>,
    /// The destination's own words, which can quote the family: kept in the
    /// attempt's (sealed) hint, cleared by retention, never logged.
    pub hint: Option<String>,
    /// CareHQ's `arg_errors`, as JSON text (treated as `hint`).
    pub arg_errors: Option<String>,
}

impl Answer {
    /// A verdict with our own words and nothing from the destination.
    pub fn new(verdict: Verdict, summary: impl Into<Option<String>>) -> Answer {
        Answer {
            verdict,
            http_status: None,
            summary: summary.into(),
            hint: None,
            arg_errors: None,
        }
    }

    pub fn status(mut self, status: Option<u16>) -> Answer {
        self.http_status = status;
        self
    }
}

/// What a verdict does to a lane that may be paused.
#[derive(Debug, PartialEq)]
pub enum PauseEffect {
    None,
    /// Pause the lane with this reason.
    Pause(String),
    /// A probe was judged by the destination: the credentials work.
    Resume,
    /// A probe got no verdict on the pause: probe again after the interval.
    RestartClock,
}

/// The step's next state, the attempt's outcome and the lane's pause.
#[derive(Debug, PartialEq)]
pub struct Plan {
    pub outcome: AttemptOutcome,
    pub transition: Transition,
    pub pause: PauseEffect,
}

/// Where the row stands when its verdict is applied.
pub struct Context<'a> {
    /// Attempts spent before this one.
    pub attempts: i64,
    pub schedule: &'a [Duration],
    /// A uniform sample from [0, 1) for the retry's jitter.
    pub random: f64,
    /// The row was sent as a probe of a paused lane.
    pub probe: bool,
}

/// The one mapping from a verdict to what happens next. `summary` is the
/// attempt's own words (kept as the row's last error).
pub fn plan(verdict: &Verdict, summary: &str, at: &Context) -> Plan {
    let fail =
        |outcome, ambiguous, error: String| (outcome, Transition::Failed { ambiguous, error });
    let wait = |outcome, delay: Duration, error: &str| {
        let transition = Transition::Retry {
            retry_in_ms: millis(delay),
            spend_attempt: false,
            ambiguous: false,
            error: error.to_owned(),
        };
        (outcome, transition)
    };
    let ((outcome, transition), pause) = match verdict {
        Verdict::Delivered { remote_id } => {
            let synced = Transition::Synced {
                remote_id: remote_id.clone(),
            };
            ((AttemptOutcome::Synced, synced), PauseEffect::None)
        }
        Verdict::NotNeeded => {
            let closed = Transition::Synced { remote_id: None };
            ((AttemptOutcome::NotNeeded, closed), PauseEffect::None)
        }
        Verdict::Retry { ambiguous } => (retry(*ambiguous, summary, at), unproven(at)),
        Verdict::RateLimited(delay) => {
            let waits = wait(AttemptOutcome::RateLimited, *delay, summary);
            (waits, unproven(at))
        }
        Verdict::NotSent => (
            wait(AttemptOutcome::Deferred, Duration::ZERO, summary),
            PauseEffect::None,
        ),
        Verdict::Pause(reason) => (
            wait(AttemptOutcome::Paused, Duration::ZERO, reason),
            PauseEffect::Pause(reason.clone()),
        ),
        Verdict::Refused => {
            let resume = match at.probe {
                true => PauseEffect::Resume,
                false => PauseEffect::None,
            };
            let failed = fail(AttemptOutcome::Failed, false, summary.to_owned());
            (failed, resume)
        }
        Verdict::Missing(reason) => (
            fail(AttemptOutcome::Failed, false, reason.clone()),
            unproven(at),
        ),
        Verdict::Unsendable(reason) => (
            fail(AttemptOutcome::Failed, false, reason.clone()),
            PauseEffect::None,
        ),
    };
    Plan {
        outcome,
        transition,
        pause,
    }
}

/// A probe whose answer says nothing about the pause.
fn unproven(at: &Context) -> PauseEffect {
    match at.probe {
        true => PauseEffect::RestartClock,
        false => PauseEffect::None,
    }
}

/// Again after the schedule's next delay, or failed once it is spent.
fn retry(ambiguous: bool, summary: &str, at: &Context) -> (AttemptOutcome, Transition) {
    let spent = at.attempts + 1;
    let Some(delay) = retry_delay(at.schedule, spent, at.random) else {
        let error = format!("gave up after {spent} attempts: {summary}");
        return (
            AttemptOutcome::Failed,
            Transition::Failed { ambiguous, error },
        );
    };
    let outcome = match ambiguous {
        true => AttemptOutcome::Ambiguous,
        false => AttemptOutcome::Retry,
    };
    let again = Transition::Retry {
        retry_in_ms: millis(delay),
        spend_attempt: true,
        ambiguous,
        error: summary.to_owned(),
    };
    (outcome, again)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: [Duration; 2] = [Duration::from_secs(10), Duration::from_secs(60)];

    fn at(attempts: i64, probe: bool) -> Context<'static> {
        Context {
            attempts,
            schedule: &SCHEDULE,
            random: 0.5,
            probe,
        }
    }

    fn retry_in(ms: i64, spend_attempt: bool, ambiguous: bool, error: &str) -> Transition {
        Transition::Retry {
            retry_in_ms: ms,
            spend_attempt,
            ambiguous,
            error: error.into(),
        }
    }

    fn failed(ambiguous: bool, error: &str) -> Transition {
        Transition::Failed {
            ambiguous,
            error: error.into(),
        }
    }

    #[test]
    fn a_success_is_synced_and_a_closed_step_too() {
        let delivered = Verdict::Delivered {
            remote_id: Some("x".into()),
        };
        let p = plan(&delivered, "", &at(0, true));
        assert_eq!(p.outcome, AttemptOutcome::Synced);
        assert_eq!(
            p.transition,
            Transition::Synced {
                remote_id: Some("x".into())
            }
        );
        // The success's own transaction lifts the pause.
        assert_eq!(p.pause, PauseEffect::None);
        let p = plan(&Verdict::NotNeeded, "not needed", &at(0, false));
        assert_eq!(p.outcome, AttemptOutcome::NotNeeded);
        assert_eq!(p.transition, Transition::Synced { remote_id: None });
    }

    #[test]
    fn a_transient_failure_follows_the_schedule_then_fails() {
        let p = plan(&Verdict::Retry { ambiguous: true }, "503", &at(0, false));
        assert_eq!(p.outcome, AttemptOutcome::Ambiguous);
        assert_eq!(p.transition, retry_in(10_000, true, true, "503"));
        let p = plan(
            &Verdict::Retry { ambiguous: false },
            "refused",
            &at(1, true),
        );
        assert_eq!(p.outcome, AttemptOutcome::Retry);
        assert_eq!(p.transition, retry_in(60_000, true, false, "refused"));
        assert_eq!(p.pause, PauseEffect::RestartClock);
        let p = plan(&Verdict::Retry { ambiguous: true }, "503", &at(2, false));
        assert_eq!(p.outcome, AttemptOutcome::Failed);
        assert_eq!(p.transition, failed(true, "gave up after 3 attempts: 503"));
    }

    #[test]
    fn waits_spend_no_attempt() {
        let p = plan(
            &Verdict::RateLimited(Duration::from_secs(5)),
            "429",
            &at(0, false),
        );
        assert_eq!(p.outcome, AttemptOutcome::RateLimited);
        assert_eq!(p.transition, retry_in(5_000, false, false, "429"));
        let p = plan(&Verdict::NotSent, "lease", &at(0, true));
        assert_eq!(p.outcome, AttemptOutcome::Deferred);
        assert_eq!(p.transition, retry_in(0, false, false, "lease"));
        assert_eq!(p.pause, PauseEffect::None, "nothing was asked");
    }

    #[test]
    fn a_pause_waits_and_pauses_the_lane() {
        let p = plan(&Verdict::Pause("401".into()), "ignored", &at(0, false));
        assert_eq!(p.outcome, AttemptOutcome::Paused);
        assert_eq!(p.transition, retry_in(0, false, false, "401"));
        assert_eq!(p.pause, PauseEffect::Pause("401".into()));
    }

    #[test]
    fn failures_fail_and_only_a_refusal_resumes_a_probe() {
        let p = plan(&Verdict::Refused, "422", &at(0, true));
        assert_eq!(
            (p.outcome, p.pause),
            (AttemptOutcome::Failed, PauseEffect::Resume)
        );
        assert_eq!(p.transition, failed(false, "422"));
        let p = plan(&Verdict::Refused, "422", &at(0, false));
        assert_eq!(p.pause, PauseEffect::None);
        let p = plan(&Verdict::Missing("gone".into()), "404", &at(0, true));
        assert_eq!(p.transition, failed(false, "gone"));
        assert_eq!(p.pause, PauseEffect::RestartClock);
        let p = plan(&Verdict::Unsendable("unreadable".into()), "", &at(0, true));
        assert_eq!(p.transition, failed(false, "unreadable"));
        assert_eq!(p.pause, PauseEffect::None, "nothing was asked");
    }
}
