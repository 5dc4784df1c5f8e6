//! What one attempt came to, in one vocabulary for every lane, and the pure
//! mapping from that to the step's next state (docs/design.md, "Delivery
//! semantics"). Each sender judges its own answers into a [`Verdict`]; what
//! a verdict does to the row, the attempt's record and a paused lane is
//! decided here only, so a change to retry or pause handling is made once.

use std::time::Duration;

use super::backoff::{millis, retry_delay};
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
    use AttemptOutcome as O;
    use PauseEffect as P;

    const SCHEDULE: [Duration; 2] = [Duration::from_secs(10), Duration::from_secs(60)];

    fn again(ms: i64, spend_attempt: bool, ambiguous: bool, error: &str) -> Transition {
        let error = error.into();
        Transition::Retry {
            retry_in_ms: ms,
            spend_attempt,
            ambiguous,
            error,
        }
    }

    fn failed(ambiguous: bool, error: &str) -> Transition {
        Transition::Failed {
            ambiguous,
            error: error.into(),
        }
    }

    /// Every verdict, as a first attempt, a probe, and with the schedule spent.
    #[test]
    fn each_verdict_moves_the_row_and_the_lane_as_documented() {
        let synced = |id: Option<&str>| Transition::Synced {
            remote_id: id.map(Into::into),
        };
        let delivered = Verdict::Delivered {
            remote_id: Some("x".into()),
        };
        let five = Verdict::RateLimited(Duration::from_secs(5));
        let pause = Verdict::Pause("401".into());
        let missing = Verdict::Missing("gone".into());
        let unsendable = Verdict::Unsendable("unreadable".into());
        let (retry, unsure) = (
            Verdict::Retry { ambiguous: false },
            Verdict::Retry { ambiguous: true },
        );
        #[rustfmt::skip]
        let cases = [
            // verdict, attempts before, probe: outcome, transition, pause
            (&delivered, 0, true, O::Synced, synced(Some("x")), P::None),
            (&Verdict::NotNeeded, 0, false, O::NotNeeded, synced(None), P::None),
            (&unsure, 0, false, O::Ambiguous, again(10_000, true, true, "s"), P::None),
            (&retry, 1, true, O::Retry, again(60_000, true, false, "s"), P::RestartClock),
            (&unsure, 2, false, O::Failed, failed(true, "gave up after 3 attempts: s"), P::None),
            (&five, 0, false, O::RateLimited, again(5_000, false, false, "s"), P::None),
            (&five, 0, true, O::RateLimited, again(5_000, false, false, "s"), P::RestartClock),
            (&Verdict::NotSent, 0, true, O::Deferred, again(0, false, false, "s"), P::None),
            (&pause, 0, false, O::Paused, again(0, false, false, "401"), P::Pause("401".into())),
            (&Verdict::Refused, 0, true, O::Failed, failed(false, "s"), P::Resume),
            (&Verdict::Refused, 0, false, O::Failed, failed(false, "s"), P::None),
            (&missing, 0, true, O::Failed, failed(false, "gone"), P::RestartClock),
            (&unsendable, 0, true, O::Failed, failed(false, "unreadable"), P::None),
        ];
        for (verdict, attempts, probe, outcome, transition, pause) in cases {
            let at = Context {
                attempts,
                schedule: &SCHEDULE,
                random: 0.5,
                probe,
            };
            let expected = Plan {
                outcome,
                transition,
                pause,
            };
            assert_eq!(
                plan(verdict, "s", &at),
                expected,
                "{verdict:?} probe={probe}"
            );
        }
    }
}
