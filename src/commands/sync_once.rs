//! `sync --once`: one drain pass for cron.

use std::process::ExitCode;
use std::sync::Arc;

use crate::config::Settings;
use crate::startup::{carehq_clients, fhir_clients, open_store};
use crate::storage::DeliveryStatus;
use crate::sync::{SyncWorker, fallback_mailer};

pub async fn sync_once(settings: Settings) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !settings.sandbox_mode(),
        "sync --once needs a real CareHQ: the built-in sandbox only runs inside `serve`"
    );
    let store = open_store(&settings).await?;
    let clients = carehq_clients(&settings, settings.server.listen)?;
    let mailer = fallback_mailer(&settings).map_err(anyhow::Error::msg)?;
    let destinations = fhir_clients(&settings, settings.server.listen)?;
    let worker = SyncWorker::new(
        store.clone(),
        clients,
        mailer,
        destinations,
        Arc::new(settings),
    );
    let report = worker.drain_once().await?;
    let counts = store.count_by_status().await?;
    let count = |s: DeliveryStatus| {
        counts
            .iter()
            .find(|(status, _)| *status == s)
            .map_or(0, |(_, n)| *n)
    };
    println!(
        "synced {}, will retry {}, failed {}, deferred {}; now pending {}, failed {}, held {}",
        report.synced,
        report.retrying,
        report.failed,
        report.deferred,
        count(DeliveryStatus::Pending),
        count(DeliveryStatus::Failed),
        count(DeliveryStatus::Held)
    );
    store.close().await;
    Ok(if count(DeliveryStatus::Failed) > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
