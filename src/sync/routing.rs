//! The CareHQ routing of a site, built from its settings (so that `carehq`
//! needs nothing from `config`).

use crate::carehq::SiteRouting;
use crate::config::SiteSettings;

pub(super) fn site_routing(site: &SiteSettings) -> SiteRouting {
    SiteRouting {
        site_name: site.name.clone(),
        location: site.location.to_string(),
        referrer: site.referrer.as_ref().map(ToString::to_string),
        sales_channel: site.sales_channel.as_ref().map(ToString::to_string),
        untrusted_source: site.untrusted_source,
        default_service: site.defaults.service.clone(),
        default_funding_type: site.defaults.funding_type.clone(),
        default_enquiring_for_self: site.defaults.enquiring_for_self,
        visit_host: site.visits().map(|v| v.host.clone()),
        suppress_visit_email: site.visits().is_some_and(|v| v.suppress_confirmation_email),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_env::settings_from;

    fn site(extra: &str) -> SiteSettings {
        let toml = format!(
            "[carehq]\nsandbox = true\n[[sites]]\nslug = \"a\"\nname = \"Upton Court\"\n\
             location = \"6724fbc74f73a2cebf6377fa\"\n{extra}"
        );
        settings_from(&toml).unwrap().sites.remove(0)
    }

    #[test]
    fn a_site_with_visits_routes_its_host_and_suppression() {
        let routing = site_routing(&site(
            "[sites.visits]\nenabled = true\nmonday = [\"10:00-12:00\"]\n\
             host = \"deputy_manager\"\nsuppress_confirmation_email = true\n",
        ));
        assert_eq!(routing.site_name, "Upton Court");
        assert_eq!(routing.location, "6724fbc74f73a2cebf6377fa");
        assert_eq!(routing.visit_host.as_deref(), Some("deputy_manager"));
        assert!(routing.suppress_visit_email);
    }

    #[test]
    fn a_site_without_visits_routes_no_host() {
        let routing = site_routing(&site("[sites.visits]\nenabled = false\n"));
        assert_eq!(routing.visit_host, None);
        assert!(!routing.suppress_visit_email);
    }
}
