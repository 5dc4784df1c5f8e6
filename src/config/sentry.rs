//! The `[sentry]` section: where errors, panics and permanently failed
//! deliveries are reported (optional). Raw form, checks and typed settings
//! together, like the operations sections.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::error::Problems;
use super::secrets;
use super::text::{SecretText, Text, text};

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSentry {
    pub dsn: Option<SecretText>,
    pub dsn_file: Option<Text>,
    pub environment: Option<Text>,
}

/// `[sentry]`: error tracking, off unless `dsn` is set.
#[derive(Clone, Debug)]
pub struct SentrySettings {
    /// The project's DSN. Secret: it carries the project's key.
    pub dsn: Option<SecretString>,
    /// Shown beside each event (`production`, `staging`…); Sentry's default when unset.
    pub environment: Option<String>,
}

pub(super) fn sentry(raw: RawSentry, p: &mut Problems) -> Option<SentrySettings> {
    let dsn = secrets::resolve("sentry.dsn", raw.dsn, &raw.dsn_file, p);
    // Parsed here so a typo stops start-up instead of silently reporting nothing;
    // the message never echoes the value.
    if let Some(dsn) = &dsn
        && dsn.expose_secret().parse::<sentry::types::Dsn>().is_err()
    {
        p.push(
            "sentry.dsn",
            "is not a Sentry DSN (value hidden: it is a secret); copy it from the project's \
             Client Keys page, e.g. \"https://<key>@o123.ingest.sentry.io/456\"",
        );
        return None;
    }
    Some(SentrySettings {
        dsn,
        environment: text(&raw.environment).map(str::to_owned),
    })
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
