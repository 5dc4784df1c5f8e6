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

use std::time::Duration;

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
