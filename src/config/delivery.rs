//! `[carehq]` and `[sync]`: the CareHQ account and how the worker delivers to it.

use std::time::Duration;

use secrecy::SecretString;

use super::checks::{base_url, boolean, duration, integer, positive_duration};
use super::duration::{format_duration, parse_duration};
use super::env_names::env_var_name;
use super::error::Problems;
use super::raw::{RawCareHq, RawSync};
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
const DEFAULT_CONCURRENCY: i64 = 4;
/// How much longer than `carehq.timeout` the default lease is.
const LEASE_MARGIN: Duration = Duration::from_secs(30);
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

pub(super) fn sync(
    raw: &RawSync,
    carehq_timeout: Option<Duration>,
    p: &mut Problems,
) -> Option<SyncSettings> {
    let retry_schedule = match &raw.retry_schedule {
        Some(list) if list.0.iter().all(|s| s.is_empty()) => {
            p.push(
                "sync.retry_schedule",
                "is empty; give at least one delay, e.g. [\"10s\", \"1m\", \"5m\"] (each entry is one more retry)",
            );
            None
        }
        Some(list) => retry_schedule(&list.0, p),
        None => retry_schedule(DEFAULT_RETRY_SCHEDULE, p),
    };
    let poll_interval = positive_duration("sync.poll_interval", &raw.poll_interval, SECS_30, p);
    let concurrency = integer(
        "sync.concurrency",
        &raw.concurrency,
        DEFAULT_CONCURRENCY,
        1,
        64,
        p,
    )
    .and_then(|n| usize::try_from(n).ok());
    let default_lease = carehq_timeout.unwrap_or(SECS_30) + LEASE_MARGIN;
    let mut lease = positive_duration("sync.lease", &raw.lease, default_lease, p);
    if let (Some(l), Some(timeout)) = (lease, carehq_timeout)
        && l < timeout + LEASE_MIN_MARGIN
    {
        p.push(
            "sync.lease",
            format!(
                "\"{}\" must be longer than carehq.timeout (\"{}\") by at least {} (time to record the outcome after CareHQ answers), or a send still in progress could be claimed again and duplicated; e.g. \"{}\"",
                format_duration(l),
                format_duration(timeout),
                format_duration(LEASE_MIN_MARGIN),
                format_duration(timeout + LEASE_MARGIN),
            ),
        );
        lease = None;
    }
    let shutdown_grace = duration(
        "sync.shutdown_grace",
        &raw.shutdown_grace,
        carehq_timeout.unwrap_or(SECS_30) + SHUTDOWN_MARGIN,
        p,
    );
    let pause_probe_interval = positive_duration(
        "sync.pause_probe_interval",
        &raw.pause_probe_interval,
        Duration::from_secs(300),
        p,
    );
    Some(SyncSettings {
        retry_schedule: retry_schedule?,
        poll_interval: poll_interval?,
        concurrency: concurrency?,
        lease: lease?,
        shutdown_grace: shutdown_grace?,
        pause_probe_interval: pause_probe_interval?,
    })
}

fn retry_schedule(items: &[impl AsRef<str>], p: &mut Problems) -> Option<Vec<Duration>> {
    let mut schedule = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match parse_duration(item.as_ref()) {
            Ok(delay) => schedule.push(delay),
            Err(e) => {
                p.push(format!("sync.retry_schedule[{i}]"), e.to_string());
                ok = false;
            }
        }
    }
    ok.then_some(schedule)
}
