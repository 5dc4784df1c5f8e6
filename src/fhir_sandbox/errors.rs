//! The sandbox's two error shapes: a FHIR `OperationOutcome` (every FHIR
//! route, `application/fhir+json`) and an OAuth 2.0 error (the token
//! endpoint, RFC 6749 §5.2).
//!
//! Diagnostics say what is wrong and where, never a value that was sent: an
//! answer may end up in the client's logs, and values are personal data.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

pub const FHIR_JSON: &str = "application/fhir+json";

/// One `OperationOutcome.issue`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub severity: &'static str,
    /// A code of FHIR's IssueType value set (`required`, `value`, `invalid`…).
    pub code: &'static str,
    pub diagnostics: String,
    /// FHIRPath of the element at fault, e.g. `Bundle.entry[2].resource.status`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expression: Vec<String>,
}

impl Issue {
    /// An `error` issue at `expression` (empty: the request as a whole).
    pub fn error(code: &'static str, expression: &str, diagnostics: impl Into<String>) -> Issue {
        Issue {
            severity: "error",
            code,
            diagnostics: diagnostics.into(),
            expression: if expression.is_empty() {
                Vec::new()
            } else {
                vec![expression.to_owned()]
            },
        }
    }
}

/// A refusal answered with an `OperationOutcome` listing `issues`.
#[derive(Debug)]
pub struct FhirError {
    pub status: StatusCode,
    pub issues: Vec<Issue>,
    /// A `WWW-Authenticate` challenge (401s: RFC 6750 asks for one).
    pub challenge: Option<&'static str>,
}

impl FhirError {
    pub fn new(status: StatusCode, issues: Vec<Issue>) -> FhirError {
        FhirError {
            status,
            issues,
            challenge: None,
        }
    }

    /// One issue about the request as a whole.
    pub fn one(
        status: StatusCode,
        code: &'static str,
        diagnostics: impl Into<String>,
    ) -> FhirError {
        FhirError::new(status, vec![Issue::error(code, "", diagnostics)])
    }
}

/// The `OperationOutcome` resource for `issues`.
pub fn operation_outcome(issues: &[Issue]) -> serde_json::Value {
    json!({ "resourceType": "OperationOutcome", "issue": issues })
}

/// A FHIR JSON answer.
pub fn fhir_json(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON))],
        body.to_string(),
    )
        .into_response()
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let mut response = fhir_json(self.status, &operation_outcome(&self.issues));
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// A token endpoint refusal: `{"error", "error_description"}`.
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    /// RFC 6749 §5.2 code: `invalid_client`, `invalid_request`…
    pub error: &'static str,
    pub description: String,
    /// The client authenticated with HTTP Basic: RFC 6749 asks a 401 to
    /// carry a Basic challenge then.
    pub basic_challenge: bool,
}

impl OAuthError {
    pub fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> OAuthError {
        OAuthError {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = (
            self.status,
            [
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (header::PRAGMA, HeaderValue::from_static("no-cache")),
            ],
            axum::Json(body),
        )
            .into_response();
        if self.basic_challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"fhir-sandbox\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_lists_its_issues_with_their_expressions() {
        let outcome = operation_outcome(&[
            Issue::error("required", "Bundle.type", "Bundle.type is missing."),
            Issue::error("login", "", "No token."),
        ]);
        assert_eq!(outcome["resourceType"], "OperationOutcome");
        assert_eq!(outcome["issue"][0]["severity"], "error");
        assert_eq!(outcome["issue"][0]["code"], "required");
        assert_eq!(outcome["issue"][0]["expression"][0], "Bundle.type");
        assert!(outcome["issue"][1].get("expression").is_none());
    }
}
