//! The `home_visit` outbox step: what it needs before it can be sent. It runs
//! only after its enquiry is synced (the row waits until then), and links the
//! visit to the enquiry's CareHQ Id. An enquiry can sync late (CareHQ down,
//! staff retrying a failed one days later): a visit whose time has passed is
//! not booked, and one that gave its place back while its enquiry was failed
//! takes a place again first, or is not booked if the slot is full.

use super::routing::site_routing;
use super::sender::Unsent;
use super::shared::Shared;
use super::stored::configured_site;
use crate::carehq::visit_params;
use crate::config::SiteSettings;
use crate::domain::StoredEnquiry;
use crate::storage::{ClaimedDelivery, DeliveryStatus, StoredVisit, now_ms};

/// CareHQ's parameters for the visit and its site's slug, or why it cannot
/// be sent (a message for staff, free of personal data).
pub(super) async fn prepare_visit(
    shared: &Shared,
    row: &ClaimedDelivery,
) -> Result<(Vec<(String, String)>, String), Unsent> {
    let Some(visit) = shared.store.visit_request(&row.enquiry_id).await? else {
        return Err(Unsent::unsendable("the visit request row is missing"));
    };
    if visit.enquiry_status != Some(DeliveryStatus::Synced) {
        return Err(Unsent::unsendable(format!(
            "the enquiry is not in CareHQ yet (its step is {}); retry the visit once the enquiry is synced",
            visit
                .enquiry_status
                .map_or("missing", DeliveryStatus::as_str)
        )));
    }
    let Some(care_enquiry) = visit.enquiry_remote_id.clone() else {
        return Err(Unsent::unsendable(
            "the enquiry was synced but CareHQ returned no Id for it, so the visit cannot be linked; \
             book the visit in CareHQ by hand",
        ));
    };
    // Booking a time already gone would send the family a confirmation for
    // it; a person must agree another time with them.
    if visit.slot_at <= now_ms() {
        return Err(Unsent::unsendable(format!(
            "the chosen time has passed; call the family to agree another time (they asked for {} {}) and book it in CareHQ by hand",
            visit.local_time, visit.time_zone
        )));
    }
    let Some((site_slug, payload)) = shared.store.enquiry_payload(&row.enquiry_id).await? else {
        return Err(Unsent::unsendable("the enquiry row is missing"));
    };
    let site = configured_site(shared, &site_slug, "visit")?;
    if visit.slot_freed {
        retake_place(shared, row, &visit, site).await?;
    }
    // The family's message becomes the visit's notes; once scrubbed, a short line.
    let message = payload
        .and_then(|p| serde_json::from_str::<StoredEnquiry>(&p).ok())
        .and_then(|stored| stored.enquiry.care_requirements_text());
    let params = visit_params(
        &visit,
        &care_enquiry,
        &site_routing(site),
        message.as_deref(),
    );
    Ok((params, site_slug))
}

/// A visit that gave its place back while its enquiry was failed takes one
/// again: at the site's current capacity, or none if the site no longer
/// books visits (the family was promised this time when it asked).
async fn retake_place(
    shared: &Shared,
    row: &ClaimedDelivery,
    visit: &StoredVisit,
    site: &SiteSettings,
) -> Result<(), Unsent> {
    let capacity = site.visits().map_or(u32::MAX, |v| v.capacity);
    let id = &row.enquiry_id;
    if shared.store.retake_visit_slot(visit, id, capacity).await? {
        return Ok(());
    }
    Err(Unsent::unsendable(format!(
        "the chosen time ({} {}) was booked by other families while the enquiry could not be delivered; call the family to agree another time",
        visit.local_time, visit.time_zone
    )))
}
