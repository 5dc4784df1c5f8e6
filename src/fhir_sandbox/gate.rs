//! The door every API request (discovery, token, bundle) goes through: count
//! it, sleep (latency fault), then a forced status if one applies, shaped as
//! the endpoint would shape it (an OAuth error on the token endpoint, an
//! OperationOutcome elsewhere).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::FhirSandbox;
use super::errors::{FhirError, OAuthError};
use crate::sandbox::fault_kit;

pub async fn gate(State(sandbox): State<FhirSandbox>, request: Request, next: Next) -> Response {
    let latency_ms = {
        let mut state = sandbox.state();
        state.request_count += 1;
        state.faults.latency_ms
    };
    // Nothing releases the FHIR sandbox's waits early.
    fault_kit::latency(latency_ms, tokio::sync::watch::channel(0).1).await;
    let path = request.uri().path().to_owned();
    let forced = sandbox.state().faults.take_forced(&path);
    let response = match forced {
        Some(status) if path.ends_with("/connect/token") => OAuthError::new(
            status,
            if status.is_server_error() {
                "temporarily_unavailable"
            } else {
                "invalid_request"
            },
            fault_kit::forced_hint(status, "/_sandbox/faults"),
        )
        .into_response(),
        Some(status) => FhirError::one(
            status,
            issue_code(status),
            fault_kit::forced_hint(status, "/_sandbox/faults"),
        )
        .into_response(),
        None => next.run(request).await,
    };
    // Method, path and status only: nothing personal.
    tracing::debug!(%path, status = response.status().as_u16(), "fhir sandbox request");
    response
}

/// The IssueType a real server would give a refusal with this status.
fn issue_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "login",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::TOO_MANY_REQUESTS => "throttled",
        s if s.is_server_error() => "transient",
        _ => "processing",
    }
}

pub async fn wrong_method(request: Request) -> FhirError {
    FhirError::one(
        StatusCode::METHOD_NOT_ALLOWED,
        "not-supported",
        format!(
            "{} is not allowed here. The discovery documents are read with GET; tokens and bundles are sent with POST.",
            request.method()
        ),
    )
}
