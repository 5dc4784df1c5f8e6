//! Reading back the enquiry a claimed row sends. Every lane needs it, and
//! each permanent problem with it (the row missing, its personal data
//! scrubbed, no longer valid) is worded once, free of personal data: these
//! words are logged and kept for staff.

use super::shared::Shared;
use crate::domain::Enquiry;
use crate::storage::{ClaimedDelivery, StoreError};

/// The stored enquiry of a claimed row and its site's slug.
pub(super) struct Stored {
    pub site: String,
    pub enquiry: Enquiry,
}

/// The row's enquiry, or (inner `Err`) why it cannot be sent.
pub(super) async fn stored_enquiry(
    shared: &Shared,
    row: &ClaimedDelivery,
) -> Result<Result<Stored, String>, StoreError> {
    let Some((site, payload)) = shared
        .store
        .enquiry_payload(row.enquiry_id.as_str())
        .await?
    else {
        return Ok(Err("the enquiry row is missing".into()));
    };
    let Some(payload) = payload else {
        return Ok(Err(
            "the enquiry's personal data was already scrubbed; it cannot be sent".into(),
        ));
    };
    // Parsed again before it goes out. serde's message could quote a
    // value, so it is not kept.
    let Ok(enquiry) = serde_json::from_str::<Enquiry>(&payload) else {
        return Ok(Err(
            "the stored enquiry no longer passes validation; it needs a person to look at it"
                .into(),
        ));
    };
    Ok(Ok(Stored { site, enquiry }))
}
