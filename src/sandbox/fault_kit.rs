//! The fault machinery both sandboxes share (the CareHQ sandbox here, the
//! FHIR sandbox in `crate::fhir_sandbox`): a status forced on the next N
//! requests to some paths, the latency gate, an answer lost after the record
//! was made (the connection closed, or a 200 whose body breaks half-way), and
//! the countdown of such faults, and the reading of a `PUT /_sandbox/faults`
//! body. Each sandbox keeps its own `Faults` (their
//! JSON is each control route's contract) and its own wording of the answers.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// The forced-status fault as both sandboxes hold it, borrowed from their
/// `Faults`: `status`, for the next `times` matching requests (None = until
/// cleared), only on paths containing `path` (None = every path).
pub struct ForcedStatus<'a> {
    pub status: &'a mut Option<u16>,
    pub times: &'a mut Option<u32>,
    pub path: &'a mut Option<String>,
}

impl ForcedStatus<'_> {
    /// The status forced on a request to `request_path`, if any, counting
    /// down `times`; the fault clears itself (all three fields) when the
    /// count runs out. Requests to other paths pass and do not count.
    pub fn take(self, request_path: &str) -> Option<StatusCode> {
        let code = (*self.status)?;
        if self
            .path
            .as_deref()
            .is_some_and(|part| !request_path.contains(part))
        {
            return None;
        }
        match *self.times {
            Some(0) => {
                self.clear();
                return None;
            }
            Some(1) => self.clear(),
            Some(n) => *self.times = Some(n - 1),
            None => {}
        }
        Some(error_status(code))
    }

    fn clear(self) {
        *self.status = None;
        *self.times = None;
        *self.path = None;
    }
}

/// `code` as an error status. [`status_problem`] keeps the control routes
/// from storing other codes; one set in code falls back to 500 rather than a
/// fake success.
fn error_status(code: u16) -> StatusCode {
    StatusCode::from_u16(code)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Why a forced `status` cannot be applied, if it cannot.
pub fn status_problem(status: Option<u16>) -> Option<String> {
    match status {
        Some(code) if !(400..=599).contains(&code) => Some(format!(
            "status {code} is not an error status; use a 4xx or 5xx code such as 500, 503 or 401, or null to clear it"
        )),
        _ => None,
    }
}

/// Why a `PUT /_sandbox/faults` body was refused, in words for the
/// developer; each sandbox answers it in its own error shape.
#[derive(Debug)]
pub enum FaultsRefused {
    /// Not a JSON object of the sandbox's `Faults`.
    Malformed(String),
    /// Faults that cannot be applied (see `problem`).
    NotApplied(String),
}

/// Reads the body of `PUT /_sandbox/faults` as the sandbox's `Faults`,
/// refused when `problem` finds one.
pub fn read_faults<F: DeserializeOwned>(
    body: &[u8],
    problem: impl FnOnce(&F) -> Option<String>,
) -> Result<F, FaultsRefused> {
    let faults: F = serde_json::from_slice(body).map_err(|e| {
        FaultsRefused::Malformed(format!(
            "The body must be a JSON Faults object, e.g. {{\"status\": 503, \"status_times\": 2}} ({e}). Send {{}} to clear every fault."
        ))
    })?;
    match problem(&faults) {
        Some(problem) => Err(FaultsRefused::NotApplied(format!(
            "Faults not applied: {problem}."
        ))),
        None => Ok(faults),
    }
}

/// The hint of a forced answer; `control` is how the sandbox's page writes
/// its faults route.
pub fn forced_hint(status: StatusCode, control: &str) -> String {
    format!(
        "Sandbox fault: this answer ({}) was forced with the `status` fault. Clear it with PUT {control} and body {{}}.",
        status.as_u16()
    )
}

/// Counts down a fault limited to the next N uses (None = until cleared):
/// true when this use is its last, and the caller clears the fault.
pub fn last_use(times: &mut Option<u32>) -> bool {
    match *times {
        Some(n) if n <= 1 => {
            *times = None;
            true
        }
        Some(n) => {
            *times = Some(n - 1);
            false
        }
        None => false,
    }
}

/// The latency fault: before anything is made, so a send cut off meanwhile
/// leaves no record. A change on `release` (taken when the request was
/// counted, so no release after that is missed) ends the wait early: a test
/// can hold a request for as long as it needs (a long latency) and have it
/// answered at a moment of its choosing, instead of racing a short one.
pub async fn latency(ms: u64, mut release: tokio::sync::watch::Receiver<u64>) {
    if ms > 0 {
        let released = async {
            if release.changed().await.is_err() {
                // Nothing can release it any more: the full latency.
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(ms)) => {}
            () = released => {}
        }
    }
}

/// A response whose body fails before its first byte. hyper only buffers the
/// status line and headers until the first body frame is ready; a body that
/// fails at once ends the connection with nothing written, so the client
/// sees the connection close with no answer at all (unlike
/// [`broken_response`], whose 200 reaches the client first). `reason` is
/// the server-side error, for the log.
pub fn closed_connection(reason: &'static str) -> Response {
    let failure = futures_util::stream::once(async move {
        Err::<bytes::Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            reason,
        ))
    });
    (StatusCode::OK, Body::from_stream(failure)).into_response()
}

