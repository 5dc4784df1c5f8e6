//! The operations sections: `[alerts]` (who is told when enquiries stop
//! flowing), `[status]` (when `/status` reports degraded), `[metrics]` (who may
//! scrape `/metrics`), `[retention]` (how long personal data is kept),
//! `[sentry]` (where errors are reported, optional) and `[log]` (how log lines
//! are written). Typed settings and their checks live together here so the
//! shared loader files only gain one line per section.

use std::time::Duration;

use lettre::message::Mailbox;

use secrecy::SecretString;

use super::env_names::LOG_FORMAT_ENV;
use super::error::Problems;
use super::fields;
use super::secrets;
use crate::values::Email;

fields::section! {
    /// `[alerts]`: who is told when enquiries stop flowing, and when they flow again.
    #[derive(Clone, Debug)]
    pub struct AlertSettings {
        /// POSTed a JSON message per incident and per all-clear. Secret: chat
        /// webhooks carry their token in the URL.
        pub webhook_url: Option<SecretString> ["secrets::secret_http_url"] = None,
        /// Email alerts: `smtps://user:password@host:465`, `smtp://host:587?tls=required`
        /// (or plain `smtp://host:25` on a trusted network). Secret: it holds the password.
        pub smtp_url: Option<SecretString> ["fields::secret"] = None,
        /// Checked addresses, display names allowed (`Relay <relay@example.com>`).
        pub email_from: Option<Mailbox> ["fields::some_via::<_, Email, _>"] = None,
        pub email_to: Vec<Mailbox> ["fields::list_via::<_, Email, _>"] = Vec::new(),
        /// Put the families' names and contact details in the message.
        pub include_details: bool ["fields::boolean"] = false,
        /// How often the conditions are checked.
        pub check_interval: Duration ["fields::positive_duration"] = Duration::from_secs(60),
    }
}

fields::section! {
    /// `[status]`: what makes `GET /status` answer 503 (degraded).
    #[derive(Clone, Debug)]
    pub struct StatusSettings {
        /// Degraded when the oldest pending enquiry has waited longer than this.
        pub max_pending_age: Duration ["fields::positive_duration"] = Duration::from_secs(30 * 60),
        /// Degraded while any enquiry is failed (waiting for staff).
        pub failed_is_degraded: bool ["fields::boolean"] = true,
    }
}

fields::section! {
    /// `[metrics]`.
    #[derive(Clone, Debug)]
    pub struct MetricsSettings {
        /// On by default: the counters show each home's traffic and which
        /// defence caught what (the built-in sandbox turns it off).
        pub require_token: bool ["fields::boolean"] = true,
    }
}

fields::section! {
    /// `[retention]`: when personal data is scrubbed.
    #[derive(Clone, Debug)]
    pub struct RetentionSettings {
        /// Synced enquiries keep their details this long after they arrived.
        pub synced: Duration ["fields::positive_duration"] = 30 * DAY,
        /// Enquiries judged spam keep their details this long.
        pub spam: Duration ["fields::positive_duration"] = 7 * DAY,
        /// Held enquiries nobody released keep theirs this long; then their delivery is `expired`.
        pub held: Duration ["fields::positive_duration"] = 30 * DAY,
        /// Enquiries with a failed step and nothing left to send: long enough for
        /// staff to correct and resend (from a notice period on: the example file).
        pub failed: Duration ["fields::positive_duration"] = 90 * DAY,
        /// How often a running server does the pass (the first one comes a
        /// minute after start, or after `interval` if that is shorter).
        pub interval: Duration ["fields::positive_duration"] = DAY,
    }
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fields::section! {
    /// `[sentry]`: error tracking, off unless `dsn` is set.
    #[derive(Clone, Debug)]
    pub struct SentrySettings {
        /// The project's DSN. Secret: it carries the project's key.
        pub dsn: Option<SecretString> ["secrets::sentry_dsn"] = None,
        /// Shown beside each event (`production`, `staging`…); Sentry's default when unset.
        pub environment: Option<String> ["fields::some"] = None,
    }
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

fields::section! {
    /// `[log]`.
    #[derive(Clone, Debug)]
    pub struct LogSettings {
        pub format: LogFormat ["fields::parsed"] = Default::default(),
    }
}

/// `ENQUIRY_RELAY_LOG_FORMAT` (read before the config existed, and still
/// honoured), when set, over `[log] format`. An unknown value stops `check`
/// and start-up instead of silently giving text, so a log shipper expecting
/// JSON is not fed lines it cannot parse.
pub(super) fn log(settings: &mut LogSettings, p: &mut Problems) {
    let from_env = std::env::var(LOG_FORMAT_ENV).ok();
    if let Some(value) = from_env.filter(|v| !v.trim().is_empty()) {
        match value.parse() {
            Ok(format) => settings.format = format,
            Err(e) => p.push(LOG_FORMAT_ENV, e),
        }
    }
}
