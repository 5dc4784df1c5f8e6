//! The operations sections: `[alerts]` (who is told when enquiries stop
//! flowing), `[status]` (when `/status` reports degraded), `[metrics]` (who may
//! scrape `/metrics`), `[retention]` (how long personal data is kept),
//! `[sentry]` (where errors are reported, optional) and `[log]` (how log lines
//! are written). Typed settings and their checks live together here so the
//! shared loader files only gain one line per section.

use std::str::FromStr;
use std::time::Duration;

use lettre::message::Mailbox;
use serde::Deserialize;

use secrecy::SecretString;

use super::env_names::LOG_FORMAT_ENV;
use super::error::Problems;
use super::fields;
use super::secrets;

/// `[alerts]`: who is told when enquiries stop flowing, and when they flow again.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// POSTed a JSON message per incident and per all-clear. Secret: chat
    /// webhooks carry their token in the URL.
    #[serde(deserialize_with = "secrets::secret_http_url")]
    pub webhook_url: Option<SecretString>,
    /// Email alerts: `smtps://user:password@host:465`, `smtp://host:587?tls=required`
    /// (or plain `smtp://host:25` on a trusted network). Secret: it holds the password.
    #[serde(deserialize_with = "fields::some_secret")]
    pub smtp_url: Option<SecretString>,
    /// Checked addresses, display names allowed (`Relay <relay@example.com>`).
    #[serde(deserialize_with = "mailbox")]
    pub email_from: Option<Mailbox>,
    #[serde(deserialize_with = "mailboxes")]
    pub email_to: Vec<Mailbox>,
    /// Put the families' names and contact details in the message.
    #[serde(deserialize_with = "fields::boolean")]
    pub include_details: bool,
    /// How often the conditions are checked.
    #[serde(deserialize_with = "fields::positive_duration")]
    pub check_interval: Duration,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            webhook_url: None,
            smtp_url: None,
            email_from: None,
            email_to: Vec::new(),
            include_details: false,
            check_interval: Duration::from_secs(60),
        }
    }
}

/// `[status]`: what makes `GET /status` answer 503 (degraded).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusSettings {
    /// Degraded when the oldest pending enquiry has waited longer than this.
    #[serde(deserialize_with = "fields::positive_duration")]
    pub max_pending_age: Duration,
    /// Degraded while any enquiry is failed (waiting for staff).
    #[serde(deserialize_with = "fields::boolean")]
    pub failed_is_degraded: bool,
}

impl Default for StatusSettings {
    fn default() -> Self {
        Self {
            max_pending_age: Duration::from_secs(30 * 60),
            failed_is_degraded: true,
        }
    }
}

/// `[metrics]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// `/metrics` asks for the staff token, like `/status`. On by default:
    /// the counters show each home's traffic and which defence caught what.
    /// The built-in sandbox (no config file) turns it off, so a first
    /// `cargo run` can be scraped without a token.
    #[serde(deserialize_with = "fields::boolean")]
    pub require_token: bool,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            require_token: true,
        }
    }
}

/// `[retention]`: when personal data is scrubbed (failed enquiries never are).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Synced enquiries keep their details this long after they arrived.
    #[serde(deserialize_with = "fields::positive_duration")]
    pub synced: Duration,
    /// Enquiries judged spam keep their details this long.
    #[serde(deserialize_with = "fields::positive_duration")]
    pub spam: Duration,
    /// A held enquiry nobody released or deleted keeps its details this
    /// long after it arrived; then they are scrubbed and its delivery is
    /// `expired` (never sent).
    #[serde(deserialize_with = "fields::positive_duration")]
    pub held: Duration,
    /// How often a running server does the pass (the first one comes a
    /// minute after start, or after `interval` if that is shorter).
    #[serde(deserialize_with = "fields::positive_duration")]
    pub interval: Duration,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            synced: 30 * DAY,
            spam: 7 * DAY,
            held: 30 * DAY,
            interval: DAY,
        }
    }
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// An email address, display name allowed.
struct Email(Mailbox);

impl FromStr for Email {
    type Err = String;
    fn from_str(text: &str) -> Result<Email, String> {
        text.parse().map(Email).map_err(|_| {
            format!("\"{text}\" is not an email address; expected e.g. \"Enquiry relay <relay@example.com>\"")
        })
    }
}

fn mailbox<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Mailbox>, D::Error> {
    fields::parsed(d).map(|Email(m)| Some(m))
}

fn mailboxes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Mailbox>, D::Error> {
    Ok(fields::list(d)?.into_iter().map(|Email(m)| m).collect())
}

/// `[sentry]`: error tracking, off unless `dsn` is set.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SentrySettings {
    /// The project's DSN. Secret: it carries the project's key.
    #[serde(deserialize_with = "secrets::sentry_dsn")]
    pub dsn: Option<SecretString>,
    /// Shown beside each event (`production`, `staging`…); Sentry's default when unset.
    #[serde(deserialize_with = "fields::some")]
    pub environment: Option<String>,
}

fields::named! {
    /// How each log line is written.
    #[derive(Default)]
    pub enum LogFormat {
        /// Human-readable lines.
        #[default]
        Text = "text",
        /// One JSON object per line.
        Json = "json",
    }
}

/// `[log]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    #[serde(deserialize_with = "fields::parsed")]
    pub format: LogFormat,
}

/// `ENQUIRY_RELAY_LOG_FORMAT` (read before the config existed, and still
/// honoured), when set, over `[log] format`. An unknown value stops `check`
/// and start-up instead of silently giving text, so a log shipper expecting
/// JSON is not fed lines it cannot parse.
pub(super) fn log(mut settings: LogSettings, p: &mut Problems) -> Option<LogSettings> {
    let from_env = std::env::var(LOG_FORMAT_ENV).ok();
    if let Some(value) = from_env.filter(|v| !v.trim().is_empty()) {
        match value.parse() {
            Ok(format) => settings.format = format,
            Err(e) => {
                p.push(LOG_FORMAT_ENV, e);
                return None;
            }
        }
    }
    Some(settings)
}
