//! The CareHQ boundary's one error type, sorted by what a caller can do about it.

use super::rate_limit::RateLimit;

/// A CareHQ call that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CareHqError {
    /// The connection could not be made: nothing reached CareHQ.
    #[error("could not connect to CareHQ: {0}")]
    Connect(String),
    /// No answer within the timeout: CareHQ may or may not have acted.
    #[error("CareHQ did not answer in time")]
    Timeout,
    /// The exchange broke after the request was sent: CareHQ may have acted.
    #[error("the connection to CareHQ broke: {0}")]
    Transport(String),
    /// CareHQ answered with an error status.
    #[error("CareHQ answered {status}{}", hint.as_deref().map(|h| format!(": {h}")).unwrap_or_default())]
    Status {
        status: u16,
        hint: Option<String>,
        /// `arg_errors` as CareHQ sent it: parameter name → messages.
        arg_errors: Option<serde_json::Value>,
        rate_limit: Option<RateLimit>,
    },
    /// The request could not be prepared (no randomness for the nonce, bad base URL).
    #[error("could not prepare the CareHQ request: {0}")]
    Prepare(String),
}

impl CareHqError {
    /// True when CareHQ may have acted on the request although we saw no success.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            CareHqError::Timeout | CareHqError::Transport(_) => true,
            CareHqError::Status { status, .. } => *status >= 500 || *status == 408,
            CareHqError::Connect(_) | CareHqError::Prepare(_) => false,
        }
    }

    /// The error without CareHQ's `hint`, for logs and error tracking: a hint
    /// can quote what the family typed. The hint is kept with the attempt.
    pub fn summary(&self) -> String {
        match self {
            CareHqError::Status { status, .. } => format!("CareHQ answered {status}"),
            other => other.to_string(),
        }
    }

    pub fn http_status(&self) -> Option<u16> {
        match self {
            CareHqError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<reqwest_middleware::Error> for CareHqError {
    fn from(e: reqwest_middleware::Error) -> Self {
        match e {
            reqwest_middleware::Error::Reqwest(e) => e.into(),
            // Only the signing middleware makes these, before anything is sent.
            reqwest_middleware::Error::Middleware(e) => CareHqError::Prepare(format!("{e:#}")),
        }
    }
}

impl From<reqwest::Error> for CareHqError {
    fn from(e: reqwest::Error) -> Self {
        // Keep the message free of the URL's query (GET parameters) and of bodies.
        let e = e.without_url();
        if e.is_timeout() {
            CareHqError::Timeout
        } else if e.is_connect() {
            CareHqError::Connect(crate::outgoing::error_chain(&e))
        } else if e.is_builder() {
            CareHqError::Prepare(crate::outgoing::error_chain(&e))
        } else {
            CareHqError::Transport(crate::outgoing::error_chain(&e))
        }
    }
}
