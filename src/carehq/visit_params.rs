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
