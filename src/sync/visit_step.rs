//! The `home_visit` outbox step: what it needs before it can be sent. It runs
//! only after its enquiry is synced (the row waits until then), and links the
//! visit to the enquiry's CareHQ Id. An enquiry can sync late (CareHQ down,
//! staff retrying a failed one days later): a visit whose time has passed is
//! not booked, and one that gave its place back while its enquiry was failed
//! takes a place again first, or is not booked if the slot is full.

use super::routing::site_routing;
use super::shared::Shared;
use crate::carehq::visit_params;
use crate::domain::Enquiry;
use crate::storage::{ClaimedDelivery, DeliveryStatus, StoreError, now_ms};

/// CareHQ's parameters for the visit. The inner `Err` is a permanent problem
/// with this row: a message for staff, free of personal data.
pub(super) async fn prepare_visit(
    shared: &Shared,
    row: &ClaimedDelivery,
) -> Result<Result<Vec<(String, String)>, String>, StoreError> {
    let Some(visit) = shared.store.visit_request(row.enquiry_id.as_str()).await? else {
        return Ok(Err("the visit request row is missing".into()));
    };
    if visit.enquiry_status != Some(DeliveryStatus::Synced) {
        return Ok(Err(format!(
            "the enquiry is not in CareHQ yet (its step is {}); retry the visit once the enquiry is synced",
            visit
                .enquiry_status
                .map_or("missing", DeliveryStatus::as_str)
        )));
    }
    let Some(care_enquiry) = visit.enquiry_remote_id.clone() else {
        return Ok(Err(
            "the enquiry was synced but CareHQ returned no Id for it, so the visit cannot be linked; \
             book the visit in CareHQ by hand"
                .into(),
        ));
    };
    // Booking a time already gone would send the family a confirmation for
    // it; a person must agree another time with them.
    if visit.slot_at <= now_ms() {
        return Ok(Err(format!(
            "the chosen time has passed; call the family to agree another time (they asked for {} {}) and book it in CareHQ by hand",
            visit.local_time, visit.time_zone
        )));
    }
    let Some((site_slug, payload)) = shared
        .store
        .enquiry_payload(row.enquiry_id.as_str())
        .await?
    else {
        return Ok(Err("the enquiry row is missing".into()));
    };
    let Some(site) = shared.settings.site(&site_slug) else {
        return Ok(Err(format!(
            "site `{site_slug}` is no longer in the config; add it back, then retry this visit"
        )));
    };
    if visit.slot_freed {
        // The site's current capacity; a site that no longer books visits
        // sets no limit (the family was promised this time when it asked).
        let capacity = site.visits().map_or(u32::MAX, |v| v.capacity);
        if !shared
            .store
            .retake_visit_slot(&visit, row.enquiry_id.as_str(), capacity)
            .await?
        {
            return Ok(Err(format!(
                "the chosen time ({} {}) was booked by other families while the enquiry could not be delivered; call the family to agree another time",
                visit.local_time, visit.time_zone
            )));
        }
    }
    // The family's message becomes the visit's notes; once scrubbed, a short line.
    let message = payload
        .and_then(|p| serde_json::from_str::<Enquiry>(&p).ok())
        .and_then(|e| e.care_requirements_text());
    Ok(Ok(visit_params(
        &visit,
        &care_enquiry,
        &site_routing(site),
        message.as_deref(),
    )))
}
