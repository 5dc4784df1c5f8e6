//! Injected faults: forced statuses (per path, for the next N requests),
//! latency, the token endpoint down, endpoints moved, and answers lost after
//! a bundle was accepted. Tests and developers switch them with
//! `FhirSandbox::set_faults` or `PUT /_sandbox/faults`.

use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::errors::FHIR_JSON;
use crate::sandbox::fault_kit::{self, ForcedStatus};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Answer API requests with this status (an OperationOutcome, or an
    /// OAuth error on the token endpoint); nothing is issued or accepted.
    pub status: Option<u16>,
    /// Only for the next N matching requests, then cleared (None = until cleared).
    pub status_times: Option<u32>,
    /// Force `status` only on paths containing this (e.g. `"token"`,
    /// `"care-enquiries"`); others pass and do not count down.
    pub status_path: Option<String>,
    /// Sleep this long before handling any API request (before anything is
    /// issued or accepted).
    pub latency_ms: u64,
    /// The token endpoint answers 503 `temporarily_unavailable`.
    pub token_endpoint_down: bool,
    /// The token and bundle endpoints move to `/moved/...`: the discovery
    /// documents say so and the old paths answer 404. A client that
    /// hard-coded a URI (docs/design.md, "FHIR destination", forbids it) fails.
    pub move_endpoints: bool,
    /// Accept the bundle, then break the response body mid-way.
    pub drop_after_accept: bool,
    /// Accept the bundle, then close the connection with no answer at all.
    pub close_after_accept: bool,
    /// Apply the after-accept faults to the next N accepted bundles only,
    /// then clear them (None = until cleared): faults a send, not its re-send.
    pub after_accept_times: Option<u32>,
}

impl Faults {
    /// Answer the next API request with `status`, then behave normally.
    pub fn once(status: u16) -> Faults {
        Faults {
            status: Some(status),
            status_times: Some(1),
            ..Faults::default()
        }
    }

    /// Answer the next `times` requests to paths containing `part` with `status`.
    pub fn on_path(part: &str, status: u16, times: u32) -> Faults {
        Faults {
            status: Some(status),
            status_times: Some(times),
            status_path: Some(part.to_owned()),
            ..Faults::default()
        }
    }

    /// The status forced on a request to `path`, if any, counting down `status_times`.
    pub fn take_forced(&mut self, path: &str) -> Option<StatusCode> {
        ForcedStatus {
            status: &mut self.status,
            times: &mut self.status_times,
            path: &mut self.status_path,
        }
        .take(path)
    }

    /// What happens to the answer of a bundle just accepted, counting down
    /// `after_accept_times`.
    pub fn take_after_accept(&mut self) -> AfterAccept {
        let after = if self.close_after_accept {
            AfterAccept::Close
        } else if self.drop_after_accept {
            AfterAccept::BreakBody
        } else {
            return AfterAccept::Answer;
        };
        if fault_kit::last_use(&mut self.after_accept_times) {
            self.close_after_accept = false;
            self.drop_after_accept = false;
        }
        after
    }

    /// Why these faults cannot be applied, if they cannot.
    pub fn problem(&self) -> Option<String> {
        fault_kit::status_problem(self.status)
    }
}

/// The fate of one accepted bundle's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterAccept {
    Answer,
    /// A 200 whose body breaks after its first half.
    BreakBody,
    /// No answer at all: the connection closes.
    Close,
}

/// `body` (a 200 FHIR answer) as `after` says.
pub fn answer_accepted(after: AfterAccept, body: &serde_json::Value) -> Response {
    match after {
        AfterAccept::Answer => super::errors::fhir_json(StatusCode::OK, body),
        AfterAccept::BreakBody => fault_kit::broken_response(
            body,
            FHIR_JSON,
            "fhir sandbox fault: drop_after_accept broke the response",
        ),
        AfterAccept::Close => fault_kit::closed_connection(
            "fhir sandbox fault: close_after_accept closed the connection",
        ),
    }
}

#[cfg(test)]
mod tests {
    // How a forced status counts down and clears is tested in
    // `crate::sandbox::fault_kit`; these are what the FHIR sandbox adds.
    use super::*;

    #[test]
    fn on_path_forces_a_status_on_those_paths_for_that_many_requests() {
        let mut faults = Faults::on_path("care-enquiries", 500, 1);
        assert!(faults.take_forced("/connect/token").is_none());
        assert_eq!(
            faults.take_forced("/fhir/r4/care-enquiries"),
            Some(StatusCode::INTERNAL_SERVER_ERROR)
        );
        assert_eq!(faults, Faults::default());
    }

    #[test]
    fn after_accept_faults_with_times_clear_after_that_many_bundles() {
        let mut faults = Faults {
            close_after_accept: true,
            after_accept_times: Some(1),
            ..Faults::default()
        };
        assert_eq!(faults.take_after_accept(), AfterAccept::Close);
        assert_eq!(faults.take_after_accept(), AfterAccept::Answer);
        assert_eq!(faults, Faults::default());

        let mut faults = Faults {
            drop_after_accept: true,
            ..Faults::default()
        };
        for _ in 0..3 {
            assert_eq!(faults.take_after_accept(), AfterAccept::BreakBody);
        }
    }
}
