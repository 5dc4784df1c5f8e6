//! Open slots: the candidate slots less those already full.

use jiff::Timestamp;

use super::slots::{Slot, candidate_slots};
use crate::config::VisitSettings;
use crate::storage::{Store, StoreError};

/// A slot with room left, and how many visits it can still take.
#[derive(Clone, Debug)]
pub struct OpenSlot {
    pub slot: Slot,
    pub places_left: u32,
}

/// The slots of `site` that can still be booked, earliest first.
pub async fn open_slots(
    store: &Store,
    site: &str,
    settings: &VisitSettings,
    now: Timestamp,
) -> Result<Vec<OpenSlot>, StoreError> {
    let slots = candidate_slots(settings, now);
    let (Some(first), Some(last)) = (slots.first(), slots.last()) else {
        return Ok(Vec::new());
    };
    let taken = store.taken_slots(site, first.at_ms(), last.at_ms()).await?;
    Ok(slots
        .into_iter()
        .filter_map(|slot| {
            let used = taken
                .iter()
                .find(|(at, _)| *at == slot.at_ms())
                .map_or(0, |(_, n)| *n);
            let left = i64::from(settings.capacity) - used;
            (left > 0).then(|| OpenSlot {
                slot,
                places_left: u32::try_from(left).unwrap_or(0),
            })
        })
        .collect())
}
