//! The operations sections: `[status]` (when `/status` reports degraded),
//! `[metrics]` (who may scrape `/metrics`) and `[retention]` (how long personal
//! data is kept). Raw form, checks and typed settings live together here so the
//! shared loader files only gain one line per section.

use std::time::Duration;

use serde::Deserialize;

use secrecy::SecretString;

use super::checks::{boolean, positive_duration};
use super::error::Problems;
use super::raw::{SecretText, Text};
use super::secrets;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStatus {
    pub max_pending_age: Option<Text>,
    pub failed_is_degraded: Option<Text>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub require_token: Option<Text>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetention {
    pub synced: Option<Text>,
    pub spam: Option<Text>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    pub webhook_url: Option<SecretText>,
    pub webhook_url_file: Option<Text>,
    pub include_details: Option<Text>,
    pub check_interval: Option<Text>,
}

/// `[alerts]`: who is told when enquiries stop flowing, and when they flow again.
#[derive(Clone)]
pub struct AlertSettings {
    /// POSTed a JSON message per incident and per all-clear. Secret: chat
    /// webhooks carry their token in the URL.
    pub webhook_url: Option<SecretString>,
    /// Put the families' names and contact details in the message.
    pub include_details: bool,
    /// How often the conditions are checked.
    pub check_interval: Duration,
}

impl std::fmt::Debug for AlertSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSettings")
            .field(
                "webhook_url",
                &self.webhook_url.as_ref().map(|_| "[redacted]"),
            )
            .field("include_details", &self.include_details)
            .field("check_interval", &self.check_interval)
            .finish()
    }
}

/// `[status]`: what makes `GET /status` answer 503 (degraded).
#[derive(Clone, Debug)]
pub struct StatusSettings {
    /// Degraded when the oldest pending enquiry has waited longer than this.
    pub max_pending_age: Duration,
    /// Degraded while any enquiry is failed (waiting for staff).
    pub failed_is_degraded: bool,
}

/// `[metrics]`.
#[derive(Clone, Debug)]
pub struct MetricsSettings {
    /// `/metrics` asks for the staff token, like `/status`.
    pub require_token: bool,
}

/// `[retention]`: when personal data is scrubbed (failed and held never are).
#[derive(Clone, Debug)]
pub struct RetentionSettings {
    /// Synced enquiries keep their details this long after they arrived.
    pub synced: Duration,
    /// Enquiries judged spam keep their details this long.
    pub spam: Duration,
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

pub(super) fn status(raw: &RawStatus, p: &mut Problems) -> Option<StatusSettings> {
    let max_pending_age = positive_duration(
        "status.max_pending_age",
        &raw.max_pending_age,
        Duration::from_secs(30 * 60),
        p,
    );
    let failed_is_degraded = boolean(
        "status.failed_is_degraded",
        &raw.failed_is_degraded,
        true,
        p,
    );
    Some(StatusSettings {
        max_pending_age: max_pending_age?,
        failed_is_degraded: failed_is_degraded?,
    })
}

pub(super) fn metrics(raw: &RawMetrics, p: &mut Problems) -> Option<MetricsSettings> {
    let require_token = boolean("metrics.require_token", &raw.require_token, false, p);
    Some(MetricsSettings {
        require_token: require_token?,
    })
}

pub(super) fn retention(raw: &RawRetention, p: &mut Problems) -> Option<RetentionSettings> {
    let synced = positive_duration("retention.synced", &raw.synced, 30 * DAY, p);
    let spam = positive_duration("retention.spam", &raw.spam, 7 * DAY, p);
    Some(RetentionSettings {
        synced: synced?,
        spam: spam?,
    })
}

pub(super) fn alerts(raw: RawAlerts, p: &mut Problems) -> Option<AlertSettings> {
    let webhook_url = secrets::resolve(
        "alerts.webhook_url",
        raw.webhook_url,
        &raw.webhook_url_file,
        p,
    );
    // Checked here rather than with `http_url`, whose message would echo the secret.
    let url_ok = match &webhook_url {
        None => Some(()),
        Some(url) => {
            let url = secrecy::ExposeSecret::expose_secret(url);
            let parsed = reqwest::Url::parse(url).ok();
            if parsed.is_some_and(|u| matches!(u.scheme(), "http" | "https")) {
                Some(())
            } else {
                p.push(
                    "alerts.webhook_url",
                    "is not an http(s) URL (value hidden: it is a secret); expected e.g. \"https://hooks.example.com/services/…\"",
                );
                None
            }
        }
    };
    let include_details = boolean("alerts.include_details", &raw.include_details, false, p);
    let check_interval = positive_duration(
        "alerts.check_interval",
        &raw.check_interval,
        Duration::from_secs(60),
        p,
    );
    url_ok?;
    Some(AlertSettings {
        webhook_url,
        include_details: include_details?,
        check_interval: check_interval?,
    })
}
