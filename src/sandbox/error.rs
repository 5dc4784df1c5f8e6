//! The sandbox's one HTTP error type, rendered as CareHQ renders errors:
//! a JSON object with a `hint` and, for validation, `arg_errors` (docs/carehq-api.md, "Errors").

use std::collections::BTreeMap;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Per-parameter validation messages, keyed by parameter name.
pub type ArgErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{hint}")]
    Invalid { hint: String, arg_errors: ArgErrors },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("Too many requests")]
    TooManyRequests,
    /// A status forced by `Faults.status`.
    #[error("{hint}")]
    Forced { status: StatusCode, hint: String },
    #[error("{0}")]
    Internal(String),
}

impl SandboxError {
    pub fn status(&self) -> StatusCode {
        match self {
            SandboxError::Invalid { .. } | SandboxError::BadRequest(_) => StatusCode::BAD_REQUEST,
            SandboxError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            SandboxError::NotFound(_) => StatusCode::NOT_FOUND,
            SandboxError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            SandboxError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            SandboxError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            SandboxError::Forced { status, .. } => *status,
            SandboxError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A validation failure; `arg_errors` says which parameters and why.
    pub fn invalid(arg_errors: ArgErrors) -> SandboxError {
        let names: Vec<&str> = arg_errors.keys().map(String::as_str).collect();
        SandboxError::Invalid {
            hint: format!(
                "Invalid or missing parameters: {}. Fix them as arg_errors describes and send the request again.",
                names.join(", ")
            ),
            arg_errors,
        }
    }
}

impl IntoResponse for SandboxError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match self {
            SandboxError::Invalid { hint, arg_errors } => {
                json!({ "hint": hint, "arg_errors": arg_errors })
            }
            other => json!({ "hint": other.to_string() }),
        };
        (status, Json(body)).into_response()
    }
}
