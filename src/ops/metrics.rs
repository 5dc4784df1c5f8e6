//! Prometheus metrics. One recorder per process (tests run many apps in one
//! process, so it is installed once, lazily); counters and the CareHQ latency
//! histogram are recorded where things happen, and the queue gauges are read
//! from the database on each scrape so every instance reports the shared truth.
//! An account's staff token sees its own sites' and its own account's series
//! only ([`render_for_sites`]): every series it may see carries a `site` or
//! an `account` label, and a series with neither is the whole deployment's.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use strum::VariantArray;

use crate::carehq::RateLimit;
use crate::storage::{DeliveryStatus, StatusFigures};

/// Family posts, by outcome (`accepted`, and the spam defence's outcomes) and site.
pub const SUBMISSIONS: &str = "enquiry_relay_submissions_total";
/// Delivery attempts, by outcome (`synced`, `retry`, `failed`, …) and
/// `account`: the lane that made them (a CareHQ account's name, or a
/// lane every account shares: `(fallback email)`, `destination:NAME`).
pub const ATTEMPTS: &str = "enquiry_relay_delivery_attempts_total";
/// Delivery outcome writes the database refused and the worker tried again.
pub const OUTCOME_WRITE_RETRIES: &str = "enquiry_relay_outcome_write_retries_total";
/// Successes recorded after their claim's lease had run out (the outcome
/// write was held up past it): another instance may have sent those again.
pub const LATE_SUCCESSES: &str = "enquiry_relay_late_successes_total";
/// Requests that passed `server.request_timeout`, by `stage`: `receiving`
/// (answered 408, nothing stored) or `storing` (the enquiry was with the
/// database, so the answer waited for it).
pub const REQUEST_TIMEOUTS: &str = "enquiry_relay_request_timeouts_total";
/// Database checks `/readyz` ran: at most about one a second per process,
/// however often it is called (`http::Readiness`).
pub const READINESS_CHECKS: &str = "enquiry_relay_readiness_checks_total";
/// Seconds each CareHQ create call took.
pub const CAREHQ_LATENCY: &str = "enquiry_relay_carehq_request_duration_seconds";
pub const ENQUIRIES: &str = "enquiry_relay_enquiries";
pub const OLDEST_PENDING: &str = "enquiry_relay_oldest_pending_age_seconds";
pub const RATE_LIMIT_REMAINING: &str = "enquiry_relay_carehq_rate_limit_remaining";
pub const PAUSED: &str = "enquiry_relay_delivery_paused";
/// Rate-limit state forgotten because too many addresses were tracked, by
/// `limit` (`per_ip`, `staff_token`, `partner_webhook`): a steady rise means a flood from many
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
    for &status in DeliveryStatus::VARIANTS {
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
    text.insert_str(0, HEADER);
    text
}

const HEADER: &str =
    "# enquiry-relay metrics: gauges are read from the shared database at scrape time\n";

/// The metrics an account's staff token sees: only series labelled with one
/// of its `sites` or with its own `account` (a series without either label
/// counts every account's activity, and one with another's label is
/// theirs), and the queue gauges from `figures` (its sites' only). Those
/// gauges are written as text, not set on the recorder, which holds the
/// whole deployment's figures for every other scrape.
pub fn render_for_sites(
    sites: &[String],
    account: &str,
    figures: &StatusFigures,
    paused: bool,
    rate: Option<RateLimit>,
    now: i64,
) -> String {
    let handle = handle();
    handle.run_upkeep();
    let own = [ENQUIRIES, OLDEST_PENDING, PAUSED, RATE_LIMIT_REMAINING];
    let rendered = handle.render();
    // A sample line kept for this scope: its metric's name.
    let kept = |line: &'_ str| -> Option<String> {
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        (!own.contains(&name) && ours(line, sites, account)).then(|| name.to_owned())
    };
    let names: Vec<String> = rendered.lines().filter_map(kept).collect();
    // In the recorder's order, so each family stays one group: its `# TYPE`
    // and `# HELP` lines (kept for a family with a sample kept; a
    // histogram's samples add `_bucket`, `_sum`, `_count`), then its samples.
    let mut text = String::from(HEADER);
    for line in rendered.lines() {
        let keep = match line.strip_prefix("# ") {
            Some(comment) => {
                let family = comment.split_whitespace().nth(1).unwrap_or_default();
                !family.is_empty() && names.iter().any(|name| family_of(name, family))
            }
            None => kept(line).is_some(),
        };
        if keep {
            text.push_str(line);
            text.push('\n');
        }
    }
    text.push_str(&format!("# TYPE {ENQUIRIES} gauge\n"));
    for &status in DeliveryStatus::VARIANTS {
        text.push_str(&format!(
            "{ENQUIRIES}{{state=\"{}\"}} {}\n",
            status.as_str(),
            figures.total.count(status)
        ));
    }
    let age = figures
        .total
        .oldest_pending_at
        .map_or(0.0, |at| (now - at).max(0) as f64 / 1000.0);
    text.push_str(&format!(
        "# TYPE {OLDEST_PENDING} gauge\n{OLDEST_PENDING} {age}\n"
    ));
    text.push_str(&format!(
        "# TYPE {PAUSED} gauge\n{PAUSED} {}\n",
        u8::from(paused)
    ));
    if let Some(rate) = rate {
        text.push_str(&format!(
            "# TYPE {RATE_LIMIT_REMAINING} gauge\n{RATE_LIMIT_REMAINING} {}\n",
            rate.remaining
        ));
    }
    text
}

