//! The `PUT home-visits` parameters for a stored visit request
//! (docs/carehq-api.md, "Home visits"; names as the sandbox accepts them).

use super::routing::SiteRouting;
use crate::storage::StoredVisit;

/// Host role used when the site's visit settings are gone from the config.
const FALLBACK_HOST: &str = "manager";

/// `care_enquiry`, `date_time` (the home's local time, as chosen), `host`,
/// `visit_type`, `notes` and, when the site asks for it, `suppress_email`.
pub fn visit_params(
    visit: &StoredVisit,
    care_enquiry: &str,
    site: &SiteRouting,
    family_message: Option<&str>,
) -> Vec<(String, String)> {
    let host = site.visit_host.as_deref().unwrap_or(FALLBACK_HOST);
    let notes = match family_message.map(str::trim).filter(|m| !m.is_empty()) {
        Some(message) => message.to_owned(),
        None => format!("Visit booked on the {} website form.", site.site_name),
    };
    let mut params = vec![
        ("care_enquiry".to_owned(), care_enquiry.to_owned()),
        ("date_time".to_owned(), visit.local_time.clone()),
        ("host".to_owned(), host.to_owned()),
        ("visit_type".to_owned(), visit.visit_type.clone()),
        ("notes".to_owned(), notes),
    ];
    if site.suppress_visit_email {
        params.push(("suppress_email".to_owned(), "true".to_owned()));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::DeliveryStatus;

    fn site(visit_host: Option<&str>, suppress_visit_email: bool) -> SiteRouting {
        SiteRouting {
            site_name: "Upton Court".into(),
            location: "6724fbc74f73a2cebf6377fa".into(),
            visit_host: visit_host.map(str::to_owned),
            suppress_visit_email,
            ..SiteRouting::default()
        }
    }

    fn visit() -> StoredVisit {
        StoredVisit {
            local_time: "2026-03-30 10:00:00".into(),
            time_zone: "Europe/London".into(),
            visit_type: "virtual".into(),
            enquiry_status: Some(DeliveryStatus::Synced),
            enquiry_remote_id: Some("a".repeat(24)),
            site: "upton-court".into(),
            slot_at: 1_774_861_200_000,
            slot_freed: false,
        }
    }

    #[test]
    fn the_visit_is_linked_timed_hosted_and_noted() {
        let site = site(Some("deputy_manager"), false);
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
        let site = site(Some("manager"), true);
        let params = visit_params(&visit(), "abc", &site, None);
        assert!(params.contains(&("suppress_email".to_owned(), "true".to_owned())));
        assert!(params.contains(&(
            "notes".to_owned(),
            "Visit booked on the Upton Court website form.".to_owned()
        )));
        // Visit settings gone from the config: the fallback host, no suppression.
        let quiet = visit_params(&visit(), "abc", &self::site(None, false), None);
        assert!(!quiet.iter().any(|(k, _)| k == "suppress_email"));
        assert!(quiet.contains(&("host".to_owned(), "manager".to_owned())));
    }
}
