//! The `[sentry]` section: where errors, panics and permanently failed
//! deliveries are reported (optional).

use secrecy::SecretString;
use serde::Deserialize;

use super::fields;
use super::secrets;

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