/// A 200 of `content_type` whose body starts like `body` and then fails, so
/// the client loses the answer after the record was made.
pub fn broken_response(
    body: &serde_json::Value,
    content_type: &'static str,
    reason: &'static str,
) -> Response {
    use futures_util::StreamExt as _;

    let text = body.to_string();
    let partial = bytes::Bytes::copy_from_slice(&text.as_bytes()[..text.len() / 2]);
    let head = futures_util::stream::iter([Ok::<_, std::io::Error>(partial)]);
    // The pause lets hyper flush the status line, headers and first chunk
    // before the error aborts the connection; without it hyper may abort before
    // writing anything and the client would see no response at all.
    let failure = futures_util::stream::once(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            reason,
        ))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        Body::from_stream(head.chain(failure)),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq)]
    struct Fields {
        status: Option<u16>,
        times: Option<u32>,
        path: Option<String>,
    }

    impl Fields {
        fn take(&mut self, request_path: &str) -> Option<StatusCode> {
            ForcedStatus {
                status: &mut self.status,
                times: &mut self.times,
                path: &mut self.path,
            }
            .take(request_path)
        }
    }

    #[test]
    fn a_status_with_times_is_forced_that_many_times_then_cleared() {
        let mut fields = Fields {
            status: Some(503),
            times: Some(2),
            ..Fields::default()
        };
        assert_eq!(
            fields.take("/v1/care-enquiries"),
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert!(fields.take("/connect/token").is_some());
        assert!(fields.take("/v1/care-enquiries").is_none());
        assert_eq!(fields, Fields::default());
    }

    #[test]
    fn a_status_without_times_stays_until_cleared() {
        let mut fields = Fields {
            status: Some(502),
            ..Fields::default()
        };
        for _ in 0..5 {
            assert!(fields.take("/v1/care-enquiries").is_some());
        }
        assert_eq!(fields.status, Some(502));
    }

    #[test]
    fn a_status_on_a_path_spares_other_paths_and_does_not_count_them() {
        let mut fields = Fields {
            status: Some(500),
            times: Some(1),
            path: Some("care-enquiries".into()),
        };
        assert!(fields.take("/connect/token").is_none());
        assert!(fields.take("/v1/home-visits").is_none());
        assert_eq!(
            fields.take("/fhir/r4/care-enquiries"),
            Some(StatusCode::INTERNAL_SERVER_ERROR)
        );
        assert!(fields.take("/fhir/r4/care-enquiries").is_none());
        assert_eq!(fields, Fields::default());
    }

    #[test]
    fn a_count_of_zero_clears_the_status_without_forcing_it() {
        let mut fields = Fields {
            status: Some(500),
            times: Some(0),
            ..Fields::default()
        };
        assert!(fields.take("/v1/care-enquiries").is_none());
        assert_eq!(fields, Fields::default());
    }

    #[test]
    fn success_codes_are_not_accepted_as_faults() {
        assert!(status_problem(Some(200)).is_some());
        assert!(status_problem(Some(503)).is_none());
        assert!(status_problem(None).is_none());
        let mut fields = Fields {
            status: Some(200),
            ..Fields::default()
        };
        assert_eq!(
            fields.take("/v1/care-enquiries"),
            Some(StatusCode::INTERNAL_SERVER_ERROR)
        );
    }

    #[test]
    fn a_faults_body_is_refused_in_the_control_routes_words() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Status {
            status: Option<u16>,
        }
        let problem = |faults: &Status| status_problem(faults.status);
        match read_faults::<Status>(br#"{"status": 200}"#, problem) {
            Err(FaultsRefused::NotApplied(text)) => assert_eq!(
                text,
                "Faults not applied: status 200 is not an error status; use a 4xx or 5xx code such as 500, 503 or 401, or null to clear it."
            ),
            other => panic!("{:?}", other.map(|_| ())),
        }
        match read_faults::<Status>(br#"{"latency": 1}"#, problem) {
            Err(FaultsRefused::Malformed(text)) => assert!(
                text.starts_with(
                    r#"The body must be a JSON Faults object, e.g. {"status": 503, "status_times": 2} (unknown field `latency`"#
                ) && text.ends_with("). Send {} to clear every fault."),
                "{text}"
            ),
            other => panic!("{:?}", other.map(|_| ())),
        }
        assert_eq!(
            read_faults::<Status>(b"{}", problem).ok().map(|s| s.status),
            Some(None)
        );
    }

    #[test]
    fn a_limited_fault_counts_down_to_its_last_use() {
        let mut times = Some(2);
        assert!(!last_use(&mut times));
        assert_eq!(times, Some(1));
        assert!(last_use(&mut times));
        assert_eq!(times, None);
        // Without a count a fault stays.
        assert!(!last_use(&mut None));
    }
}
