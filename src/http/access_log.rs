//! The access line: one per request, with its status and latency, at info —
//! except for posts shed as spam (a bot trap, the rate limit or a foreign
//! origin), which are already counted in metrics and are logged at debug, so
//! that a bot flood does not become a flood of log lines that fills the disk.
//! And the path it is logged under, without a webhook's token.

use std::borrow::Cow;
use std::time::Duration;

use axum::response::Response;
use tracing::Span;

/// Marks a response as shed spam. It lives in the response's extensions,
/// which never leave the process: the bot sees nothing of it.
#[derive(Clone, Copy, Debug)]
pub struct Shed;

/// Mark `response` as shed spam, for [`on_response`].
pub fn mark_shed(mut response: Response) -> Response {
    response.extensions_mut().insert(Shed);
    response
}

/// `TraceLayer`'s response hook: the access line, inside the request's span
/// (method, path, request id).
pub fn on_response<B>(response: &axum::http::Response<B>, latency: Duration, _span: &Span) {
    let status = response.status().as_u16();
    let latency_ms = latency.as_secs_f64() * 1000.0;
    if response.extensions().get::<Shed>().is_some() {
        tracing::debug!(
            status,
            latency_ms,
            shed = true,
            "finished processing request"
        );
    } else {
        tracing::info!(status, latency_ms, "finished processing request");
    }
}

/// The request's path as logged: a form-builder webhook's token, sent as
/// the last segment of `/webhooks/{site}/{name}/{token}` by builders that
/// cannot set headers, is a secret and never reaches a log line.
pub fn logged_path(path: &str) -> Cow<'_, str> {
    let Some(rest) = path.strip_prefix("/webhooks/") else {
        return Cow::Borrowed(path);
    };
    let mut segments = rest.splitn(3, '/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some(site), Some(name), Some(_token)) => {
            Cow::Owned(format!("/webhooks/{site}/{name}/<token>"))
        }
        _ => Cow::Borrowed(path),
    }
}

#[cfg(test)]
mod tests {
    use super::logged_path;

    #[test]
    fn a_webhook_token_in_the_path_is_never_logged() {
        assert_eq!(
            logged_path("/webhooks/upton-court/elementor/s3cr3t-t0ken"),
            "/webhooks/upton-court/elementor/<token>"
        );
        assert_eq!(
            logged_path("/webhooks/upton-court/elementor/s3cr3t/more"),
            "/webhooks/upton-court/elementor/<token>"
        );
        assert_eq!(
            logged_path("/webhooks/upton-court/gravity"),
            "/webhooks/upton-court/gravity"
        );
        assert_eq!(logged_path("/forms/upton-court"), "/forms/upton-court");
    }
}
