//! The staff console's error type: every way a `/staff` request can fail,
//! with the status code and the page that tells staff what to do. The
//! console's pages speak to staff, not families, so it has its own words;
//! causes are logged once, here.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::http::error::BoxError;
use crate::storage::StoreError;
use crate::telemetry::chain;

/// The page every error answers with. Here rather than in `pages`, so the
/// error type depends on no other file of the console (every one uses it).
#[derive(Template)]
#[template(path = "staff/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    /// Offer the sign-in link (signed out, or a refused form).
    sign_in: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// No staff token (global or an account's) is configured: nobody can sign in.
    #[error("staff console closed: no staff token configured")]
    Closed,
    /// A page without a live session: off to the sign-in page.
    #[error("not signed in")]
    SignedOut,
    /// A POST without a live session.
    #[error("not signed in (post)")]
    SignedOutPost,
    /// A POST without this session's CSRF token.
    #[error("missing or wrong CSRF token")]
    Csrf,
    /// Too many wrong staff tokens from this client address.
    #[error("staff sign-in throttled for {retry_after_secs}s")]
    Throttled { retry_after_secs: u64 },
    #[error("not found: {0}")]
    NotFound(String),
    /// A form that cannot be acted on; the words say what to change.
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("storage unavailable: {0}")]
    Unavailable(#[from] StoreError),
    /// Something of ours failed (`what` we were doing), with its cause.
    #[error("internal error: {what}: {source}")]
    Internal {
        what: String,
        #[source]
        source: BoxError,
    },
}

impl StaffError {
    /// An internal error while doing `what`, keeping its cause for the log.
    pub fn internal(what: impl Into<String>, source: impl Into<BoxError>) -> StaffError {
        StaffError::Internal {
            what: what.into(),
            source: source.into(),
        }
    }

    /// The same failure answering a POST: signed out is a 401, not a redirect
    /// (a redirect would drop what was posted without saying so).
    pub fn on_post(self) -> StaffError {
        match self {
            StaffError::SignedOut => StaffError::SignedOutPost,
            other => other,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            StaffError::Closed => StatusCode::FORBIDDEN,
            StaffError::SignedOut => StatusCode::SEE_OTHER,
            StaffError::SignedOutPost => StatusCode::UNAUTHORIZED,
            StaffError::Csrf => StatusCode::FORBIDDEN,
            StaffError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            StaffError::NotFound(_) => StatusCode::NOT_FOUND,
            StaffError::BadRequest(_) => StatusCode::BAD_REQUEST,
            StaffError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            StaffError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// (title, what to do).
    fn words(&self) -> (&'static str, String) {
        match self {
            StaffError::Closed => (
                "The staff console is closed",
                "No staff token is configured, so nobody can sign in. Set staff.token (or staff.token_file, or ENQUIRY_RELAY_STAFF__TOKEN; or an [[accounts]] entry's staff_token, for that account's homes only) in the service's configuration and restart it.".into(),
            ),
            StaffError::SignedOut | StaffError::SignedOutPost => (
                "Please sign in",
                "You are not signed in, or your sign-in has ended. Sign in again with the staff token, then repeat what you were doing.".into(),
            ),
            StaffError::Csrf => (
                "This form could not be accepted",
                "The form did not carry this sign-in's security code: it may be from an old page, another sign-in or another website. Nothing was changed. Go back, reload the page and try again.".into(),
            ),
            StaffError::Throttled { retry_after_secs } => (
                "Too many wrong staff tokens",
                format!(
                    "Too many wrong staff tokens were sent from this address, so sign-ins from it are refused for now, the right token too. Wait {} minutes and sign in again.",
                    retry_after_secs.div_ceil(60).max(1)
                ),
            ),
            StaffError::NotFound(why) => ("Not found", why.clone()),
            StaffError::BadRequest(why) => ("Nothing was changed", why.clone()),
            StaffError::Unavailable(_) => (
                "The database did not answer",
                "Nothing was changed. Reload the page in a minute; if this stays, check the service's database (its log says more).".into(),
            ),
            StaffError::Internal { .. } => (
                "Something went wrong",
                "Nothing was changed. Try again; if this stays, the service's log says more.".into(),
            ),
        }
    }
}

impl IntoResponse for StaffError {
    fn into_response(self) -> Response {
        match &self {
            StaffError::Unavailable(e) => {
                tracing::error!(error = %chain(e), "staff console: database error; answered 503")
            }
            StaffError::Internal { .. } => {
                tracing::error!(error = %chain(&self), "staff console: internal error; answered 500")
            }
            _ => {}
        }
        if let StaffError::SignedOut = self {
            return Redirect::to("/staff/login").into_response();
        }
        let status = self.status();
        let (title, message) = self.words();
        let sign_in = matches!(self, StaffError::SignedOutPost | StaffError::Csrf);
        let page = ErrorPage {
            title,
            message: &message,
            sign_in,
        }
        .render()
        .unwrap_or_else(|_| message.clone());
        let mut response = (status, Html(page)).into_response();
        if let StaffError::Throttled { retry_after_secs } = &self
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
