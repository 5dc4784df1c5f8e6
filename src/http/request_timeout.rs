//! `server.request_timeout`: a request not answered in time (a body that
//! trickles in, a stuck handler) gets a 408 saying what to do, as JSON or as
//! a page, rather than an empty answer. A hung CAPTCHA provider never gets
//! here: config validation keeps `captcha.timeout` shorter, so its outage
//! policy answers first.
//!
//! The timeout stops at the moment an enquiry is handed to the database
//! ([`Storing::begin`]). Cutting the request off after that could not stop
//! the write (the SQLite group-commit writer commits what it was given, and
//! a PostgreSQL commit may already be on its way), so "not sent" would be
//! untrue and the family would send the enquiry twice. Instead the answer
//! waits for the commit's own outcome, for at most [`STORING_GRACE`] more;
//! only a database slower than that gets an answer saying the enquiry may
//! have arrived and to telephone the home before sending it again. Waiting
//! is chosen over answering "may have arrived" at once because the database
//! almost always answers within its own bounds (SQLite's 10 s busy timeout,
//! the pools' acquire timeouts), and then the family hears the truth.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::warn;

use super::error::HttpError;
use super::format::Format;
use crate::ops::metrics::REQUEST_TIMEOUTS;

/// How much longer than `server.request_timeout` an answer waits once its
/// enquiry is with the database: past SQLite's busy timeout (10 s) and the
/// pools' acquire timeouts, so only a database that is truly stuck meets it.
pub const STORING_GRACE: Duration = Duration::from_secs(20);

/// Put in every request's extensions; the handler marks it just before it
/// hands an enquiry to the database.
#[derive(Clone, Debug, Default)]
pub struct Storing(Arc<AtomicBool>);

impl Storing {
    /// From now on the request's outcome is the database's: no "not sent".
    pub fn begin(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn begun(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

pub async fn limit(State(limit): State<Duration>, mut request: Request, next: Next) -> Response {
    let format = Format::of(request.headers());
    let storing = Storing::default();
    request.extensions_mut().insert(storing.clone());
    let handler = next.run(request);
    tokio::pin!(handler);
    // The handler runs inside this future, so when the timeout fires it is
    // not running: `begun` cannot change while it is read.
    match tokio::time::timeout(limit, &mut handler).await {
        Ok(response) => response,
        Err(_) if storing.begun() => {
            metrics::counter!(REQUEST_TIMEOUTS, "stage" => "storing").increment(1);
            warn!(
                "server.request_timeout passed while an enquiry was being stored; waiting for the database's answer"
            );
            match tokio::time::timeout(STORING_GRACE, handler).await {
                Ok(response) => response,
                Err(_) => HttpError::StoringTimedOut.into_response_for(format),
            }
        }
        Err(_) => {
            metrics::counter!(REQUEST_TIMEOUTS, "stage" => "receiving").increment(1);
            HttpError::RequestTimeout.into_response_for(format)
        }
    }
}
