//! `[database]`: where enquiries are stored, and the bounds of the staff pool.

use std::time::Duration;

use secrecy::ExposeSecret;

use super::error::Problems;
use super::sections::DatabaseSettings;
use crate::values::format_duration;

use super::sections::DEFAULT_DATABASE_URL;

/// How much shorter than `server.request_timeout` the staff pool's statement
/// timeout is by default (never more than half of it).
pub(super) const STAFF_STATEMENT_MARGIN: Duration = Duration::from_secs(5);

/// `database.staff_statement_timeout` when it is not set: a few seconds
/// under the request timeout, so the database gives up a staff read before
/// the HTTP layer gives up the request.
pub(super) fn default_staff_statement_timeout(request_timeout: Duration) -> Duration {
    (request_timeout.saturating_sub(STAFF_STATEMENT_MARGIN)).max(request_timeout / 2)
}

/// A staff read the request has already given up on must not go on in the
/// database: its own timeout ends it even where the cancel on a dropped
/// request cannot be sent, and staff are told the database took too long
/// rather than that the request did.
pub(super) fn staff_statement_within_request(
    statement: Duration,
    request: Duration,
    p: &mut Problems,
) {
    if statement >= request {
        p.push(
            "database.staff_statement_timeout",
            format!(
                "\"{}\" must be shorter than server.request_timeout (\"{}\"), or a staff read would go on running in the database after its request had been given up; e.g. \"{}\", or leave it out for that default",
                format_duration(statement),
                format_duration(request),
                format_duration(default_staff_statement_timeout(request)),
            ),
        );
    }
}

pub(super) fn database(settings: &DatabaseSettings, p: &mut Problems) {
    let exposed = settings.url.expose_secret();
    let known = ["sqlite:", "postgres:", "postgresql:"]
        .iter()
        .any(|scheme| exposed.starts_with(scheme));
    if !known {
        // Only the scheme is echoed: the rest may hold a password.
        let scheme = exposed.split_once(':').map_or("(none)", |(s, _)| s);
        p.push(
            "database.url",
            format!("unsupported scheme \"{scheme}\"; expected \"sqlite://path/to/file.db\" or \"postgres://user:password@host/database\""),
        );
        return;
    }
    if sqlite_in_memory(exposed) {
        p.push(
            "database.url",
            format!("is an in-memory SQLite database; the relay opens several pools (a writer, readers and staff readers), and each would get its own private, empty database, and every enquiry would be lost at exit. Give a file path instead, e.g. \"{DEFAULT_DATABASE_URL}\""),
        );
        return;
    }
    if settings
        .encryption_key_file
        .as_ref()
        .is_some_and(|f| f.as_os_str().is_empty())
    {
        p.push(
            "database.encryption_key_file",
            "is empty; name the key file (make one with `enquiry-relay keygen`) or leave the key out to store data unencrypted",
        );
    }
}

/// `sqlite::memory:`, `sqlite://:memory:`, `…?mode=memory`, or no path at all
/// (which SQLite also opens as a private temporary database), parsed as sqlx
/// parses SQLite URLs.
fn sqlite_in_memory(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return false;
    };
    let rest = rest.trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    path.is_empty()
        || path == ":memory:"
        || query
            .split('&')
            .any(|pair| pair.eq_ignore_ascii_case("mode=memory"))
}
