//! The door every `/v1` request goes through, in CareHQ's order plus the
//! sandbox's faults: count it, sleep (latency fault), forced status or forced
//! 429, the real rate limit, then read the parameters and authenticate them.
//! Every answer, refused or not, leaves with the rate-limit headers.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Sandbox;
use super::auth::{self, Signed};
use super::error::SandboxError;
use super::fault_kit;
use super::rate_limit::Verdict;
use crate::carehq::signing;

/// Largest accepted form body; enquiries are a few kilobytes at most.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The signed parameter set of the request, in the order received, repeats kept.
#[derive(Clone)]
pub struct Params(pub Vec<(String, String)>);

pub async fn gate(State(sandbox): State<Sandbox>, request: Request, next: Next) -> Response {
    let (latency_ms, release) = {
        let mut state = sandbox.state();
        state.request_count += 1;
        (state.faults.latency_ms, sandbox.held())
    };
    fault_kit::latency(latency_ms, release).await;

    let now = unix_now();
    let limit = sandbox.config().rate_limit_per_second;
    let request_path = request.uri().path().to_owned();
    let (verdict, refusal) = {
        let mut state = sandbox.state();
        let verdict = state.rate.take(now, limit);
        if let Some(forced) = state.faults.take_forced(&request_path) {
            (verdict, Some(forced))
        } else if state.faults.rate_limited {
            (
                Verdict::forced(now, limit, state.faults.rate_limit_reset_in()),
                Some(SandboxError::TooManyRequests),
            )
        } else if !verdict.allowed {
            (verdict, Some(SandboxError::TooManyRequests))
        } else {
            (verdict, None)
        }
    };

    if matches!(refusal, Some(SandboxError::TooManyRequests)) {
        sandbox.state().too_many_requests_count += 1;
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = match refusal {
        Some(error) => error.into_response(),
        None => match admit(&sandbox, request, now).await {
            Ok(request) => next.run(request).await,
            Err(error) => error.into_response(),
        },
    };
    verdict.write_headers(response.headers_mut());
    // Method, path (Ids only) and status: nothing personal.
    tracing::debug!(%method, path = %signing::signed_path(&path), status = response.status().as_u16(), "sandbox /v1 request");
    response
}

/// Reads the signed parameter set, authenticates it and hands it to the handler.
async fn admit(sandbox: &Sandbox, request: Request, now: f64) -> Result<Request, SandboxError> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            SandboxError::PayloadTooLarge(format!(
                "The request body is over {MAX_BODY_BYTES} bytes. Send only the enquiry's fields."
            ))
        })?;
    let is_get = parts.method == Method::GET || parts.method == Method::HEAD;
    let params = if is_get {
        pairs(parts.uri.query().unwrap_or_default().as_bytes())
    } else {
        pairs(&body)
    };
    let path = signing::signed_path(parts.uri.path());
    let signed = Signed {
        method: parts.method.as_str(),
        path: &path,
        params: &params,
    };
    auth::authenticate(sandbox, &parts.headers, &signed, now.floor() as i64)?;

    if !is_get {
        if parts.uri.query().is_some_and(|q| !q.is_empty()) {
            return Err(SandboxError::BadRequest(format!(
                "{} requests take their parameters in the form body, not the query string (only the body is signed). Move them into the body.",
                parts.method
            )));
        }
        let form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !body.is_empty() && !form {
            return Err(SandboxError::BadRequest(
                "Send the body as application/x-www-form-urlencoded (CareHQ does not take JSON) and set that Content-Type.".to_owned(),
            ));
        }
    }

    let mut request = Request::from_parts(parts, Body::empty());
    request.extensions_mut().insert(Params(params));
    Ok(request)
}

/// `key=value` pairs in order, repeats kept, URL-decoded as CareHQ decodes them.
pub fn pairs(encoded: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(encoded)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// `/v1` paths the sandbox does not serve (after authentication, as CareHQ would).
pub async fn unknown_endpoint(request: Request) -> SandboxError {
    SandboxError::NotFound(format!(
        "No CareHQ endpoint {} in the sandbox. It serves care-enquiries, locations, groups and home-visits.",
        signing::signed_path(request.uri().path())
    ))
}

pub async fn wrong_method(request: Request) -> SandboxError {
    SandboxError::MethodNotAllowed(format!(
        "{} is not allowed on {}. CareHQ creates with PUT, reads with GET and updates with PATCH.",
        request.method(),
        signing::signed_path(request.uri().path())
    ))
}
