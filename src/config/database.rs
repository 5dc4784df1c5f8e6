//! `[database]`: where enquiries are stored.

use secrecy::ExposeSecret;

use super::error::Problems;
use super::sections::DatabaseSettings;

use super::sections::DEFAULT_DATABASE_URL;

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
            format!("is an in-memory SQLite database; the relay opens two pools (a writer and readers), and each would get its own private, empty database, and every enquiry would be lost at exit. Give a file path instead, e.g. \"{DEFAULT_DATABASE_URL}\""),
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
