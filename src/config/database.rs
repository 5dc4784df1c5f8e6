//! `[database]`: where enquiries are stored.

use secrecy::{ExposeSecret, SecretString};

use super::checks::integer;
use super::error::Problems;
use super::raw::RawDatabase;
use super::secrets;
use super::sections::DatabaseSettings;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/enquiry-relay.db";
const DEFAULT_MAX_CONNECTIONS: i64 = 8;

pub(super) fn database(raw: RawDatabase, p: &mut Problems) -> Option<DatabaseSettings> {
    let mut ok = true;
    let url = secrets::resolve("database.url", raw.url, &raw.url_file, p)
        .unwrap_or_else(|| SecretString::from(DEFAULT_DATABASE_URL));
    let exposed = url.expose_secret();
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
        ok = false;
    }
    if sqlite_in_memory(exposed) {
        p.push(
            "database.url",
            format!("is an in-memory SQLite database; the relay opens two pools (a writer and readers), and each would get its own private, empty database, and every enquiry would be lost at exit. Give a file path instead, e.g. \"{DEFAULT_DATABASE_URL}\""),
        );
        ok = false;
    }
    let max_connections = integer(
        "database.max_connections",
        &raw.max_connections,
        DEFAULT_MAX_CONNECTIONS,
        1,
        1000,
        p,
    );
    let max_connections = u32::try_from(max_connections?).ok()?;
    ok.then_some(DatabaseSettings {
        url,
        max_connections,
    })
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
