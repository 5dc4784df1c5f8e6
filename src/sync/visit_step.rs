//! The `home_visit` outbox step: what it needs before it can be sent. It runs
//! only after its enquiry is synced (the row waits until then), and links the
//! visit to the enquiry's CareHQ Id.

use super::worker::Shared;
use crate::carehq::visit_params;
use crate::domain::Enquiry;
use crate::storage::{ClaimedDelivery, StoreError};

/// The `deliveries.step` of a home visit.
pub const VISIT_STEP: &str = "home_visit";

/// CareHQ's parameters for the visit. The inner `Err` is a permanent problem
/// with this row: a message for staff, free of personal data.
pub(super) async fn prepare_visit(
    shared: &Shared,
    row: &ClaimedDelivery,
) -> Result<Result<Vec<(String, String)>, String>, StoreError> {
    let Some(visit) = shared.store.visit_request(&row.enquiry_id).await? else {
        return Ok(Err("the visit request row is missing".into()));
    };
    if visit.enquiry_status.as_deref() != Some("synced") {
        return Ok(Err(format!(
            "the enquiry is not in CareHQ yet (its step is {}); retry the visit once the enquiry is synced",
            visit.enquiry_status.as_deref().unwrap_or("missing")
        )));
    }
    let Some(care_enquiry) = visit.enquiry_remote_id.clone() else {
        return Ok(Err(
            "the enquiry was synced but CareHQ returned no Id for it, so the visit cannot be linked; \
             book the visit in CareHQ by hand"
                .into(),
        ));
    };
    let Some((site_slug, payload)) = shared.store.enquiry_payload(&row.enquiry_id).await? else {
        return Ok(Err("the enquiry row is missing".into()));
    };
    let Some(site) = shared.settings.site(&site_slug) else {
        return Ok(Err(format!(
            "site `{site_slug}` is no longer in the config; add it back, then retry this visit"
        )));
    };
    // The family's message becomes the visit's notes; once scrubbed, a short line.
    let message = payload
        .and_then(|p| serde_json::from_str::<Enquiry>(&p).ok())
        .and_then(|e| e.care_requirements_text());
    Ok(Ok(visit_params(
        &visit,
        &care_enquiry,
        site,
        message.as_deref(),
    )))
}
