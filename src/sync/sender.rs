//! What each kind of destination supplies to the one step runner
//! (`pipeline`): how to prepare a claimed row and how to send it and judge
//! the answer into a `Verdict`. A sender module imports this file, never
//! the pipeline or the lanes, so the files of `sync` form no circle.

use super::shared::Shared;
use super::verdict::{Answer, Verdict};
use crate::storage::{ClaimedDelivery, StoreError};

/// What one kind of destination does with a claimed row.
pub(super) trait Sender {
    /// What `prepare` builds for `send`.
    type Ready;
    /// Where it sends, for the log ("CareHQ", "the destination", …).
    const NAME: &str;
    /// Read what the row sends. `Err` ends the attempt before sending.
    async fn prepare(&self, shared: &Shared, row: &ClaimedDelivery) -> Result<Self::Ready, Unsent>;
    /// Send it and judge the answer.
    async fn send(&self, ready: Self::Ready, row: &ClaimedDelivery) -> Answer;
}

/// Why a row was not sent.
pub(super) enum Unsent {
    /// Judged before sending: a problem of this row, or nothing to send.
    Judged(Answer),
    /// The database could not be read: the row stays leased and is tried
    /// again when its lease ends.
    Store(StoreError),
}

impl Unsent {
    /// A permanent problem of this row: failed for staff with `reason`
    /// (our own words, free of personal data: it is logged).
    pub fn unsendable(reason: impl Into<String>) -> Unsent {
        let reason = reason.into();
        Unsent::Judged(Answer::new(Verdict::Unsendable(reason.clone()), reason))
    }
}

impl From<StoreError> for Unsent {
    /// A value that cannot be opened (sealed with a key this process lacks,
    /// or altered) is a problem of that row, not of the database: it fails
    /// for staff instead of being claimed again for ever.
    fn from(e: StoreError) -> Unsent {
        match e {
            StoreError::SealedKeyMissing { .. }
            | StoreError::SealedCorrupt { .. }
            | StoreError::Corrupt(_) => Unsent::unsendable(format!(
                "the stored enquiry cannot be read: {e}. Then `enquiry-relay enquiries retry ID`"
            )),
            e => Unsent::Store(e),
        }
    }
}
