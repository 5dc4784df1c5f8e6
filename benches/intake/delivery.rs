//! `--delivery`: what the worker does while the clients post. `on`: the
//! sandbox CareHQ answers (after `--latency-ms`), so at 0 ms the worker
//! delivers as fast as it can. `paused`: delivery paused the way the service
//! pauses it in operation, CareHQ refusing the credentials (401: docs/delivery.md,
//! "Delivery semantics"): the account's lane stops claiming, the
//! enquiries stay pending, and only a probe is sent every
//! `sync.pause_probe_interval`, set to a day here so none falls in a run.
//! Intake still stores and acknowledges every enquiry. The pause is in place
//! before the warm-up: one enquiry is posted and the bench waits until the
//! database says the account is paused.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use enquiry_relay::sandbox::{Faults, Sandbox};
use sqlx::Connection as _;

use crate::service::Service;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Delivery {
    On,
    Paused,
}

impl Delivery {
    pub fn name(self) -> &'static str {
        match self {
            Delivery::On => "on",
            Delivery::Paused => "paused",
        }
    }

    /// The sandbox's behaviour for a run.
    pub fn faults(self, latency_ms: u64) -> Faults {
        match self {
            Delivery::On => Faults {
                latency_ms,
                ..Faults::default()
            },
            Delivery::Paused => Faults {
                status: Some(401),
                ..Faults::default()
            },
        }
    }

    /// What the service's config adds for a run.
    pub fn toml(self) -> &'static str {
        match self {
            Delivery::On => "",
            Delivery::Paused => "\n[sync]\npause_probe_interval = \"24h\"\n",
        }
    }

    /// Bring the service to this delivery mode before the warm-up.
    pub async fn settle(
        self,
        service: &Service,
        db_url: &str,
        sandbox: &Sandbox,
    ) -> anyhow::Result<()> {
        if self == Delivery::On {
            return Ok(());
        }
        let client = crate::load::client()?;
        crate::load::post_one(&client, &service.form_url(), "pause").await?;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(db_url)
            .await
            .context("connecting to see the pause")?;
        let begun = Instant::now();
        while begun.elapsed() < Duration::from_secs(60) {
            let reason: Option<String> = sqlx::query_scalar(
                "SELECT paused_reason FROM account_delivery_state WHERE account = 'default'",
            )
            .fetch_optional(&mut conn)
            .await?
            .flatten();
            if reason.is_some() {
                let _ = conn.close().await;
                eprintln!(
                    "   delivery paused after {} CareHQ call(s) answered 401",
                    sandbox.request_count()
                );
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("delivery was not paused within 60 s of CareHQ answering 401")
    }
}
