//! One destination as the worker sees it: a CareHQ account, the fallback
//! email, a FHIR destination, or the steps none of those sends any more;
//! which rows it claims, how many it sends at once, and what this process
//! last saw of its pause. Lanes are independent: a 401 for one account
//! pauses that lane only, one account's rate limit never holds back
//! another's sends, and a slow destination fills only its own slots. A
//! further kind of destination is one more [`Sender`] and its module.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::carehq_step::CareHq;
use super::email_step::Email;
use super::fhir_step::Fhir;
use super::unserved::Unserved;
use crate::carehq::{CareHqClient, RateLimitGate};
use crate::config::{DEFAULT_ACCOUNT, Settings};
use crate::fhir::FhirClient;
use crate::mail::Mailer;
use crate::storage::{ClaimScope, SiteFilter, Step, StepFilter, destination_step};

/// The name of the fallback email's lane: not a possible account name
/// (those are lower-case letters, digits and hyphens), so its row of
/// `account_delivery_state` is its own. A destination's lane is named by
/// its step, `destination:NAME`, for the same reason.
pub const FALLBACK_LANE: &str = "(fallback email)";
/// The lane of steps no configured lane sends (a destination or the
/// fallback email removed from the config): it fails them with a message.
pub const UNSERVED_LANE: &str = "(no longer configured)";

/// What a lane sends with.
pub(super) enum Senders {
    CareHq(CareHq),
    Email(Email),
    Fhir(Fhir),
    Unserved(Unserved),
}

pub struct Lane {
    pub(super) account: String,
    pub(super) sender: Senders,
    /// Paces the lane's sends: CareHQ's rate-limit headers for an account;
    /// for the others, the lane's slots alone.
    pub(super) gate: Arc<RateLimitGate>,
    steps: Vec<Cow<'static, str>>,
    /// True for the lane of unserved steps: it takes every step but `steps`.
    other_steps: bool,
    /// A named account's own sites; for the default account, the other
    /// accounts' sites, which it leaves alone (it takes every other row,
    /// sites no longer configured included, so those fail with a message).
    sites: Vec<String>,
    takes_the_rest: bool,
    /// Whether this process last saw the lane paused (saves a write per success).
    paused_seen: AtomicBool,
    /// Set at start-up: if the lane is paused, probe at once instead of
    /// waiting out the interval (the operator may have fixed the cause).
    pub(super) probe_soon: AtomicBool,
    /// Sends of this lane running in this process: at most
    /// `sync.concurrency`, and a pause probe goes out only when none does.
    in_flight: AtomicUsize,
}

impl Lane {
    /// The lanes for `clients` (one per configured account, by name), the
    /// fallback email's when a mailer is given, one per destination, and
    /// the lane that fails the steps none of them sends.
    pub fn all(
        clients: Vec<(String, CareHqClient)>,
        mailer: Option<Mailer>,
        destinations: Vec<(String, FhirClient)>,
        settings: &Settings,
    ) -> Vec<Lane> {
        let mut lanes: Vec<Lane> = (clients.into_iter())
            .map(|(account, client)| {
                let takes_the_rest = account == DEFAULT_ACCOUNT;
                let sites = (settings.sites.iter())
                    .filter(|site| (site.account == account) != takes_the_rest)
                    .map(|site| site.slug.clone())
                    .collect();
                let gate = Arc::clone(client.gate());
                let sender = Senders::CareHq(CareHq { client });
                let mut lane = Lane::new(account, sender, Step::CAREHQ.to_vec(), gate);
                (lane.sites, lane.takes_the_rest) = (sites, takes_the_rest);
                lane
            })
            .collect();
        if let Some(mailer) = mailer {
            let sender = Senders::Email(Email { mailer });
            let steps = Step::EMAIL.to_vec();
            lanes.push(Lane::new(FALLBACK_LANE.into(), sender, steps, unpaced()));
        }
        for (name, client) in destinations {
            let step = destination_step(&name);
            let steps = vec![Cow::Owned(step.clone())];
            let sender = Senders::Fhir(Fhir { client, name });
            lanes.push(Lane::new(step, sender, steps, unpaced()));
        }
        let served: Vec<Cow<'static, str>> = lanes.iter().flat_map(|l| l.steps.clone()).collect();
        let sender = Senders::Unserved(Unserved);
        let mut unserved = Lane::new(UNSERVED_LANE.into(), sender, served, unpaced());
        unserved.other_steps = true;
        lanes.push(unserved);
        lanes
    }

    /// A lane of every site's rows of `steps`.
    fn new(
        account: String,
        sender: Senders,
        steps: Vec<Cow<'static, str>>,
        gate: Arc<RateLimitGate>,
    ) -> Lane {
        Lane {
            account,
            sender,
            gate,
            steps,
            other_steps: false,
            sites: Vec::new(),
            takes_the_rest: true,
            paused_seen: AtomicBool::new(false),
            probe_soon: AtomicBool::new(true),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// The rows this lane claims.
    pub(super) fn scope(&self) -> ClaimScope<'_> {
        ClaimScope {
            account: &self.account,
            steps: match self.other_steps {
                true => StepFilter::AllBut(&self.steps),
                false => StepFilter::Only(&self.steps),
            },
            sites: match self.takes_the_rest {
                true => SiteFilter::AllBut(&self.sites),
                false => SiteFilter::Only(&self.sites),
            },
        }
    }

    pub(super) fn paused_seen(&self) -> bool {
        self.paused_seen.load(Ordering::Relaxed)
    }
    pub(super) fn set_paused_seen(&self, paused: bool) {
        self.paused_seen.store(paused, Ordering::Relaxed);
    }

    pub(super) fn sending(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
    pub(super) fn started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }
    pub(super) fn ended(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A gate for a lane without rate-limit headers to pace by: as a CareHQ
/// answer without them (the lane's slots alone limit it).
fn unpaced() -> Arc<RateLimitGate> {
    let gate = Arc::new(RateLimitGate::default());
    gate.observe(None, 0);
    gate
}
