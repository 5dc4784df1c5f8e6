//! The operations sections: `[status]` (when `/status` reports degraded),
//! `[metrics]` (who may scrape `/metrics`) and `[retention]` (how long personal
//! data is kept). Raw form, checks and typed settings live together here so the
//! shared loader files only gain one line per section.

use std::time::Duration;

use serde::Deserialize;

use super::checks::{boolean, positive_duration};
use super::error::Problems;
use super::raw::Text;

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
