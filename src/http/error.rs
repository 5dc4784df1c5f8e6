//! The HTTP boundary's error type: the only place that picks status codes.
//! Each answer says what went wrong in words a person can act on, as JSON or
//! as a page, and the cause is logged once, here.

use askama::Template;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;
use tracing::{error, warn};

use super::format::Format;
use super::pages::ErrorPage;
use crate::domain::FieldErrors;
use crate::storage::StoreError;
use crate::telemetry::chain;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("unknown site")]
    UnknownSite,
    #[error("visits are not booked online for this site")]
    VisitsNotOffered,
    #[error("validation failed")]
    Validation(FieldErrors),
    #[error("body over {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("unsupported content type")]
    UnsupportedMediaType,
    #[error("storage unavailable: {0}")]
    Unavailable(#[from] StoreError),
    /// Something of ours failed (`what` we were doing), with its cause.
    #[error("internal error: {what}: {source}")]
    Internal {
        what: String,
        #[source]
        source: BoxError,
    },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("origin not allowed")]
    OriginRefused,
    #[error("rate limited for {retry_after_secs}s")]
    RateLimited { retry_after_secs: u64 },
    #[error("CAPTCHA provider unavailable")]
    CaptchaUnavailable,
    /// Not answered within `server.request_timeout`, before anything was stored.
    #[error("request timed out")]
    RequestTimeout,
    /// Too many wrong staff tokens from this client address (see `staff_auth`).
    #[error("staff requests throttled for {retry_after_secs}s")]
    StaffThrottled { retry_after_secs: u64 },
    /// The enquiry was handed to the database, which did not answer within
    /// the timeout and its grace: it may have been stored.
    #[error("database did not confirm the enquiry in time")]
    StoringTimedOut,
    /// The idempotency key was used before for a different enquiry.
    #[error("idempotency key reused for a different enquiry")]
    Conflict,
    /// No or wrong staff token; `configured` is false when no staff token
    /// (global or an account's) is set.
    #[error("staff token missing or wrong")]
    Unauthorized { configured: bool },
}

