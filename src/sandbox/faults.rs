//! Injected faults: forced statuses, latency, rate limiting, and answers that
//! come late, break or never come after CareHQ created the record. Tests and
//! developers switch them with `Sandbox::set_faults` or `PUT /_sandbox/faults`.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::SandboxError;

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

    /// The forced answer for a request to `path`, if any, counting down `status_times`.
    pub fn take_forced(&mut self, path: &str) -> Option<SandboxError> {
        let code = self.status?;
        // Taken before the countdown below may clear it with the status.
        let hint = self.status_hint.clone();
        if self
            .status_path
            .as_deref()
            .is_some_and(|part| !path.contains(part))
        {
            return None;
        }
        match self.status_times {
            Some(0) => {
                self.status = None;
                self.status_times = None;
                self.status_path = None;
                self.status_hint = None;
                return None;
            }
            Some(n) => {
                self.status_times = Some(n - 1);
                if n == 1 {
                    self.status = None;
                    self.status_times = None;
                    self.status_path = None;
                    self.status_hint = None;
                }
            }
            None => {}
        }
        Some(forced_error(code, hint))
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
        match self.after_create_times {
            Some(n) if n <= 1 => {
                self.answer_delay_ms = 0;
                self.close_after_create = false;
                self.drop_after_create = false;
                self.after_create_times = None;
            }
            Some(n) => self.after_create_times = Some(n - 1),
            None => {}
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
        match self.status {
            Some(code) if !(400..=599).contains(&code) => Some(format!(
                "status {code} is not an error status; use a 4xx or 5xx code such as 500, 503 or 401, or null to clear it"
            )),
            _ => None,
        }
    }
}

fn forced_error(code: u16, hint: Option<String>) -> SandboxError {
    // `problem` keeps the control route from storing other codes; one set in
    // code through `set_faults` falls back to 500 rather than a fake success.
    let status = StatusCode::from_u16(code)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    SandboxError::Forced {
        status,
        hint: hint.unwrap_or_else(|| format!(
            "Sandbox fault: this answer ({}) was forced with the `status` fault. Clear it with PUT _sandbox/faults and body {{}}.",
            status.as_u16()
        )),
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
        return closed_connection();
    }
    if after.break_body {
        return broken_response(&object);
    }
    axum::Json(object).into_response()
}

/// A response whose body fails before its first byte. hyper only buffers the
/// status line and headers until the first body frame is ready; a body that
/// fails at once ends the connection with nothing written, so the client
/// sees the connection close with no answer at all (unlike
/// [`broken_response`], whose 200 reaches the client first).
fn closed_connection() -> Response {
    let failure = futures_util::stream::once(async {
        Err::<bytes::Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "sandbox fault: close_after_create closed the connection",
        ))
    });
    (StatusCode::OK, Body::from_stream(failure)).into_response()
}

/// A 200 whose body starts like the created object and then fails, so the
/// client loses the answer after the record was created.
pub fn broken_response(object: &serde_json::Value) -> Response {
    use futures_util::StreamExt as _;

    let text = object.to_string();
    let partial = bytes::Bytes::copy_from_slice(&text.as_bytes()[..text.len() / 2]);
    let head = futures_util::stream::iter([Ok::<_, std::io::Error>(partial)]);
    // The pause lets hyper flush the status line, headers and first chunk
    // before the error aborts the connection; without it hyper may abort before
    // writing anything and the client would see no response at all.
    let failure = futures_util::stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox fault: drop_after_create broke the response",
        ))
    });
    let body = Body::from_stream(head.chain(failure));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
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
            faults.take_forced("/v1/care-enquiries").map(|e| e.status()),
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert!(faults.take_forced("/v1/care-enquiries").is_some());
        assert!(faults.take_forced("/v1/care-enquiries").is_none());
        assert_eq!(faults, Faults::default());
    }

    #[test]
    fn a_status_without_times_stays_until_cleared() {
        let mut faults = Faults {
            status: Some(500),
            ..Faults::default()
        };
        for _ in 0..5 {
            assert!(faults.take_forced("/v1/care-enquiries").is_some());
        }
        assert_eq!(faults.status, Some(500));
    }

    #[test]
    fn a_status_limited_to_a_path_spares_other_paths() {
        let mut faults = Faults {
            status: Some(503),
            status_times: Some(1),
            status_path: Some("home-visits".into()),
            ..Faults::default()
        };
        assert!(faults.take_forced("/v1/care-enquiries").is_none());
        assert!(faults.take_forced("/v1/home-visits").is_some());
        assert!(faults.take_forced("/v1/home-visits").is_none());
        assert_eq!(faults, Faults::default());
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

    #[test]
    fn success_codes_are_not_accepted_as_faults() {
        let faults = Faults {
            status: Some(200),
            ..Faults::default()
        };
        assert!(faults.problem().is_some());
        assert_eq!(
            Faults {
                status: Some(200),
                ..Faults::default()
            }
            .take_forced("/v1/care-enquiries")
            .map(|e| e.status()),
            Some(StatusCode::INTERNAL_SERVER_ERROR)
        );
    }
}