/// Whether sample `name` belongs to the metric family `family`.
fn family_of(name: &str, family: &str) -> bool {
    name.strip_prefix(family)
        .is_some_and(|rest| matches!(rest, "" | "_bucket" | "_sum" | "_count"))
}

/// True when a sample line names one of `sites` or `account` in its `site`
/// or `account` label (and no other site or account): a line with neither
/// label is the whole deployment's, and false.
fn ours(line: &str, sites: &[String], account: &str) -> bool {
    let Some((labels, _)) = line
        .split_once('{')
        .and_then(|(_, rest)| rest.split_once('}'))
    else {
        return false;
    };
    // Site slugs and account names are lower-case letters, digits and
    // hyphens, lanes add `:`, `(`, `)` and spaces: no quote or comma inside a
    // value to split wrongly on.
    let mut named = false;
    for (key, value) in (labels.split(',')).filter_map(|pair| pair.split_once('=')) {
        let value = value.trim().trim_matches('"');
        let within = match key.trim() {
            "site" => sites.iter().any(|s| s == value),
            "account" => value == account,
            _ => continue,
        };
        if !within {
            return false;
        }
        named = true;
    }
    named
}

#[cfg(test)]
mod tests {
    use super::{family_of, ours};

    #[test]
    fn only_series_of_the_scopes_sites_and_account_are_kept() {
        let sites = vec!["lark-rise".to_owned()];
        let line = |site: &str| {
            format!("enquiry_relay_submissions_total{{outcome=\"accepted\",site=\"{site}\"}} 3")
        };
        let attempts = |account: &str| {
            format!(
                "enquiry_relay_delivery_attempts_total{{account=\"{account}\",outcome=\"paused\"}} 1"
            )
        };
        assert!(ours(&line("lark-rise"), &sites, "lark"));
        assert!(!ours(&line("upton-court"), &sites, "lark"));
        assert!(ours(&attempts("lark"), &sites, "lark"));
        assert!(!ours(&attempts("default"), &sites, "lark"));
        assert!(!ours(&attempts("destination:records"), &sites, "lark"));
        // Neither label: every account's activity, never an account's.
        assert!(!ours(
            "enquiry_relay_delivery_attempts_total{outcome=\"synced\"} 1",
            &sites,
            "lark"
        ));
        assert!(!ours(
            "enquiry_relay_carehq_request_duration_seconds_sum 0.5",
            &sites,
            "lark"
        ));
        assert!(!ours(&line("upton-court"), &[], "lark"));
    }

    #[test]
    fn a_histograms_samples_belong_to_its_family() {
        let family = "enquiry_relay_carehq_request_duration_seconds";
        for suffix in ["", "_bucket", "_sum", "_count"] {
            assert!(family_of(&format!("{family}{suffix}"), family), "{suffix}");
        }
        assert!(!family_of(
            "enquiry_relay_carehq_request_duration_seconds_total",
            family
        ));
        assert!(!family_of(
            "enquiry_relay_enquiries",
            "enquiry_relay_enquiries_x"
        ));
    }
}
