//! Injected faults: forced statuses (per path, for the next N requests),
//! latency, the token endpoint down, endpoints moved, and answers lost after
//! a bundle was accepted. Tests and developers switch them with
//! `FhirSandbox::set_faults` or `PUT /_sandbox/faults`.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::errors::FHIR_JSON;

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
        let code = self.status?;
        if self
            .status_path
            .as_deref()
            .is_some_and(|part| !path.contains(part))
        {
            return None;
        }
        match self.status_times {
            Some(0) => {
                self.clear_status();
                return None;
            }
            Some(1) => self.clear_status(),
            Some(n) => self.status_times = Some(n - 1),
            None => {}
        }
        // `problem` keeps the control route from storing other codes; one set
        // in code falls back to 500 rather than a fake success.
        Some(
            StatusCode::from_u16(code)
                .ok()
                .filter(|s| s.is_client_error() || s.is_server_error())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        )
    }

    fn clear_status(&mut self) {
        self.status = None;
        self.status_times = None;
        self.status_path = None;
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
        match self.after_accept_times {
            Some(n) if n <= 1 => {
                self.close_after_accept = false;
                self.drop_after_accept = false;
                self.after_accept_times = None;
            }
            Some(n) => self.after_accept_times = Some(n - 1),
            None => {}
        }
        after
    }

    /// Why these faults cannot be applied, if they cannot.
    pub fn problem(&self) -> Option<String> {
        match self.status {
            Some(code) if !(400..=599).contains(&code) => Some(format!(
                "status {code} is not an error status; use a 4xx or 5xx code such as 500, 503 or 401, or null to clear it"
            )),
            _ => None,
        }
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
        AfterAccept::BreakBody => broken_response(body),
        AfterAccept::Close => closed_connection(),
    }
}

/// A response whose body fails before its first byte. hyper only buffers the
/// status line and headers until the first body frame is ready, so the
/// client sees the connection close with nothing written.
fn closed_connection() -> Response {
    let failure = futures_util::stream::once(async {
        Err::<bytes::Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "fhir sandbox fault: close_after_accept closed the connection",
        ))
    });
    (StatusCode::OK, Body::from_stream(failure)).into_response()
}

/// A 200 whose body starts like the answer and then fails: the client loses
/// the answer after the bundle was accepted.
fn broken_response(body: &serde_json::Value) -> Response {
    use futures_util::StreamExt as _;

    let text = body.to_string();
    let partial = bytes::Bytes::copy_from_slice(&text.as_bytes()[..text.len() / 2]);
    let head = futures_util::stream::iter([Ok::<_, std::io::Error>(partial)]);
    // The pause lets hyper flush the status line, headers and first chunk
    // before the error aborts the connection.
    let failure = futures_util::stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fhir sandbox fault: drop_after_accept broke the response",
        ))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON))],
        Body::from_stream(head.chain(failure)),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_with_times_is_forced_that_many_times_then_cleared() {
        let mut faults = Faults {
            status: Some(503),
            status_times: Some(2),
            ..Faults::default()
        };
        assert_eq!(
            faults.take_forced("/connect/token"),
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert!(faults.take_forced("/fhir/r4/care-enquiries").is_some());
        assert!(faults.take_forced("/fhir/r4/care-enquiries").is_none());
        assert_eq!(faults, Faults::default());
    }

    #[test]
    fn a_status_on_a_path_spares_other_paths_and_does_not_count_them() {
        let mut faults = Faults::on_path("care-enquiries", 500, 1);
        assert!(faults.take_forced("/connect/token").is_none());
        assert!(
            faults
                .take_forced("/.well-known/discovery-document.json")
                .is_none()
        );
        assert_eq!(
            faults.take_forced("/fhir/r4/care-enquiries"),
            Some(StatusCode::INTERNAL_SERVER_ERROR)
        );
        assert!(faults.take_forced("/fhir/r4/care-enquiries").is_none());
    }

    #[test]
    fn a_status_without_times_stays_until_cleared() {
        let mut faults = Faults {
            status: Some(502),
            ..Faults::default()
        };
        for _ in 0..4 {
            assert!(faults.take_forced("/connect/token").is_some());
        }
        assert_eq!(faults.status, Some(502));
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

    #[test]
    fn success_codes_are_not_accepted_as_faults() {
        let mut faults = Faults {
            status: Some(200),
            ..Faults::default()
        };
        assert!(faults.problem().is_some());
        assert_eq!(
            faults.take_forced("/connect/token"),
            Some(StatusCode::INTERNAL_SERVER_ERROR)
        );
    }
}
