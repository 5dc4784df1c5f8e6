//! The `PUT care-enquiries` parameters for an enquiry from a site
//! (docs/design.md, "What is sent to CareHQ").

use super::routing::SiteRouting;
use crate::domain::Enquiry;

/// The pairs to sign and send: the site's routing Ids, `untrusted_source`, the
/// family's fields, and the site's defaults where the family gave none.
/// Booleans go as `true`/`false`.
pub fn enquiry_params(enquiry: &Enquiry, site: &SiteRouting) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = Vec::with_capacity(14);
    let mut push = |key: &str, value: &str| params.push((key.to_owned(), value.to_owned()));
    push("location", &site.location);
    if let Some(referrer) = &site.referrer {
        push("referrer", referrer);
    }
    if let Some(sales_channel) = &site.sales_channel {
        push("sales_channel", sales_channel);
    }
    push("untrusted_source", bool_str(site.untrusted_source));
    push("first_name", enquiry.first_name.as_str());
    push("last_name", enquiry.last_name.as_str());
    if let Some(email) = &enquiry.email {
        push("email", email.as_str());
    }
    if let Some(phone) = &enquiry.phone {
        push("phone", phone.as_str());
    }
    if let Some(text) = enquiry.care_requirements_text() {
        push("care_requirements", &text);
    }
    let service = enquiry
        .service
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .or_else(|| site.default_service.clone());
    if let Some(service) = service {
        push("service", &service);
    }
    let funding = enquiry
        .funding_type
        .map(|f| f.as_str().to_owned())
        .or_else(|| site.default_funding_type.clone());
    if let Some(funding) = funding {
        push("funding_type", &funding);
    }
    if let Some(for_self) = enquiry
        .enquiring_for_self
        .or(site.default_enquiring_for_self)
    {
        push("enquiring_for_self", bool_str(for_self));
    }
    params
}

fn bool_str(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}
