//! Injected faults: forced statuses, latency, rate limiting, and answers that
//! come late, break or never come after CareHQ created the record. Tests and
//! developers switch them with `Sandbox::set_faults` or `PUT /_sandbox/faults`.

use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::SandboxError;
use super::fault_kit::{self, ForcedStatus};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Answer every `/v1` request with this status and a JSON `{hint}`; nothing is created.
    pub status: Option<u16>,
    /// Only for the next N requests, then back to normal (None = until cleared).
    pub status_times: Option<u32>,
    /// Force `status` only on requests whose path contains this (e.g.
    /// `"home-visits"`); others pass and do not count towards `status_times`.
    pub status_path: Option<String>,
    /// The forced answer's hint instead of the sandbox's own. CareHQ's hints
    /// can quote what was sent (a refused email address, say): tests use this
    /// to check that such text is kept only where retention clears it.
    pub status_hint: Option<String>,
    /// Sleep this long before handling any `/v1` request (nothing is created
    /// until it has passed: a send cut off meanwhile leaves no record).
    pub latency_ms: u64,
    /// Create the record, then break the response body mid-way.
    pub drop_after_create: bool,
    /// Create the record, then wait this long before answering. A real server
    /// finishes creating after a client gave up (its timeout, its shutdown), so
    /// the re-send of such a send is a duplicate; this shows it.
    pub answer_delay_ms: u64,
    /// Create the record, then close the connection without any answer, not
    /// even a status line: the client cannot tell that it was created.
    pub close_after_create: bool,
    /// Apply the after-create faults (`answer_delay_ms`, `close_after_create`,
    /// `drop_after_create`) to the next N creates only, then clear them
    /// (None = until cleared). Lets a test fault one send and not its re-send.
    pub after_create_times: Option<u32>,
    /// Answer 429 with `Remaining: 0` and `Reset` one second ahead.
    pub rate_limited: bool,
    /// With `rate_limited`: how far ahead `Reset` is, in milliseconds, instead
    /// of one second (a test can then tell "waited for Reset" from "waited a
    /// fixed second").
    pub rate_limit_reset_ms: Option<u64>,
    /// Refuse care enquiries whose `field` is exactly `value` (any case) with
    /// a 400 and `arg_errors` naming the field, as CareHQ refuses values our
    /// own validation lets through. Until cleared: a corrected value passes.
    pub refuse_value: Option<RefusedValue>,
}

/// A parameter value the sandbox refuses (see [`Faults::refuse_value`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefusedValue {
    pub field: String,
    pub value: String,
}

impl Faults {
    /// Answer the next `/v1` request with `status`, then behave normally.
    pub fn once(status: u16) -> Faults {
        Faults {
            status: Some(status),
            status_times: Some(1),
            ..Faults::default()
        }
    }

    /// The same forced status, only for paths containing `part` (e.g. `"home-visits"`).
    pub fn only_on(self, part: &str) -> Faults {
        Faults {
            status_path: Some(part.into()),
            ..self
        }
    }

    /// The forced answer for a request to `path`, if any, counting down
    /// `status_times`; the hint clears with the status.
    pub fn take_forced(&mut self, path: &str) -> Option<SandboxError> {
        // Taken before the countdown may clear it with the status.
        let hint = self.status_hint.clone();
        let had_status = self.status.is_some();
        let status = ForcedStatus {
            status: &mut self.status,
            times: &mut self.status_times,
            path: &mut self.status_path,
        }
        .take(path);
        if had_status && self.status.is_none() {
            self.status_hint = None;
        }
        let status = status?;
        Some(SandboxError::Forced {
            status,
            hint: hint.unwrap_or_else(|| fault_kit::forced_hint(status, "_sandbox/faults")),
        })
    }

