//! Prometheus metrics. One recorder per process (tests run many apps in one
//! process, so it is installed once, lazily); counters and the CareHQ latency
//! histogram are recorded where things happen, and the queue gauges are read
//! from the database on each scrape so every instance reports the shared truth.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::carehq::RateLimit;
use crate::storage::{DeliveryStatus, StatusFigures};

/// Family posts, by outcome (`accepted`, and the spam defence's outcomes) and site.
pub const SUBMISSIONS: &str = "enquiry_relay_submissions_total";
/// Delivery attempts, by outcome (`synced`, `retry`, `failed`, …).
pub const ATTEMPTS: &str = "enquiry_relay_delivery_attempts_total";
/// Delivery outcome writes the database refused and the worker tried again.
pub const OUTCOME_WRITE_RETRIES: &str = "enquiry_relay_outcome_write_retries_total";
/// Requests that passed `server.request_timeout`, by `stage`: `receiving`
/// (answered 408, nothing stored) or `storing` (the enquiry was with the
/// database, so the answer waited for it).
pub const REQUEST_TIMEOUTS: &str = "enquiry_relay_request_timeouts_total";
/// Seconds each CareHQ create call took.
pub const CAREHQ_LATENCY: &str = "enquiry_relay_carehq_request_duration_seconds";
pub const ENQUIRIES: &str = "enquiry_relay_enquiries";
pub const OLDEST_PENDING: &str = "enquiry_relay_oldest_pending_age_seconds";
pub const RATE_LIMIT_REMAINING: &str = "enquiry_relay_carehq_rate_limit_remaining";
pub const PAUSED: &str = "enquiry_relay_delivery_paused";
/// Rate-limit state forgotten because too many addresses were tracked, by
/// `limit` (`per_ip`, `staff_token`): a steady rise means a flood from many
/// addresses, or `rate_limit.max_tracked_addresses` set too low.
pub const RATE_LIMIT_EVICTIONS: &str = "enquiry_relay_rate_limit_evictions_total";

const LATENCY_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use. If another recorder is
/// already global (an embedding program's), ours still renders the gauges we
/// set through it, and the counters go to theirs.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = || {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(CAREHQ_LATENCY.into()), LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new())
        };
        builder()
            .install_recorder()
            .unwrap_or_else(|_| builder().build_recorder().handle())
    })
}

/// Install the recorder now, so counters from the first request are kept.
pub fn init() {
    handle();
}

/// Set the gauges from the database's figures and render Prometheus text.
pub fn render(figures: &StatusFigures, paused: bool, rate: Option<RateLimit>, now: i64) -> String {
    let handle = handle();
    for status in DeliveryStatus::ALL {
        metrics::gauge!(ENQUIRIES, "state" => status.as_str())
            .set(figures.total.count(status) as f64);
    }
    let age = figures
        .total
        .oldest_pending_at
        .map_or(0.0, |at| (now - at).max(0) as f64 / 1000.0);
    metrics::gauge!(OLDEST_PENDING).set(age);
    metrics::gauge!(PAUSED).set(if paused { 1.0 } else { 0.0 });
    if let Some(rate) = rate {
        metrics::gauge!(RATE_LIMIT_REMAINING).set(f64::from(rate.remaining));
    }
    handle.run_upkeep();
    let mut text = handle.render();
    // Described here (not on the recorder) so the text says what each gauge is
    // even when another recorder is global.
    text.insert_str(
        0,
        "# enquiry-relay metrics: gauges are read from the shared database at scrape time\n",
    );
    text
}
