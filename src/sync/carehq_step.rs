//! The CareHQ lane's sender: the `enquiry` step (`PUT care-enquiries`) and
//! the `home_visit` step (`PUT home-visits`, once its enquiry is in), and
//! what CareHQ's answers mean (docs/design.md, "Delivery semantics").

use std::time::{Duration, Instant};

use super::routing::site_routing;
use super::sender::{Sender, Unsent};
use super::shared::Shared;
use super::stored::{Stored, configured_site, stored_enquiry};
use super::verdict::{Answer, Verdict};
use super::visit_step::prepare_visit;
use crate::carehq::{CareHqClient, CareHqError, Reply, enquiry_params};
use crate::storage::{ClaimedDelivery, Step, now_ms};

/// A CareHQ account's sends.
pub(super) struct CareHq {
    pub client: CareHqClient,
}

/// The call a row makes: its parameters and its site (named when CareHQ
/// does not know one of the site's Ids).
pub(super) struct Call {
    step: Step,
    params: Vec<(String, String)>,
    site: String,
}

impl Sender for CareHq {
    type Ready = Call;
    const NAME: &str = "CareHQ";

    async fn prepare(&self, shared: &Shared, row: &ClaimedDelivery) -> Result<Call, Unsent> {
        let (params, site) = match row.step {
            Step::HomeVisit => prepare_visit(shared, row).await?,
            // Claimed only by their own lanes (a claim names its steps).
            Step::FallbackEmail | Step::Destination => {
                return Err(Unsent::unsendable(
                    "a step of another destination reached a CareHQ lane",
                ));
            }
            Step::Enquiry => {
                let Stored { site, enquiry } = stored_enquiry(shared, row).await?;
                let settings = configured_site(shared, &site, "enquiry")?;
                (enquiry_params(&enquiry, &site_routing(settings)), site)
            }
        };
        let step = row.step;
        Ok(Call { step, params, site })
    }

    async fn send(&self, call: Call, _row: &ClaimedDelivery) -> Answer {
        let clock = Instant::now();
        let result = match call.step {
            Step::HomeVisit => self.client.create_home_visit(&call.params).await,
            _ => self.client.create_care_enquiry(&call.params).await,
        };
        let latency = clock.elapsed().as_secs_f64();
        metrics::histogram!(crate::ops::metrics::CAREHQ_LATENCY).record(latency);
        match result {
            Ok(reply) => delivered(reply),
            Err(e) => judge(&self.client, &call, e),
        }
    }
}

fn delivered(reply: Reply) -> Answer {
    let note = reply.body_lost.as_ref().map(|lost| {
        format!(
            "CareHQ answered {} (created) but the rest of its answer was lost ({lost}), so its Id is unknown; find the record in CareHQ by the family's name",
            reply.status
        )
    });
    let verdict = Verdict::Delivered {
        remote_id: reply.id(),
    };
    Answer::new(verdict, note).status(Some(reply.status))
}

/// What a failed call means for the row.
fn judge(client: &CareHqClient, call: &Call, e: CareHqError) -> Answer {
    let summary = e.summary();
    // Another send may have set the wait; a second's pause at least.
    let wait = client
        .gate()
        .wait(now_ms())
        .unwrap_or(Duration::from_secs(1));
    let verdict = verdict(&e, wait, || {
        not_found_reason(call.step, &call.site, &summary)
    });
    let (hint, arg_errors) = match &e {
        CareHqError::Status {
            hint, arg_errors, ..
        } => (hint.clone(), arg_errors.as_ref().map(|v| v.to_string())),
        _ => (None, None),
    };
    // The summary leaves out CareHQ's hint, which can quote what the family
    // typed: the hint stays in the attempt's sealed `hint` column only.
    Answer {
        verdict,
        http_status: e.http_status(),
        summary: Some(summary),
        hint,
        arg_errors,
    }
}

/// CareHQ's failure as a verdict: a 429 waits `rate_wait`, a 404 fails the
/// row with `not_found`'s words.
fn verdict(
    error: &CareHqError,
    rate_wait: Duration,
    not_found: impl FnOnce() -> String,
) -> Verdict {
    let retry = |ambiguous| Verdict::Retry { ambiguous };
    match error {
        CareHqError::Connect(_) => retry(false),
        CareHqError::Timeout | CareHqError::Transport(_) => retry(true),
        CareHqError::Prepare(e) => Verdict::Pause(format!(
            "requests to CareHQ cannot be prepared ({e}); check carehq.base_url"
        )),
        CareHqError::Status { status, .. } => match *status {
            429 => Verdict::RateLimited(rate_wait),
            408 | 500..=599 => retry(true),
            401 => Verdict::Pause(
                "CareHQ refused our credentials (401). Check carehq.account_id, carehq.api_key and \
                 carehq.api_secret, and that this machine's clock is right (signatures carry the time)."
                    .into(),
            ),
            403 => Verdict::Pause(
                "CareHQ refused permission (403). The API key needs 'Care enquiries > Create' (and \
                 'Home visits > Create' for visit requests); check any IP restriction on the key."
                    .into(),
            ),
            404 => Verdict::Missing(not_found()),
            300..=399 => Verdict::Pause(format!(
                "CareHQ redirected the request ({status}). Check carehq.base_url (https, no path)."
            )),
            _ => Verdict::Refused,
        },
    }
}

/// What staff are told about a 404, by step: what is missing and what to do.
fn not_found_reason(step: Step, site: &str, carehq_said: &str) -> String {
    match step {
        Step::HomeVisit => format!(
            "{carehq_said}. CareHQ no longer has this visit's care enquiry or site `{site}`'s location: \
             staff may have deleted the enquiry in CareHQ (as spam?). If the family is real, book the visit in CareHQ by hand"
        ),
        _ => format!(
            "{carehq_said}. CareHQ does not know site `{site}`'s location, referrer or sales_channel Id (deleted in CareHQ?) \
             or carehq.base_url is wrong. Check with `enquiry-relay check --remote`, fix the config, then \
             `enquiry-relay enquiries retry --failed`"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> CareHqError {
        let (hint, arg_errors, rate_limit) = (None, None, None);
        CareHqError::Status {
            status,
            hint,
            arg_errors,
            rate_limit,
        }
    }

    #[test]
    fn sorts_every_kind_of_failure() {
        let judged = |e: &CareHqError| verdict(e, Duration::from_secs(7), || "gone".into());
        let retry = |ambiguous| Verdict::Retry { ambiguous };
        assert_eq!(
            judged(&CareHqError::Connect("refused".into())),
            retry(false)
        );
        assert_eq!(judged(&CareHqError::Timeout), retry(true));
        assert_eq!(judged(&CareHqError::Transport("reset".into())), retry(true));
        for s in [408, 500, 503] {
            assert_eq!(judged(&status(s)), retry(true), "{s}");
        }
        assert_eq!(
            judged(&status(429)),
            Verdict::RateLimited(Duration::from_secs(7))
        );
        assert_eq!(judged(&status(400)), Verdict::Refused);
        assert_eq!(judged(&status(422)), Verdict::Refused);
        assert_eq!(judged(&status(404)), Verdict::Missing("gone".into()));
        for s in [401, 403, 302] {
            assert!(matches!(judged(&status(s)), Verdict::Pause(_)), "{s}");
        }
    }
}
