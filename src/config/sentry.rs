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

#[cfg(test)]
mod tests {
    use crate::config::Settings;
    use crate::config::test_env::jail;

    const BASE: &str = "[carehq]\nsandbox = true\n\n[[sites]]\nslug = \"home\"\nname = \"Home\"\nlocation = \"6724fbc74f73a2cebf6377fa\"\n\n";

    #[test]
    fn off_by_default() {
        jail(|_| {
            let s = Settings::from_toml_str(BASE).unwrap();
            assert!(s.sentry.dsn.is_none());
        });
    }

    #[test]
    fn the_dsn_is_checked_and_never_shown() {
        jail(|_| {
            let good = format!(
                "{BASE}[sentry]\ndsn = \"https://hunter2key@o1.ingest.sentry.io/42\"\nenvironment = \"staging\"\n"
            );
            let s = Settings::from_toml_str(&good).unwrap();
            assert!(s.sentry.dsn.is_some());
            assert_eq!(s.sentry.environment.as_deref(), Some("staging"));
            assert!(!format!("{s:?}").contains("hunter2key"));

            let bad = format!("{BASE}[sentry]\ndsn = \"hunter2key-not-a-dsn\"\n");
            let errors = Settings::from_toml_str(&bad).unwrap_err().to_string();
            assert!(errors.contains("sentry.dsn"), "{errors}");
            assert!(!errors.contains("hunter2key"), "{errors}");
        });
    }
}
