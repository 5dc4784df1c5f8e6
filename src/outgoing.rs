//! Retries for outgoing calls that are safe to repeat (reqwest-middleware +
//! reqwest-retry). Which calls those are is decided where each client is
//! built: CareHQ `GET`s (`check --remote`, `carehq locations`, `carehq
//! groups`) and the alert webhook. CareHQ's `PUT care-enquiries` and `PUT
//! home-visits` are never retried here: a timeout or 5xx may come after
//! CareHQ created the record, so their retries stay in the outbox, where each
//! attempt is recorded (`sync`).
//!
//! reqwest-retry's `DefaultRetryableStrategy` does not look at the method, so
//! a client built with it would retry a `PUT` too. [`RetrySafeMethods`] hands
//! only the methods its builder names to the retry middleware; every other
//! request goes through once. [`SafeToRetry`] then retries only answers that
//! say the call did not take effect or can be repeated: transport failures
//! and 408, 500, 502, 503, 504. Not 429: CareHQ's rate limit is waited out by
//! the caller (`carehq::RateLimitGate`), not hammered.
//!
//! Every upstream answer is read through [`read_capped`]: a misbehaving
//! endpoint, or a captive proxy in between, that streams a large body within
//! the timeout would otherwise be buffered whole by the worker or a request
//! handler.

use std::time::Duration;

use bytes::Bytes;
use reqwest::{Method, Request, Response, StatusCode};
use reqwest_middleware::{Error, Middleware, Next};
use reqwest_retry::policies::ExponentialBackoff;
use reqwest_retry::{
    RetryTransientMiddleware, Retryable, RetryableStrategy, default_on_request_failure,
};

/// Retries after the first try.
pub const MAX_RETRIES: u32 = 2;

/// Which failures are worth another try of a call that is safe to repeat.
pub struct SafeToRetry;

impl RetryableStrategy for SafeToRetry {
    fn handle(&self, res: &Result<Response, Error>) -> Option<Retryable> {
        match res {
            Ok(response) => match response.status() {
                status if status.is_success() => None,
                StatusCode::REQUEST_TIMEOUT
                | StatusCode::INTERNAL_SERVER_ERROR
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT => Some(Retryable::Transient),
                _ => Some(Retryable::Fatal),
            },
            // Connect errors, timeouts, a connection cut mid-answer.
            Err(e) => default_on_request_failure(e),
        }
    }
}

/// Retries requests whose method is one of `methods` (with backoff, at most
/// [`MAX_RETRIES`] times); sends any other request once, untouched.
pub struct RetrySafeMethods {
    methods: &'static [Method],
    retry: RetryTransientMiddleware<ExponentialBackoff, SafeToRetry>,
}

impl RetrySafeMethods {
    /// Retry only requests with these methods. Name only methods whose every
    /// call through this client is safe to repeat.
    pub fn new(methods: &'static [Method]) -> RetrySafeMethods {
        let policy = ExponentialBackoff::builder()
            .retry_bounds(Duration::from_millis(100), Duration::from_secs(2))
            .build_with_max_retries(MAX_RETRIES);
        RetrySafeMethods {
            methods,
            retry: RetryTransientMiddleware::new_with_policy_and_strategy(policy, SafeToRetry),
        }
    }
}

#[async_trait::async_trait]
impl Middleware for RetrySafeMethods {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if self.methods.contains(req.method()) {
            self.retry.handle(req, extensions, next).await
        } else {
            next.run(req, extensions).await
        }
    }
}

/// "outer: inner: innermost", so the cause (refused, reset, DNS) is visible.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The most of an upstream answer that is read: 1 MiB. Every answer we read
/// is small: a CareHQ record or a page of at most 100 locations or groups, a
/// FHIR transaction-response of four entries, a token, a discovery document,
/// a CAPTCHA verdict (each a few KiB at most). A megabyte leaves room for
/// verbose error pages while bounding what one call can make us hold.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Why an answer's body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The body is longer than the cap; the rest was not read.
    #[error("the answer is larger than {limit} bytes; the rest was not read")]
    TooLarge { limit: usize },
    /// The body broke off or stalled. Kept as reqwest's error so each client
    /// can sort a timeout from a broken connection as it does for the send.
    #[error("reading the answer failed")]
    Read(#[source] reqwest::Error),
}

/// The body of `response`, or [`ReadError::TooLarge`] as soon as it passes
/// `limit` bytes: nothing past the cap is kept, and the rest is left unread
/// (the connection is dropped with the response).
pub async fn read_capped(mut response: Response, limit: usize) -> Result<Bytes, ReadError> {
    // A declared length over the cap is refused before reading anything.
    let declared = response.content_length();
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ReadError::TooLarge { limit });
    }
    let mut body = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Read)? {
        if chunk.len() > limit - body.len() {
            return Err(ReadError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &'static [u8]) -> Response {
        Response::from(http::Response::new(body))
    }

    #[tokio::test]
    async fn an_answer_up_to_the_cap_is_read_whole() {
        let read = read_capped(answer(b"0123456789"), 10).await;
        assert_eq!(read.ok().as_deref(), Some(&b"0123456789"[..]));
        let empty = read_capped(answer(b""), 10).await;
        assert_eq!(empty.ok().as_deref(), Some(&b""[..]));
    }

    #[tokio::test]
    async fn an_answer_past_the_cap_is_too_large() {
        let read = read_capped(answer(b"0123456789!"), 10).await;
        assert!(
            matches!(read, Err(ReadError::TooLarge { limit: 10 })),
            "{read:?}"
        );
    }
}
