//! The configuration exactly as written, before any checking: every key is
//! optional and every scalar is kept as text. Checking happens in `validate`,
//! which can then report all problems at once with messages of our own instead
//! of stopping at the first serde type error.

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::text::{SecretText, Text, TextList};

/// The top level, only to name unknown sections; each section is extracted on
/// its own so a mistake in one does not hide mistakes in another.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read by serde only: its job is to refuse unknown keys
pub(super) struct RawRoot {
    server: Option<IgnoredAny>,
    database: Option<IgnoredAny>,
    carehq: Option<IgnoredAny>,
    sync: Option<IgnoredAny>,
    staff: Option<IgnoredAny>,
    captcha: Option<IgnoredAny>,
    spam: Option<IgnoredAny>,
    rate_limit: Option<IgnoredAny>,
    sites: Option<IgnoredAny>,
    status: Option<IgnoredAny>,
    metrics: Option<IgnoredAny>,
    retention: Option<IgnoredAny>,
    alerts: Option<IgnoredAny>,
    sentry: Option<IgnoredAny>,
    log: Option<IgnoredAny>,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCaptcha {
    pub provider: Option<Text>,
    pub site_key: Option<Text>,
    pub secret: Option<SecretText>,
    pub secret_file: Option<Text>,
    pub verify_url: Option<Text>,
    pub on_error: Option<Text>,
    pub min_score: Option<Text>,
    pub action: Option<Text>,
    pub timeout: Option<Text>,
}

impl RawCaptcha {
    /// This table's keys over `base`'s: a site's `[sites.captcha]` over `[captcha]`.
    /// The secret and its `_file` move as a pair, so a site giving one does not
    /// end up with both.
    pub(super) fn over(self, base: &RawCaptcha) -> RawCaptcha {
        let own_secret = self.secret.is_some() || self.secret_file.is_some();
        let (secret, secret_file) = if own_secret {
            (self.secret, self.secret_file)
        } else {
            (base.secret.clone(), base.secret_file.clone())
        };
        RawCaptcha {
            provider: self.provider.or_else(|| base.provider.clone()),
            site_key: self.site_key.or_else(|| base.site_key.clone()),
            secret,
            secret_file,
            verify_url: self.verify_url.or_else(|| base.verify_url.clone()),
            on_error: self.on_error.or_else(|| base.on_error.clone()),
            min_score: self.min_score.or_else(|| base.min_score.clone()),
            action: self.action.or_else(|| base.action.clone()),
            timeout: self.timeout.or_else(|| base.timeout.clone()),
        }
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSite {
    pub slug: Option<Text>,
    pub name: Option<Text>,
    pub location: Option<Text>,
    pub referrer: Option<Text>,
    pub sales_channel: Option<Text>,
    pub allowed_origins: Option<TextList>,
    pub redirect_url: Option<Text>,
    pub untrusted_source: Option<Text>,
    pub services: Option<TextList>,
    pub honeypot_field: Option<Text>,
    pub require_time_token: Option<Text>,
    #[serde(default)]
    pub defaults: RawSiteDefaults,
    pub captcha: Option<RawCaptcha>,
    #[serde(default)]
    pub visits: RawVisits,
    pub intro: Option<Text>,
    pub consent_text: Option<Text>,
    pub consent_version: Option<Text>,
    pub hidden_fields: Option<TextList>,
    #[serde(default)]
    pub labels: RawSiteLabels,
}

/// `[sites.labels]`: wording for the hosted form's fields.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSiteLabels {
    pub first_name: Option<Text>,
    pub last_name: Option<Text>,
    pub email: Option<Text>,
    pub phone: Option<Text>,
    pub care_requirements: Option<Text>,
    pub enquiring_for_self: Option<Text>,
    pub service: Option<Text>,
    pub funding_type: Option<Text>,
    pub submit: Option<Text>,
}

/// `[sites.visits]`: home visit booking (checked in `visits`).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVisits {
    pub enabled: Option<Text>,
    pub time_zone: Option<Text>,
    pub monday: Option<TextList>,
    pub tuesday: Option<TextList>,
    pub wednesday: Option<TextList>,
    pub thursday: Option<TextList>,
    pub friday: Option<TextList>,
    pub saturday: Option<TextList>,
    pub sunday: Option<TextList>,
    pub slot_length: Option<Text>,
    pub days_ahead: Option<Text>,
    pub closed_dates: Option<TextList>,
    pub notice: Option<Text>,
    pub host: Option<Text>,
    pub visit_types: Option<TextList>,
    pub suppress_confirmation_email: Option<Text>,
    pub capacity: Option<Text>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSiteDefaults {
    pub service: Option<Text>,
    pub funding_type: Option<Text>,
    pub enquiring_for_self: Option<Text>,
}
