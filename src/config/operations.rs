//! The operations sections: `[status]` (when `/status` reports degraded),
//! `[metrics]` (who may scrape `/metrics`) and `[retention]` (how long personal
//! data is kept). Raw form, checks and typed settings live together here so the
//! shared loader files only gain one line per section.

use std::time::Duration;

use lettre::message::Mailbox;
use serde::Deserialize;

use secrecy::SecretString;

use super::checks::{boolean, positive_duration};
use super::error::Problems;
use super::secrets;
use super::text::{SecretText, Text, TextList, text};

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
    pub held: Option<Text>,
    pub interval: Option<Text>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    pub webhook_url: Option<SecretText>,
    pub webhook_url_file: Option<Text>,
    pub smtp_url: Option<SecretText>,
    pub smtp_url_file: Option<Text>,
    pub email_from: Option<Text>,
    pub email_to: Option<TextList>,
    pub include_details: Option<Text>,
    pub check_interval: Option<Text>,
}

/// `[alerts]`: who is told when enquiries stop flowing, and when they flow again.
#[derive(Clone, Debug)]
pub struct AlertSettings {
    /// POSTed a JSON message per incident and per all-clear. Secret: chat
    /// webhooks carry their token in the URL.
    pub webhook_url: Option<SecretString>,
    /// Email alerts: `smtps://user:password@host:465`, `smtp://host:587?tls=required`
    /// (or plain `smtp://host:25` on a trusted network). Secret: it holds the password.
    pub smtp_url: Option<SecretString>,
    /// Checked addresses, display names allowed (`Relay <relay@example.com>`).
    pub email_from: Option<Mailbox>,
    pub email_to: Vec<Mailbox>,
    /// Put the families' names and contact details in the message.
    pub include_details: bool,
    /// How often the conditions are checked.
    pub check_interval: Duration,
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

/// `[retention]`: when personal data is scrubbed (failed enquiries never are).
#[derive(Clone, Debug)]
pub struct RetentionSettings {
    /// Synced enquiries keep their details this long after they arrived.
    pub synced: Duration,
    /// Enquiries judged spam keep their details this long.
    pub spam: Duration,
    /// A held enquiry nobody released or deleted keeps its details this
    /// long after it arrived; then they are scrubbed and its delivery is
    /// `expired` (never sent).
    pub held: Duration,
    /// How often a running server does the pass (the first one comes a
    /// minute after start, or after `interval` if that is shorter).
    pub interval: Duration,
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
    // On by default: the counters show each home's traffic and which defence
    // caught what. The built-in sandbox (no config file) turns it off, so a
    // first `cargo run` can be scraped without a token.
    let require_token = boolean("metrics.require_token", &raw.require_token, true, p);
    Some(MetricsSettings {
        require_token: require_token?,
    })
}

pub(super) fn retention(raw: &RawRetention, p: &mut Problems) -> Option<RetentionSettings> {
    let synced = positive_duration("retention.synced", &raw.synced, 30 * DAY, p);
    let spam = positive_duration("retention.spam", &raw.spam, 7 * DAY, p);
    let held = positive_duration("retention.held", &raw.held, 30 * DAY, p);
    let interval = positive_duration("retention.interval", &raw.interval, DAY, p);
    Some(RetentionSettings {
        synced: synced?,
        spam: spam?,
        held: held?,
        interval: interval?,
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
    let smtp_url = secrets::resolve("alerts.smtp_url", raw.smtp_url, &raw.smtp_url_file, p);
    let mut email_ok = true;
    let mut mailbox = |key: String, value: &str| {
        let parsed = value.parse::<Mailbox>().ok();
        if parsed.is_none() {
            p.push(
                key,
                format!("\"{value}\" is not an email address; expected e.g. \"Enquiry relay <relay@example.com>\""),
            );
            email_ok = false;
        }
        parsed
    };
    let from_text = text(&raw.email_from);
    let to_texts = raw.email_to.map(|l| l.0).unwrap_or_default();
    let email_from = from_text.and_then(|v| mailbox("alerts.email_from".into(), v));
    let email_to: Vec<Mailbox> = (to_texts.iter().enumerate())
        .filter_map(|(i, v)| mailbox(format!("alerts.email_to[{i}]"), v))
        .collect();
    if smtp_url.is_some() && (from_text.is_none() || to_texts.is_empty()) {
        p.push(
            "alerts.smtp_url",
            "is set, so alerts.email_from and alerts.email_to are needed too (who the alert is from and to)",
        );
        email_ok = false;
    }
    let include_details = boolean("alerts.include_details", &raw.include_details, false, p);
    let check_interval = positive_duration(
        "alerts.check_interval",
        &raw.check_interval,
        Duration::from_secs(60),
        p,
    );
    url_ok?;
    email_ok.then_some(())?;
    Some(AlertSettings {
        webhook_url,
        smtp_url,
        email_from,
        email_to,
        include_details: include_details?,
        check_interval: check_interval?,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;
    use crate::config::test_env::jail;

    const BASE: &str = "[carehq]\nsandbox = true\n\n[[sites]]\nslug = \"home\"\nname = \"Home\"\nlocation = \"6724fbc74f73a2cebf6377fa\"\n\n";

    #[test]
    fn defaults_match_the_documented_ones() {
        jail(|_| {
            let s = Settings::from_toml_str(BASE).unwrap();
            assert_eq!(s.status.max_pending_age.as_secs(), 30 * 60);
            assert!(s.status.failed_is_degraded);
            // A config given as a file or text is not the built-in sandbox, even
            // with carehq.sandbox = true: /metrics asks for the staff token.
            assert!(s.metrics.require_token);
            assert_eq!(s.retention.synced.as_secs(), 30 * 24 * 3600);
            assert_eq!(s.retention.spam.as_secs(), 7 * 24 * 3600);
            assert_eq!(s.retention.held.as_secs(), 30 * 24 * 3600);
            assert_eq!(s.retention.interval.as_secs(), 24 * 3600);
            assert!(s.alerts.webhook_url.is_none() && s.alerts.smtp_url.is_none());
        });
    }

    #[test]
    fn alert_secrets_stay_out_of_debug_and_errors() {
        jail(|_| {
            let toml = format!(
                "{BASE}[alerts]\nwebhook_url = \"https://hooks.example.com/T0/hunter2\"\n\
             smtp_url = \"smtps://u:pa55word@smtp.example.com:465\"\n\
             email_from = \"Relay <relay@example.com>\"\nemail_to = \"a@example.com, b@example.com\"\n"
            );
            let s = Settings::from_toml_str(&toml).unwrap();
            assert_eq!(s.alerts.email_to.len(), 2);
            let debug = format!("{s:?}");
            assert!(
                !debug.contains("hunter2") && !debug.contains("pa55word"),
                "{debug}"
            );

            let bad = format!(
                "{BASE}[alerts]\nwebhook_url = \"ftp://hunter2\"\nsmtp_url = \"smtp://h\"\n"
            );
            let errors = Settings::from_toml_str(&bad).unwrap_err().to_string();
            assert!(!errors.contains("hunter2"), "{errors}");
            assert!(errors.contains("alerts.webhook_url"), "{errors}");
            assert!(
                errors.contains("alerts.email_from"),
                "smtp needs addresses: {errors}"
            );
        });
    }
}
