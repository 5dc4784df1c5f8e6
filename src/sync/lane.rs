//! One CareHQ account as the worker sees it: its client (credentials and
//! rate-limit gate), which rows it claims, and what this process last saw of
//! its pause. Accounts are independent: a 401 for one pauses that lane only,
//! and one account's rate limit never holds back another's sends.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::carehq::CareHqClient;
use crate::config::{DEFAULT_ACCOUNT, Settings};
use crate::storage::{ClaimScope, SiteFilter};

pub struct Lane {
    pub(super) account: String,
    pub(super) client: CareHqClient,
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
    /// The lanes for `clients` (one per configured account, by name).
    pub fn all(clients: Vec<(String, CareHqClient)>, settings: &Settings) -> Vec<Lane> {
        clients
            .into_iter()
            .map(|(account, client)| {
                let takes_the_rest = account == DEFAULT_ACCOUNT;
                let sites = (settings.sites.iter())
                    .filter(|site| (site.account == account) != takes_the_rest)
                    .map(|site| site.slug.clone())
                    .collect();
                Lane {
                    account,
                    client,
                    sites,
                    takes_the_rest,
                    paused_seen: AtomicBool::new(false),
                    probe_soon: AtomicBool::new(true),
                    in_flight: AtomicUsize::new(0),
                }
            })
            .collect()
    }

    /// The rows this lane claims.
    pub(super) fn scope(&self) -> ClaimScope<'_> {
        ClaimScope {
            account: &self.account,
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
