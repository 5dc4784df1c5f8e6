//! `[log]`: how log lines are written. `format` is `text` (default) or
//! `json`; `ENQUIRY_RELAY_LOG_FORMAT` (read before the config existed, and
//! still honoured) overrides it. An unknown value stops `check` and start-up
//! instead of silently giving text, so a log shipper expecting JSON is not
//! fed lines it cannot parse.

use serde::Deserialize;

use super::env_names::LOG_FORMAT_ENV;
use super::error::Problems;
use super::fields;

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

/// `ENQUIRY_RELAY_LOG_FORMAT`, when set, over `[log] format`.
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