/// The cause an internal error carries.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl HttpError {
    /// An internal error while doing `what`, keeping its cause for the log.
    pub fn internal(what: impl Into<String>, source: impl Into<BoxError>) -> HttpError {
        HttpError::Internal {
            what: what.into(),
            source: source.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            HttpError::UnknownSite | HttpError::VisitsNotOffered => StatusCode::NOT_FOUND,
            HttpError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            HttpError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            HttpError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HttpError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HttpError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            HttpError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            HttpError::NotFound(_) => StatusCode::NOT_FOUND,
            HttpError::OriginRefused => StatusCode::FORBIDDEN,
            HttpError::RateLimited { .. } | HttpError::StaffThrottled { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            HttpError::CaptchaUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            HttpError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            HttpError::StoringTimedOut => StatusCode::GATEWAY_TIMEOUT,
            HttpError::Conflict => StatusCode::CONFLICT,
            HttpError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
        }
    }

    /// (short title, what to do) for a person.
    fn words(&self) -> (&'static str, String) {
        match self {
            HttpError::UnknownSite => (
                "Form not found",
                "There is no enquiry form at this address. Check the link, or contact the care home directly.".into(),
            ),
            HttpError::VisitsNotOffered => (
                "Visits not booked online",
                "This home does not book visits online. Ask about visiting in your enquiry, or telephone the home.".into(),
            ),
            HttpError::Validation(_) => ("Check your answers", "Some answers need correcting; see the messages for each field.".into()),
            HttpError::PayloadTooLarge { limit } => (
                "Enquiry too long",
                format!("The enquiry is larger than this form accepts ({} KB). Shorten the message and send it again.", limit / 1024),
            ),
            HttpError::BadRequest(why) => ("Enquiry not understood", format!("{why} Please go back and send the form again.")),
            HttpError::UnsupportedMediaType => (
                "Enquiry not understood",
                "Send the form as application/x-www-form-urlencoded, multipart/form-data or application/json.".into(),
            ),
            HttpError::Unavailable(_) => (
                "Enquiry not saved",
                "We could not save your enquiry just now, so it has not been sent. Please try again in a minute, or telephone the home.".into(),
            ),
            HttpError::Internal { .. } => (
                "Something went wrong",
                "Your enquiry may not have been saved. Please try again, or telephone the home.".into(),
            ),
            HttpError::NotFound(why) => ("Not found", why.clone()),
            HttpError::OriginRefused => (
                "Form not accepted from this website",
                "This form cannot be sent from the page you used, so your enquiry has not been sent. Use the form on the care home's own website, or telephone the home.".into(),
            ),
            HttpError::RateLimited { retry_after_secs } => (
                "Too many enquiries",
                format!(
                    "Too many enquiries have been sent from here in a short time, so this one has not been sent. Please wait {} and send it again, or telephone the home.",
                    wait_words(*retry_after_secs)
                ),
            ),
            HttpError::CaptchaUnavailable => (
                "Enquiry not sent",
                "We could not check the form just now, so your enquiry has not been sent. Please try again in a few minutes, or telephone the home.".into(),
            ),
            HttpError::RequestTimeout => (
                "Enquiry not received in time",
                "Your enquiry took too long to reach us, so it has not been sent. Check your internet connection and send the form again, or telephone the home.".into(),
            ),
            HttpError::StaffThrottled { retry_after_secs } => (
                "Too many wrong staff tokens",
                format!(
                    "Too many wrong staff tokens were sent from this address, so its staff requests are refused for now, the right token too. Wait {} and send the staff token (staff.token in the config) again.",
                    wait_words(*retry_after_secs)
                ),
            ),
            HttpError::StoringTimedOut => (
                "Enquiry may have arrived",
                "Your enquiry reached us, but we could not confirm in time that it was saved, so it may have arrived. Please telephone the home before sending it again, so they do not receive it twice.".into(),
            ),
            HttpError::Conflict => (
                "Form already sent",
                "This form was already sent with different details; reload the page and send it again.".into(),
            ),
            HttpError::Unauthorized { configured: true } => (
                "Staff token needed",
                "Send a staff token (staff.token in the config, or an [[accounts]] entry's staff_token for that account's homes) as \"Authorization: Bearer <token>\".".into(),
            ),
            HttpError::Unauthorized { configured: false } => (
                "Staff access is closed",
                "No staff token is configured. Set staff.token (or staff.token_file, or ENQUIRY_RELAY_STAFF__TOKEN; or an [[accounts]] entry's staff_token, which sees that account's homes only) and restart, then send it as \"Authorization: Bearer <token>\".".into(),
            ),
        }
    }

    /// Log (once) and answer in the caller's format.
    pub fn into_response_for(self, format: Format) -> Response {
        match &self {
            HttpError::Unavailable(e) => {
                error!(error = %chain(e), "could not store an enquiry; answered 503")
            }
            HttpError::Internal { .. } => {
                error!(error = %chain(&self), "internal error; answered 500")
            }
            HttpError::BadRequest(e) => warn!(reason = %e, "malformed request"),
            HttpError::RequestTimeout => {
                warn!("request not finished within server.request_timeout; answered 408")
            }
            HttpError::StoringTimedOut => error!(
                "database did not confirm an enquiry within server.request_timeout and its grace; answered 504 (it may be stored)"
            ),
            _ => {}
        }
        let status = self.status();
        let (title, message) = self.words();
        let mut response = match (format, &self) {
            (Format::Json, HttpError::Validation(fields)) => (
                status,
                Json(json!({"error": "validation", "message": message, "fields": fields})),
            )
                .into_response(),
            (Format::Json, _) => (
                status,
                Json(json!({"error": error_code(status), "message": message})),
            )
                .into_response(),
            (Format::Html, _) => {
                let page = ErrorPage {
                    title,
                    message: &message,
                }
                .render()
                .unwrap_or_else(|_| message.clone());
                (status, Html(page)).into_response()
            }
        };
        // An error answer describes one moment (a full slot, a database
        // outage): never let a browser or proxy keep it.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let HttpError::RateLimited { retry_after_secs }
        | HttpError::StaffThrottled { retry_after_secs } = &self
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if matches!(
            self,
            HttpError::RateLimited { .. }
                | HttpError::OriginRefused
                | HttpError::StaffThrottled { .. }
        ) {
            // Counted in metrics; its access line is at debug (see access_log).
            response = super::access_log::mark_shed(response);
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"enquiry-relay staff\""),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        }
        response
    }
}

/// "a minute", "5 minutes", "30 seconds".
fn wait_words(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} seconds"),
        60..=119 => "a minute".into(),
        _ => format!("{} minutes", secs.div_ceil(60)),
    }
}

fn error_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        404 => "not_found",
        408 => "request_timeout",
        409 => "conflict",
        504 => "storage_timeout",
        413 => "payload_too_large",
        403 => "origin_not_allowed",
        415 => "unsupported_media_type",
        429 => "rate_limited",
        422 => "validation",
        503 => "unavailable",
        _ => "internal",
    }
}
