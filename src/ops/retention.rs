//! The retention job: scrub personal data past `[retention]`'s periods, once
//! shortly after start and then every `retention.interval` (daily by
//! default), until shutdown, which also cuts a pass short. `enquiries purge`
//! runs the same pass. `retention.failed` removes data that versions before
//! it kept for ever, so it applies only [`FAILED_NOTICE`] after the first
//! warning about it (logged at start-up and by each pass until then).

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::RetentionSettings;
use crate::storage::{PurgeReport, Store, StoreError, now_ms};

/// How long after start the first pass runs: soon, but off the start-up path
/// (or sooner, when the interval itself is shorter).
const FIRST_RUN_AFTER: Duration = Duration::from_secs(60);

/// How long after the first warning `retention.failed` starts to apply: an
/// operator who upgrades sees the warning and has a week to resolve or
/// export the failed enquiries they still need.
pub const FAILED_NOTICE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The name `retention.failed`'s notice is recorded under.
const FAILED_SETTING: &str = "failed";

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// One retention pass with these periods, as of now.
pub async fn purge_now(
    store: &Store,
    retention: &RetentionSettings,
) -> Result<PurgeReport, StoreError> {
    let now = now_ms();
    let failed_before = failed_cutoff(store, retention, now).await?;
    store
        .purge(
            now.saturating_sub(ms(retention.synced)),
            now.saturating_sub(ms(retention.spam)),
            now.saturating_sub(ms(retention.held)),
            failed_before,
        )
        .await
}

/// The arrival cut-off for enquiries with a failed step (0: none yet).
/// Until [`FAILED_NOTICE`] has passed since the first warning (recorded
/// now if there was none), it warns instead, saying when it will apply
/// and how many enquiries it would scrub today.
pub async fn failed_cutoff(
    store: &Store,
    retention: &RetentionSettings,
    now: i64,
) -> Result<i64, StoreError> {
    let cutoff = now.saturating_sub(ms(retention.failed));
    let warned_at = store.retention_notice(FAILED_SETTING, now).await?;
    let applies_from = warned_at.saturating_add(ms(FAILED_NOTICE));
    if now >= applies_from {
        return Ok(cutoff);
    }
    let due = store.failed_unscrubbed_before(cutoff).await?;
    let applies_from = jiff::Timestamp::from_millisecond(applies_from)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    // Counts and dates only: nothing about any family.
    warn!(
        applies_from = %applies_from,
        failed_enquiries_due = due,
        retention_failed_days = retention.failed.as_secs() / 86_400,
        "retention.failed takes effect from {applies_from}: from then the retention pass scrubs the personal data of enquiries with a failed step received more than retention.failed ago (nothing of them still to send) and closes their failed steps as expired; {due} would be scrubbed today. Resend, export (`enquiries export`) or note what you still need before then, or raise retention.failed"
    );
    Ok(0)
}

/// At start-up: the warning about `retention.failed` while it does not
/// apply yet (an operator who upgrades sees it before it first applies).
pub async fn announce(store: &Store, retention: &RetentionSettings) {
    if let Err(e) = failed_cutoff(store, retention, now_ms()).await {
        warn!(error = %crate::telemetry::chain(&e), "could not record the notice of retention.failed; the retention pass tries again");
    }
}

/// Run the pass every `retention.interval` until `shutdown`. Several instances may run it at once:
/// each statement only touches rows not yet scrubbed, so they do not conflict.
pub async fn run(store: Store, retention: RetentionSettings, shutdown: CancellationToken) {
    // A database slow to answer must not hold shutdown either.
    tokio::select! {
        () = shutdown.cancelled() => return,
        () = announce(&store, &retention) => {}
    }
    let mut wait = FIRST_RUN_AFTER.min(retention.interval);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = retention.interval;
        // Shutdown cuts the pass: each chunk is its own transaction, so a cut
        // chunk rolls back whole and the next pass picks up the rest, and a
        // pass waiting on a lock (or a slow disk) does not hold shutdown.
        let pass = tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                info!("retention pass stopped by shutdown; the next pass does the rest");
                return;
            }
            pass = purge_now(&store, &retention) => pass,
        };
        match pass {
            Ok(report) => info!(
                synced_scrubbed = report.synced_scrubbed,
                spam_scrubbed = report.spam_scrubbed,
                held_expired = report.held_expired,
                failed_expired = report.failed_expired,
                idempotency_keys_deleted = report.idempotency_keys_deleted,
                "retention pass done"
            ),
            Err(e) => {
                warn!(error = %crate::telemetry::chain(&e), "retention pass failed; it runs again after retention.interval, or run `enquiry-relay enquiries purge`")
            }
        }
    }
}
