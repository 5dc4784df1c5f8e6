//! What CareHQ needs to know about the site a send comes from: its routing
//! Ids, its defaults for fields the family left out, and how its visits are
//! booked. `sync` builds one from the site's settings, so that this module
//! depends on nothing in `config`.

/// One site's routing for `PUT care-enquiries` and `PUT home-visits`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiteRouting {
    /// The site's name, quoted in a visit's notes when the family wrote none.
    pub site_name: String,
    /// CareHQ location Id.
    pub location: String,
    pub referrer: Option<String>,
    pub sales_channel: Option<String>,
    pub untrusted_source: bool,
    /// Sent when the family gave no value.
    pub default_service: Option<String>,
    pub default_funding_type: Option<String>,
    pub default_enquiring_for_self: Option<bool>,
    /// CareHQ host role for visits; `None` when the site's visit settings are
    /// gone from the config.
    pub visit_host: Option<String>,
    pub suppress_visit_email: bool,
}
