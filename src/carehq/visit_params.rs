//! The `PUT home-visits` parameters for a stored visit request
//! (carehq-api.md §6; names as the sandbox accepts them).

use crate::config::SiteSettings;
use crate::storage::StoredVisit;

/// Host role used when the site's visit settings are gone from the config.
const FALLBACK_HOST: &str = "manager";

/// `care_enquiry`, `date_time` (the home's local time, as chosen), `host`,
/// `visit_type`, `notes` and, when the site asks for it, `suppress_email`.
pub fn visit_params(
    visit: &StoredVisit,
    care_enquiry: &str,
    site: &SiteSettings,
    family_message: Option<&str>,
) -> Vec<(String, String)> {
    let host = site
        .visits
        .as_ref()
        .map_or(FALLBACK_HOST, |v| v.host.as_str());
    let notes = match family_message.map(str::trim).filter(|m| !m.is_empty()) {
        Some(message) => message.to_owned(),
        None => format!("Visit booked on the {} website form.", site.name),
    };
    let mut params = vec![
        ("care_enquiry".to_owned(), care_enquiry.to_owned()),
        ("date_time".to_owned(), visit.local_time.clone()),
        ("host".to_owned(), host.to_owned()),
        ("visit_type".to_owned(), visit.visit_type.clone()),
        ("notes".to_owned(), notes),
    ];
    if site
        .visits
        .as_ref()
        .is_some_and(|v| v.suppress_confirmation_email)
    {
        params.push(("suppress_email".to_owned(), "true".to_owned()));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_env::settings_from;

    fn site(visits: &str) -> SiteSettings {
        let toml = format!(
            "[carehq]\nsandbox = true\n[[sites]]\nslug = \"a\"\nname = \"Upton Court\"\n\
             location = \"6724fbc74f73a2cebf6377fa\"\n[sites.visits]\n{visits}"
        );
        settings_from(&toml).unwrap().sites.remove(0)
    }

    fn visit() -> StoredVisit {
        StoredVisit {
            local_time: "2026-03-30 10:00:00".into(),
            time_zone: "Europe/London".into(),
            visit_type: "virtual".into(),
            enquiry_status: Some("synced".into()),
            enquiry_remote_id: Some("a".repeat(24)),
            site: "upton-court".into(),
            slot_at: 1_774_861_200_000,
            slot_freed: false,
        }
    }

    #[test]
    fn the_visit_is_linked_timed_hosted_and_noted() {
        let site = site("enabled = true\nmonday = [\"10:00-12:00\"]\nhost = \"deputy_manager\"\n");
        let params = visit_params(&visit(), "abc", &site, Some("  Respite care  "));
        let expected: Vec<(String, String)> = [
            ("care_enquiry", "abc"),
            ("date_time", "2026-03-30 10:00:00"),
            ("host", "deputy_manager"),
            ("visit_type", "virtual"),
            ("notes", "Respite care"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(params, expected);
    }

    #[test]
    fn suppression_is_sent_when_configured_and_a_missing_message_gets_a_line() {
        let site = site(
            "enabled = true\nmonday = [\"10:00-12:00\"]\nsuppress_confirmation_email = true\n",
        );
        let params = visit_params(&visit(), "abc", &site, None);
        assert!(params.contains(&("suppress_email".to_owned(), "true".to_owned())));
        assert!(params.contains(&(
            "notes".to_owned(),
            "Visit booked on the Upton Court website form.".to_owned()
        )));
        let quiet = visit_params(&visit(), "abc", &self::site("enabled = false\n"), None);
        assert!(!quiet.iter().any(|(k, _)| k == "suppress_email"));
        assert!(quiet.contains(&("host".to_owned(), "manager".to_owned())));
    }
}
