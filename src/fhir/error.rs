//! The FHIR boundary's one error type, sorted by what the outbox can do
//! about it.

use serde_json::Value;

/// A FHIR destination call that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum FhirError {
    /// The connection could not be made: nothing reached the server.
    #[error("could not connect to the FHIR server: {0}")]
    Connect(String),
    /// No answer within the timeout: the server may have stored the Bundle.
    #[error("the FHIR server did not answer in time")]
    Timeout,
    /// The exchange broke after the request was sent: it may have been stored.
    #[error("the connection to the FHIR server broke: {0}")]
    Transport(String),
    /// A discovery document could not be read or lacks what is needed.
    #[error("FHIR discovery failed: {0}")]
    Discovery(String),
    /// The SSO server refused to issue a token (our credentials, or a
    /// request it judged): the destination waits for the settings to change.
    #[error("no FHIR access token: {0}")]
    Token(String),
    /// The SSO server could not issue a token now (a 5xx, 408 or 429: an
    /// outage or maintenance, not a verdict on the credentials). Nothing was
    /// sent; tried again later.
    #[error(
        "no FHIR access token for now: the token endpoint answered {status}; trying again later"
    )]
    TokenUnavailable { status: u16 },
    /// The Bundle was answered with an error status. `outcome` is the
    /// `OperationOutcome`'s diagnostics, which can quote what the family
    /// wrote: kept with the attempt, never logged (see `summary`).
    #[error("the FHIR server answered {status}")]
    Status { status: u16, outcome: String },
    /// The request could not be prepared.
    #[error("could not prepare the FHIR request: {0}")]
    Prepare(String),
}

impl FhirError {
    /// True when the server may have stored the Bundle although we saw no
    /// success (its `ifNoneExist` makes a re-send harmless).
    pub fn is_ambiguous(&self) -> bool {
        match self {
            FhirError::Timeout | FhirError::Transport(_) => true,
            FhirError::Status { status, .. } => *status >= 500 || *status == 408,
            _ => false,
        }
    }

    /// The error in our words, without the server's diagnostics.
    pub fn summary(&self) -> String {
        self.to_string()
    }

    pub fn http_status(&self) -> Option<u16> {
        match self {
            FhirError::Status { status, .. } | FhirError::TokenUnavailable { status } => {
                Some(*status)
            }
            _ => None,
        }
    }

    pub(super) fn from_reqwest(e: reqwest::Error) -> FhirError {
        // Without the URL: an endpoint's query could carry a key.
        let e = e.without_url();
        if e.is_timeout() {
            FhirError::Timeout
        } else if e.is_connect() {
            FhirError::Connect(crate::outgoing::error_chain(&e))
        } else if e.is_builder() {
            FhirError::Prepare(crate::outgoing::error_chain(&e))
        } else {
            FhirError::Transport(crate::outgoing::error_chain(&e))
        }
    }

    pub(super) fn from_middleware(e: reqwest_middleware::Error) -> FhirError {
        match e {
            reqwest_middleware::Error::Reqwest(e) => FhirError::from_reqwest(e),
            reqwest_middleware::Error::Middleware(e) => FhirError::Prepare(format!("{e:#}")),
        }
    }
}

/// An `OperationOutcome`'s issues in one line: "error at ServiceRequest.note:
/// …; …". Empty when the body is not one.
pub(super) fn diagnostics(body: &Value) -> String {
    let Some(issues) = body.get("issue").and_then(Value::as_array) else {
        return String::new();
    };
    let text = |issue: &Value, key: &str| issue.get(key).and_then(Value::as_str).map(str::to_owned);
    issues
        .iter()
        .map(|issue| {
            let severity = text(issue, "severity").unwrap_or_else(|| "error".into());
            let at = (issue.get("expression").and_then(Value::as_array))
                .map(|e| {
                    e.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .filter(|e| !e.is_empty())
                .map(|e| format!(" at {e}"))
                .unwrap_or_default();
            let said = text(issue, "diagnostics")
                .or_else(|| text(issue, "code"))
                .unwrap_or_default();
            format!("{severity}{at}: {said}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_operation_outcome_reads_as_one_line() {
        let outcome = json!({"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "required", "diagnostics": "ServiceRequest.subject is missing",
             "expression": ["Bundle.entry[2].resource.subject"]},
            {"severity": "warning", "code": "informational"},
        ]});
        assert_eq!(
            diagnostics(&outcome),
            "error at Bundle.entry[2].resource.subject: ServiceRequest.subject is missing; warning: informational"
        );
        assert_eq!(diagnostics(&json!({"x": 1})), "");
    }
}
