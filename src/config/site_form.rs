//! Checks a site's hosted-form settings: intro text, the consent statement and
//! its version, which optional fields the form leaves out, and field labels.

use super::error::Problems;
use super::raw::{RawSite, RawSiteLabels};
use super::text::text;

/// Fields a site may leave off its hosted form (names, email-or-phone and
/// consent are what every enquiry needs, so they cannot be hidden together).
pub const OPTIONAL_FIELDS: &[&str] = &[
    "email",
    "phone",
    "care_requirements",
    "enquiring_for_self",
    "service",
    "funding_type",
];

/// How one site's hosted form looks.
#[derive(Clone, Debug, Default)]
pub struct SiteForm {
    /// A paragraph under the heading, in the home's own words.
    pub intro: Option<String>,
    /// The consent statement; when set the family must tick it.
    pub consent_text: Option<String>,
    /// Recorded with each enquiry, so staff know which wording the family saw.
    pub consent_version: Option<String>,
    /// Optional fields left off the form (from `OPTIONAL_FIELDS`).
    pub hidden_fields: Vec<String>,
    /// Field name → label, replacing the built-in wording.
    pub labels: Vec<(String, String)>,
}

impl SiteForm {
    pub fn shows(&self, field: &str) -> bool {
        !self.hidden_fields.iter().any(|f| f == field)
    }

    pub fn label(&self, field: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, l)| l.as_str())
    }
}

pub(super) fn site_form(i: usize, raw: &RawSite, p: &mut Problems) -> Option<SiteForm> {
    let key = |field: &str| format!("sites[{i}].{field}");
    let consent_text = text(&raw.consent_text).map(str::to_owned);
    let consent_version = text(&raw.consent_version).map(str::to_owned);
    let mut ok = true;
    if consent_text.is_some() && consent_version.is_none() {
        p.push(
            key("consent_version"),
            "missing; set a version for the consent wording (e.g. \"2026-11\") so each enquiry records which wording the family agreed to",
        );
        ok = false;
    }
    if consent_text.is_none() && consent_version.is_some() {
        p.push(
            key("consent_text"),
            "missing; consent_version is set but there is no consent_text to show; set both or neither",
        );
        ok = false;
    }
    let mut hidden_fields: Vec<String> = Vec::new();
    for (j, field) in raw
        .hidden_fields
        .as_ref()
        .map(|l| l.0.as_slice())
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let field = field.trim();
        if !OPTIONAL_FIELDS.contains(&field) {
            p.push(
                format!("sites[{i}].hidden_fields[{j}]"),
                format!(
                    "\"{field}\" cannot be hidden; expected one of: {}",
                    OPTIONAL_FIELDS.join(", ")
                ),
            );
            ok = false;
        } else if !hidden_fields.iter().any(|f| f == field) {
            hidden_fields.push(field.to_owned());
        }
    }
    if hidden_fields.iter().any(|f| f == "email") && hidden_fields.iter().any(|f| f == "phone") {
        p.push(
            key("hidden_fields"),
            "hides both email and phone, so the home could not reply; keep at least one",
        );
        ok = false;
    }
    let form = SiteForm {
        intro: text(&raw.intro).map(str::to_owned),
        consent_text,
        consent_version,
        hidden_fields,
        labels: labels(&raw.labels),
    };
    ok.then_some(form)
}

fn labels(raw: &RawSiteLabels) -> Vec<(String, String)> {
    [
        ("first_name", &raw.first_name),
        ("last_name", &raw.last_name),
        ("email", &raw.email),
        ("phone", &raw.phone),
        ("care_requirements", &raw.care_requirements),
        ("enquiring_for_self", &raw.enquiring_for_self),
        ("service", &raw.service),
        ("funding_type", &raw.funding_type),
        ("submit", &raw.submit),
    ]
    .into_iter()
    .filter_map(|(field, value)| text(value).map(|v| (field.to_owned(), v.to_owned())))
    .collect()
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;
    use crate::config::test_env::jail;

    fn load(site_keys: &str) -> Result<Settings, String> {
        let toml = format!(
            "[carehq]\nsandbox = true\n[[sites]]\nslug = \"a\"\nname = \"A\"\n\
             location = \"6724fbc74f73a2cebf6377fa\"\n{site_keys}"
        );
        Settings::from_toml_str(&toml).map_err(|e| e.to_string())
    }

    #[test]
    fn form_settings_are_read() {
        jail(|_| {
            let settings = load(
            "intro = \"Hello\"\nconsent_text = \"I agree\"\nconsent_version = \"v2\"\n\
             hidden_fields = [\"funding_type\", \"phone\"]\n[sites.labels]\nphone = \"Telephone\"\n",
        )
        .expect("valid");
            let form = &settings.sites[0].form;
            assert_eq!(form.intro.as_deref(), Some("Hello"));
            assert_eq!(form.consent_text.as_deref(), Some("I agree"));
            assert_eq!(form.consent_version.as_deref(), Some("v2"));
            assert!(!form.shows("funding_type") && !form.shows("phone") && form.shows("email"));
            assert_eq!(form.label("phone"), Some("Telephone"));
            assert_eq!(form.label("email"), None);
        });
    }

    #[test]
    fn consent_needs_a_version_and_contact_fields_cannot_all_go() {
        jail(|_| {
            let errors = load(
                "consent_text = \"I agree\"\nhidden_fields = [\"email\", \"phone\", \"name\"]\n",
            )
            .expect_err("invalid");
            assert!(errors.contains("sites[0].consent_version"), "{errors}");
            assert!(errors.contains("sites[0].hidden_fields[2]"), "{errors}");
            assert!(errors.contains("hides both email and phone"), "{errors}");
            let errors = load("consent_version = \"v1\"\n").expect_err("invalid");
            assert!(errors.contains("sites[0].consent_text"), "{errors}");
        });
    }
}
