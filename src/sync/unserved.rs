//! The steps no configured lane sends any more: a `destination:NAME` whose
//! `[[destinations]]` entry was removed, or `fallback_email` steps once no
//! site has a `fallback_email`. Left alone they would wait for ever and
//! keep `/status` degraded; they are failed for staff instead, saying what
//! was removed and how to send them after all.

use super::sender::{Sender, Unsent};
use super::shared::Shared;
use super::verdict::{Answer, Verdict};
use crate::storage::{ClaimedDelivery, Step};

/// The sender of the lane of unserved steps: it never sends.
pub(super) struct Unserved;

impl Sender for Unserved {
    type Ready = ();
    const NAME: &str = "no configured destination";

    async fn prepare(&self, _shared: &Shared, row: &ClaimedDelivery) -> Result<(), Unsent> {
        let stored = &row.step_name;
        Err(Unsent::unsendable(match row.step {
            Step::FallbackEmail => "no site sends fallback emails any more (fallback_email or alerts.smtp_url was removed from the config); nothing was sent. Add them back, then `enquiry-relay enquiries retry ID`".to_owned(),
            _ => format!(
                "{stored} is no longer configured (its [[destinations]] entry was removed); nothing was sent. Add it back, then `enquiry-relay enquiries retry ID`"
            ),
        }))
    }

    /// Never reached: `prepare` refuses every row.
    async fn send(&self, (): (), _row: &ClaimedDelivery) -> Answer {
        let reason = "no configured destination sends this step".to_owned();
        Answer::new(Verdict::Unsendable(reason.clone()), reason)
    }
}
