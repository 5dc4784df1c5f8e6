//! `Service`: the kind of care asked about, CareHQ's `service` field.
//!
//! CareHQ's full list of service values is not published (docs/carehq-api.md,
//! "Care enquiries" and "Open questions"), so each site may configure the
//! values its CareHQ account uses; the built-in list below is only the default.

use std::fmt;

use serde::{Deserialize, Serialize};
use validator::ValidateLength;

const MAX_CHARS: usize = 64;
const CHOOSE: &str = "Choose the kind of care from the list";

/// `(CareHQ value, plain label)`. Only `residential_home` is confirmed by
/// CareHQ material (both plugins send it, and it filters locations); the rest
/// follow the same pattern and are unconfirmed guesses until checked against
/// an account (the sandbox or `carehq locations`).
pub const KNOWN_SERVICES: &[(&str, &str)] = &[
    ("residential_home", "Residential care"),
    ("nursing_home", "Nursing care"),
    ("dementia_care", "Dementia care"),
    ("respite_care", "Respite / short stay"),
    ("day_care", "Day care"),
    ("home_care", "Care at home"),
    ("live_in_care", "Live-in care"),
    ("assisted_living", "Assisted living"),
];

/// A service value from the site's allowed list: lower-case ASCII letters,
/// digits and `_`, at most 64 characters.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Service(String);

impl Service {
    /// Accepts `value` when it matches an entry of `allowed` (or of
    /// [`KNOWN_SERVICES`] when `allowed` is empty), ignoring case and surrounding
    /// spaces and treating `-` and space as `_` (WordPress slugs).
    pub fn parse(value: &str, allowed: &[String]) -> Result<Service, String> {
        let wanted = normalise(value);
        let found = if allowed.is_empty() {
            KNOWN_SERVICES
                .iter()
                .any(|(known, _)| normalise(known) == wanted)
        } else {
            allowed.iter().any(|entry| normalise(entry) == wanted)
        };
        if found && is_service_value(&wanted) {
            Ok(Self(wanted))
        } else {
            Err(CHOOSE.to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The plain label when the value is a built-in one.
    pub fn label(&self) -> Option<&'static str> {
        KNOWN_SERVICES
            .iter()
            .find(|(known, _)| *known == self.0)
            .map(|(_, label)| *label)
    }
}

fn normalise(value: &str) -> String {
    value
        .trim()
        .chars()
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

fn is_service_value(value: &str) -> bool {
    value.validate_length(Some(1), Some(MAX_CHARS as u64), None)
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Values read back from storage were checked against a site's list when
/// stored; the list may have changed since, so only the shape is checked here.
/// Config validation can use this too, to refuse allowed values that could
/// never be stored.
impl TryFrom<String> for Service {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if is_service_value(&value) {
            Ok(Self(value))
        } else {
            Err(format!(
                "A service value is lower-case letters, digits and _ (at most {MAX_CHARS} characters), like residential_home"
            ))
        }
    }
}

impl From<Service> for String {
    fn from(service: Service) -> Self {
        service.0
    }
}

impl AsRef<str> for Service {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Service({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn built_in_list_applies_when_the_site_sets_none() {
        let cases = [
            ("residential_home", "residential_home"),
            ("  Residential_Home ", "residential_home"),
            ("residential-home", "residential_home"),
            ("live in care", "live_in_care"),
            ("NURSING_HOME", "nursing_home"),
        ];
        for (input, want) in cases {
            assert_eq!(
                Service::parse(input, &[]).map(|s| s.as_str().to_owned()),
                Ok(want.to_owned()),
                "{input:?}"
            );
        }
        for (value, label) in KNOWN_SERVICES {
            let service = Service::parse(value, &[]).unwrap();
            assert_eq!(service.label(), Some(*label));
        }
    }

    #[test]
    fn a_site_list_replaces_the_built_in_one() {
        let allowed = list(&["residential_home", "Learning_Disability_Care"]);
        assert_eq!(
            Service::parse("learning-disability-care", &allowed).map(|s| s.to_string()),
            Ok("learning_disability_care".to_owned())
        );
        assert_eq!(
            Service::parse("learning_disability_care", &allowed)
                .unwrap()
                .label(),
            None
        );
        // Known elsewhere, but not offered by this site.
        assert_eq!(
            Service::parse("nursing_home", &allowed),
            Err(CHOOSE.to_owned())
        );
    }

    #[test]
    fn refuses_anything_off_the_list() {
        let odd = list(&["residential.home"]);
        let cases: [(&str, &[String]); 5] = [
            ("", &[]),
            ("bariatric_care", &[]),
            ("Residential care", &[]),
            ("residential_home; DROP", &[]),
            // An allowed entry that could not be stored again is never accepted.
            ("residential.home", &odd),
        ];
        for (input, allowed) in cases {
            assert_eq!(
                Service::parse(input, allowed),
                Err(CHOOSE.to_owned()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn stored_value_is_checked_for_shape() {
        let service: Service = serde_json::from_str("\"learning_disability_care\"").unwrap();
        assert_eq!(service.as_str(), "learning_disability_care");
        for bad in [
            "\"\"",
            "\"Residential_Home\"",
            "\"residential home\"",
            "\"a.b\"",
        ] {
            assert!(serde_json::from_str::<Service>(bad).is_err(), "{bad}");
        }
    }
}
