//! `[carehq]` and `[sync]`: the CareHQ account and how the worker delivers to it.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::env_names::env_var_name;
use super::error::Problems;
use super::fields;
use super::secrets;
use super::sections::{CareHqSettings, SyncSettings};
use crate::sandbox::seed;
use crate::values::parse_duration;

pub(super) const SECS_30: Duration = Duration::from_secs(30);
/// How much longer than `carehq.timeout` shutdown waits for sends in flight:
/// a send started just before the signal may take the whole timeout, and its
/// outcome still has to be written. Cutting a send off early risks a
/// duplicate (CareHQ finishes creating after we have gone; the row is sent
/// again after its lease).
pub(super) const SHUTDOWN_MARGIN: Duration = Duration::from_secs(5);
pub const DEFAULT_RETRY_SCHEDULE: &[&str] = &[
    "10s", "1m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "24h",
];
/// How much longer than `carehq.timeout` the default lease is.
pub(super) const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// How much longer than `carehq.timeout` a lease must be at least: 3 s to
/// record the outcome after CareHQ answers, with retries if the write fails
/// (`sync::outcome::RECORD_TIME`), and 2 s for the claim-to-send preparation.
/// Less, and a send still in progress could be claimed again and duplicated.
pub const LEASE_MIN_MARGIN: Duration = Duration::from_secs(5);

/// In sandbox mode the seed credentials stand in for whatever is unset;
/// outside it, a missing credential would only surface as a 401 at the first
/// delivery, so it stops start-up here instead. `refused`: a key of the
/// section had a problem (a misspelt credential, or the sandbox switch), so
/// unset ones are not also blamed.
pub(super) fn carehq(
    mut c: CareHqSettings,
    refused: bool,
    p: &mut Problems,
) -> Option<CareHqSettings> {
    let unset = |s: &SecretString| s.expose_secret().is_empty();
    if c.sandbox {
        if c.account_id.is_empty() {
            c.account_id = seed::ACCOUNT_ID.to_owned();
        }
        if unset(&c.api_key) {
            c.api_key = SecretString::from(seed::API_KEY);
        }
        if unset(&c.api_secret) {
            c.api_secret = SecretString::from(seed::API_SECRET);
        }
    } else if !refused {
        let sandbox_hint =
            "; or set carehq.sandbox = true to try the relay against the built-in sandbox";
        if c.account_id.is_empty() {
            p.push(
                "carehq.account_id",
                format!(
                    "not set; set carehq.account_id in the config file or the environment variable {} (CareHQ: Account > API keys){sandbox_hint}",
                    env_var_name("carehq.account_id")
                ),
            );
        }
        for (key, value) in [
            ("carehq.api_key", &c.api_key),
            ("carehq.api_secret", &c.api_secret),
        ] {
            if unset(value) {
                p.push(
                    key,
                    format!("not set; {}{sandbox_hint}", secrets::how_to_set(key)),
                );
            }
        }
    }
    let complete = !(c.account_id.is_empty() || unset(&c.api_key) || unset(&c.api_secret));
    complete.then_some(c)
}

fields::section! {
    /// `[sync]` as written; `lease` and `shutdown_grace` default from `carehq.timeout`.
    pub(super) struct SyncKeys {
        retry_schedule: Vec<Duration> ["fields::retry_schedule"] = (DEFAULT_RETRY_SCHEDULE.iter())
            .map(|d| parse_duration(d).expect("the default schedule parses"))
            .collect(),
        poll_interval: Duration ["fields::positive_duration"] = SECS_30,
        concurrency: usize ["fields::whole::<_, _, 1, 64>"] = 4,
        lease: Option<Duration> ["fields::some_positive_duration"] = None,
        shutdown_grace: Option<Duration> ["fields::some_duration"] = None,
        pause_probe_interval: Duration ["fields::positive_duration"] = Duration::from_secs(300),
        fallback_after: Duration ["fields::positive_duration"] = Duration::from_secs(30 * 60),
    }
}

pub(super) fn sync(keys: SyncKeys, carehq_timeout: Option<Duration>) -> SyncSettings {
    let timeout = carehq_timeout.unwrap_or(SECS_30);
    SyncSettings {
        retry_schedule: keys.retry_schedule,
        poll_interval: keys.poll_interval,
        concurrency: keys.concurrency,
        lease: keys.lease.unwrap_or(timeout + LEASE_MARGIN),
        shutdown_grace: keys.shutdown_grace.unwrap_or(timeout + SHUTDOWN_MARGIN),
        pause_probe_interval: keys.pause_probe_interval,
        fallback_after: keys.fallback_after,
    }
}
