//! The typed, checked settings, one struct per `[section]` of the file. Values
//! here have already been validated: consumers never re-check them.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::fields;
use super::secrets;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/enquiry-relay.db";
pub const DEFAULT_CAREHQ_BASE_URL: &str = "https://api.carehq.dev";

/// `[database]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite:…` or `postgres(ql)://…`; secret because it may hold a password.
    #[serde(deserialize_with = "fields::secret")]
    pub url: SecretString,
    #[serde(deserialize_with = "fields::whole::<_, _, 1, 1000>")]
    pub max_connections: u32,
    /// Personal data is stored encrypted with the keys in this file
    /// (storage/sealing.rs has the format); absent means stored plain.
    pub encryption_key_file: Option<std::path::PathBuf>,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from(DEFAULT_DATABASE_URL),
            max_connections: 8,
            encryption_key_file: None,
        }
    }
}

impl DatabaseSettings {
    /// True for `postgres://` and `postgresql://` URLs, false for SQLite.
    pub fn is_postgres(&self) -> bool {
        self.url.expose_secret().starts_with("postgres")
    }

    /// The URL reduced to scheme and host, safe to log or print.
    pub fn redacted_url(&self) -> String {
        redact_url(self.url.expose_secret())
    }
}

/// Hand-written so the password (and the rest of the URL) never reaches a log.
impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .field("encryption_key_file", &self.encryption_key_file)
            .finish()
    }
}

/// `scheme://host[:port]/…`, or `scheme:…` when there is no host.
pub(super) fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => match parsed.host_str() {
            Some(host) => match parsed.port() {
                Some(port) => format!("{}://{host}:{port}/…", parsed.scheme()),
                None => format!("{}://{host}/…", parsed.scheme()),
            },
            None => format!("{}:…", parsed.scheme()),
        },
        Err(_) => "[unparsable URL, hidden]".to_owned(),
    }
}

/// `[carehq]`: the CareHQ account deliveries go to. Read with empty
/// credentials for unset ones, which `validate` fills or refuses.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CareHqSettings {
    /// Deliver to the built-in sandbox; the seed credentials are used when none are set.
    #[serde(deserialize_with = "fields::boolean")]
    pub sandbox: bool,
    /// Without a trailing `/`; the client appends `/v1/…`.
    #[serde(deserialize_with = "fields::carehq_url")]
    pub base_url: String,
    #[serde(deserialize_with = "fields::parsed")]
    pub account_id: String,
    #[serde(deserialize_with = "fields::secret")]
    pub api_key: SecretString,
    #[serde(deserialize_with = "fields::secret")]
    pub api_secret: SecretString,
    #[serde(deserialize_with = "fields::positive_duration")]
    pub timeout: Duration,
}

impl Default for CareHqSettings {
    fn default() -> Self {
        Self {
            sandbox: false,
            base_url: DEFAULT_CAREHQ_BASE_URL.to_owned(),
            account_id: String::new(),
            api_key: no_key(),
            api_secret: no_key(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// `[sync]`: the delivery worker.
#[derive(Clone, Debug)]
pub struct SyncSettings {
    /// Delay before retry n+1 after attempt n failed; its length is the number of retries.
    pub retry_schedule: Vec<Duration>,
    pub poll_interval: Duration,
    pub concurrency: usize,
    /// How long a claimed row stays claimed; always longer than `carehq.timeout`.
    pub lease: Duration,
    pub shutdown_grace: Duration,
    /// While delivery is paused (401/403/404), how often to try again.
    pub pause_probe_interval: Duration,
}

/// `[staff]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaffSettings {
    /// Bearer token for `/status` and `/metrics`, 32 characters or more;
    /// `None` means those routes are closed.
    #[serde(deserialize_with = "secrets::staff_token")]
    pub token: Option<SecretString>,
}

/// `[spam]`: the time token forms carry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpamSettings {
    /// `spam.token_secret`: the time token's HMAC key when set. The key in
    /// use is the one stored in the database (see `storage::time_token_keys`);
    /// a configured one that differs replaces it there.
    #[serde(deserialize_with = "fields::some_secret")]
    pub token_secret: Option<SecretString>,
    /// The key a database without one starts with when `token_secret` is
    /// unset: derived from `carehq.api_secret`, as before keys were stored.
    #[serde(skip, default = "no_key")]
    pub initial_key: SecretString,
    /// Posts sooner than this after the form was served are held as `too_fast`.
    #[serde(deserialize_with = "fields::duration")]
    pub min_fill_time: Duration,
    /// Tokens older than this are held as `stale_time_token`.
    #[serde(deserialize_with = "fields::positive_duration")]
    pub max_token_age: Duration,
}

impl Default for SpamSettings {
    fn default() -> Self {
        Self {
            token_secret: None,
            initial_key: no_key(),
            min_fill_time: Duration::from_secs(3),
            max_token_age: Duration::from_secs(24 * 3600),
        }
    }
}

/// Until `validate` derives it from the CareHQ secret.
fn no_key() -> SecretString {
    SecretString::from("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_keeps_scheme_and_host_only() {
        assert_eq!(
            redact_url("postgres://relay:hunter2@db.internal:5432/relay?sslmode=require"),
            "postgres://db.internal:5432/…"
        );
        assert_eq!(redact_url("postgresql://u:p@db/x"), "postgresql://db/…");
        assert_eq!(redact_url("sqlite::memory:"), "sqlite:…");
        assert_eq!(redact_url("not a url p@ss"), "[unparsable URL, hidden]");
    }
}
