//! `server.request_timeout`: a request not answered in time (a body that
//! trickles in, a stuck handler) gets a 408 saying what to do, as JSON or as
//! a page, rather than an empty answer. A hung CAPTCHA provider never gets
//! here: config validation keeps `captcha.timeout` shorter, so its outage
//! policy answers first.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::error::HttpError;
use super::format::Format;

pub async fn limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let format = Format::of(request.headers());
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => HttpError::RequestTimeout.into_response_for(format),
    }
}