    /// What to do with the answer to a create that has just been recorded,
    /// counting down `after_create_times`.
    pub fn take_after_create(&mut self) -> AfterCreate {
        let after = AfterCreate {
            delay: (self.answer_delay_ms > 0)
                .then(|| std::time::Duration::from_millis(self.answer_delay_ms)),
            close: self.close_after_create,
            break_body: self.drop_after_create,
        };
        if after == AfterCreate::default() {
            return after;
        }
        if fault_kit::last_use(&mut self.after_create_times) {
            self.answer_delay_ms = 0;
            self.close_after_create = false;
            self.drop_after_create = false;
        }
        after
    }

    /// The 400 a create with a refused value gets, if it has one.
    pub fn refusal(&self, params: &[(String, String)]) -> Option<SandboxError> {
        let refused = self.refuse_value.as_ref()?;
        params
            .iter()
            .any(|(k, v)| *k == refused.field && v.eq_ignore_ascii_case(&refused.value))
            .then(|| {
                let mut arg_errors = super::error::ArgErrors::new();
                arg_errors.insert(
                    refused.field.clone(),
                    vec!["CareHQ does not accept this value; send another.".into()],
                );
                SandboxError::invalid(arg_errors)
            })
    }

    /// Seconds from now to the `Reset` a forced 429 carries.
    pub fn rate_limit_reset_in(&self) -> f64 {
        self.rate_limit_reset_ms.unwrap_or(1_000) as f64 / 1_000.0
    }

    /// Why these faults cannot be applied, if they cannot.
    pub fn problem(&self) -> Option<String> {
        fault_kit::status_problem(self.status)
    }
}

/// The after-create faults of one create (see [`Faults::take_after_create`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AfterCreate {
    pub delay: Option<std::time::Duration>,
    pub close: bool,
    pub break_body: bool,
}

/// The answer to a create whose record (`object`) now exists, as the faults say.
pub async fn answer_created(after: AfterCreate, object: serde_json::Value) -> Response {
    if let Some(delay) = after.delay {
        tokio::time::sleep(delay).await;
    }
    if after.close {
        return fault_kit::closed_connection(
            "sandbox fault: close_after_create closed the connection",
        );
    }
    if after.break_body {
        return fault_kit::broken_response(
            &object,
            "application/json",
            "sandbox fault: drop_after_create broke the response",
        );
    }
    axum::Json(object).into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    // How a forced status counts down and clears is tested in `fault_kit`;
    // these are what the CareHQ sandbox adds: the hint, the after-create faults.

    #[test]
    fn a_forced_answer_carries_the_hint_which_clears_with_the_status() {
        let mut faults = Faults {
            status_hint: Some("ann@example.com is not accepted".into()),
            ..Faults::once(400)
        };
        match faults.take_forced("/v1/care-enquiries") {
            Some(SandboxError::Forced { status, hint }) => {
                assert_eq!(status, StatusCode::BAD_REQUEST);
                assert_eq!(hint, "ann@example.com is not accepted");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(faults, Faults::default());

        let mut faults = Faults::once(503);
        assert_eq!(
            faults.take_forced("/v1/care-enquiries").map(|e| e.to_string()),
            Some(
                "Sandbox fault: this answer (503) was forced with the `status` fault. Clear it with PUT _sandbox/faults and body {}."
                    .to_owned()
            )
        );
    }

    #[test]
    fn after_create_faults_with_times_apply_that_many_times_then_clear() {
        let mut faults = Faults {
            answer_delay_ms: 1_500,
            close_after_create: true,
            after_create_times: Some(2),
            ..Faults::default()
        };
        let expected = AfterCreate {
            delay: Some(std::time::Duration::from_millis(1_500)),
            close: true,
            break_body: false,
        };
        assert_eq!(faults.take_after_create(), expected);
        assert_eq!(faults.take_after_create(), expected);
        assert_eq!(faults.take_after_create(), AfterCreate::default());
        assert_eq!(faults, Faults::default());

        // Without a count they stay.
        let mut faults = Faults {
            drop_after_create: true,
            ..Faults::default()
        };
        for _ in 0..3 {
            assert!(faults.take_after_create().break_body);
        }
    }
}
