//! Reading back the enquiry a claimed row sends. Every lane needs it, and
//! each permanent problem with it (the row missing, its personal data
//! scrubbed, no longer valid, unreadable) is worded once, free of personal
//! data: these words are logged and kept for staff.

use super::sender::Unsent;
use super::shared::Shared;
use crate::config::SiteSettings;
use crate::domain::{Enquiry, StoredEnquiry};
use crate::storage::ClaimedDelivery;

/// The stored enquiry of a claimed row and its site's slug.
pub(super) struct Stored {
    pub site: String,
    pub enquiry: Enquiry,
}

/// The row's enquiry, or why it cannot be sent.
pub(super) async fn stored_enquiry(
    shared: &Shared,
    row: &ClaimedDelivery,
) -> Result<Stored, Unsent> {
    let found = shared.store.enquiry_payload(&row.enquiry_id).await?;
    let Some((site, payload)) = found else {
        return Err(Unsent::unsendable("the enquiry row is missing"));
    };
    let Some(payload) = payload else {
        return Err(Unsent::unsendable(
            "the enquiry's personal data was already scrubbed; it cannot be sent",
        ));
    };
    // Parsed again before it goes out. serde's message could quote a
    // value, so it is not kept.
    let Ok(StoredEnquiry { enquiry, .. }) = serde_json::from_str(&payload) else {
        return Err(Unsent::unsendable(
            "the stored enquiry no longer passes validation; it needs a person to look at it",
        ));
    };
    Ok(Stored { site, enquiry })
}

/// The site's settings, or why its row cannot be sent (`what`: "enquiry",
/// "visit", "email").
pub(super) fn configured_site<'a>(
    shared: &'a Shared,
    slug: &str,
    what: &str,
) -> Result<&'a SiteSettings, Unsent> {
    shared.settings.site(slug).ok_or_else(|| {
        Unsent::unsendable(format!(
            "site `{slug}` is no longer in the config; add it back, then retry this {what}"
        ))
    })
}
