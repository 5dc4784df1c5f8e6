//! One destination as the worker sees it: a CareHQ account (its client,
//! credentials and rate-limit gate) or the fallback email; which rows it
//! claims, and what this process last saw of its pause. Lanes are
//! independent: a 401 for one account pauses that lane only, and one
//! account's rate limit never holds back another's sends. A further kind of
//! destination is one more `Sender` and the module that sends it.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::mailer::FallbackMailer;
use crate::carehq::{CareHqClient, RateLimitGate};
use crate::config::{DEFAULT_ACCOUNT, Settings};
use crate::fhir::FhirClient;
use crate::storage::{ClaimScope, SiteFilter, Step, destination_step};

/// The name of the fallback email's lane: not a possible account name
/// (those are lower-case letters, digits and hyphens), so its row of
/// `account_delivery_state` is its own. A destination's lane is named by
/// its step, `destination:NAME`, for the same reason.
pub const FALLBACK_LANE: &str = "(fallback email)";

/// What a lane sends with.
pub(super) enum Sender {
    CareHq(CareHqClient),
    Email(FallbackMailer),
    Fhir(FhirClient),
}

pub struct Lane {
    pub(super) account: String,
    pub(super) sender: Sender,
    /// Paces the lane's sends: CareHQ's rate-limit headers for an account;
    /// for email, `sync.concurrency` alone.
    pub(super) gate: Arc<RateLimitGate>,
    steps: Vec<Cow<'static, str>>,
    /// A named account's own sites; for the default account, the other
    /// accounts' sites, which it leaves alone (it takes every other row,
    /// sites no longer configured included, so those fail with a message).
    sites: Vec<String>,
    takes_the_rest: bool,
    /// Whether this process last saw the account paused (saves a write per success).
    paused_seen: AtomicBool,
    /// Set at start-up: if the account is paused, probe at once instead of
    /// waiting out the interval (the operator may have fixed the cause).
    pub(super) probe_soon: AtomicBool,
    /// Sends of this lane running in this process: a pause probe goes out
    /// only when none does.
    in_flight: AtomicUsize,
}

impl Lane {
    /// The lanes for `clients` (one per configured account, by name), the
    /// fallback email's when a mailer is given, and one per destination.
    pub fn all(
        clients: Vec<(String, CareHqClient)>,
        mailer: Option<FallbackMailer>,
        destinations: Vec<(String, FhirClient)>,
        settings: &Settings,
    ) -> Vec<Lane> {
        let mut lanes: Vec<Lane> = clients
            .into_iter()
            .map(|(account, client)| {
                let takes_the_rest = account == DEFAULT_ACCOUNT;
                let sites = (settings.sites.iter())
                    .filter(|site| (site.account == account) != takes_the_rest)
                    .map(|site| site.slug.clone())
                    .collect();
                let gate = Arc::clone(client.gate());
                Lane::new(
                    account,
                    Sender::CareHq(client),
                    gate,
                    Step::CAREHQ.to_vec(),
                    sites,
                    takes_the_rest,
                )
            })
            .collect();
        if let Some(mailer) = mailer {
            // No rate-limit headers to pace by: as a CareHQ answer without them.
            let gate = Arc::new(RateLimitGate::default());
            gate.observe(None, 0);
            let all_sites = Vec::new();
            let lane = Lane::new(
                FALLBACK_LANE.to_owned(),
                Sender::Email(mailer),
                gate,
                Step::EMAIL.to_vec(),
                all_sites,
                true,
            );
            lanes.push(lane);
        }
        for (name, client) in destinations {
            // Paced by `sync.concurrency` alone, as the email.
            let gate = Arc::new(RateLimitGate::default());
            gate.observe(None, 0);
            let step = destination_step(&name);
            let sites = (settings.sites.iter())
                .filter(|site| site.also_send_to.contains(&name))
                .map(|site| site.slug.clone())
                .collect();
            let steps = vec![Cow::Owned(step.clone())];
            lanes.push(Lane::new(
                step,
                Sender::Fhir(client),
                gate,
                steps,
                sites,
                false,
            ));
        }
        lanes
    }

    fn new(
        account: String,
        sender: Sender,
        gate: Arc<RateLimitGate>,
        steps: Vec<Cow<'static, str>>,
        sites: Vec<String>,
        takes_the_rest: bool,
    ) -> Lane {
        Lane {
            account,
            sender,
            gate,
            steps,
            sites,
            takes_the_rest,
            paused_seen: AtomicBool::new(false),
            probe_soon: AtomicBool::new(true),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// The rows this lane claims.
    pub(super) fn scope(&self) -> ClaimScope<'_> {
        ClaimScope {
            account: &self.account,
            steps: &self.steps,
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
