//! `[carehq]` and `[sync]`: the CareHQ account and how the worker delivers to it.

use std::time::Duration;

use secrecy::SecretString;

use serde::Deserialize;

use super::checks::{base_url, boolean, positive_duration};
use super::duration::parse_duration;
use super::env_names::env_var_name;
use super::error::Problems;
use super::fields;
use super::raw::RawCareHq;
use super::secrets;
use super::sections::{CareHqSettings, SyncSettings};
use super::text::text;
use crate::sandbox::seed;

pub(super) const SECS_30: Duration = Duration::from_secs(30);
/// How much longer than `carehq.timeout` shutdown waits for sends in flight:
/// a send started just before the signal may take the whole timeout, and its
/// outcome still has to be written. Cutting a send off early risks a
/// duplicate (CareHQ finishes creating after we have gone; the row is sent
/// again after its lease).
pub(super) const SHUTDOWN_MARGIN: Duration = Duration::from_secs(5);
pub const DEFAULT_CAREHQ_BASE_URL: &str = "https://api.carehq.dev";
pub const DEFAULT_RETRY_SCHEDULE: &[&str] = &[
    "10s", "1m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "24h",
];
/// How much longer than `carehq.timeout` the default lease is.
pub(super) const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// How much longer than `carehq.timeout` a lease must be at least: 3 s to
/// record the outcome after CareHQ answers, with retries if the write fails
/// (`sync::deliver::RECORD_TIME`), and 2 s for the claim-to-send preparation.
/// Less, and a send still in progress could be claimed again and duplicated.
pub const LEASE_MIN_MARGIN: Duration = Duration::from_secs(5);

pub(super) fn carehq(raw: RawCareHq, p: &mut Problems) -> Option<CareHqSettings> {
    let sandbox = boolean("carehq.sandbox", &raw.sandbox, false, p);
    let base_url = base_url(
        "carehq.base_url",
        text(&raw.base_url).unwrap_or(DEFAULT_CAREHQ_BASE_URL),
        "https://api.carehq.co.uk",
        p,
    );
    let timeout = positive_duration("carehq.timeout", &raw.timeout, SECS_30, p);
    let api_key = secrets::resolve("carehq.api_key", raw.api_key, &raw.api_key_file, p);
    let api_secret = secrets::resolve("carehq.api_secret", raw.api_secret, &raw.api_secret_file, p);
    let account_id = text(&raw.account_id).map(str::to_owned);
    // In sandbox mode the seed credentials stand in for whatever is unset;
    // outside it, a missing credential would only surface as a 401 at the
    // first delivery, so it stops start-up here instead.
    let sandbox_mode = sandbox == Some(true);
    let account_id = account_id.or_else(|| sandbox_mode.then(|| seed::ACCOUNT_ID.to_owned()));
    let api_key = api_key.or_else(|| sandbox_mode.then(|| SecretString::from(seed::API_KEY)));
    let api_secret =
        api_secret.or_else(|| sandbox_mode.then(|| SecretString::from(seed::API_SECRET)));
    if sandbox.is_some() && !sandbox_mode {
        let sandbox_hint =
            "; or set carehq.sandbox = true to try the relay against the built-in sandbox";
        if account_id.is_none() {
            p.push(
                "carehq.account_id",
                format!(
                    "not set; set carehq.account_id in the config file or the environment variable {} (CareHQ: Account > API keys){sandbox_hint}",
                    env_var_name("carehq.account_id")
                ),
            );
        }
        for (key, value) in [
            ("carehq.api_key", &api_key),
            ("carehq.api_secret", &api_secret),
        ] {
            if value.is_none() {
                p.push(
                    key,
                    format!("not set; {}{sandbox_hint}", secrets::how_to_set(key)),
                );
            }
        }
    }
    Some(CareHqSettings {
        sandbox: sandbox?,
        base_url: base_url?,
        account_id: account_id?,
        api_key: api_key?,
        api_secret: api_secret?,
        timeout: timeout?,
    })
}

/// `[sync]` as written; `lease` and `shutdown_grace` default from `carehq.timeout`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct SyncKeys {
    #[serde(deserialize_with = "fields::retry_schedule")]
    retry_schedule: Vec<Duration>,
    #[serde(deserialize_with = "fields::positive_duration")]
    poll_interval: Duration,
    #[serde(deserialize_with = "fields::whole::<_, _, 1, 64>")]
    concurrency: usize,
    #[serde(deserialize_with = "fields::some_positive_duration")]
    lease: Option<Duration>,
    #[serde(deserialize_with = "fields::some_duration")]
    shutdown_grace: Option<Duration>,
    #[serde(deserialize_with = "fields::positive_duration")]
    pause_probe_interval: Duration,
}

impl Default for SyncKeys {
    fn default() -> Self {
        Self {
            retry_schedule: (DEFAULT_RETRY_SCHEDULE.iter())
                .map(|d| parse_duration(d).expect("the default schedule parses"))
                .collect(),
            poll_interval: SECS_30,
            concurrency: 4,
            lease: None,
            shutdown_grace: None,
            pause_probe_interval: Duration::from_secs(300),
        }
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
    }
}
